"""Facturation › Facturation récurrente: start a month's run, follow it, review its drafts, validate them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import select

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.policy import Principal
from portal.billing.fee_models import BillingRunStatus, Invoice, InvoiceStatus
from portal.billing.invoice_controllers import refusal
from portal.billing.invoices import MANAGE, READ, FeeError, InvoiceService, today
from portal.billing.runs import BillingRunService, month_bounds
from portal.i18n import N_, NP_, _, ngettext, number
from portal.jobs.models import JobRun
from portal.jobs.services import JobRunService
from portal.web import forms
from portal.web.deps import provide

MONTH_REQUIRED = N_("Choisissez le mois à facturer (par exemple 2026-12).")
VALIDATED = NP_("Facture validée : %(first)s.", "%(num)s factures validées : %(first)s à %(last)s.")


@dataclass
class RunForm:
    mois: str = forms.text(7)


def parse_month(value: str) -> dt.date | None:
    """``AAAA-MM`` (a month input) or ``MM/AAAA``."""
    text = value.strip()
    for pattern in ("%Y-%m", "%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=dt.UTC).date()
        except ValueError:
            continue
    return None


class BillingRunController(Controller):
    path = "/facturation/recurrente"
    include_in_schema = False
    guards = (requires_somewhere(MANAGE),)
    dependencies: Mapping[str, Provide] = {"runs": provide(BillingRunService), "invoices": provide(InvoiceService)}

    @get("/", name="billing:runs")
    async def index(self, request: Request[Any, Any, Any], runs: NamedDependency[BillingRunService]) -> Template:
        principal = principal_of(request)
        return await _runs_page(runs, principal, RunForm(mois=today().strftime("%Y-%m")), {})

    @post("/", name="billing:run_start", media_type=MediaType.HTML)
    async def start(
        self,
        request: Request[Any, Any, Any],
        runs: NamedDependency[BillingRunService],
        invoices: NamedDependency[InvoiceService],
        data: Annotated[RunForm, forms.POSTED],
    ) -> Template | Redirect:
        principal = principal_of(request)
        month = parse_month(data.mois)
        errors: dict[str, str] = {}
        if month is None:
            errors["mois"] = MONTH_REQUIRED
        else:
            try:
                run = await runs.start(principal, await invoices.entity_id(), month)
            except FeeError as refused:
                if refused.params.get("run_id"):
                    flash(request, refusal(refused), category="error")
                    return Redirect(f"/facturation/recurrente/{refused.params['run_id']}", status_code=303)
                errors[refused.field or "mois"] = refusal(refused)
            else:
                flash(request, _("Facturation lancée : les brouillons s'écrivent, suivez l'avancement ci-dessous."),
                      category="success")  # fmt: skip
                return Redirect(f"/facturation/recurrente/{run.id}", status_code=303)
        return await _runs_page(runs, principal, data, errors, status_code=422)

    @get("/{billing_run_id:uuid}", name="billing:run")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        runs: NamedDependency[BillingRunService],
        billing_run_id: FromPath[uuid.UUID],
    ) -> Template:
        principal = principal_of(request)
        run = await runs.get(principal, billing_run_id)
        job_run = await runs.session.get(JobRun, run.job_run_id) if run.job_run_id else None
        shown = await JobRunService(session=runs.session).shown(principal, job_run) if job_run else None
        first, last = month_bounds(run.period_start)
        context = {
            "billing_run": run, "run": job_run, "shown": shown, "figures": await runs.figures(principal, run.id),
            "whole_month": (first, last) == (run.period_start, run.period_end),
        }  # fmt: skip
        return Template(template_name="billing/run.html", context=context)

    @post("/{billing_run_id:uuid}/valider", name="billing:run_validate")
    async def validate(
        self,
        request: Request[Any, Any, Any],
        runs: NamedDependency[BillingRunService],
        invoices: NamedDependency[InvoiceService],
        billing_run_id: FromPath[uuid.UUID],
    ) -> Redirect:
        """Validate every draft of the run the person may see, together: numbers, then the files and entries."""
        principal = principal_of(request)
        run = await runs.get(principal, billing_run_id)
        drafts = select(Invoice.id).where(Invoice.run_id == run.id, Invoice.status == InvoiceStatus.DRAFT)
        chosen = list((await runs.session.execute(invoices.visible(principal, MANAGE).with_only_columns(Invoice.id)
                                                  .where(Invoice.id.in_(drafts)))).scalars())  # fmt: skip
        try:
            validated = await invoices.validate(principal, chosen)
        except FeeError as refused:
            flash(request, refusal(refused), category="error")
        else:
            run.status = BillingRunStatus.VALIDATED
            run.drafts = 0
            numbers = validated.numbers
            words = {"num": number(len(numbers)), "first": min(numbers), "last": max(numbers)}
            flash(request, ngettext(*VALIDATED, len(numbers)) % words, category="success")
        return Redirect(f"/facturation/recurrente/{run.id}", status_code=303)


async def _runs_page(
    runs: BillingRunService, principal: Principal, form: RunForm, errors: dict[str, str], status_code: int = 200
) -> Template:
    context = {"runs": await runs.runs(principal), "form": form, "errors": errors, "READ": READ}
    return Template(template_name="billing/runs.html", context=context, status_code=status_code)
