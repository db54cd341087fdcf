"""FEC imports through the outbox, the broker and real workers: overlapping imports of one fiscal year
leave one version of it, a worker that died mid-import is taken over, and the job shows the steps."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import relay_once
from portal.jobs.runtime import Runtime
from portal.ledger.files import ImportFiles
from portal.ledger.importer import STEP_DONE
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport, LedgerSource, Line, VersionState
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user
from tests.jobs.helpers import wait_for_run
from tests.samples import FEC_SAMPLES

Maker = async_sessionmaker[AsyncSession]
SAMPLE = FEC_SAMPLES / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
REDELIVER = dt.timedelta(seconds=300)


async def _request(maker: Maker, settings: Settings, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """``count`` imports of the same file into one dossier, committed with their job requests."""
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    async with maker() as session, session.begin():
        dossier = await make_dossier(session, name="Ferme des Import Simultanés", closing_day=31, closing_month=8)
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
