"""A dossier's « Rapports »: the PDF reports asked for, their progress, « Nouveau rapport », the download."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.dashboard.models import REPORT_COMMENT_MAX, REPORT_TITLE_MAX, ReportStatus
from portal.dashboard.reports import ReportService, allowed_recipients, download_name, report_files
from portal.i18n import _
from portal.ledger.services import LedgerService
from portal.settings import Settings
from portal.web import forms
from portal.web.deps import provide
from portal.web.htmx import page_or_partial

PDF_NAME = re.compile(r"^([0-9a-fA-F-]{32,36})\.pdf$")


@dataclass
class ReportForm:
    """« Nouveau rapport »: the fiscal year, a title, the accountant's comment, the people to email it to."""

    exercice: str = forms.text(forms.CHOICE_MAX_LENGTH)
    titre: str = forms.text(REPORT_TITLE_MAX)
    commentaire: str = forms.text(REPORT_COMMENT_MAX)
    destinataires: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)


DEPENDENCIES: Mapping[str, Provide] = {
    "reports": provide(ReportService), "dossiers": provide(DossierService), "ledger": provide(LedgerService),
}  # fmt: skip


class ReportController(Controller):
    path = "/entreprises/{dossier_id:uuid}/tableau-de-bord/rapports"
    guards = (requires_somewhere(Permission.KPI_READ),)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @get("/", name="dashboard:reports")
    async def reports_page(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        reports: NamedDependency[ReportService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """The dossier's reports (refreshed every second while one is printed) and « Nouveau rapport »."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.KPI_READ)
        context = await _context(principal_of(request), dossier, reports, ledger, form=None, errors={})
        return page_or_partial(request, "dashboard/reports.html", "dashboard/_partials/reports.html", context)

    @post("/", guards=[requires_somewhere(Permission.KPI_PLAN)], name="dashboard:report_new")
    async def create(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        data: Annotated[ReportForm, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        reports: NamedDependency[ReportService],
        ledger: NamedDependency[LedgerService],
    ) -> Template | Redirect:
        """Nouveau rapport: checked, recorded, printed by a worker; its progress shows on the list."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.KPI_PLAN)
        too_long = forms.clip(data)
        asked, errors = await reports.check(
            principal, dossier, fiscal_year=data.exercice, title=data.titre, comment=data.commentaire,
            recipients=data.destinataires,
        )  # fmt: skip
        errors.update(too_long)
        if errors or asked is None:
            context = await _context(principal, dossier, reports, ledger, form=data, errors=errors)
            return Template(template_name="dashboard/reports.html", context=context, status_code=422)
        report = await reports.request(principal, dossier, asked)
        flash(request, _("Rapport demandé : il est en préparation."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/tableau-de-bord/rapports#rapport-{report.id}", status_code=303)

    @get("/{report_file:str}", name="dashboard:report_pdf")
    async def download(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        report_file: FromPath[str],
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
        reports: NamedDependency[ReportService],
    ) -> Response[bytes]:
        """The report's PDF (``<id>.pdf``) as an attachment named ``Rapport-<dossier>-<AAAA-MM-JJ>.pdf``."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.KPI_READ)
        match = PDF_NAME.match(report_file)
        try:
            report_id = uuid.UUID(match.group(1)) if match else None
        except ValueError:
            report_id = None
        if report_id is None:
            raise NotFoundException
        report = await reports.get(principal, dossier, report_id)
        if report.status is not ReportStatus.READY or not report.storage_name:
            raise NotFoundException
        path = report_files(settings).path(report.storage_name)
        try:
            content = await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise NotFoundException from None
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{download_name(dossier, report)}"',
                "Cache-Control": "no-store",
            },
        )


async def _context(
    principal: Any,
    dossier: Dossier,
    reports: ReportService,
    ledger: LedgerService,
    *,
    form: ReportForm | None,
    errors: dict[str, str],
) -> dict[str, Any]:
    listed = await reports.reports(principal, dossier)
    can_plan = principal.can(Permission.KPI_PLAN, dossier.id)
    context: dict[str, Any] = {
        "dossier": dossier, "reports": listed, "can_plan": can_plan, "errors": errors,
        "names": await reports.people([report.requested_by_id for report in listed]),
        "unfinished": any(not report.status.is_final for report in listed),
    }  # fmt: skip
    if can_plan:
        years = await ledger.fiscal_years(principal, dossier.id)
        if form is None:
            form = ReportForm(exercice=str(years[0].id) if years else "", titre=_("Rapport de gestion"))
        context |= {
            "years": years, "recipients": await allowed_recipients(reports.session, dossier),
            "form": asdict(form), "chosen": set(form.destinataires),
        }  # fmt: skip
    return context
