"""A dossier's Comptabilité: its imported fiscal years, their entries, the balance, the FEC export."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream, Template
from litestar_htmx import HTMXRequest

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.clients.services import DossierService
from portal.integrations.controllers import DEPENDENCIES
from portal.ledger import fec
from portal.ledger.services import EntryFilter, LedgerService
from portal.web import forms
from portal.web.exports import in_chunks, reader_sessions


class LedgerController(Controller):
    path = "/entreprises/{dossier_id:uuid}/comptabilite"
    guards = (requires_somewhere(Permission.LEDGER_READ),)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @get("/", name="ledger:entries")
    async def entries(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        exercice: FromQuery[str] = "",
        journal: FromQuery[str] = "",
        compte: FromQuery[str] = "",
        q: FromQuery[str] = "",
        vue: FromQuery[str] = "ecritures",
        page: Annotated[int, QueryParameter(ge=1)] = 1,
    ) -> Template:
        """The entries of one fiscal year (the latest by default), filtered by journal, account or words."""
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
                context["accounts"] = await ledger.accounts(chosen)
            else:
                context["result"] = await ledger.entries_page(chosen, filters, page=page)
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
        return Stream(
            body(),
            media_type="text/plain; charset=iso-8859-15",  # what the FEC writer writes (the legal charset)
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
