"""Tableau de bord: its pages, the tables of objectives and budgets, and the PDF reports (Rapports)."""

from __future__ import annotations

from portal.dashboard import models, policy, sentences, tasks
from portal.dashboard.controllers import DashboardController
from portal.dashboard.planning import PlanningController
from portal.dashboard.portfolio_controller import PortfolioController
from portal.dashboard.report_pages import ReportController
from portal.domain import Domain

plugin = Domain(
    name="dashboard",
    models=[models],
    routes=lambda _settings: [DashboardController, PlanningController, ReportController, PortfolioController],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.render_report, tasks.email_report],
    parts=sentences.SENTENCES,
)
