"""The Notes de frais pages: my notes, a note and its lines, approving, Suivi and its exports, receipts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import anyio
from babel.dates import format_date
from litestar import Controller, MediaType, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import File, Redirect, Stream, Template
from litestar_htmx import HTMXRequest, HTMXTemplate

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.db.paging import Paging, Sort
from portal.expenses import schemas
from portal.expenses.accounting import FEC_COLUMNS
from portal.expenses.categories import RECEIPT_CATEGORIES
from portal.expenses.formatting import TEMPLATE_HELPERS, csv_amount, money
from portal.expenses.mileage import HORSEPOWERS, scale_for
from portal.expenses.models import ExpenseNote, ExpenseReceipt
from portal.expenses.receipts import THUMBNAIL_TYPE, ReceiptError, ReceiptStore, thumbnail
from portal.expenses.reports import ExpenseReportService, Tracked
from portal.expenses.services import (
    MY_NOTES_ORDER,
    NOTE_SORTS,
    TO_APPROVE_ORDER,
    ExpenseError,
    ExpenseNoteService,
    allowance_of,
    today,
)
from portal.i18n import N_, _, get_locale
from portal.settings import Settings
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import csv_stream, reader_sessions
from portal.web.navigation import menu_count

FILES = requires_somewhere(Permission.EXPENSES_FILE)
TO_APPROVE_PATH = "/notes-de-frais"
"""The menu entry whose count is the number of notes waiting for the person's approval."""
APPROVES = requires_somewhere(Permission.EXPENSES_APPROVE)
FILES_OR_APPROVES = (Permission.EXPENSES_FILE, Permission.EXPENSES_APPROVE)
RECEIPT_MISSING = N_("Joignez le justificatif : une photo ou un scan (JPEG, PNG, WebP) ou un PDF.")
# The form around a receipt (fields, boundaries) on top of the receipt itself.
FORM_OVERHEAD_BYTES = 64 * 1024
LINE_COLUMNS = ("Note", "Titre", "Employé", "Dossier", "Statut", "Date", "Catégorie", "Compte",
                "Fournisseur ou trajet", "Objet", "Montant TTC", "TVA récupérable", "Montant HT", "CV", "Km",
                "Électrique", "Justificatif")  # fmt: skip


def files_or_approves(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard: files expense notes somewhere (Employé) or approves some (partner, Gestionnaire de facturation)."""
    principal = principal_of(connection)
    if not any(principal.can_somewhere(permission) for permission in FILES_OR_APPROVES):
        raise PermissionDeniedException


# Either permission will do, held anywhere: no single permission is required of everyone (``any_of`` names them).
files_or_approves.permissions = ()  # type: ignore[attr-defined]
files_or_approves.any_of = FILES_OR_APPROVES  # type: ignore[attr-defined]


def provide_receipts(settings: NamedDependency[Settings]) -> ReceiptStore:
    return ReceiptStore(settings.receipts_dir, max_bytes=settings.receipt_max_bytes)


def _page(template: str, *, status_code: int = 200, **context: Any) -> Template:
    return Template(template_name=template, context={**TEMPLATE_HELPERS, **context}, status_code=status_code)


async def _note_page(
    request: Request[Any, Any, Any],
    notes: ExpenseNoteService,
    note: ExpenseNote,
    *,
    status_code: int = 200,
    error: str | None = None,
    **forms: Any,
) -> Template:
    """The note with its lines, history and the forms its status allows (``forms``: posted values and errors)."""
    principal = principal_of(request)
    note = await notes.get_visible(principal, note.id, history=True)
    context = {
        "note": note,
        "actions": notes.actions(principal, note),
        "allowances": {line.id: allowance_of(line) for line in note.lines},
        "categories": RECEIPT_CATEGORIES,
        "horsepowers": HORSEPOWERS,
        "today": today(),
        "scale": scale_for(today().year),
        "error": error,
        "line_form": schemas.ExpenseLineForm(),
        "line_errors": {},
        "mileage_form": schemas.MileageForm(),
        "mileage_errors": {},
        "refusal_errors": {},
        **forms,
    }
    return _page("expenses/detail.html", status_code=status_code, **context)


class ExpenseNoteController(Controller):
    path = "/notes-de-frais"
    # People who neither file nor approve expense notes anywhere are refused the whole section.
    guards = (files_or_approves,)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {
        "notes": provide(ExpenseNoteService),
        "receipts": Provide(provide_receipts, sync_to_thread=False),
        "reports": provide(ExpenseReportService),
    }

    # --- lists ------------------------------------------------------------------------

    @get("/", name="expenses:landing", dependencies=PAGING)
    async def landing(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        paging: NamedDependency[Paging],
        tri: FromQuery[str] = "",
    ) -> Template | Redirect:
        """Notes de frais from the menu: À valider when notes wait for the person's approval, else their own."""
        principal = principal_of(request)
        if await notes.count_to_approve(principal):
            return Redirect("/notes-de-frais/a-valider", status_code=303)
        return await self._mine(request, notes, paging, tri)

    @get("/mes-notes", name="expenses:mine", dependencies=PAGING)
    async def mine(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        paging: NamedDependency[Paging],
        tri: FromQuery[str] = "",
    ) -> Template:
        """Mes notes de frais, sorted by any column."""
        return await self._mine(request, notes, paging, tri)

    async def _mine(
        self, request: Request[Any, Any, Any], notes: ExpenseNoteService, paging: Paging, tri: str
    ) -> Template:
        principal = principal_of(request)
        sort = Sort.read(tri, NOTE_SORTS, MY_NOTES_ORDER)
        return _page(
            "expenses/mine.html",
            result=await notes.my_notes(principal, paging, sort),
            sort=sort,
            can_file=bool(await notes.filing_dossiers(principal)),
            **_tabs(principal, "mine"),
        )

    @get("/a-valider", guards=[APPROVES], name="expenses:to_approve", dependencies=PAGING)
    async def to_approve(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        paging: NamedDependency[Paging],
        tri: FromQuery[str] = "",
    ) -> Template:
        principal = principal_of(request)
        sort = Sort.read(tri, NOTE_SORTS, TO_APPROVE_ORDER)
        result = await notes.to_approve(principal, paging, sort)
        return _page(
            "expenses/to_approve.html", result=result, sort=sort, **_tabs(principal, "to_approve", result.total)
        )

    @get("/suivi", guards=[APPROVES], name="expenses:tracking", dependencies=PAGING)
    async def tracking(
        self,
        request: Request[Any, Any, Any],
        reports: NamedDependency[ExpenseReportService],
        *,
        du: FromQuery[str] = "",
        au: FromQuery[str] = "",
        statut: FromQuery[str] = "",
        paging: NamedDependency[Paging],
    ) -> Template:
        """Suivi: totals by month and by employee over a period, the entries of the notes approved in it (a page
        of notes at a time), and the exports."""
        principal = principal_of(request)
        period = schemas.parse_period(du, au, today())
        tracked = Tracked.parse(statut)
        return _page(
            "expenses/tracking.html",
            period=period,
            tracked=tracked,
            tracked_choices=list(Tracked),
            totals=await reports.totals(principal, period, tracked),
            booked=await reports.entry_page(principal, period, paging),
            **_tabs(principal, "tracking"),
        )

    @get("/suivi/lignes.csv", guards=[APPROVES], name="expenses:export")
    async def export(
        self,
        request: Request[Any, Any, Any],
        du: FromQuery[str] = "",
        au: FromQuery[str] = "",
        statut: FromQuery[str] = "",
    ) -> Stream:
        """The lines of the period, one per row (UTF-8 with BOM, ``;``), streamed."""
        principal = principal_of(request)
        period = schemas.parse_period(du, au, today())
        tracked = Tracked.parse(statut)
        sessions = reader_sessions(request)

        async def rows() -> AsyncIterator[Iterable[str]]:
            async with sessions() as session:
                async for line, note in ExpenseReportService(session).lines(principal, period, tracked):
                    rule = line.category.rule
                    yield (
                        note.reference, note.title, note.author.name, note.dossier.name, _(note.status.label),
                        line.expense_date.strftime("%d/%m/%Y"), _(rule.label), rule.account, line.merchant,
                        line.purpose or "", csv_amount(line.amount_ttc), csv_amount(line.vat_amount),
                        csv_amount(line.amount_ht), str(line.horsepower or ""), str(line.distance_km or ""),
                        ("oui" if line.electric else "non") if line.is_mileage else "",
                        "oui" if line.receipt is not None else "non",
                    )  # fmt: skip

        return csv_stream(rows(), LINE_COLUMNS, f"notes-de-frais-{period.first_month}-{period.last_month}.csv")

    @get("/suivi/ecritures.csv", guards=[APPROVES], name="expenses:entries")
    async def entries(
        self, request: Request[Any, Any, Any], du: FromQuery[str] = "", au: FromQuery[str] = ""
    ) -> Stream:
        """Écritures comptables: the entries of the notes approved in the period, with FEC column names."""
        principal = principal_of(request)
        period = schemas.parse_period(du, au, today())
        sessions = reader_sessions(request)

        async def rows() -> AsyncIterator[Iterable[str]]:
            async with sessions() as session:
                async for line in ExpenseReportService(session).entries(principal, period):
                    yield line.fec_row()

        return csv_stream(rows(), FEC_COLUMNS, f"ecritures-ndf-{period.first_month}-{period.last_month}.csv")

    # --- a new note -------------------------------------------------------------------

    @get("/nouvelle", guards=[FILES], name="expenses:new")
    async def new(self, request: Request[Any, Any, Any], notes: NamedDependency[ExpenseNoteService]) -> Template:
        principal = principal_of(request)
        title = _("Frais de %(month)s") % {"month": _month_name(today())}
        return _page(
            "expenses/new.html",
            form=schemas.NoteForm(titre=title),
            errors={},
            dossiers=await notes.filing_dossiers(principal),
        )

    @post("/", guards=[FILES], name="expenses:create", media_type=MediaType.HTML)
    async def create(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        data: Annotated[schemas.NoteForm, forms.POSTED],
    ) -> Any:
        principal = principal_of(request)
        dossiers = await notes.filing_dossiers(principal)
        checked = schemas.validate_note(data)
        errors = dict(checked.errors)
        dossier_id = _uuid(data.dossier) if len(dossiers) != 1 else dossiers[0].id
        if checked.values is not None and not errors:
            try:
                note = await notes.create_note(principal, dossier_id, checked.values)
            except ExpenseError as refused:
                errors["dossier"] = refused.message
            else:
                flash(request, _("Note de frais créée : %(ref)s.") % {"ref": note.reference}, category="success")
                return Redirect(f"/notes-de-frais/{note.id}", status_code=303)
        return _page("expenses/new.html", status_code=422, form=data, errors=errors, dossiers=dossiers)

    # --- a note -----------------------------------------------------------------------

    @get("/{note_id:uuid}", name="expenses:detail")
    async def detail(
        self, request: Request[Any, Any, Any], notes: NamedDependency[ExpenseNoteService], note_id: FromPath[uuid.UUID]
    ) -> Template:
        note = await notes.get_visible(principal_of(request), note_id)
        return await _note_page(request, notes, note)

    @get("/{note_id:uuid}/indemnites/apercu", name="expenses:mileage_preview", media_type=MediaType.HTML)
    async def mileage_preview(
        self,
        request: HTMXRequest,
        notes: NamedDependency[ExpenseNoteService],
        note_id: FromPath[uuid.UUID],
        *,
        date: FromQuery[str] = "",
        cv: FromQuery[str] = "",
        km: FromQuery[str] = "",
        electrique: FromQuery[str] = "",
    ) -> Template:
        """What a trip would be worth (htmx, as the mileage form is filled in)."""
        note = await notes.get_visible(principal_of(request), note_id)
        checked = schemas.validate_mileage(
            schemas.MileageForm(date=date, trajet="-", cv=cv, km=km, electrique=electrique), today()
        )
        allowance = await notes.mileage_allowance(note, checked.values) if checked.values else None
        return HTMXTemplate(
            template_name="expenses/_partials/mileage_preview.html",
            context={**TEMPLATE_HELPERS, "allowance": allowance},
        )

    @post(
        "/{note_id:uuid}/lignes",
        guards=[FILES],
        name="expenses:add_line",
        media_type=MediaType.HTML,
        dependencies={"posted": forms.upload(schemas.ExpenseLineForm)},
    )
    async def add_line(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        receipts: NamedDependency[ReceiptStore],
        note_id: FromPath[uuid.UUID],
        posted: NamedDependency[forms.Upload[schemas.ExpenseLineForm]],
    ) -> Any:
        """Add a line from a receipt (multipart form: the fields and the file ``justificatif``)."""
        principal = principal_of(request)
        note = await notes.get_visible(principal, note_id)
        line_form = posted.form
        try:
            notes.check_editable(principal, note)
            checked = schemas.validate_expense(line_form, today())
            errors = dict(checked.errors)
            upload = posted.file("justificatif")
            receipt = None
            if upload is None:
                errors["justificatif"] = RECEIPT_MISSING
            else:
                try:
                    receipt = await receipts.check(await upload.read(receipts.max_bytes + 1), upload.filename)
                except ReceiptError as refused:
                    errors["justificatif"] = _(refused.message) % refused.params if refused.params else refused.message
                finally:
                    await upload.close()
            if errors or checked.values is None or receipt is None:
                return await _note_page(
                    request, notes, note, status_code=422, line_form=line_form, line_errors=errors, open_form="ligne"
                )
            await notes.add_expense_line(principal, note, checked.values, receipt, receipts)
        except ExpenseError as refused:
            return await _note_page(request, notes, note, status_code=refused.status, error=refused.message)
        flash(request, _("Ligne ajoutée."), category="success")
        return Redirect(f"/notes-de-frais/{note.id}", status_code=303)

    @post("/{note_id:uuid}/indemnites", guards=[FILES], name="expenses:add_mileage", media_type=MediaType.HTML)
    async def add_mileage(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        note_id: FromPath[uuid.UUID],
        data: Annotated[schemas.MileageForm, forms.POSTED],
    ) -> Any:
        principal = principal_of(request)
        note = await notes.get_visible(principal, note_id)
        try:
            notes.check_editable(principal, note)
            checked = schemas.validate_mileage(data, today())
            if checked.values is None:
                return await _note_page(
                    request, notes, note, status_code=422, mileage_form=data, mileage_errors=checked.errors,
                    open_form="ik",
                )  # fmt: skip
            line = await notes.add_mileage_line(principal, note, checked.values)
        except ExpenseError as refused:
            return await _note_page(request, notes, note, status_code=refused.status, error=refused.message)
        message = _("Indemnités kilométriques ajoutées : %(amount)s.") % {"amount": money(line.amount_ttc)}
        flash(request, message, category="success")
        return Redirect(f"/notes-de-frais/{note.id}", status_code=303)

    @post(
        "/{note_id:uuid}/lignes/{line_id:uuid}/supprimer",
        guards=[FILES],
        name="expenses:delete_line",
        media_type=MediaType.HTML,
    )
    async def delete_line(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        receipts: NamedDependency[ReceiptStore],
        note_id: FromPath[uuid.UUID],
        line_id: FromPath[uuid.UUID],
    ) -> Any:
        principal = principal_of(request)
        note = await notes.get_visible(principal, note_id)
        try:
            await notes.delete_line(principal, note, line_id, receipts)
        except ExpenseError as refused:
            return await _note_page(request, notes, note, status_code=refused.status, error=refused.message)
        flash(request, _("Ligne supprimée."), category="success")
        return Redirect(f"/notes-de-frais/{note.id}", status_code=303)

    @post("/{note_id:uuid}/soumettre", guards=[FILES], name="expenses:submit", media_type=MediaType.HTML)
    async def submit(
        self, request: Request[Any, Any, Any], notes: NamedDependency[ExpenseNoteService], note_id: FromPath[uuid.UUID]
    ) -> Any:
        return await _act(request, notes, note_id, "submit", N_("Note soumise pour validation."))

    @post("/{note_id:uuid}/brouillon", guards=[FILES], name="expenses:reopen", media_type=MediaType.HTML)
    async def reopen(
        self, request: Request[Any, Any, Any], notes: NamedDependency[ExpenseNoteService], note_id: FromPath[uuid.UUID]
    ) -> Any:
        return await _act(
            request,
            notes,
            note_id,
            "reopen",
            N_("La note est de nouveau un brouillon : corrigez-la puis soumettez-la."),
        )

    @post("/{note_id:uuid}/approuver", guards=[APPROVES], name="expenses:approve", media_type=MediaType.HTML)
    async def approve(
        self, request: Request[Any, Any, Any], notes: NamedDependency[ExpenseNoteService], note_id: FromPath[uuid.UUID]
    ) -> Any:
        return await _act(request, notes, note_id, "approve", N_("Note approuvée."))

    @post("/{note_id:uuid}/payer", guards=[APPROVES], name="expenses:pay", media_type=MediaType.HTML)
    async def pay(
        self, request: Request[Any, Any, Any], notes: NamedDependency[ExpenseNoteService], note_id: FromPath[uuid.UUID]
    ) -> Any:
        return await _act(request, notes, note_id, "mark_paid", N_("Note marquée comme payée."))

    @post("/{note_id:uuid}/refuser", guards=[APPROVES], name="expenses:refuse", media_type=MediaType.HTML)
    async def refuse(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        note_id: FromPath[uuid.UUID],
        data: Annotated[schemas.RefusalForm, forms.POSTED],
    ) -> Any:
        principal = principal_of(request)
        note = await notes.get_visible(principal, note_id)
        checked = schemas.validate_refusal(data)
        try:
            if checked.values is None:
                notes.check_approver(principal, note)
                return await _note_page(
                    request, notes, note, status_code=422, refusal_form=data, refusal_errors=checked.errors
                )
            await notes.refuse(principal, note, checked.values)
        except ExpenseError as refused:
            return await _note_page(request, notes, note, status_code=refused.status, error=refused.message)
        flash(request, _("Note refusée : son auteur voit le motif."), category="success")
        return Redirect(f"/notes-de-frais/{note.id}", status_code=303)

    # --- receipts ---------------------------------------------------------------------

    @get("/justificatifs/{receipt_id:uuid}", name="expenses:receipt")
    async def receipt(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        receipts: NamedDependency[ReceiptStore],
        receipt_id: FromPath[uuid.UUID],
    ) -> File:
        """The receipt, inline, with the type found from its content; only to people who see its note."""
        receipt, path = await _receipt_file(request, notes, receipts, receipt_id)
        return File(
            path=path,
            media_type=receipt.content_type,
            content_disposition_type="inline",
            filename=f"justificatif-{receipt.id}{path.suffix}",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
        )

    @get("/justificatifs/{receipt_id:uuid}/miniature", name="expenses:receipt_thumbnail")
    async def receipt_thumbnail(
        self,
        request: Request[Any, Any, Any],
        notes: NamedDependency[ExpenseNoteService],
        receipts: NamedDependency[ReceiptStore],
        receipt_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        """An image receipt reduced on the server (the note's lines show it); only to people who see its note.
        A PDF has no thumbnail (the page shows an icon): 404."""
        receipt, path = await _receipt_file(request, notes, receipts, receipt_id)
        if not receipt.content_type.startswith("image/"):
            raise NotFoundException
        reduced = await anyio.to_thread.run_sync(thumbnail, path)
        return Response(
            reduced,
            media_type=THUMBNAIL_TYPE,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
        )


async def _receipt_file(
    request: Request[Any, Any, Any], notes: ExpenseNoteService, receipts: ReceiptStore, receipt_id: uuid.UUID
) -> tuple[ExpenseReceipt, Path]:
    """A receipt of a note the person sees, and its file (404 for anyone else, or when the file is gone)."""
    receipt = await notes.get_receipt(principal_of(request), receipt_id)
    path = receipts.path(receipt.storage_name)
    if not path.is_file():
        raise NotFoundException
    return receipt, path


async def _act(
    request: Request[Any, Any, Any], notes: ExpenseNoteService, note_id: uuid.UUID, action: str, done: str
) -> Any:
    """One status change of the flow, then back to the note (with the refusal's reason on failure)."""
    principal = principal_of(request)
    note = await notes.get_visible(principal, note_id)
    try:
        await getattr(notes, action)(principal, note)
    except ExpenseError as refused:
        return await _note_page(request, notes, note, status_code=refused.status, error=refused.message)
    flash(request, _(done), category="success")
    return Redirect(f"/notes-de-frais/{note.id}", status_code=303)


def _tabs(principal: Principal, active: str, waiting: int | None = None) -> dict[str, Any]:
    """The tabs' context: which is open, whether À valider shows, and its count (the menu's, read for this page,
    unless the page counted it itself)."""
    return {
        "tab": active,
        "approver": principal.can_somewhere(Permission.EXPENSES_APPROVE),
        "waiting": menu_count(TO_APPROVE_PATH) if waiting is None else waiting,
    }


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _month_name(day: dt.date) -> str:
    return format_date(day, "MMMM y", locale=get_locale())


def expense_routes(settings: Settings) -> Router:
    """The Notes de frais pages, whose request bodies may carry a receipt of up to ``receipt_max_bytes``."""
    return Router(
        path="/",
        route_handlers=[ExpenseNoteController],
        request_max_body_size=settings.receipt_max_bytes + FORM_OVERHEAD_BYTES,
    )
