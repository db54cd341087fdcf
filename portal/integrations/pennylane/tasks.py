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
from typing import Any, NoReturn

import anyio
from sqlalchemy import or_, select, update

from portal.clients.models import Dossier, DossierStatus
from portal.i18n import N_
from portal.integrations.credentials import token_saver
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from portal.integrations.pennylane.client import (
    AuthorizationLost,
    FiscalYearInfo,
    MissingScope,
    PennylaneClient,
    PennylaneError,
)
from portal.integrations.tasks import GONE, RESULT, authorization_lost
from portal.jobs.context import JobContext, JobFailed
from portal.jobs.registry import job
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport, LedgerSource, VersionState
from portal.ledger.services import LedgerService
from portal.ledger.tasks import import_files, import_one
from portal.settings import FIRM_TIMEZONE

log = logging.getLogger(__name__)

FOUND = N_("Exercices trouvés")
IMPORTED = N_("Exercices importés")
REFUSED = N_("Exercices refusés")
LOST = N_("Pennylane n'accepte plus l'autorisation de ce dossier : reconnectez Pennylane.")
__all__ = ["GONE", "LOST", "RESULT", "daily", "fiscal_years", "import_fiscal_years", "refresh", "revoke"]
STEP_FISCAL_YEARS = N_("Lecture des exercices")
STEP_DOWNLOAD = N_("Téléchargement du FEC depuis Pennylane")
UP_TO_DATE = N_("Aucun exercice ouvert ni modifié depuis son dernier import : rien à réimporter.")
REQUESTED = N_("Dossiers à synchroniser")
BATCH = 500


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


async def _authorization_lost(
    ctx: JobContext, connection: Connection, error: PennylaneError, counts: dict[str, Any] | None = None
) -> NoReturn:
    """The connection marked with what Pennylane said (and its people told); the run fails for good."""
    await authorization_lost(ctx, connection, error.message)
    raise JobFailed(LOST, counts)


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
        await _authorization_lost(ctx, connection, lost)
    listed = _listed(years)
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
    async with _client(ctx, connection) as client:
        return await _import_years(ctx, client, connection, years)


async def _import_years(
    ctx: JobContext, client: PennylaneClient, connection: Connection, years: list[dict[str, str]]
) -> dict[str, Any]:
    """Export, download and import ``years`` (``{"start", "end"}``) one after the other, through the ledger's import.

    A retry of the run skips the years it already imported and resumes the one it was on.
    """
    files = import_files(ctx)
    imported = refused = 0
    for index, year in enumerate(years):
        start, end = dt.date.fromisoformat(year["start"]), dt.date.fromisoformat(year["end"])
        record = await _import_of_run(ctx, start, end)
        if record is None:
            await ctx.progress(index, len(years), step=STEP_DOWNLOAD)
            try:
                record = await _download(ctx, client, connection, root=files.root, start=start, end=end)
            except (AuthorizationLost, MissingScope) as lost:
                await _authorization_lost(ctx, connection, lost, {IMPORTED: imported})
        if not record.status.is_final:
            await import_one(ctx, record.id)
            async with ctx.reader() as session:
                record = await session.get(LedgerImport, record.id) or record
        imported += record.status is ImportStatus.SUCCEEDED
        refused += record.status is ImportStatus.REFUSED
        await ctx.count(**{IMPORTED: f"{imported} / {len(years)}"})
    await ctx.progress(len(years), len(years), step=N_("Terminé"))
    return {IMPORTED: f"{imported} / {len(years)}", REFUSED: refused}


def _listed(years: list[FiscalYearInfo]) -> list[dict[str, Any]]:
    """The fiscal years as the connection keeps them (what the person chooses from)."""
    return [
        {"id": str(year.id), "start": year.start.isoformat(), "finish": year.finish.isoformat(), "status": year.status}
        | ({"updated_at": year.updated_at.isoformat()} if year.updated_at else {})
        for year in years
    ]


async def _years_to_refresh(
    ctx: JobContext, connection: Connection, years: list[FiscalYearInfo]
) -> list[dict[str, str]]:
    """The open years (begun by today), and the closed ones Pennylane changed since their last successful import.

    A year with an import already waiting or under way for the dossier is left to it: the day's
    refresh never doubles an import a person (or another run) started.
    """
    today = dt.datetime.now(FIRM_TIMEZONE).date()
    async with ctx.reader() as session:
        active = await session.execute(
            select(FiscalYear.end_date, FiscalYear.activated_at).where(
                FiscalYear.dossier_id == connection.dossier_id, FiscalYear.state == VersionState.ACTIVE
            )
        )
        last_success = {end: activated_at for end, activated_at in active.all() if activated_at is not None}
        waiting = await session.execute(
            select(LedgerImport.period_end).where(
                LedgerImport.dossier_id == connection.dossier_id,
                LedgerImport.status.in_((ImportStatus.QUEUED, ImportStatus.RUNNING)),
                LedgerImport.period_end.is_not(None),
                # This run's own import, when a retry resumes it, is no one else's.
                or_(LedgerImport.job_run_id.is_(None), LedgerImport.job_run_id != ctx.run_id),
            )
        )
        busy = set(waiting.scalars())
    chosen = []
    for year in years:
        if year.finish in busy or year.start > today:
            continue
        imported_at = last_success.get(year.finish)
        changed = year.updated_at is not None and imported_at is not None and year.updated_at > imported_at
        if year.is_open or changed:
            chosen.append({"start": year.start.isoformat(), "end": year.finish.isoformat()})
    return chosen


async def _note_error(ctx: JobContext, connection: Connection, message: str | None) -> None:
    """What the last daily refresh met (a msgid), shown on the connection and on Accueil; None clears it."""
    async with ctx.session() as session, session.begin():
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id, Connection.status == ConnectionStatus.CONNECTED)
            .values(last_error=message)
        )


@job("pennylane.refresh", title=N_("Réimport quotidien depuis Pennylane"))
async def refresh(ctx: JobContext, connection_id: str) -> dict[str, Any]:
    """The daily refresh of one dossier: its fiscal years read again, its open years (and the closed years
    Pennylane changed since they were imported) re-imported through the usual import.

    A failure is noted on the connection (Accueil shows it) and the run retries with back-off;
    a lost authorisation marks the connection and tells its people, as any Pennylane job does.
    """
    connection = await _load(ctx, uuid.UUID(connection_id))
    if connection is None:
        return {RESULT: GONE}
    await ctx.progress(0, None, step=STEP_FISCAL_YEARS)
    try:
        async with _client(ctx, connection) as client:
            years = await client.fiscal_years()
            async with ctx.session() as session, session.begin():
                await session.execute(
                    update(Connection)
                    .where(Connection.id == connection.id)
                    .values(fiscal_years=_listed(years), fiscal_years_checked_at=dt.datetime.now(dt.UTC))
                )
            chosen = await _years_to_refresh(ctx, connection, years)
            summary = await _import_years(ctx, client, connection, chosen) if chosen else {RESULT: UP_TO_DATE}
    except (AuthorizationLost, MissingScope) as lost:
        await _authorization_lost(ctx, connection, lost)
    except PennylaneError as failed:
        await _note_error(ctx, connection, failed.message)
        raise
    await _note_error(ctx, connection, None)
    return summary


@job("pennylane.daily", title=N_("Synchronisation quotidienne des dossiers Pennylane"))
async def daily(ctx: JobContext, slot: str | None = None) -> dict[str, Any]:
    """Request the refresh of every connected Pennylane dossier, once per dossier and day.

    Keyset batches: any number of connections, never all in memory. The dedupe key (dossier,
    day) makes a second scheduler, a retry of this job or a second run the same day harmless.
    """
    day = slot or dt.datetime.now(FIRM_TIMEZONE).date().isoformat()
    requested = 0
    after = uuid.UUID(int=0)
    while True:
        async with ctx.session() as session, session.begin():
            rows = (
                await session.execute(
                    select(Connection.id, Connection.dossier_id)
                    .join(Dossier, Dossier.id == Connection.dossier_id)
                    .where(
                        Connection.provider == Provider.PENNYLANE,
                        Connection.status == ConnectionStatus.CONNECTED,
                        Connection.credentials.is_not(None),
                        Dossier.status != DossierStatus.ARCHIVED,
                        Connection.id > after,
                    )
                    .order_by(Connection.id)
                    .limit(BATCH)
                )
            ).all()
            for connection_id, dossier_id in rows:
                run = await refresh.options(dossier_id=dossier_id).enqueue_once(
                    session, f"pennylane-daily:{dossier_id}:{day}", connection_id=str(connection_id)
                )
                requested += run is not None
                after = connection_id
        if len(rows) < BATCH:
            break
    return {REQUESTED: requested}


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
