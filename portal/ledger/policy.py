"""Who sees a dossier's ledger and imports: whoever may act on the dossier with the permission asked.

A fiscal year or an import belongs to its dossier: it is visible exactly when the dossier
is, for that permission (firm-wide, or through a role on that dossier), so a
confidential dossier's ledger never shows to someone it is hidden from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.clients.models import Dossier
from portal.clients.policy import visible
from portal.ledger.models import FiscalYear, LedgerImport, YearFigures


def visible_dossier_ids(principal: Principal, permission: Permission) -> Select[Any]:
    return select(Dossier.id).where(visible(principal, permission))


def _fiscal_years(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(FiscalYear.dossier_id.in_(visible_dossier_ids(principal, permission)))


def _imports(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(LedgerImport.dossier_id.in_(visible_dossier_ids(principal, permission)))


def _year_figures(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(YearFigures.dossier_id.in_(visible_dossier_ids(principal, permission)))


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = (
    (FiscalYear, _fiscal_years),
    (LedgerImport, _imports),
    (YearFigures, _year_figures),
)
