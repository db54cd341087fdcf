"""Who sees a dossier's POS and e-commerce rows: whoever may act on the dossier with the permission asked.

Setups, posted entries and days belong to their dossier, so a confidential dossier's
sales never show to someone it is hidden from (the connection itself is restricted by
``portal.integrations.policy``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.integrations.commerce.models import CommerceDay, CommerceEntry, CommerceSetup
from portal.ledger.policy import visible_dossier_ids


def _setups(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(CommerceSetup.dossier_id.in_(visible_dossier_ids(principal, permission)))


def _entries(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(CommerceEntry.dossier_id.in_(visible_dossier_ids(principal, permission)))


def _days(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(CommerceDay.dossier_id.in_(visible_dossier_ids(principal, permission)))


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = (
    (CommerceSetup, _setups),
    (CommerceEntry, _entries),
    (CommerceDay, _days),
)
