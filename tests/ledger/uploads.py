"""Uploading a FEC from a dossier's Connexions page as a person does, and running the import the worker would run
inline, with the same function (``run_import``)."""

from __future__ import annotations

import io

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.ledger.importer import run_import
from portal.ledger.models import FiscalYear, LedgerImport, VersionState
from portal.settings import Settings
from tests.browsing import csrf_token, sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient


async def partner(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, roles=(FirmRole.PARTNER,))
    assert (await sign_in(client, user.email, PASSWORD)).status_code in {302, 303}


async def upload(
    client: Client, dossier: Dossier, name: str, content: bytes, *, confirm: bool = True, **fields: str
) -> httpx.Response:
    """Upload as the page does; a file the page asks about (not the dossier's SIREN or closing date) is imported
    anyway with « Importer quand même » unless ``confirm`` is False."""
    page = f"/entreprises/{dossier.id}/connexions"
    token = await csrf_token(client, page)
    response = await client.post(
        f"{page}/fec",
        data={"_csrf_token": token, **fields},
        files={"fichier": (name, io.BytesIO(content), "text/plain")},
        follow_redirects=False,
    )
    location = response.headers.get("location", "")
    if confirm and response.status_code == 303 and "/connexions/imports/" in location:
        response = await client.post(f"{location}/importer", data={"_csrf_token": token}, follow_redirects=False)
    return response


async def latest_import(db_session: AsyncSession, dossier: Dossier) -> LedgerImport:
    statement = (
        select(LedgerImport).where(LedgerImport.dossier_id == dossier.id).order_by(LedgerImport.created_at.desc())
    )
    return (await db_session.execute(statement)).scalars().first()  # type: ignore[return-value]


async def run(
    session_maker: async_sessionmaker[AsyncSession], settings: Settings, record: LedgerImport
) -> LedgerImport:
    outcome = await run_import(session_maker, settings.imports_dir, record.id)
    async with session_maker() as session:
        refreshed = await session.get(LedgerImport, record.id)
        assert refreshed is not None
        assert refreshed.status is outcome.status
        return refreshed


async def active_years(db_session: AsyncSession, dossier: Dossier) -> list[FiscalYear]:
    statement = select(FiscalYear).where(FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE)
    return list((await db_session.execute(statement.execution_options(populate_existing=True))).scalars())
