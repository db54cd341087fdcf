"""FEC imports through the outbox, the broker and real workers: overlapping imports of one fiscal year
leave one version of it, a worker that died mid-import is taken over, a crash right after activation
leaves nothing of the replaced version, the hourly pass deletes what crashes left, ``portal fec import``
failing or killed leaves nothing behind, and the job shows the steps."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.fec import generate
from portal.clients.models import Dossier
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import relay_once
from portal.jobs.runtime import Runtime
from portal.ledger import cleanup, importer
from portal.ledger.commands import import_path
from portal.ledger.files import ImportFiles
from portal.ledger.importer import STEP_DONE
from portal.ledger.models import Entry, FiscalYear, ImportStatus, LedgerImport, LedgerSource, Line, VersionState
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user
from tests.samples import FEC_SAMPLES
from tests.waiting import wait_for_run

Maker = async_sessionmaker[AsyncSession]
SAMPLE = FEC_SAMPLES / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
REDELIVER = dt.timedelta(seconds=300)
# Enough lines for the command to be killed with some of them in staging, not all.
KILLED_LINES = 50_000


async def _request(
    maker: Maker, settings: Settings, count: int, dossier_id: uuid.UUID | None = None
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """``count`` imports of the same file into one dossier (a new one unless given), committed with their
    job requests."""
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    async with maker() as session, session.begin():
        dossier = (
            await session.get_one(Dossier, dossier_id)
            if dossier_id
            else await make_dossier(session, name="Ferme des Import Simultanés", closing_day=31, closing_month=8)
        )
        user = await make_user(session)
        runs = []
        for _ in range(count):
            with SAMPLE.open("rb") as handle:
                name, size = files.save(handle)
            record = await LedgerService(session).request_import(
                None, dossier, source=LedgerSource.UPLOAD, filename=SAMPLE.name, storage_name=name, size_bytes=size
            )
            record.created_by_id = user.id
            assert record.job_run_id is not None
            runs.append(record.job_run_id)
    return dossier.id, runs


async def test_overlapping_imports_of_one_fiscal_year_leave_exactly_one_version(
    committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    dossier_id, runs = await _request(committed, settings, 4)
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) == 4
    finished = await asyncio.gather(*(wait_for_run(committed, run_id, timeout=90) for run_id in runs))
    assert [run.status for run in finished] == [JobStatus.SUCCEEDED] * 4, [run.error for run in finished]
    async with committed() as session:
        imports = (await session.execute(select(LedgerImport))).scalars().all()
        assert {record.status for record in imports} == {ImportStatus.SUCCEEDED}
        assert sum(record.replaced for record in imports) >= 1
        versions = (await session.execute(select(FiscalYear))).scalars().all()
        assert [(version.state, version.dossier_id) for version in versions] == [(VersionState.ACTIVE, dossier_id)]
        assert await session.scalar(select(func.count()).select_from(Line)) == 5_422
    left = [record.storage_name for record in imports if (settings.imports_dir / str(record.storage_name)).exists()]
    assert left == [], "the imported files are left behind"


async def test_a_run_whose_worker_died_mid_import_is_redone_from_the_start(
    committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    """The run was claimed and left a staging version behind; the redelivered run cleans it and imports."""
    dossier_id, (run_id,) = await _request(committed, settings, 1)
    async with committed() as session, session.begin():
        record = (await session.execute(select(LedgerImport))).scalar_one()
        # What a crash after a few batches leaves: a running import, its run "running" with no
        # heartbeat, a staging version.
        record.status = ImportStatus.RUNNING
        stale = FiscalYear(
            dossier_id=dossier_id, start_date=dt.date(1900, 1, 1), end_date=dt.date(1900, 1, 1),
            state=VersionState.STAGING, source=LedgerSource.UPLOAD, import_id=record.id,
        )  # fmt: skip
        session.add(stale)
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(status=JobStatus.RUNNING, attempts=1, heartbeat_at=long_ago)
        )
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) == 1
    run = await wait_for_run(committed, run_id, timeout=60)
    assert run.status is JobStatus.SUCCEEDED, run.error
    assert run.attempts == 2
    assert run.step == STEP_DONE
    assert run.progress_done == run.progress_total == 5_422
    async with committed() as session:
        versions = (await session.execute(select(FiscalYear))).scalars().all()
        assert [version.state for version in versions] == [VersionState.ACTIVE]
        assert await session.scalar(select(func.count()).select_from(Line)) == 5_422


async def _all_runs_finished(maker: Maker) -> list[JobRun]:
    """Every run, once none is left to do (follow-up jobs included); bounded."""
    async with asyncio.timeout(90):
        while True:
            async with maker() as session:
                runs = list((await session.execute(select(JobRun).order_by(JobRun.created_at))).scalars())
            if all(run.status in {JobStatus.SUCCEEDED, JobStatus.FAILED} for run in runs):
                return runs
            await asyncio.sleep(0.05)


async def _lines_and_entries(maker: Maker, fiscal_year_id: uuid.UUID) -> tuple[int, int]:
    async with maker() as session:
        lines = await session.scalar(select(func.count()).where(Line.fiscal_year_id == fiscal_year_id))
        entries = await session.scalar(select(func.count()).where(Entry.fiscal_year_id == fiscal_year_id))
    return int(lines or 0), int(entries or 0)


async def test_a_crash_right_after_activation_leaves_nothing_of_the_replaced_version(
    committed: Maker, jobs: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt dies the moment the new version is active, before deleting the old one: the deletion
    requested by the activating transaction happens anyway, and the import reads "Terminé"."""
    dossier_id, (first_run,) = await _request(committed, settings, 1)
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) == 1
    assert (await wait_for_run(committed, first_run, timeout=60)).status is JobStatus.SUCCEEDED
    async with committed() as session:
        (old_id,) = (await session.execute(select(FiscalYear.id))).scalars()
    assert await _lines_and_entries(committed, old_id) == (5_422, 2_033)

    activate = importer._activate

    async def activate_then_die(*args: Any) -> list[uuid.UUID] | None:
        swapped = await activate(*args)
        msg = "the worker died right after activating"
        raise RuntimeError(msg)
        return swapped  # pragma: no cover

    monkeypatch.setattr(importer, "_activate", activate_then_die)
    _, (second_run,) = await _request(committed, settings, 1, dossier_id)
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) == 1
    await _all_runs_finished(committed)

    async with committed() as session:
        run = await session.get_one(JobRun, second_run)
        assert (run.status, run.attempts, run.step) == (JobStatus.SUCCEEDED, 2, STEP_DONE)
        second = (await session.execute(select(LedgerImport).where(LedgerImport.job_run_id == second_run))).scalar_one()
        assert (second.status, second.step, second.replaced) == (ImportStatus.SUCCEEDED, STEP_DONE, True)
        versions = list((await session.execute(select(FiscalYear))).scalars())
    assert [(version.state, version.import_id) for version in versions] == [(VersionState.ACTIVE, second.id)]
    assert await _lines_and_entries(committed, old_id) == (0, 0)
    assert await _lines_and_entries(committed, versions[0].id) == (5_422, 2_033)


def _version(dossier_id: uuid.UUID, state: VersionState, import_id: uuid.UUID | None) -> FiscalYear:
    return FiscalYear(
        dossier_id=dossier_id, start_date=dt.date(2023, 1, 1), end_date=dt.date(2023, 12, 31), state=state,
        source=LedgerSource.UPLOAD, import_id=import_id,
    )  # fmt: skip


def _lines_of(version: FiscalYear, count: int) -> list[Any]:
    day = dt.date(2023, 3, 1)
    lines: list[Any] = [
        Line(fiscal_year_id=version.id, line_no=number, journal_code="OD", journal_label="Opérations diverses",
             entry_number="1", entry_date=day, account_number="471000", account_label="Attente", debit=100 * number,
             credit=0)
        for number in range(1, count + 1)
    ]  # fmt: skip
    entry = Entry(fiscal_year_id=version.id, journal_code="OD", number="1", entry_date=day, first_line_no=1,
                  line_count=count, debit_total=0, credit_total=0)  # fmt: skip
    return [*lines, entry]


async def test_the_hourly_pass_deletes_what_crashes_left_and_nothing_in_use(
    committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    """Retired versions, staging versions of ended or deleted imports, and imports whose run ended without
    them, are cleaned; the active version and the staging version of an import still running stay."""
    dossier_id, (first_run,) = await _request(committed, settings, 1)
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) == 1
    assert (await wait_for_run(committed, first_run, timeout=60)).status is JobStatus.SUCCEEDED
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    with SAMPLE.open("rb") as handle:
        orphan_file, size = files.save(handle)
    async with committed() as session, session.begin():
        (active_id,) = (await session.execute(select(FiscalYear.id))).scalars()
        dead_run = JobRun(actor_name="ledger.import_fec", title="Import", status=JobStatus.FAILED,
                          finished_at=dt.datetime.now(dt.UTC))  # fmt: skip
        live_run = JobRun(actor_name="ledger.import_fec", title="Import", status=JobStatus.RUNNING,
                          heartbeat_at=dt.datetime.now(dt.UTC))  # fmt: skip
        session.add_all([dead_run, live_run])
        await session.flush()

        def record(status: ImportStatus, run: JobRun | None, storage_name: str | None = None) -> LedgerImport:
            return LedgerImport(dossier_id=dossier_id, source=LedgerSource.UPLOAD, filename=SAMPLE.name,
                                status=status, job_run_id=run.id if run else None, storage_name=storage_name,
                                size_bytes=size)  # fmt: skip

        refused, abandoned, running = (
            record(ImportStatus.REFUSED, None), record(ImportStatus.RUNNING, dead_run, orphan_file),
            record(ImportStatus.RUNNING, live_run),
        )  # fmt: skip
        session.add_all([refused, abandoned, running])
        await session.flush()
        leftovers = [
            _version(dossier_id, VersionState.RETIRED, None),
            _version(dossier_id, VersionState.STAGING, refused.id),
            _version(dossier_id, VersionState.STAGING, abandoned.id),
            _version(dossier_id, VersionState.STAGING, None),  # its import was deleted
        ]
        kept = _version(dossier_id, VersionState.STAGING, running.id)
        session.add_all([*leftovers, kept])
        await session.flush()
        for version in [*leftovers, kept]:
            session.add_all(_lines_of(version, 3))
        purge = await cleanup.purge.enqueue(session)
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) == 1
    assert (await wait_for_run(committed, purge.id, timeout=60)).status is JobStatus.SUCCEEDED

    async with committed() as session:
        remaining = set((await session.execute(select(FiscalYear.id))).scalars())
        failed = await session.get_one(LedgerImport, abandoned.id, populate_existing=True)
        still_running = await session.get_one(LedgerImport, running.id, populate_existing=True)
    assert remaining == {active_id, kept.id}
    for version in leftovers:
        assert await _lines_and_entries(committed, version.id) == (0, 0)
    assert await _lines_and_entries(committed, kept.id) == (3, 1)
    assert await _lines_and_entries(committed, active_id) == (5_422, 2_033)
    assert (failed.status, still_running.status) == (ImportStatus.FAILED, ImportStatus.RUNNING)
    assert not files.path(orphan_file).exists()


async def test_a_failing_command_import_ends_failed_and_leaves_nothing_behind(
    committed: Maker, jobs: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``portal fec import`` (``import_path``) failing once its lines are staged: the import and its run end
    failed, not "En cours"; no staging version, no line, no file are left."""

    async def derive_then_fail(*_args: Any) -> int:
        msg = "the database went away"
        raise ConnectionError(msg)

    monkeypatch.setattr(importer, "_derive", derive_then_fail)
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Commande Qui Échoue", closing_day=31, closing_month=8)
    imported = await import_path(settings, committed, dossier, SAMPLE)

    assert imported.outcome.status is ImportStatus.FAILED
    assert (imported.record.status, imported.record.step) == (ImportStatus.FAILED, None)
    assert "the database went away" in (imported.record.error or "")
    async with committed() as session:
        run = await session.get_one(JobRun, imported.record.job_run_id)
        assert run.status is JobStatus.FAILED
        assert await session.scalar(select(func.count()).select_from(FiscalYear)) == 0
        assert await session.scalar(select(func.count()).select_from(Line)) == 0
    assert imported.record.storage_name is not None
    assert not settings.imports_dir.joinpath(imported.record.storage_name).exists()


async def test_a_killed_command_import_is_taken_over_by_a_worker(
    committed: Maker, jobs: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """``portal fec import`` killed (SIGKILL) with lines in staging: its run stops beating, the relay sends
    the job again, a worker imports the file from the start; the year exists once, staging is empty."""
    large = await asyncio.to_thread(generate, tmp_path / "123456789FEC20241231.txt", KILLED_LINES)
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Commande Interrompue", closing_day=31, closing_month=12)
    command = subprocess.Popen(  # noqa: ASYNC220 - started, then killed; nothing waits on it in the loop
        [sys.executable, "-m", "portal", "fec", "import", "--siren", str(dossier.siren), str(large)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    reader = async_sessionmaker(committed.kw["bind"].execution_options(portal_read_only=True))  # never waits
    try:
        async with asyncio.timeout(120):
            while not await _count(reader, Line):
                assert command.poll() is None, "the command ended before any line was staged"
                await asyncio.sleep(0.01)
    finally:
        command.kill()
        command.wait(timeout=30)
    assert command.returncode == -signal.SIGKILL
    async with committed() as session, session.begin():
        record = (await session.execute(select(LedgerImport))).scalar_one()
        assert record.status is ImportStatus.RUNNING
        assert record.job_run_id is not None
        assert await session.scalar(select(func.count()).select_from(Line)) < KILLED_LINES
        # The time it takes to see a worker is gone (its heartbeat stopped), passed.
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await session.execute(update(JobRun).where(JobRun.id == record.job_run_id).values(heartbeat_at=long_ago))
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) >= 1
    run = await wait_for_run(committed, record.job_run_id, timeout=240)
    assert (run.status, run.attempts, run.step) == (JobStatus.SUCCEEDED, 2, STEP_DONE), run.error

    async with committed() as session:
        imported = await session.get_one(LedgerImport, record.id, populate_existing=True)
        versions = list((await session.execute(select(FiscalYear))).scalars())
    assert imported.status is ImportStatus.SUCCEEDED
    assert [(version.state, version.line_count) for version in versions] == [(VersionState.ACTIVE, KILLED_LINES)]
    assert await _count(committed, Line) == KILLED_LINES
    assert imported.storage_name is not None
    assert not settings.imports_dir.joinpath(imported.storage_name).exists()


async def _count(maker: Maker, model: type[Any]) -> int:
    async with maker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)
