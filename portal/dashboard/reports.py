"""« Rapports »: a dossier's fiscal year printed as a PDF report, and who may receive it by email.

A report is asked for on the dossier's Rapports page (``KPI_PLAN``), printed by the
``dashboard.render_report`` job (``portal.dashboard.tasks``) and kept under ``var/reports``
under a random name, written atomically; it is read back only through the download route
(``KPI_READ``). The people it may be emailed to are those who may read the dossier's
indicators (the firm roles and dossier roles that grant ``KPI_READ``: partners,
administrators, its Comptables) and, when chosen, its client users; a confidential dossier's
report goes only to people it is granted to. The choice is checked when the report is asked
for and again when each email is sent.

``document`` builds what the template ``dashboard/report_pdf.html`` prints: the cover, the
indicators grouped as ``figures.GROUPS`` with N, N-1, variation, objective and progress, the
budget against the actual figures, the charts, the accountant's comment.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from litestar.exceptions import NotFoundException
from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership, User, UserRole
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.auth.roles import ROLE_PERMISSIONS, DossierRole, FirmRole, dossier_roles_granting
from portal.clients.identifiers import format_siren
from portal.clients.models import Dossier, DossierAccess
from portal.dashboard.models import (
    REPORT_COMMENT_MAX,
    REPORT_TITLE_MAX,
    BudgetLine,
    Objective,
    Report,
    ReportStatus,
)
from portal.dashboard.objectives import objective_progress
from portal.firm.models import Firm
from portal.i18n import N_, get_locale, gettext
from portal.ledger import figures
from portal.ledger.models import FiscalYear, VersionState
from portal.ledger.services import LedgerService
from portal.settings import FIRM_TIMEZONE, Settings
from portal.web import charts
from portal.web.files import FileStore

EXTENSION = ".pdf"
MAX_BYTES = 100 * 1024 * 1024
RECENT_REPORTS = 50
TEMPLATE = "dashboard/report_pdf.html"

NO_YEAR = N_("Choisissez l'exercice du rapport.")
NO_TITLE = N_("Donnez un titre au rapport.")
NOT_ALLOWED = N_("Un des destinataires choisis ne peut pas recevoir ce rapport.")

_ROLE_LABELS = {
    FirmRole.PARTNER: N_("Associé"),
    FirmRole.ADMIN: N_("Administrateur"),
    DossierRole.ACCOUNTANT: N_("Comptable"),
    DossierRole.CLIENT_USER: N_("Utilisateur client"),
}


# --- the files --------------------------------------------------------------------------------


class ReportFiles(FileStore):
    """The printed reports, under ``var/reports``: random names, written atomically, never served as files."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, extensions=(EXTENSION,), max_bytes=MAX_BYTES)

    def save_bytes(self, document: bytes) -> tuple[str, int]:
        """Keep ``document`` under a new random name; (name, size). Blocking."""
        return self.save(io.BytesIO(document), EXTENSION)


def report_files(settings: Settings) -> ReportFiles:
    return ReportFiles(settings.var_dir / "reports")


def download_name(dossier: Dossier, report: Report) -> str:
    """``Rapport-<dossier>-<AAAA-MM-JJ>.pdf``: the dossier's name in plain ASCII, the day the report was asked for."""
    ascii_name = unicodedata.normalize("NFKD", dossier.name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:80] or "dossier"
    created = (report.created_at or dt.datetime.now(dt.UTC)).astimezone(FIRM_TIMEZONE).date()
    return f"Rapport-{slug}-{created.isoformat()}.pdf"


# --- who may receive it -------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    id: uuid.UUID
    name: str
    email: str
    locale: str
    role: str  # a msgid: Associé, Comptable, Utilisateur client…
    client: bool  # a client user: the PDF is attached, there is nothing of the portal they may open

    @property
    def key(self) -> str:
        return str(self.id)


async def allowed_recipients(session: AsyncSession, dossier: Dossier) -> list[Recipient]:
    """The active people who may receive ``dossier``'s reports, firm people first, then its client users.

    Firm-wide holders of ``KPI_READ`` (by their firm roles) and members whose role on the dossier
    grants it, plus the dossier's client users; on a confidential dossier, firm-wide holders only
    when it is granted to them (its access list: members are granted by their role).
    """
    firm_roles = [role for role, granted in ROLE_PERMISSIONS.items() if Permission.KPI_READ in granted]
    dossier_roles = {*dossier_roles_granting(Permission.KPI_READ), DossierRole.CLIENT_USER}
    found: dict[uuid.UUID, Recipient] = {}

    firm_wide = select(User, UserRole.role).join(UserRole, UserRole.user_id == User.id)
    firm_wide = firm_wide.where(User.is_active.is_(True), UserRole.role.in_(firm_roles))
    if dossier.is_confidential:
        listed = select(DossierAccess.user_id).where(DossierAccess.dossier_id == dossier.id)
        members = select(DossierMembership.user_id).where(DossierMembership.dossier_id == dossier.id)
        firm_wide = firm_wide.where(User.id.in_(union(listed, members)))
    order = list(FirmRole)
    for user, role in sorted((await session.execute(firm_wide)).all(), key=lambda row: order.index(row[1])):
        found.setdefault(user.id, _recipient(user, role))

    on_dossier = select(User, DossierMembership.role).join(DossierMembership, DossierMembership.user_id == User.id)
    on_dossier = on_dossier.where(
        User.is_active.is_(True), DossierMembership.dossier_id == dossier.id, DossierMembership.role.in_(dossier_roles)
    )
    rows = (await session.execute(on_dossier)).all()
    for member, held in sorted(rows, key=lambda row: row[1] == DossierRole.CLIENT_USER):
        found.setdefault(member.id, _recipient(member, held))
    return sorted(found.values(), key=lambda person: (person.client, person.name.casefold()))


def _recipient(user: User, role: FirmRole | DossierRole) -> Recipient:
    return Recipient(
        id=user.id, name=user.name, email=user.email, locale=user.locale, role=_ROLE_LABELS.get(role, role.label),
        client=role == DossierRole.CLIENT_USER,
    )  # fmt: skip


# --- asking for one ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRequest:
    """A report asked for, checked: the fiscal year (an active version), its title, comment and recipients."""

    year: FiscalYear
    title: str
    comment: str
    recipient_ids: tuple[uuid.UUID, ...]


class ReportService:
    """A dossier's reports, as the person asking may see and ask for them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reports(self, principal: Principal, dossier: Dossier) -> list[Report]:
        """The dossier's latest reports, newest first."""
        statement = restrict(select(Report), principal, Permission.KPI_READ, Report).where(
            Report.dossier_id == dossier.id
        )
        statement = statement.order_by(Report.created_at.desc(), Report.id.desc()).limit(RECENT_REPORTS)
        return list((await self.session.execute(statement)).scalars())

    async def get(self, principal: Principal, dossier: Dossier, report_id: uuid.UUID) -> Report:
        """One of the dossier's reports, or 404 (missing, another dossier's, or not the person's to see)."""
        statement = restrict(select(Report), principal, Permission.KPI_READ, Report).where(
            Report.id == report_id, Report.dossier_id == dossier.id
        )
        report = (await self.session.execute(statement)).scalar_one_or_none()
        if report is None:
            raise NotFoundException
        return report

    async def people(self, names: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str]:
        """The names of the people who asked for reports (an account deleted since: absent)."""
        wanted = {value for value in names if value is not None}
        if not wanted:
            return {}
        rows = await self.session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
        return dict(rows.all())

    async def check(
        self,
        principal: Principal,
        dossier: Dossier,
        *,
        fiscal_year: str,
        title: str,
        comment: str,
        recipients: Sequence[str],
    ) -> tuple[ReportRequest | None, dict[str, str]]:
        """The report the form asks for, or the errors by field (msgids)."""
        errors: dict[str, str] = {}
        years = await LedgerService(self.session).fiscal_years(principal, dossier.id)
        year = next((candidate for candidate in years if str(candidate.id) == fiscal_year.strip()), None)
        if year is None:
            errors["exercice"] = NO_YEAR
        title = " ".join(title.split())[:REPORT_TITLE_MAX]
        if not title:
            errors["titre"] = NO_TITLE
        allowed = {person.key: person.id for person in await allowed_recipients(self.session, dossier)}
        chosen = list(dict.fromkeys(value.strip() for value in recipients if value.strip()))
        if any(value not in allowed for value in chosen):
            errors["destinataires"] = NOT_ALLOWED
        if errors or year is None:
            return None, errors
        request = ReportRequest(
            year=year, title=title, comment=comment.strip()[:REPORT_COMMENT_MAX],
            recipient_ids=tuple(allowed[value] for value in chosen),
        )  # fmt: skip
        return request, {}

    async def request(self, principal: Principal, dossier: Dossier, asked: ReportRequest) -> Report:
        """Record the report and ask a worker to print it, in the caller's transaction."""
        from portal.dashboard.tasks import render_report  # noqa: PLC0415 - the job imports this module

        report = Report(
            dossier_id=dossier.id, end_date=asked.year.end_date, fiscal_year_id=asked.year.id,
            period_start=asked.year.start_date, period_end=asked.year.end_date, title=asked.title,
            comment=asked.comment, requested_by_id=principal.user_id,
            recipient_ids=[str(value) for value in asked.recipient_ids], status=ReportStatus.QUEUED,
        )  # fmt: skip
        self.session.add(report)
        await self.session.flush()
        run = await render_report.options(created_by_id=principal.user_id, dossier_id=dossier.id).enqueue(
            self.session, report_id=str(report.id)
        )
        report.job_run_id = run.id
        await self.session.flush()
        return report


# --- what the document shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class KpiLine:
    key: str
    label: str
    kind: str  # figures.Kind value: amount, rate, days
    current: Decimal | None
    previous: Decimal | None
    variation: Decimal | None  # amounts: % of N-1; rates: points; days: days
    objective: Decimal | None
    progress: Decimal | None  # % of the objective reached (amounts and rates)


@dataclass(frozen=True)
class KpiGroup:
    title: str
    lines: tuple[KpiLine, ...]


@dataclass(frozen=True)
class BudgetRow:
    label: str
    budget: Decimal
    actual: Decimal
    gap: Decimal
    gap_percent: Decimal | None


def variation(kind: str, current: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """How N moved from N-1: a percentage of N-1 for amounts, a difference (points, days) otherwise."""
    if current is None or previous is None:
        return None
    if kind == figures.Kind.AMOUNT:
        if previous == 0:
            return None
        return ((current - previous) / abs(previous) * 100).quantize(Decimal("0.1"))
    return (current - previous).quantize(Decimal("0.1"))


def progress(definition: figures.Definition, current: Decimal | None, objective: Decimal | None) -> Decimal | None:
    """How much of the objective N reached, in % to the unit: ``objective_progress``'s rule, as the pages show it."""
    percent = objective_progress(definition.key, current, objective).percent
    return None if percent is None else percent.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def kpi_groups(
    current: figures.Figures, previous: figures.Figures | None, objectives: Mapping[str, Decimal]
) -> list[KpiGroup]:
    """The indicators in ``figures.GROUPS`` order, each with N, N-1, variation, objective and progress."""
    groups = []
    for group, title in figures.GROUPS:
        lines = []
        for definition in figures.DEFINITIONS:
            if definition.group != group:
                continue
            now = current.values.get(definition.key)
            before = previous.values.get(definition.key) if previous is not None else None
            target = objectives.get(definition.key)
            lines.append(
                KpiLine(
                    key=definition.key,
                    label=gettext(definition.label),
                    kind=str(definition.kind),
                    current=now,
                    previous=before,
                    variation=variation(definition.kind, now, before),
                    objective=target,
                    progress=progress(definition, now, target),
                )
            )
        if lines:
            groups.append(KpiGroup(title=gettext(title), lines=tuple(lines)))
    return groups


def monthly(current: figures.Figures, key: str) -> list[Decimal]:
    """A line's amount for each month of the year, in order (none: 0)."""
    values = current.monthly.get(key, {})
    return [values.get(month) or Decimal(0) for month in current.months()]


def budget_rows(current: figures.Figures, budget: Mapping[str, Mapping[str, Decimal]]) -> list[BudgetRow]:
    """Budget against actual for each budgeted line (``budget``: key → {"AAAA-MM": euros}); charges as positive
    amounts on both sides, so a positive gap is more than planned."""
    rows = []
    for key in figures.BUDGET_KEYS:
        months = budget.get(key)
        if not months:
            continue
        charge = key in figures.CHARGE_LINES
        planned = sum((abs(value) if charge else value for value in months.values()), Decimal(0))
        actual = sum(monthly(current, key), Decimal(0))
        # A charge line alone is what was spent (positive), as the budget counts it.
        gap = actual - planned
        gap_percent = (gap / abs(planned) * 100).quantize(Decimal("0.1")) if planned else None
        rows.append(BudgetRow(gettext(figures.LINE_LABELS[key]), planned, actual, gap, gap_percent))
    return rows


def _month_label(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return format_date(dt.date(year, number, 1), "MMM yy", locale=get_locale())


def report_charts(
    current: figures.Figures,
    previous: figures.Figures | None,
    objectives: Mapping[str, Decimal],
    budget: Mapping[str, Mapping[str, Decimal]],
) -> list[charts.Chart]:
    """CA by month N against N-1, cumulative CA against the objective and the budget, the SIG cascade."""
    months = current.months()
    labels = [_month_label(month) for month in months]
    sales = monthly(current, "chiffre_affaires")
    series = [charts.Series(gettext("N"), sales)]
    if previous is not None:
        before: list[Decimal | None] = [*monthly(previous, "chiffre_affaires")]
        before = (before + [None] * len(months))[: len(months)]  # a shorter or longer N-1, month by month
        series.append(charts.Series(gettext("N-1"), before))
    drawn = [charts.bars(gettext("Chiffre d'affaires par mois, N et N-1"), labels, series)]

    lines = [charts.Series(gettext("CA cumulé"), list(itertools.accumulate(sales)))]
    target = objectives.get("chiffre_affaires")
    if target is not None:
        count = len(months)
        prorata = [(target * (index + 1) / count).quantize(Decimal("0.01")) for index in range(count)]
        lines.append(charts.Series(gettext("Objectif (au prorata)"), prorata))
    planned = budget.get("chiffre_affaires")
    if planned:
        running = itertools.accumulate(planned.get(month, Decimal(0)) for month in months)
        lines.append(charts.Series(gettext("Budget"), list(running)))
    drawn.append(charts.lines(gettext("Chiffre d'affaires cumulé"), labels, lines))

    steps = figures.cascade(current)
    cascade = [(gettext(step.label), step.amount) for step in steps]
    totals = [index for index, step in enumerate(steps) if step.total]
    drawn.append(charts.waterfall(gettext("Soldes intermédiaires de gestion"), cascade, totals=totals))
    return drawn


async def active_year(session: AsyncSession, report: Report) -> FiscalYear | None:
    """The report's fiscal year: the version it was asked on, or the one that replaced it since (same closing)."""
    statement = select(FiscalYear).where(
        FiscalYear.dossier_id == report.dossier_id, FiscalYear.end_date == report.end_date,
        FiscalYear.state == VersionState.ACTIVE,
    )  # fmt: skip
    found: FiscalYear | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def document(session: AsyncSession, report: Report, dossier: Dossier, year: FiscalYear) -> dict[str, Any]:
    """Everything ``dashboard/report_pdf.html`` prints for ``report`` (in the current locale)."""
    ledger = LedgerService(session)
    current = await ledger.figures(year)
    earlier = await ledger.previous_year(year)
    previous = await ledger.figures(earlier) if earlier is not None else None
    rows = await session.execute(
        select(Objective.key, Objective.target).where(
            Objective.dossier_id == dossier.id, Objective.end_date == year.end_date
        )
    )
    objectives = {key: Decimal(target) for key, target in rows}
    budget: dict[str, dict[str, Decimal]] = {}
    lines = await session.execute(
        select(BudgetLine.key, BudgetLine.month, BudgetLine.amount).where(
            BudgetLine.dossier_id == dossier.id, BudgetLine.end_date == year.end_date
        )
    )
    for key, month, amount in lines:
        budget.setdefault(key, {})[f"{month:%Y-%m}"] = Decimal(amount) / 100
    firm_name = (await session.execute(select(Firm.name).limit(1))).scalar_one_or_none()
    return {
        "report": report, "dossier": dossier, "year": year, "previous_year": earlier, "firm_name": firm_name or "",
        "siren": format_siren(dossier.siren),
        "groups": kpi_groups(current, previous, objectives), "budget": budget_rows(current, budget),
        "charts": report_charts(current, previous, objectives, budget), "printed_on": dt.datetime.now(dt.UTC),
    }  # fmt: skip
