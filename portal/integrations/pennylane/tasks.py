"""Background work of a Pennylane connection: its fiscal years, their FEC imports, revocation.

Every call to Pennylane happens here, with the connection's credentials decrypted in
the worker only. Refreshed (rotating) tokens are saved at once (``credentials.token_saver``).
When Pennylane no longer accepts the authorisation, the connection says so and the
dossier's Comptables are told by email (``tasks.authorization_lost``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import select, update

from portal.clients.models import Dossier
from portal.i18n import N_
from portal.integrations.credentials import token_saver
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus
from portal.integrations.pennylane.client import AuthorizationLost, MissingScope, PennylaneClient, PennylaneError
from portal.integrations.tasks import GONE, RESULT, authorization_lost
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.ledger.models import ImportStatus, LedgerImport, LedgerSource
from portal.ledger.services import LedgerService
from portal.ledger.tasks import import_files, import_one

log = logging.getLogger(__name__)

FOUND = N_("Exercices trouvés")
IMPORTED = N_("Exercices importés")
REFUSED = N_("Exercices refusés")
LOST = N_("Pennylane n'accepte plus l'autorisation de ce dossier : reconnectez Pennylane.")
__all__ = ["GONE", "LOST", "RESULT", "fiscal_years", "import_fiscal_years", "revoke"]
STEP_FISCAL_YEARS = N_("Lecture des exercices")
STEP_DOWNLOAD = N_("Téléchargement du FEC depuis Pennylane")


async def _load(ctx: JobContext, connection_id: uuid.UUID) -> Connection | None:
    async with ctx.reader() as session:
        connection = await session.get(Connection, connection_id)
    if connection is None or connection.status is not ConnectionStatus.CONNECTED or not connection.credentials:
        return None
    return connection


def _client(ctx: JobContext, connection: Connection) -> PennylaneClient:
    credentials = connection.credentials or {}
    if connection.auth_method is AuthMethod.API_TOKEN:
        return PennylaneClient(ctx.settings, api_token=str(credentials.get("api_token", "")))
    token = dict(credentials.get("token") or {})
    return PennylaneClient(ctx.settings, token=token, on_token=token_saver(ctx, connection))


async def _authorization_lost(ctx: JobContext, connection: Connection, error: PennylaneError) -> dict[str, Any]:
    """The connection marked with what Pennylane said (and its people told)."""
    await authorization_lost(ctx, connection, error.message)
    return {RESULT: LOST}


@job("pennylane.fiscal_years", title=N_("Lecture des exercices Pennylane"))
async def fiscal_years(ctx: JobContext, connection_id: str) -> dict[str, Any]:
    """Ask Pennylane which fiscal years it holds for the connected company."""
    connection = await _load(ctx, uuid.UUID(connection_id))
    if connection is None:
        return {RESULT: GONE}
    await ctx.progress(0, 1, step=STEP_FISCAL_YEARS)
    try:
        async with _client(ctx, connection) as client:
            years = await client.fiscal_years()
    except (AuthorizationLost, MissingScope) as lost:
        return await _authorization_lost(ctx, connection, lost)
    listed = [
        {"id": str(year.id), "start": year.start.isoformat(), "finish": year.finish.isoformat(), "status": year.status}
        for year in years
    ]
    async with ctx.session() as session, session.begin():
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(fiscal_years=listed, fiscal_years_checked_at=dt.datetime.now(dt.UTC), last_error=None)
        )
    await ctx.progress(1, 1, step=STEP_FISCAL_YEARS)
    return {FOUND: len(listed)}


@job("pennylane.import_fiscal_years", title=N_("Import des exercices Pennylane"))
async def import_fiscal_years(ctx: JobContext, connection_id: str, years: list[dict[str, str]]) -> dict[str, Any]:
    """For each chosen fiscal year: Pennylane's asynchronous FEC export, downloaded at once, then the import.

    A retry skips the years this run already imported and resumes the one it was on.
    """
    connection = await _load(ctx, uuid.UUID(connection_id))
    if connection is None:
        return {RESULT: GONE}
    files = import_files(ctx)
    imported = refused = 0
    async with _client(ctx, connection) as client:
        for index, year in enumerate(years):
            start, end = dt.date.fromisoformat(year["start"]), dt.date.fromisoformat(year["end"])
            record = await _import_of_run(ctx, start, end)
            if record is None:
                await ctx.progress(index, len(years), step=STEP_DOWNLOAD)
                try:
                    record = await _download(ctx, client, connection, root=files.root, start=start, end=end)
                except (AuthorizationLost, MissingScope) as lost:
                    return await _authorization_lost(ctx, connection, lost) | {IMPORTED: imported}
            if not record.status.is_final:
                await import_one(ctx, record.id)
                async with ctx.reader() as session:
                    record = await session.get(LedgerImport, record.id) or record
            imported += record.status is ImportStatus.SUCCEEDED
            refused += record.status is ImportStatus.REFUSED
            await ctx.count(**{IMPORTED: f"{imported} / {len(years)}"})
    await ctx.progress(len(years), len(years), step=N_("Terminé"))
    return {IMPORTED: f"{imported} / {len(years)}", REFUSED: refused}


async def _import_of_run(ctx: JobContext, start: dt.date, end: dt.date) -> LedgerImport | None:
    async with ctx.reader() as session:
        statement = select(LedgerImport).where(
            LedgerImport.job_run_id == ctx.run_id, LedgerImport.period_start == start, LedgerImport.period_end == end
        )
        record: LedgerImport | None = (await session.execute(statement)).scalar_one_or_none()
        return record


async def _download(
    ctx: JobContext, client: PennylaneClient, connection: Connection, *, root: Path, start: dt.date, end: dt.date
) -> LedgerImport:
    """Export and download one fiscal year's FEC, then record its import (tied to this run)."""
    temporary = root / f"pennylane-{uuid.uuid4().hex}.part"
    await anyio.Path(root).mkdir(parents=True, exist_ok=True)
    try:
        await client.download_fec(start, end, temporary)
        files = import_files(ctx)

        def store() -> tuple[str, int]:
            with temporary.open("rb") as handle:
                return files.save(handle)

        storage_name, size = await anyio.to_thread.run_sync(store)
    finally:
        await anyio.Path(temporary).unlink(missing_ok=True)
    async with ctx.session() as session, session.begin():
        dossier = await session.get(Dossier, connection.dossier_id)
        if dossier is None:
            raise PennylaneError(GONE)
        siren = dossier.siren or "000000000"
        record = await LedgerService(session).request_import(
            None, dossier, source=LedgerSource.PENNYLANE, filename=f"{siren}FEC{end:%Y%m%d}.txt",
            storage_name=storage_name, size_bytes=size, period_start=start, period_end=end,
            connection_id=connection.id, enqueue_job=False,
        )  # fmt: skip
        record.created_by_id = ctx.created_by_id
        record.job_run_id = ctx.run_id
        await session.flush()
    return record


@job("pennylane.revoke", title=N_("Déconnexion de Pennylane"))
async def revoke(ctx: JobContext, connection_id: str, version: int) -> dict[str, Any]:
    """Revoke the authorisation at Pennylane (best effort), then forget the credentials."""
    async with ctx.reader() as session:
        connection = await session.get(Connection, uuid.UUID(connection_id))
    if connection is None or connection.credentials_version != version:
        return {RESULT: GONE}
    if connection.auth_method is AuthMethod.OAUTH and connection.credentials:
        try:
            async with _client(ctx, connection) as client:
                await client.revoke()
        except AuthorizationLost:
            log.info("connection %s: the authorisation was already gone", connection_id)
    async with ctx.session() as session, session.begin():
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id, Connection.credentials_version == version)
            .values(credentials=None, token_hint=None)
        )
    return {RESULT: N_("Autorisation révoquée et oubliée.")}
