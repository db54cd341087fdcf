"""Whose notices a person sees: their own, and of those, none about a dossier now hidden from them.

The recipients were chosen by the permission model when the event happened; a dossier made
confidential since (or a grant taken away) takes its notices out of view with it, so the list,
the bell's count and every action answer as if they did not exist (404).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.clients.policy import not_hidden
from portal.notifications.models import Notification


def _notifications(statement: Select[Any], principal: Principal, _permission: Permission) -> Select[Any]:
    return statement.where(
        Notification.recipient_id == principal.user_id,
        or_(Notification.dossier_id.is_(None), not_hidden(principal, Notification.dossier_id)),
    )


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = ((Notification, _notifications),)
