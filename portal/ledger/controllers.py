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
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.paging import Paging
from portal.i18n import N_, _
from portal.ledger import fec
from portal.ledger.files import ImportFiles
from portal.ledger.models import LedgerSource
from portal.ledger.services import EntryFilter, LedgerService
from portal.settings import Settings
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import download, in_chunks, reader_sessions
from portal.web.files import TooLargeError, display_name

NO_FILE = N_("Choisissez le fichier des écritures comptables (FEC) à importer.")
EMPTY_FILE = N_("Le fichier est vide : exportez de nouveau le FEC depuis votre logiciel comptable.")
TOO_LARGE = N_("Le fichier dépasse la taille maximale de %(size)s Mo.")
BAD_DATE = N_("Date invalide : utilisez le format JJ/MM/AAAA.")
DATES_ORDER = N_("La date de fin d'exercice doit suivre la date de début.")


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
        chosen = next((year for year in years if str(year.id) == exercice), years[0] if years else None)
        journal, compte, q = (forms.query_text(value).strip() for value in (journal, compte, q))
        filters = EntryFilter(journal=journal, account=compte, query=q)
        context: dict[str, Any] = {
            "dossier": dossier, "years": years, "year": chosen, "filters": filters, "view": vue,
            "can_export": principal.can(Permission.LEDGER_EXPORT, dossier.id),
        }  # fmt: skip
        if chosen is not None:
            context["journals"] = await ledger.journals(chosen)
            if vue == "balance":
                context["rows"], context["totals"] = await ledger.general_balance(chosen)
            elif vue == "auxiliaire":
                context["result"], context["totals"] = await ledger.auxiliary_balance(chosen, paging)
            else:
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
        year = await ledger.get_fiscal_year(principal, fiscal_year_id, Permission.LEDGER_EXPORT)
        if year.dossier_id != dossier.id:
            raise NotFoundException
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
        await ledger.request_import(
            principal, dossier, source=LedgerSource.UPLOAD, filename=display_name(upload.filename),
            storage_name=stored[0], size_bytes=stored[1], period_start=period.get("debut"),
            period_end=period.get("fin"),
        )  # fmt: skip
        flash(request, _("Fichier reçu : l'import a commencé."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions#imports", status_code=303)


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
