"""A dossier's Comptabilité: its imported fiscal years, their entries, the balance, the FEC export;
and « Importer un fichier des écritures comptables », the FEC upload of the Connexions page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import anyio
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from litestar_htmx import HTMXRequest

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.clients.fiscal import closing_in, fiscal_year_end
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.paging import Paging
from portal.i18n import N_, _, ngettext, number
from portal.ledger import belonging, fec
from portal.ledger.files import ImportFiles
from portal.ledger.models import LedgerImport, LedgerSource
from portal.ledger.pages import FEES, JOURNALS, PORTAL
from portal.ledger.services import EntryFilter, LedgerService
from portal.settings import FIRM_TIMEZONE, Settings
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import download, in_chunks, reader_sessions
from portal.web.files import TooLargeError, display_name

NO_FILE = N_("Choisissez le fichier des écritures comptables (FEC) à importer.")
EMPTY_FILE = N_("Le fichier est vide : exportez de nouveau le FEC depuis votre logiciel comptable.")
TOO_LARGE = N_("Le fichier dépasse la taille maximale de %(size)s Mo.")
BAD_DATE = N_("Date invalide : utilisez le format JJ/MM/AAAA.")
DATES_ORDER = N_("La date de fin d'exercice doit suivre la date de début.")
NOT_WAITING = N_("Cet import n'attend plus de confirmation.")


@dataclass
class UploadForm:
    """« Importer un fichier des écritures comptables » but the file: the fiscal year's dates, optional."""

    debut: str = forms.text(forms.DATE_MAX_LENGTH)
    fin: str = forms.text(forms.DATE_MAX_LENGTH)


class UploadRefusedPage:
    """The page holding the upload form, shown again (422) with what was typed and what is wrong.

    The form sits on the dossier's Connexions page, which the connections build: they
    provide a subclass as the ``upload_refused_page`` dependency where they mount the upload.
    """

    async def __call__(
        self, request: HTMXRequest, dossier: Dossier, *, values: dict[str, str], errors: dict[str, str]
    ) -> Template:
        raise NotImplementedError


def calendar_periods(dossier: Dossier, today: dt.date, count: int = 3) -> list[tuple[dt.date, dt.date]]:
    """The dossier's current fiscal year and the ``count - 1`` before it, latest first, by its closing date."""
    end = fiscal_year_end(dossier, today)
    closings = [closing_in(dossier, end.year - offset) for offset in range(count + 1)]
    return [(closings[i + 1] + dt.timedelta(days=1), closings[i]) for i in range(count)]


DEPENDENCIES: Mapping[str, Provide] = {"ledger": provide(LedgerService), "dossiers": provide(DossierService)}


class LedgerController(Controller):
    path = "/entreprises/{dossier_id:uuid}/comptabilite"
    guards = (requires_somewhere(Permission.LEDGER_READ),)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @get("/", name="ledger:entries", dependencies=PAGING)
    async def entries(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        paging: NamedDependency[Paging],
        exercice: FromQuery[str] = "",
        journal: FromQuery[str] = "",
        compte: FromQuery[str] = "",
        q: FromQuery[str] = "",
        vue: FromQuery[str] = "ecritures",
    ) -> Template:
        """The entries of one fiscal year (the latest by default), filtered by journal, account or words; or its
        balance générale (``vue=balance``) or auxiliaire (``vue=auxiliaire``)."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_READ)
        years = await ledger.fiscal_years(principal, dossier.id)
        # The fiscal calendar's recent years that were not imported: the portal's own journals may be there.
        imported_ends = {year.end_date for year in years}
        periods = [item for item in calendar_periods(dossier, dt.datetime.now(FIRM_TIMEZONE).date())
                   if item[1] not in imported_ends]  # fmt: skip
        calendar_choice = next((item for item in periods if item[1].isoformat() == exercice), None)
        chosen = None if calendar_choice else next((year for year in years if str(year.id) == exercice), None)
        if chosen is None and calendar_choice is None:
            chosen = years[0] if years else None
        journal, compte, q = (forms.query_text(value).strip() for value in (journal, compte, q))
        filters = EntryFilter(journal=journal, account=compte, query=q)
        period = (chosen.start_date, chosen.end_date) if chosen is not None else calendar_choice or periods[0]
        context: dict[str, Any] = {
            "dossier": dossier, "years": years, "year": chosen, "filters": filters, "view": vue,
            "can_export": principal.can(Permission.LEDGER_EXPORT, dossier.id),
            "can_delete": principal.can(Permission.LEDGER_DELETE, dossier.id), "periods": periods, "period": period,
            "portal_part": JOURNALS.template(PORTAL), "fees_part": JOURNALS.template(FEES),
        }  # fmt: skip
        for part in (PORTAL, FEES):
            context.update(
                await JOURNALS.context(part, principal, ledger.session, dossier, period, journal, paging, periods)
            )
        if chosen is not None:
            context["journals"] = await ledger.journals(chosen)
            if vue == "balance":
                context["rows"], context["totals"] = await ledger.general_balance(chosen)
            elif vue == "auxiliaire":
                context["result"], context["totals"] = await ledger.auxiliary_balance(chosen, paging)
            elif not context.get("portal_selected") and not context.get("fees_selected"):
                context["result"] = await ledger.entries_page(chosen, filters, paging=paging)
        return Template(template_name="ledger/entries.html", context=context)

    @get(
        "/exercices/{fiscal_year_id:uuid}/fec",
        guards=[requires_somewhere(Permission.LEDGER_EXPORT)],
        name="ledger:export",
    )
    async def export(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        fiscal_year_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
    ) -> Stream:
        """The fiscal year as a FEC file named ``<SIREN>FEC<AAAAMMJJ>.txt``, streamed."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_EXPORT)
        year = await ledger.year_of(principal, dossier, fiscal_year_id, Permission.LEDGER_EXPORT)
        sessions = reader_sessions(request)
        cash_basis = year.cash_basis is not None

        async def body() -> AsyncIterator[bytes]:
            async with sessions() as session:
                header = True
                async for batch in in_chunks(LedgerService(session).export_rows(year)):
                    yield fec.write_chunk(batch, cash_basis=cash_basis, header=header)
                    header = False

        filename = fec.fec_filename(dossier.siren or "000000000", year.end_date)
        # What the FEC writer writes (the legal charset).
        return download(body(), media_type="text/plain", charset="iso-8859-15", filename=filename)

    @get(
        "/exercices/{fiscal_year_id:uuid}/supprimer",
        guards=[requires_somewhere(Permission.LEDGER_DELETE)],
        name="ledger:delete_year",
    )
    async def delete_page(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        fiscal_year_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """« Supprimer l'exercice »: what goes with it, and what the person should know, before confirming."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_DELETE)
        year = await ledger.year_of(principal, dossier, fiscal_year_id, Permission.LEDGER_DELETE)
        context = {"dossier": dossier, "year": year, "following": await ledger.following_year(year)}
        return Template(template_name="ledger/delete_year.html", context=context)

    @post(
        "/exercices/{fiscal_year_id:uuid}/supprimer",
        guards=[requires_somewhere(Permission.LEDGER_DELETE)],
        name="ledger:delete_year_confirmed",
    )
    async def delete(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        fiscal_year_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
    ) -> Redirect:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_DELETE)
        deleted = await ledger.delete_fiscal_year(principal, dossier, fiscal_year_id)
        message = ngettext(
            "L'exercice du %(start)s au %(end)s est supprimé, avec son écriture.",
            "L'exercice du %(start)s au %(end)s est supprimé, avec ses %(count)s écritures.",
            deleted.entries,
        ) % {"start": f"{deleted.start:%d/%m/%Y}", "end": f"{deleted.end:%d/%m/%Y}", "count": number(deleted.entries)}
        flash(request, message, category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions#exercices-titre", status_code=303)


class FecUploadController(Controller):
    """The FEC upload of a dossier's Connexions page (mounted with the page, which may carry a large body)."""

    path = "/entreprises/{dossier_id:uuid}/connexions"
    guards = (requires_somewhere(Permission.LEDGER_READ),)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @post("/fec", guards=[requires_somewhere(Permission.CONNECTIONS_MANAGE)], name="ledger:upload",
          media_type=MediaType.HTML, dependencies={"posted": forms.upload(UploadForm)})  # fmt: skip
    async def upload(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        posted: NamedDependency[forms.Upload[UploadForm]],
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        upload_refused_page: NamedDependency[UploadRefusedPage],
    ) -> Any:
        """Importer un fichier des écritures comptables: checked as a FEC, stored, then imported by a worker."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        too_long = forms.clip(posted.form)
        values = asdict(posted.form)
        errors: dict[str, str] = {}
        period: dict[str, dt.date | None] = {}
        for key in ("debut", "fin"):
            period[key] = forms.parse_date(values[key]) if values[key].strip() else None
            if values[key].strip() and period[key] is None:
                errors[key] = BAD_DATE
        errors.update(too_long)
        if period.get("debut") and period.get("fin") and period["fin"] <= period["debut"]:  # type: ignore[operator]
            errors["fin"] = DATES_ORDER
        upload = posted.file("fichier")
        files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
        stored: tuple[str, int] | None = None
        if upload is None:
            errors["fichier"] = NO_FILE
        elif not errors:
            stored, message = await _store(files, upload, settings)
            if message:
                errors["fichier"] = message
        for received in posted.files.values():
            await received.close()
        if errors or stored is None or upload is None:
            return await upload_refused_page(request, dossier, values=values, errors=errors)
        filename = display_name(upload.filename)
        doubts = belonging.mismatches(dossier, filename, period.get("fin"))
        record = await ledger.request_import(
            principal, dossier, source=LedgerSource.UPLOAD, filename=filename, storage_name=stored[0],
            size_bytes=stored[1], period_start=period.get("debut"), period_end=period.get("fin"), to_confirm=doubts,
        )  # fmt: skip
        if doubts:  # nothing is imported before the person has read why the file may not be the dossier's
            return Redirect(f"/entreprises/{dossier.id}/connexions/imports/{record.id}", status_code=303)
        flash(request, _("Fichier reçu : l'import a commencé."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions#imports", status_code=303)

    @post("/imports/{import_id:uuid}/importer", guards=[requires_somewhere(Permission.CONNECTIONS_MANAGE)],
          name="ledger:upload_confirm")  # fmt: skip
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        import_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
    ) -> Redirect:
        """« Importer quand même »: the file the person was warned about goes to a worker."""
        dossier, record = await _waiting(request, dossier_id, import_id, dossiers, ledger)
        if await ledger.confirm_import(record):
            flash(request, _("Fichier reçu : l'import a commencé."), category="success")
            return Redirect(f"/entreprises/{dossier.id}/connexions#imports", status_code=303)
        flash(request, _(NOT_WAITING), category="error")
        return Redirect(f"/entreprises/{dossier.id}/connexions/imports/{record.id}", status_code=303)

    @post("/imports/{import_id:uuid}/annuler", guards=[requires_somewhere(Permission.CONNECTIONS_MANAGE)],
          name="ledger:upload_cancel")  # fmt: skip
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        import_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        """« Annuler »: nothing is imported and the stored file is removed."""
        dossier, record = await _waiting(request, dossier_id, import_id, dossiers, ledger)
        storage_name = await ledger.cancel_import(record)
        if storage_name is None:
            flash(request, _(NOT_WAITING), category="error")
            return Redirect(f"/entreprises/{dossier.id}/connexions/imports/{record.id}", status_code=303)
        await ledger.session.commit()  # the file goes only once nothing can point at it any more
        ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes).discard(storage_name)
        flash(request, _("Import annulé : rien n'a été importé et le fichier a été supprimé."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions#imports", status_code=303)


async def _waiting(
    request: Request[Any, Any, Any],
    dossier_id: uuid.UUID,
    import_id: uuid.UUID,
    dossiers: DossierService,
    ledger: LedgerService,
) -> tuple[Dossier, LedgerImport]:
    """The dossier (404 unless the person may import into it) and one of its uploads (404 when not an upload)."""
    principal = principal_of(request)
    dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
    record = await ledger.get_import(principal, dossier.id, import_id)
    if record.source is not LedgerSource.UPLOAD:
        raise NotFoundException
    return dossier, record


async def _store(
    files: ImportFiles, upload: UploadFile, settings: Settings
) -> tuple[tuple[str, int] | None, str | None]:
    """Keep the upload if it reads as a FEC at all; else discard it and say why (French msgid)."""

    def save() -> tuple[str, int]:
        upload.file.seek(0)
        return files.save(upload.file)  # type: ignore[arg-type]

    try:
        name, size = await anyio.to_thread.run_sync(save)
    except TooLargeError:
        megabytes = settings.fec_max_bytes // (1024 * 1024)
        return None, _(TOO_LARGE) % {"size": megabytes}
    if size == 0:
        files.discard(name)
        return None, EMPTY_FILE
    path = files.path(name)

    def sniff() -> str | None:
        try:
            with fec.FecFile.open(path, filename=display_name(upload.filename)):
                return None
        except fec.FecFormatError as refused:
            return refused.text()

    message = await anyio.to_thread.run_sync(sniff)
    if message is not None:
        files.discard(name)
        return None, message
    return (name, size), None
