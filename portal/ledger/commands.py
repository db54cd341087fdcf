"""Importing a FEC file from a path, in this process: the ``portal fec import`` command and the demo.

The file takes the same road as an upload: it is copied into the imports folder, and the
import and its job are recorded in one transaction (the job's message in the outbox).
This process then runs that job itself, through the job runtime (claim, heartbeat,
recorded outcome), in one attempt: a failure ends the import failed at once, its staging
version and its file deleted, for the operator to see. If the process is killed, its run
stops beating: the relay sends the job's message again and a worker takes it over, from
the start, as it takes over the run of a worker that died.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.identifiers import IdentifierError, parse
from portal.clients.models import Dossier
from portal.i18n import _
from portal.jobs import runtime
from portal.jobs.models import JobRun, JobStatus
from portal.ledger.files import ImportFiles
from portal.ledger.importer import Outcome, Progress
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport, LedgerSource, VersionState
from portal.ledger.services import LedgerService
from portal.ledger.tasks import fail_import, import_fec, watcher
from portal.settings import Settings
from portal.web.files import display_name

# While a worker has the run (it took the message first), how often to look whether it is done.
POLL_SECONDS = 1.0


class CommandError(ValueError):
    """What the command says instead of importing (French)."""


@dataclass(frozen=True)
class Imported:
    outcome: Outcome
    record: LedgerImport


async def find_dossier(sessions: Callable[[], AsyncSession], siren: str) -> Dossier:
    """The dossier of a SIREN (or of the SIREN within a SIRET)."""
    try:
        identifier = parse(siren)
    except IdentifierError as invalid:
        raise CommandError(f"{siren} : {_(invalid.message)}") from invalid
    async with sessions() as session:
        dossier = (await session.execute(select(Dossier).where(Dossier.siren == identifier.siren))).scalar()
    if dossier is None:
        raise CommandError(f"Aucun dossier n'a le SIREN {identifier.siren}.")
    return dossier


async def import_path(
    settings: Settings,
    sessions: Callable[[], AsyncSession],
    dossier: Dossier,
    path: Path,
    *,
    filename: str | None = None,
    progress: Progress | None = None,
) -> Imported:
    jobs = runtime.configure(settings)  # before the request's commit, so that its follow-ups are relayed
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)

    def store() -> tuple[str, int]:
        with path.open("rb") as handle:
            return files.save(handle)

    storage_name, size = await anyio.to_thread.run_sync(store)
    try:
        async with sessions() as session, session.begin():
            record = await LedgerService(session).request_import(
                None, dossier, source=LedgerSource.COMMAND, filename=display_name(filename or path.name),
                storage_name=storage_name, size_bytes=size,
            )  # fmt: skip
            import_id, run_id = record.id, record.job_run_id
    except BaseException:
        files.discard(storage_name)
        raise
    assert run_id is not None  # noqa: S101 - request_import enqueues the job
    # One attempt here: the operator sees a failure at once (a worker taking over has its retries).
    spec = dataclasses.replace(import_fec, max_retries=0)
    watching = watcher.set(progress)
    try:
        await runtime.execute(jobs, spec, run_id)
        run = await _finished(sessions, run_id)
    finally:
        watcher.reset(watching)
        await jobs.sessions.dispose_current()
    if run.status is JobStatus.FAILED:
        await fail_import(sessions, files, import_id, run.error or "")
    async with sessions() as session:
        stored = await session.get_one(LedgerImport, import_id)
        fiscal_year_id = (
            await session.execute(
                select(FiscalYear.id).where(FiscalYear.import_id == import_id, FiscalYear.state == VersionState.ACTIVE)
            )
        ).scalar()
    status = stored.status if stored.status.is_final else ImportStatus.FAILED
    return Imported(outcome=Outcome(status, fiscal_year_id, stored.replaced), record=stored)


async def _finished(sessions: Callable[[], AsyncSession], run_id: uuid.UUID) -> JobRun:
    """The run once it has ended: at once when this process ran it, later when a worker had taken it first."""
    while True:
        async with sessions() as session:
            run = await session.get_one(JobRun, run_id)
        if run.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}:
            return run
        await asyncio.sleep(POLL_SECONDS)
