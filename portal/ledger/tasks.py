"""Background work of the ledger: importing a FEC file (uploaded, from Pennylane, or a command)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from contextvars import ContextVar
from typing import Any

from sqlalchemy import update

from portal.auth.permissions import Permission
from portal.auth.roles import DossierRole
from portal.clients.locks import lock_dossier
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.ledger.aggregates import active_years, missing, refresh_year_figures, write_balances
from portal.ledger.cleanup import Sessions, discard_staging
from portal.ledger.files import ImportFiles
from portal.ledger.importer import Progress, run_import
from portal.ledger.models import ImportStatus, LedgerImport
from portal.notifications.kinds import Kind
from portal.notifications.recipients import holders, members_as
from portal.notifications.services import Event, notify

RESULT = N_("Résultat")
LINES = N_("Lignes")
ENTRIES = N_("Écritures")
ERRORS = N_("Erreurs")
WARNINGS = N_("Avertissements")
IMPORTED = N_("Exercice importé")
REPLACED = N_("Exercice importé (il remplace l'import précédent)")
REFUSED = N_("Fichier refusé : rien n'a été importé")
FAILED = N_("L'import a échoué")

# A process that runs an import's job itself (``portal fec import``) also shows its progress.
watcher: ContextVar[Progress | None] = ContextVar("ledger_import_watcher", default=None)


def import_files(ctx: JobContext) -> ImportFiles:
    return ImportFiles(ctx.settings.imports_dir, max_bytes=ctx.settings.fec_max_bytes)


async def import_one(ctx: JobContext, import_id: uuid.UUID) -> dict[str, Any]:
    """Run one import with the job's progress; the summary counts what the report says."""

    watch = watcher.get()

    async def progress(done: int, total: int | None, step: str) -> None:
        await ctx.progress(done, total, step=step)
        if watch is not None:
            await watch(done, total, step)

    files = import_files(ctx)
    try:
        outcome = await run_import(ctx.session, files.root, import_id, progress)
    except Exception as exc:
        if ctx.attempt > ctx.settings.job_max_retries:  # the last attempt: the import ends failed, visibly
            await fail_import(ctx.session, files, import_id, f"{type(exc).__name__}: {exc}")
            await tell_outcome(ctx, import_id)
        raise
    await tell_outcome(ctx, import_id)
    async with ctx.reader() as session:
        record = await session.get(LedgerImport, import_id)
    if record is not None and record.status.is_final and record.storage_name:
        files.discard(record.storage_name)  # a corrected file is uploaded anew; nothing waits on this one
    summary: dict[str, Any] = {}
    if outcome.status is ImportStatus.SUCCEEDED:
        summary[RESULT] = REPLACED if outcome.replaced else IMPORTED
    elif outcome.status is ImportStatus.REFUSED:
        summary[RESULT] = REFUSED
    else:
        summary[RESULT] = FAILED
    if outcome.report is not None:
        summary |= {LINES: outcome.report.line_count, ENTRIES: outcome.report.entry_count,
                    ERRORS: outcome.report.error_count, WARNINGS: outcome.report.warning_count}  # fmt: skip
    return summary


_NOTICES = {
    ImportStatus.SUCCEEDED: Kind.IMPORT_SUCCEEDED,
    ImportStatus.REFUSED: Kind.IMPORT_REFUSED,
    ImportStatus.FAILED: Kind.IMPORT_FAILED,
}


async def tell_outcome(ctx: JobContext, import_id: uuid.UUID) -> None:
    """Tell of an ended import, by the job that ran it (a retry writes nothing twice: the notice is keyed by
    the import and its outcome): the person who started it, or, for a scheduled one that did not succeed, the
    dossier's Comptables; each only while they manage the dossier's connections."""
    async with ctx.session() as session, session.begin():
        record = await session.get(LedgerImport, import_id)
        kind = _NOTICES.get(record.status) if record is not None else None
        if record is None or kind is None:
            return
        if record.created_by_id is not None:
            candidates = [record.created_by_id]
        elif kind is Kind.IMPORT_SUCCEEDED:
            return  # the daily refresh that went well is no news
        else:
            candidates = await members_as(session, record.dossier_id, DossierRole.ACCOUNTANT)
        recipients = await holders(session, Permission.CONNECTIONS_MANAGE, record.dossier_id, among=candidates)
        event = Event(
            kind=kind, key=f"ledger-import:{record.id}:{record.status.value}", dossier_id=record.dossier_id,
            target=f"/entreprises/{record.dossier_id}/connexions/imports/{record.id}",
            params={"filename": record.filename},
        )  # fmt: skip
        await notify(session, event, recipients)


async def fail_import(sessions: Sessions, files: ImportFiles, import_id: uuid.UUID, error: str) -> None:
    """End an unfinished import as failed, then delete what it left: its staging version and its file.

    If the deletion fails too, the hourly ``ledger.purge_versions`` deletes the staging version.
    """
    async with sessions() as session, session.begin():
        storage_name = (
            await session.execute(
                update(LedgerImport)
                .where(LedgerImport.id == import_id, LedgerImport.status.in_([ImportStatus.QUEUED,
                                                                              ImportStatus.RUNNING]))
                .values(status=ImportStatus.FAILED, error=error[:1000], step=None, finished_at=dt.datetime.now(dt.UTC))
                .returning(LedgerImport.storage_name)
                .execution_options(synchronize_session=False)
            )
        ).scalar()  # fmt: skip
    if storage_name:
        files.discard(storage_name)
    with contextlib.suppress(Exception):
        await discard_staging(sessions, import_id)


@job("ledger.import_fec", title=N_("Import d'un FEC"))
async def import_fec(ctx: JobContext, import_id: str) -> dict[str, Any]:
    summary = await import_one(ctx, uuid.UUID(import_id))
    await ctx.count(**summary)
    return summary


FIGURES = N_("Exercices calculés")


@job("ledger.refresh_figures", title=N_("Calcul des indicateurs des exercices importés"))
async def refresh_figures(ctx: JobContext) -> dict[str, Any]:
    """Every hour: the balances and figures of active fiscal years that have none (imported before they were
    kept), one dossier per transaction under the dossier's lock, as an import's activation takes it."""
    async with ctx.session() as session:
        pending = await missing(session, limit=10_000)
    by_dossier: dict[uuid.UUID, list[tuple[uuid.UUID, bool]]] = {}
    for dossier_id, fiscal_year_id, written in pending:
        by_dossier.setdefault(dossier_id, []).append((fiscal_year_id, written))
    for dossier_id, versions in by_dossier.items():
        async with ctx.session() as session, session.begin():
            await lock_dossier(session, dossier_id)
            active = {year.id for year in await active_years(session, dossier_id)}
            for fiscal_year_id, written in versions:
                if not written and fiscal_year_id in active:
                    await write_balances(session, fiscal_year_id)
            await refresh_year_figures(session, dossier_id)
    return {FIGURES: len(pending)}
