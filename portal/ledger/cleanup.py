"""Deleting the ledger versions nobody reads any more, in a way a crash cannot stop for good.

An import's activating transaction retires the version it replaces and, in the same
transaction, requests ``ledger.purge_versions`` for the dossier (through the outbox): the
replaced version is deleted by that job even when the import's process dies the moment it
has activated. The same job runs every hour for every dossier and also deletes the staging
versions of imports that have ended (refused, failed, or a crashed attempt of one that later
succeeded) or no longer exist, and ends as failed the imports whose run has ended without
them (a worker's last attempt lost, a command killed before it went through the job runtime).

Each version is deleted in short transactions, its lines in chunks of ``DELETE_CHUNK``, so
no pass holds long locks; a version deleted twice, or by two passes at once, is harmless.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun
from portal.jobs.registry import job
from portal.ledger.files import ImportFiles
from portal.ledger.models import (
    Account,
    Balance,
    Entry,
    FiscalYear,
    ImportStatus,
    Journal,
    LedgerImport,
    Line,
    VersionState,
    YearFigures,
)

DELETE_CHUNK = 50_000
VERSIONS_PER_PASS = 100
# An unfinished import with no run to finish it (recorded before imports always had one) is
# taken as abandoned after this long without any change.
ABANDONED_AFTER = dt.timedelta(days=1)
FINAL = [ImportStatus.SUCCEEDED, ImportStatus.REFUSED, ImportStatus.FAILED, ImportStatus.CANCELLED]
INTERRUPTED = N_("L'import a été interrompu : importez le fichier de nouveau.")
DELETED = N_("Versions supprimées")
ABANDONED = N_("Imports interrompus")

Sessions = Callable[[], AsyncSession]


async def delete_version(sessions: Sessions, fiscal_year_id: uuid.UUID) -> None:
    """Delete a fiscal year version and everything below it, in short transactions (lines in chunks)."""
    async with sessions() as session:
        last = (
            await session.execute(select(func.max(Line.line_no)).where(Line.fiscal_year_id == fiscal_year_id))
        ).scalar()
    upper = int(last or 0)
    for start in range(0, upper + 1, DELETE_CHUNK):
        async with sessions() as session, session.begin():
            await session.execute(
                delete(Line).where(
                    Line.fiscal_year_id == fiscal_year_id, Line.line_no >= start, Line.line_no < start + DELETE_CHUNK
                )
            )
    async with sessions() as session, session.begin():
        for model in (Entry, Account, Journal, Balance, YearFigures):
            await session.execute(delete(model).where(model.fiscal_year_id == fiscal_year_id))
        await session.execute(delete(FiscalYear).where(FiscalYear.id == fiscal_year_id))


async def discard_staging(sessions: Sessions, import_id: uuid.UUID) -> None:
    """Delete what attempts of this import left in staging."""
    async with sessions() as session:
        ids = list(
            (
                await session.execute(
                    select(FiscalYear.id).where(
                        FiscalYear.import_id == import_id, FiscalYear.state == VersionState.STAGING
                    )
                )
            ).scalars()
        )
    for fiscal_year_id in ids:
        await delete_version(sessions, fiscal_year_id)


async def purge_versions(sessions: Sessions, dossier_id: uuid.UUID | None = None) -> int:
    """Delete the retired versions, and the staging versions of imports ended or gone (of one dossier, or all).

    A staging version whose import is still queued or running is left alone: its import
    (or the retry of its run) deletes it. Returns how many versions were deleted.
    """
    ended = or_(LedgerImport.id.is_(None), LedgerImport.status.in_(FINAL))
    statement = (
        select(FiscalYear.id)
        .outerjoin(LedgerImport, LedgerImport.id == FiscalYear.import_id)
        .where(
            or_(
                FiscalYear.state == VersionState.RETIRED,
                and_(FiscalYear.state == VersionState.STAGING, ended),
            )
        )
        .order_by(FiscalYear.id)
        .limit(VERSIONS_PER_PASS)
    )
    if dossier_id is not None:
        statement = statement.where(FiscalYear.dossier_id == dossier_id)
    deleted = 0
    while True:
        async with sessions() as session:
            ids = list((await session.execute(statement)).scalars())
        for fiscal_year_id in ids:
            await delete_version(sessions, fiscal_year_id)
        deleted += len(ids)
        if len(ids) < VERSIONS_PER_PASS:
            return deleted


async def fail_abandoned_imports(sessions: Sessions, files: ImportFiles) -> int:
    """End as failed the unfinished imports nothing will finish; their staging is then purged, their file removed."""
    unfinished = LedgerImport.status.in_([ImportStatus.QUEUED, ImportStatus.RUNNING])
    run_ended = select(JobRun.id).where(JobRun.id == LedgerImport.job_run_id, JobRun.finished_at.is_not(None)).exists()
    no_run = and_(
        LedgerImport.job_run_id.is_(None), LedgerImport.updated_at < dt.datetime.now(dt.UTC) - ABANDONED_AFTER
    )
    async with sessions() as session, session.begin():
        abandoned = list(
            (
                await session.execute(
                    update(LedgerImport)
                    .where(unfinished, or_(run_ended, no_run))
                    .values(status=ImportStatus.FAILED, error=INTERRUPTED, step=None,
                            finished_at=dt.datetime.now(dt.UTC))
                    .returning(LedgerImport.storage_name)
                    .execution_options(synchronize_session=False)
                )
            ).scalars()
        )  # fmt: skip
    async with sessions() as session, session.begin():
        # An upload left waiting for its confirmation a day long: nobody will confirm it now.
        left = (
            LedgerImport.status == ImportStatus.TO_CONFIRM,
            LedgerImport.updated_at < dt.datetime.now(dt.UTC) - ABANDONED_AFTER,
        )
        waiting = (await session.execute(select(LedgerImport.id, LedgerImport.storage_name).where(*left))).all()
        await session.execute(
            update(LedgerImport)
            .where(LedgerImport.id.in_([row.id for row in waiting]), *left)
            .values(status=ImportStatus.CANCELLED, storage_name=None, finished_at=dt.datetime.now(dt.UTC))
            .execution_options(synchronize_session=False)
        )
        unconfirmed = [row.storage_name for row in waiting]
    for storage_name in abandoned + unconfirmed:
        if storage_name:
            files.discard(storage_name)
    return len(abandoned) + len(unconfirmed)


@job("ledger.purge_versions", title=N_("Nettoyage des versions comptables remplacées"))
async def purge(ctx: JobContext, dossier: str | None = None) -> dict[str, Any]:
    """After an import (one dossier) or every hour (all): delete what no reader needs any more."""
    abandoned = 0
    if dossier is None:
        files = ImportFiles(ctx.settings.imports_dir, max_bytes=ctx.settings.fec_max_bytes)
        abandoned = await fail_abandoned_imports(ctx.session, files)
    deleted = await purge_versions(ctx.session, uuid.UUID(dossier) if dossier else None)
    return {DELETED: deleted, ABANDONED: abandoned}
