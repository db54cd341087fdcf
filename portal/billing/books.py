"""The billing entity's Comptabilité: the journals the portal posts for the firm's fees (VT, BQ), listed beside the
imported ones through the ledger's ``JOURNALS`` part ``facturation``, with their entries, and exported as a FEC
(``<SIREN>FEC<AAAAMMJJ>.txt``, the closing date of the fiscal year shown) the portal's own reader accepts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.billing.posting import FeeLedger, account_label
from portal.clients.fiscal import fiscal_year_end, fiscal_year_start
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.paging import Paging
from portal.firm.services import billing_entity_id
from portal.ledger import fec
from portal.settings import FIRM_TIMEZONE
from portal.web.deps import provide
from portal.web.exports import download, in_chunks, reader_sessions

NO_SIREN = "000000000"
PREFIX = "facturation:"


async def fee_journals(  # noqa: PLR0917 - a page part: the page passes its context positionally
    principal: Principal,
    session: AsyncSession,
    dossier: Dossier,
    period: tuple[dt.date, dt.date],
    journal: str,
    paging: Paging,
    others: list[tuple[dt.date, dt.date]],
) -> dict[str, Any]:
    """The part: VT and BQ over ``period`` when the dossier is the billing entity, and the entries of the one chosen
    (``journal`` is ``facturation:<code>``). The page checked LEDGER_READ on the dossier: its books are the reader's."""
    del principal
    entity = (await session.execute(billing_entity_id())).scalar_one_or_none()
    if entity != dossier.id:
        return {}
    books = FeeLedger(session)
    start, end = period
    journals = await books.journals(dossier.id, start, end)
    selected = next((item for item in journals if item.key == journal), None)
    elsewhere = [item for item in others if item != period and await books.posted_between(dossier.id, *item)]
    context: dict[str, Any] = {
        "fees_journals": journals, "fees_selected": selected, "fees_elsewhere": elsewhere,
        "fees_filename": fec.fec_filename(dossier.siren or NO_SIREN, end), "fees_account_label": account_label,
    }  # fmt: skip
    if selected is not None:
        context["fees_result"] = await books.entries_page(dossier.id, selected.code, start, end, paging)
    return context


@get("/entreprises/{dossier_id:uuid}/comptabilite/journaux-facturation/fec", name="billing:books_export",
     guards=[requires_somewhere(Permission.LEDGER_EXPORT)], include_in_schema=False,
     dependencies={"dossiers": provide(DossierService)})  # fmt: skip
async def export_books(
    request: Request[Any, Any, Any],
    *,
    dossier_id: FromPath[uuid.UUID],
    dossiers: NamedDependency[DossierService],
    start: Annotated[str, QueryParameter(name="du")] = "",
    end: Annotated[str, QueryParameter(name="au")] = "",
) -> Stream:
    """The fees' journals of the billing entity over a fiscal year (``du``/``au``, the current one by default), as
    ``<SIREN>FEC<closing>.txt``."""
    principal = principal_of(request)
    dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_EXPORT)
    if not start and not end:
        today = dt.datetime.now(FIRM_TIMEZONE).date()
        start, end = fiscal_year_start(dossier, today).isoformat(), fiscal_year_end(dossier, today).isoformat()
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise NotFoundException from None
    if last < first:
        raise NotFoundException
    sessions = reader_sessions(request)

    async def body() -> AsyncIterator[bytes]:
        async with sessions() as session:
            header = True
            async for batch in in_chunks(FeeLedger(session).export_rows(dossier.id, first, last)):
                yield fec.write_chunk(batch, cash_basis=False, header=header)
                header = False  # nothing posted: ``in_chunks`` still gives one empty batch, the header alone

    filename = fec.fec_filename(dossier.siren or NO_SIREN, last)
    return download(body(), media_type="text/plain", charset="iso-8859-15", filename=filename)
