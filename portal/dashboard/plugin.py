"""Tableau de bord: its pages and the tables of objectives and budgets."""

from __future__ import annotations

from portal.dashboard import models, policy
from portal.dashboard.portfolio_controller import PortfolioController
from portal.domain import Domain

plugin = Domain(
    name="dashboard",
    models=[models],
    routes=lambda _settings: [PortfolioController],
    restrictions=policy.RESTRICTIONS,
)
