"""Who sees a dossier's source connections: whoever may act on the dossier with the permission asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.integrations.models import Connection
from portal.ledger.policy import visible_dossier_ids


def _connections(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(Connection.dossier_id.in_(visible_dossier_ids(principal, permission)))


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = ((Connection, _connections),)
