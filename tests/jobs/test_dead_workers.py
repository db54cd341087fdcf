"""A killed worker is noticed by its missing heartbeat within a minute, and its run is finished by another.

A running run's worker beats every ``PORTAL_JOB_HEARTBEAT_SECONDS`` from a thread of its
own; a run whose heartbeat is older than ``PORTAL_JOB_DEAD_AFTER_SECONDS`` is sent again
by the relay and may be claimed by another worker. A message lost by the broker (a run
still queued) keeps the longer ``PORTAL_OUTBOX_REDELIVER_AFTER_SECONDS``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.billing.client_base import ensure_clients
from portal.billing.models import BillingClient, ClientDossierLink
from portal.clients.models import Dossier
from portal.jobs import registry
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun, JobStatus, OutboxMessage
from portal.jobs.registry import Job, job
from portal.jobs.runtime import Runtime
from portal.jobs.runtime import _claim as runtime_claim
from portal.jobs.scheduler import BackgroundLoop
from portal.settings import ROOT, Settings
from tests.billing.test_client_base import (
    ALREADY_PRESENT,
    CREATED,
    EXAMINED,
    add_dossiers,
    assert_one_client_per_siren_and_one_link_per_dossier,
    client_base,
    count_rows,
    link_entity,
    start_creation,
)
from tests.waiting import wait_for_run

Maker = async_sessionmaker[AsyncSession]
executions: Counter[str] = Counter()
release_blocked = threading.Event()
release_waiting = threading.Event()


@job("tests.counted", title="Travail compté")
async def counted(ctx: JobContext) -> dict[str, Any]:
    executions[str(ctx.run_id)] += 1
    return {}


@job("tests.blocks_its_loop", title="Travail qui bloque sa boucle")
async def blocks_its_loop(ctx: JobContext) -> dict[str, Any]:
    executions[str(ctx.run_id)] += 1
    # Synchronous work that holds the event loop every async job of the process shares.
    release_blocked.wait(timeout=60)
    return {}


@job("tests.waits", title="Travail qui attend")
async def waits(ctx: JobContext) -> dict[str, Any]:
    executions[str(ctx.run_id)] += 1
    await asyncio.to_thread(release_waiting.wait, 60)  # the event loop stays free
    return {}


registry.register(counted, blocks_its_loop, waits)


async def _request(maker: Maker, handle: Job[...]) -> JobRun:
    async with maker() as session, session.begin():
        return await handle.enqueue(session)


async def _as_if(maker: Maker, run_id: uuid.UUID, *, sent: dt.timedelta, **run: Any) -> None:
    """The run and its message as a worker left them ``sent`` ago (status, attempts, heartbeat…)."""
    async with maker() as session, session.begin():
        if run:
            await session.execute(update(JobRun).where(JobRun.id == run_id).values(**run))
        sent_at = dt.datetime.now(dt.UTC) - sent
        await session.execute(update(OutboxMessage).where(OutboxMessage.job_run_id == run_id).values(sent_at=sent_at))


async def _run(maker: Maker, run_id: uuid.UUID) -> JobRun:
    async with maker() as session:
        return (await session.execute(select(JobRun).where(JobRun.id == run_id))).scalar_one()


def _delivered_again(jobs: Runtime, job_name: str, run_id: uuid.UUID) -> None:
    jobs.broker.enqueue(
        dramatiq.Message(queue_name="default", actor_name=job_name, args=(str(run_id),), kwargs={}, options={})
    )


def test_settings_refuse_a_dead_after_too_close_to_the_heartbeat(settings: Settings) -> None:
    assert (settings.job_dead_after_seconds, Settings.job_heartbeat_seconds) == (45, 10)  # the defaults
    with pytest.raises(ValueError, match="PORTAL_JOB_DEAD_AFTER_SECONDS"):
        settings.with_overrides(job_heartbeat_seconds=10, job_dead_after_seconds=20)
    with pytest.raises(ValueError, match="PORTAL_JOB_HEARTBEAT_SECONDS"):
        settings.with_overrides(job_heartbeat_seconds=0)
    assert settings.with_overrides(job_heartbeat_seconds=1, job_dead_after_seconds=3).job_dead_after_seconds == 3


async def test_a_run_without_heartbeat_for_dead_after_is_sent_again_and_taken_over(
    committed: Maker, jobs: Runtime
) -> None:
    """Found dead 50 s after its last beat (the default dead-after is 45 s), not 300 s."""
    run = await _request(committed, counted)
    fifty_seconds_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=50)
    await _as_if(committed, run.id, sent=dt.timedelta(seconds=50), status=JobStatus.RUNNING, attempts=1,
                 started_at=fifty_seconds_ago, heartbeat_at=fifty_seconds_ago)  # fmt: skip
    assert await BackgroundLoop(jobs, schedules=False).run_once() == 1
    finished = await wait_for_run(committed, run.id)
    assert finished.status == JobStatus.SUCCEEDED
    assert finished.attempts == 2  # claimed by another worker: the dead one's attempt, then this one
    assert executions[str(run.id)] == 1


async def test_a_run_with_a_fresh_heartbeat_is_neither_sent_again_nor_claimed(committed: Maker, jobs: Runtime) -> None:
    run = await _request(committed, counted)
    recently = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    await _as_if(committed, run.id, sent=dt.timedelta(seconds=100), status=JobStatus.RUNNING, attempts=1,
                 heartbeat_at=recently)  # fmt: skip
    assert await BackgroundLoop(jobs, schedules=False).run_once() == 0
    _delivered_again(jobs, counted.name, run.id)  # even delivered, it is not claimed while its worker beats
    flushed = await _request(committed, counted)  # a marker: the worker got past the duplicate
    await BackgroundLoop(jobs, schedules=False).run_once()
    await wait_for_run(committed, flushed.id)
    assert (await _run(committed, run.id)).status == JobStatus.RUNNING
    assert executions[str(run.id)] == 0


async def test_a_queued_run_is_sent_again_only_after_redeliver_after(committed: Maker, jobs: Runtime) -> None:
    """A queued run whose message the broker may have lost keeps the 300 s rule."""
    run = await _request(committed, counted)
    await _as_if(committed, run.id, sent=dt.timedelta(seconds=100))
    assert await BackgroundLoop(jobs, schedules=False).run_once() == 0
    await _as_if(committed, run.id, sent=dt.timedelta(seconds=301))
    assert await BackgroundLoop(jobs, schedules=False).run_once() == 1
    assert (await wait_for_run(committed, run.id)).status == JobStatus.SUCCEEDED


async def test_a_job_that_blocks_its_event_loop_keeps_beating_and_is_never_taken_over(
    committed: Maker, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(job_dead_after_seconds=1.5))
    release_blocked.clear()
    run = await _request(committed, blocks_its_loop)
    try:
        await BackgroundLoop(jobs, schedules=False).run_once()
        claimed = await wait_for_run(committed, run.id, until={JobStatus.RUNNING})
        assert claimed.heartbeat_at is not None
        # Well past dead-after, the worker's loop still blocked: beats go on from their own thread.
        deadline = time.monotonic() + 30
        beat = claimed.heartbeat_at
        while beat - claimed.heartbeat_at < dt.timedelta(seconds=2 * jobs.settings.job_dead_after_seconds):
            assert time.monotonic() < deadline, "no heartbeat while the job held its event loop"
            await asyncio.sleep(0.1)
            beat = (await _run(committed, run.id)).heartbeat_at or beat
        assert await BackgroundLoop(jobs, schedules=False).run_once() == 0  # not taken for dead
    finally:
        release_blocked.set()
    finished = await wait_for_run(committed, run.id)
    assert (finished.status, finished.attempts) == (JobStatus.SUCCEEDED, 1)
    assert executions[str(run.id)] == 1


async def test_a_live_run_whose_beats_are_late_is_never_run_twice_at_once(
    committed: Maker, jobs: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its heartbeat looks dead (the database did not take the beats), yet its worker is alive."""
    release_waiting.clear()
    run = await _request(committed, waits)
    try:
        await BackgroundLoop(jobs, schedules=False).run_once()
        await wait_for_run(committed, run.id, until={JobStatus.RUNNING})

        async def no_beat() -> None:
            return None

        monkeypatch.setattr(jobs.heartbeats, "_beat", no_beat)
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        await _as_if(committed, run.id, sent=dt.timedelta(minutes=10), heartbeat_at=long_ago)
        # Sent again, and delivered to this very process: it knows the run is alive here.
        assert await BackgroundLoop(jobs, schedules=False).run_once() == 1
        marker = await _request(committed, counted)
        await BackgroundLoop(jobs, schedules=False).run_once()
        await wait_for_run(committed, marker.id)
        # Delivered to another worker process: on PostgreSQL the run's lock, held by the live worker, says no.
        if settings.database_url.startswith("postgresql"):
            elsewhere = Runtime(settings=jobs.settings, broker=jobs.broker, sessions=jobs.sessions)
            assert await runtime_claim(elsewhere, run.id) is None
        still = await _run(committed, run.id)
        assert (still.status, still.attempts) == (JobStatus.RUNNING, 1)
    finally:
        release_waiting.set()
    finished = await wait_for_run(committed, run.id)
    assert (finished.status, finished.attempts) == (JobStatus.SUCCEEDED, 1)
    assert executions[str(run.id)] == 1


# --- A real crash: a worker process killed mid-"Créer mes clients" ---------------------------

CRASH_WORKER = """
import asyncio, sys, uuid
from pathlib import Path

from portal import domains
from portal.billing import tasks
from portal.jobs import runtime
from portal.jobs.context import JobContext
from portal.settings import load_settings

run_id, marker, batch_size, batches = uuid.UUID(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tasks.BATCH_SIZE = batch_size
progress = JobContext.progress
done = []

async def progress_then_hang(self, value, total=None, *, step=None):
    await progress(self, value, total, step=step)
    if step == tasks.STEP_CREATE and value:
        done.append(value)
        if len(done) == batches:
            marker.write_text(str(value))
            await asyncio.Event().wait()  # mid-job, beating, until killed

JobContext.progress = progress_then_hang
domains.install()
jobs = runtime.configure(load_settings())
asyncio.run(runtime.execute(jobs, tasks.create_clients, run_id))
"""


async def test_a_worker_killed_mid_creer_mes_clients_is_replaced_within_dead_after(
    committed: Maker, jobs: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGKILL mid-run: another worker finishes it after dead-after; every client once, the summary exact."""
    short = {"PORTAL_JOB_HEARTBEAT_SECONDS": "0.5", "PORTAL_JOB_DEAD_AFTER_SECONDS": "3"}
    monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(job_heartbeat_seconds=0.5,
                                                                       job_dead_after_seconds=3))  # fmt: skip
    monkeypatch.setattr("portal.billing.tasks.BATCH_SIZE", 5)
    ids = sorted(await add_dossiers(committed, [(f"Entreprise Arrêtée {n:02d}", n % 4 != 0) for n in range(40)]))
    entity_id, partner = await link_entity(committed)
    async with committed() as session, session.begin():
        await ensure_clients(session, entity_id, Dossier.id.in_(ids[:6]))  # clients from before the run
    clients_before = await count_rows(committed, BillingClient, entity_id)
    links_before = await count_rows(committed, ClientDossierLink, entity_id)
    run = await start_creation(committed, partner)
    await _as_if(committed, run.id, sent=dt.timedelta())  # delivered to the worker below

    marker = tmp_path / "mid-run"
    environment = os.environ | {"PORTAL_DATABASE_URL": settings.database_url, "PORTAL_BROKER_URL": "stub"} | short
    worker = subprocess.Popen(  # noqa: ASYNC220 - our own interpreter on our own script
        [sys.executable, "-c", CRASH_WORKER, str(run.id), str(marker), "5", "3"], cwd=ROOT, env=environment
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, "the worker process stopped by itself"
            assert time.monotonic() < deadline, "the worker process never reached the middle of the run"
            await asyncio.sleep(0.05)
        midway = await count_rows(committed, ClientDossierLink, entity_id)
        assert links_before < midway < len(ids)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    # The relay of a scheduler, on its timer: the run is sent again once its heartbeat is dead-after old.
    loop = BackgroundLoop(jobs, schedules=False)
    deadline = time.monotonic() + 60
    while (await _run(committed, run.id)).status != JobStatus.SUCCEEDED:
        assert time.monotonic() < deadline, "the killed worker's run was not taken over"
        await loop.run_once()
        await asyncio.sleep(0.2)

    finished = await _run(committed, run.id)
    assert finished.attempts == 2
    base = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(base)
    clients_after = await count_rows(committed, BillingClient, entity_id)
    assert await count_rows(committed, ClientDossierLink, entity_id) == len(ids)
    assert finished.counts[EXAMINED] == len(ids)
    assert finished.counts[CREATED] == clients_after - clients_before == len(ids) - 6
    assert finished.counts[ALREADY_PRESENT] == links_before == 6
    async with committed() as session:
        pending = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        assert (await session.execute(pending)).scalar_one() == 0
