"""A dossier's Objectifs and Prévisionnel pages, under its Tableau de bord.

Whoever may read the dossier's KPIs (``KPI_READ``) sees them; a partner or the dossier's Comptable
(``KPI_PLAN``) changes them. Someone who may not see the dossier's KPIs (an Employé, a client user,
a collaborator of other dossiers, anyone but its access list for a confidential dossier) gets 404,
as for a dossier that does not exist; someone who may read but not plan gets 403 on a change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from babel.dates import format_date
from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template

from portal.auth.guards import principal_of, signed_in
from portal.auth.permissions import Permission
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.dashboard import budget_csv
from portal.dashboard.amounts import CENT, NUMBER_MAX_LENGTH, NumberError, from_cents, shown, typed
from portal.dashboard.budget import (
    CHARGE_KEYS,
    LINE_LABELS,
    BudgetService,
    Grid,
    balance,
    compare,
    field_name,
    grid_values,
    month_key,
    months_of,
    parse_rate,
    prefill,
    read_grid,
    row_total,
)
from portal.dashboard.objectives import ObjectiveService, objective_rows, read_targets, target_values
from portal.i18n import N_, _, get_locale, ngettext
from portal.ledger import aggregates, figures
from portal.ledger.models import FiscalYear
from portal.ledger.services import LedgerService
from portal.web import forms
from portal.web.deps import provide
from portal.web.exports import download

NO_PREVIOUS = N_("Aucun exercice précédent n'est importé : le pré-remplissage part de l'exercice N-1.")
NO_FILE = N_("Choisissez le fichier CSV du prévisionnel à importer.")

DEPENDENCIES: Mapping[str, Provide] = {
    "dossiers": provide(DossierService),
    "ledger": provide(LedgerService),
    "objectives": provide(ObjectiveService),
    "budgets": provide(BudgetService),
}


@dataclass
class PrefillForm:
    """« Pré-remplir depuis N-1 »: the growth rate, and the confirmation when a budget would be replaced."""

    taux: str = forms.text(NUMBER_MAX_LENGTH)
    confirmer: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class ImportForm:
    """« Importer un CSV »: the file only (it comes as a file of the form)."""


@dataclass
class Year:
    """The dossier and the fiscal year a page is about, with the other years to choose from."""

    dossier: Dossier
    years: list[FiscalYear]
    year: FiscalYear | None
    can_plan: bool

    @property
    def previous(self) -> FiscalYear | None:
        """The year before the chosen one, among the dossier's years already read."""
        return aggregates.previous_of(self.years, self.year) if self.year is not None else None

    @property
    def query(self) -> str:
        return f"?exercice={self.year.id}" if self.year else ""


async def _year(
    request: Request[Any, Any, Any],
    dossier_id: uuid.UUID,
    exercice: str,
    dossiers: DossierService,
    ledger: LedgerService,
    *,
    planning: bool = False,
) -> Year:
    """The dossier (404 unless its KPIs are the person's to read) and the year asked for.

    A page falls back to the latest year; a change must name one of the dossier's years (404 else),
    so it never lands on another year than the one shown. A change by someone who may only read: 403.
    """
    principal = principal_of(request)
    dossier = await dossiers.get_visible(principal, dossier_id, Permission.KPI_READ)
    can_plan = principal.can(Permission.KPI_PLAN, dossier.id)
    if planning and not can_plan:
        raise PermissionDeniedException
    years = await ledger.fiscal_years(principal, dossier.id)
    chosen = next((year for year in years if str(year.id) == exercice), None)
    if chosen is None and planning:
        raise NotFoundException
    if chosen is None and years:
        chosen = years[0]
    return Year(dossier, years, chosen, can_plan)


async def _planned(
    request: Request[Any, Any, Any],
    dossier_id: uuid.UUID,
    exercice: str,
    dossiers: DossierService,
    ledger: LedgerService,
) -> tuple[Year, FiscalYear]:
    """What a change is about: the dossier, for someone who may plan it, and one of its years, named."""
    chosen = await _year(request, dossier_id, exercice, dossiers, ledger, planning=True)
    if chosen.year is None:  # pragma: no cover - _year refuses a change that names no year of the dossier
        raise NotFoundException
    return chosen, chosen.year


def _month_label(month: dt.date) -> str:
    return format_date(month, "MMM y", locale=get_locale())


def _money(value: Decimal | int | None, *, cents: bool = False) -> str:
    """``12 345,67``: the grid's and the comparison's amounts (the unit is said once, in the header)."""
    if value is None:
        return "—"
    if cents:
        return shown(from_cents(int(value)))
    return shown(Decimal(value).quantize(CENT))


def _signed(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + shown(value, places)


HELPERS = {
    "month_label": _month_label, "month_key": month_key, "money": _money, "signed": _signed, "shown": shown,
    "field_name": field_name,
}  # fmt: skip


class PlanningController(Controller):
    path = "/entreprises/{dossier_id:uuid}/tableau-de-bord"
    guards = (signed_in,)  # the dossier decides: 404 to whoever may not read its KPIs
    include_in_schema = False
    dependencies = DEPENDENCIES

    # --- Objectifs --------------------------------------------------------------------------------

    @get("/objectifs", name="dashboard:objectives")
    async def objectives(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        objectives: NamedDependency[ObjectiveService],
        exercice: FromQuery[str] = "",
    ) -> Template:
        """Every KPI with its N and N-1 values, its objective for the year and the progress towards it."""
        chosen = await _year(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        return await _objectives_page(chosen, ledger, objectives)

    @post("/objectifs", name="dashboard:objectives_save", media_type=MediaType.HTML)
    async def save_objectives(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        data: Annotated[forms.Fields, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        objectives: NamedDependency[ObjectiveService],
        exercice: FromQuery[str] = "",
    ) -> Any:
        """Save every objective at once (blank removes one), or nothing when a value is wrong."""
        chosen, year = await _planned(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        typed_targets = read_targets(data.values)
        if typed_targets.errors:
            return await _objectives_page(
                chosen, ledger, objectives, values=typed_targets.values, errors=typed_targets.errors, status_code=422
            )
        await objectives.save(chosen.dossier.id, year.end_date, typed_targets.targets)
        flash(request, _("Objectifs enregistrés."), category="success")
        return Redirect(f"/entreprises/{chosen.dossier.id}/tableau-de-bord/objectifs{chosen.query}", status_code=303)

    # --- Prévisionnel -------------------------------------------------------------------------------

    @get("/previsionnel", name="dashboard:budget")
    async def budget(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        budgets: NamedDependency[BudgetService],
        exercice: FromQuery[str] = "",
    ) -> Template:
        """The budget grid, « Pré-remplir depuis N-1 », the CSV import and export, and « Réel vs budget »."""
        chosen = await _year(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        return await _budget_page(chosen, ledger, budgets)

    @post("/previsionnel", name="dashboard:budget_save", media_type=MediaType.HTML)
    async def save_budget(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        data: Annotated[forms.Fields, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        budgets: NamedDependency[BudgetService],
        exercice: FromQuery[str] = "",
    ) -> Any:
        """Save the whole grid, or nothing when a cell is wrong (each wrong cell says why)."""
        chosen, year = await _planned(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        typed_grid = read_grid(data.values, months_of(year.start_date, year.end_date))
        if typed_grid.errors:
            return await _budget_page(chosen, ledger, budgets, values=typed_grid.values, errors=typed_grid.errors,
                                      status_code=422)  # fmt: skip
        await budgets.replace(chosen.dossier.id, year, typed_grid.grid)
        flash(request, _("Prévisionnel enregistré."), category="success")
        return Redirect(_budget_url(chosen), status_code=303)

    @post("/previsionnel/pre-remplir", name="dashboard:budget_prefill", media_type=MediaType.HTML)
    async def prefill_budget(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        data: Annotated[PrefillForm, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        budgets: NamedDependency[BudgetService],
        exercice: FromQuery[str] = "",
    ) -> Any:
        """Each month = the same month of N-1 × (1 + taux); asks before replacing a budget already there."""
        chosen, year = await _planned(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        errors = forms.clip(data)
        rate = Decimal(0)
        if not errors:
            try:
                rate = parse_rate(data.taux)
            except NumberError as wrong:
                errors["taux"] = wrong.message
        previous = chosen.previous
        if previous is None and not errors:
            errors["taux"] = NO_PREVIOUS
        if errors or previous is None:
            return await _budget_page(chosen, ledger, budgets, prefill_form=data, prefill_errors=errors,
                                      status_code=422)  # fmt: skip
        if data.confirmer != "1" and await budgets.exists(chosen.dossier.id, year.end_date):
            # Shown with the question instead of the grid's buttons: nothing is replaced yet.
            return await _budget_page(chosen, ledger, budgets, prefill_form=data, confirm_prefill=True)
        grid = prefill(await ledger.figures(previous), months_of(year.start_date, year.end_date), rate)
        await budgets.replace(chosen.dossier.id, year, grid)
        flash(request, _("Prévisionnel pré-rempli depuis l'exercice N-1 (%(rate)s %%) : vérifiez-le et ajustez-le.")
              % {"rate": _signed(rate, 1)}, category="success")  # fmt: skip
        return Redirect(_budget_url(chosen), status_code=303)

    @post("/previsionnel/import", name="dashboard:budget_import", media_type=MediaType.HTML,
          dependencies={"posted": forms.upload(ImportForm)})  # fmt: skip
    async def import_budget(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        posted: NamedDependency[forms.Upload[ImportForm]],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        budgets: NamedDependency[BudgetService],
        exercice: FromQuery[str] = "",
    ) -> Any:
        """Replace the year's budget with a CSV file, or list every error in it and save nothing."""
        chosen, year = await _planned(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        upload = posted.file("fichier")
        if upload is None:
            errors = [budget_csv.CsvError(0, NO_FILE)]
            grid: Grid = {}
        else:
            data = await upload.read(budget_csv.MAX_BYTES + 1)
            grid, errors = budget_csv.read(data, months_of(year.start_date, year.end_date))
        for received in posted.files.values():
            await received.close()
        if errors:
            return await _budget_page(chosen, ledger, budgets, csv_errors=errors, status_code=422)
        cells = await budgets.replace(chosen.dossier.id, year, grid)
        flash(
            request,
            ngettext("Prévisionnel importé : %(count)s montant.", "Prévisionnel importé : %(count)s montants.", cells)
            % {"count": cells},
            category="success",
        )
        return Redirect(_budget_url(chosen), status_code=303)

    @get("/previsionnel/modele.csv", name="dashboard:budget_template")
    async def budget_template(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        exercice: FromQuery[str] = "",
    ) -> Stream:
        """The CSV format with the year's months and every poste, blank: it imports as is."""
        chosen = await _year(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        if chosen.year is None:
            raise NotFoundException
        months = months_of(chosen.year.start_date, chosen.year.end_date)
        return _csv(budget_csv.write({}, months), f"modele-previsionnel-{chosen.year.end_date:%Y-%m-%d}.csv")

    @get("/previsionnel/export.csv", name="dashboard:budget_export")
    async def budget_export(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        budgets: NamedDependency[BudgetService],
        exercice: FromQuery[str] = "",
    ) -> Stream:
        """« Exporter »: the year's budget in the import's format."""
        chosen = await _year(request, dossier_id, forms.query_text(exercice), dossiers, ledger)
        if chosen.year is None:
            raise NotFoundException
        months = months_of(chosen.year.start_date, chosen.year.end_date)
        grid = await budgets.grid(chosen.dossier.id, chosen.year.end_date)
        return _csv(budget_csv.write(grid, months), f"previsionnel-{chosen.year.end_date:%Y-%m-%d}.csv")


def _budget_url(chosen: Year) -> str:
    return f"/entreprises/{chosen.dossier.id}/tableau-de-bord/previsionnel{chosen.query}"


def _csv(text: str, filename: str) -> Stream:
    """A CSV download: UTF-8 with a BOM (a French spreadsheet then reads the accents right)."""

    async def body() -> AsyncIterator[bytes]:
        yield ("\ufeff" + text).encode()

    return download(body(), media_type="text/csv", charset="utf-8", filename=filename)


async def _objectives_page(
    chosen: Year,
    ledger: LedgerService,
    objectives: ObjectiveService,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    context: dict[str, Any] = {"chosen": chosen, "dossier": chosen.dossier, "errors": errors or {}, **HELPERS}
    year = chosen.year
    if year is not None:
        previous = chosen.previous
        current_figures = await ledger.figures(year)
        previous_figures = await ledger.figures(previous) if previous is not None else None
        targets = await objectives.targets(chosen.dossier.id, year.end_date)
        context.update(
            previous=previous,
            groups=objective_rows(current_figures, previous_figures, targets),
            values=values if values is not None else target_values(targets),
        )
    return Template(template_name="dashboard/objectives.html", context=context, status_code=status_code)


async def _budget_page(
    chosen: Year,
    ledger: LedgerService,
    budgets: BudgetService,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    prefill_form: PrefillForm | None = None,
    prefill_errors: dict[str, str] | None = None,
    confirm_prefill: bool = False,
    csv_errors: list[budget_csv.CsvError] | None = None,
    status_code: int = 200,
) -> Template:
    context: dict[str, Any] = {
        "chosen": chosen, "dossier": chosen.dossier, "errors": errors or {}, "keys": figures.BUDGET_KEYS,
        "labels": LINE_LABELS, "charge_keys": CHARGE_KEYS, "prefill_form": prefill_form or PrefillForm(taux="0"),
        "prefill_errors": prefill_errors or {}, "confirm_prefill": confirm_prefill, "csv_errors": csv_errors or [],
        "csv_max_kb": budget_csv.MAX_BYTES // 1024, **HELPERS,
    }  # fmt: skip
    year = chosen.year
    if year is not None:
        months = months_of(year.start_date, year.end_date)
        grid = await budgets.grid(chosen.dossier.id, year.end_date)
        actual = await ledger.figures(year)
        last_month = await budgets.last_month_with_entries(year)
        context.update(
            months=months,
            grid=grid,
            values=values if values is not None else grid_values(grid, months),
            row_totals={key: row_total(grid, key) for key in figures.BUDGET_KEYS},
            column_totals={month: balance(grid, month) for month in months},
            year_balance=balance(grid),
            previous=chosen.previous,
            comparison=compare(actual, grid, months, last_month),
            typed=typed,
        )
    return Template(template_name="dashboard/budget.html", context=context, status_code=status_code)
