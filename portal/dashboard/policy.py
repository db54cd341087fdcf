"""Objectives, budgets and reports belong to their dossier: visible exactly when the dossier is, for the permission
asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.dashboard.models import BudgetLine, Objective, Report
from portal.ledger.policy import visible_dossier_ids


def _objectives(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(Objective.dossier_id.in_(visible_dossier_ids(principal, permission)))


def _budget_lines(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(BudgetLine.dossier_id.in_(visible_dossier_ids(principal, permission)))


def _reports(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    return statement.where(Report.dossier_id.in_(visible_dossier_ids(principal, permission)))


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = (
    (Objective, _objectives),
    (BudgetLine, _budget_lines),
    (Report, _reports),
)
