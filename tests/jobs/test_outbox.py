"""The outbox and the job runner: nothing lost when the broker is down, retries recorded, no double runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
from collections import Counter
from typing import Any

import dramatiq
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.jobs import registry
from portal.jobs.context import JobContext, JobFailed
from portal.jobs.models import JobRun, JobStatus, OutboxMessage
from portal.jobs.outbox import relay_once
from portal.jobs.registry import Job, job
from portal.jobs.runtime import Runtime
from portal.settings import Settings
from tests.browsing import serve_in_process, sign_in
from tests.factories.firm import PASSWORD, make_user
from tests.waiting import wait_for_run

Maker = async_sessionmaker[AsyncSession]
REDELIVER = dt.timedelta(minutes=5)
executions: Counter[str] = Counter()


@job("tests.flaky", title="Travail instable", max_retries=3)
async def flaky(ctx: JobContext, fail_times: int) -> dict[str, Any]:
    executions[str(ctx.run_id)] += 1
    if ctx.attempt <= fail_times:
        msg = f"panne simulée à l'essai {ctx.attempt}"
        raise RuntimeError(msg)
    await ctx.progress(1, 1, step="Terminé")
    return {"essai réussi": ctx.attempt}


@job("tests.slow", title="Travail lent")
async def slow(ctx: JobContext) -> dict[str, Any]:
    executions[str(ctx.run_id)] += 1
    await asyncio.sleep(0.3)
    return {}


@job("tests.gives_up", title="Travail qui renonce", max_retries=3)
async def gives_up(ctx: JobContext) -> dict[str, Any]:
    """Starts, then meets what no retry mends (an authorisation refused): a failure, not a finished run."""
    executions[str(ctx.run_id)] += 1
    await ctx.progress(0, 4, step="Lecture")
    await ctx.count(Lus=0)
    raise JobFailed("La source n'accepte plus l'autorisation de ce dossier : reconnectez-la.", {"Écrits": 0})


registry.register(flaky, slow, gives_up)


async def _request(maker: Maker, handle: Job[...], **arguments: Any) -> JobRun:
    async with maker() as session, session.begin():
        return await handle.enqueue(session, **arguments)


async def _relay(jobs: Runtime, **kwargs: Any) -> int:
    kwargs.setdefault("redeliver_after", REDELIVER)
    return await relay_once(jobs.sessions, jobs.broker, **kwargs)


async def test_outbox_message_is_delivered_after_a_broker_outage(
    committed: Maker, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await _request(committed, flaky, fail_times=0)

    def broker_down(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("broker injoignable")

    with monkeypatch.context() as patch:
        patch.setattr(jobs.broker, "enqueue", broker_down)
        assert await _relay(jobs) == 0
    async with committed() as session:
        message = (await session.execute(select(OutboxMessage).where(OutboxMessage.job_run_id == run.id))).scalar_one()
        assert message.sent_at is None
        assert message.send_attempts == 1
        assert "broker injoignable" in (message.last_error or "")
        assert (await session.get(JobRun, run.id)).status == JobStatus.QUEUED  # type: ignore[union-attr]

    assert await _relay(jobs) == 1  # the broker is back
    finished = await wait_for_run(committed, run.id)
    assert finished.status == JobStatus.SUCCEEDED
    assert finished.counts == {"essai réussi": 1}


async def test_a_job_that_raises_is_retried_and_each_attempt_recorded(committed: Maker, jobs: Runtime) -> None:
    run = await _request(committed, flaky, fail_times=2)
    await _relay(jobs)
    finished = await wait_for_run(committed, run.id)
    assert finished.status == JobStatus.SUCCEEDED
    assert finished.attempts == 3
    assert finished.counts == {"essai réussi": 3}
    assert finished.error is None
    assert finished.progress_done == finished.progress_total == 1


async def test_a_job_that_keeps_failing_ends_failed_with_its_error(committed: Maker, jobs: Runtime) -> None:
    run = await _request(committed, flaky, fail_times=99)
    await _relay(jobs)
    finished = await wait_for_run(committed, run.id)
    assert finished.status == JobStatus.FAILED
    assert finished.attempts == 4  # the first attempt and max_retries=3 retries
    assert finished.error == "RuntimeError: panne simulée à l'essai 4"
    assert finished.finished_at is not None


async def test_a_message_delivered_twice_runs_once(committed: Maker, jobs: Runtime) -> None:
    run = await _request(committed, slow)
    await _relay(jobs)
    duplicate = dramatiq.Message(
        queue_name="default", actor_name="tests.slow", args=(str(run.id),), kwargs={}, options={}
    )
    jobs.broker.enqueue(duplicate)
    await wait_for_run(committed, run.id)
    jobs.broker.enqueue(duplicate)  # and once more after it finished
    await asyncio.sleep(0.5)
    assert executions[str(run.id)] == 1


async def test_a_message_the_broker_lost_is_sent_again(committed: Maker, jobs: Runtime) -> None:
    run = await _request(committed, flaky, fail_times=0)
    async with committed() as session, session.begin():
        # As if it had been sent and the broker (or a crashed worker) had lost it.
        stale = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        await session.execute(update(OutboxMessage).where(OutboxMessage.job_run_id == run.id).values(sent_at=stale))
    assert await _relay(jobs) == 1
    assert (await wait_for_run(committed, run.id)).status == JobStatus.SUCCEEDED
    assert await _relay(jobs) == 0  # a finished run is never sent again


async def test_what_a_failing_broker_had_accepted_is_sent_again_once_it_is_back(
    committed: Maker, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sent a few seconds ago, then lost: a Redis without persistence was stopped before delivering it.
    lost = await _request(committed, flaky, fail_times=0)
    async with committed() as session, session.begin():
        recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        await session.execute(update(OutboxMessage).where(OutboxMessage.job_run_id == lost.id).values(sent_at=recent))
    # Then work is requested while the broker is down.
    during = await _request(committed, flaky, fail_times=0)

    def broker_down(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("broker injoignable")

    with monkeypatch.context() as patch:
        patch.setattr(jobs.broker, "enqueue", broker_down)
        assert await _relay(jobs) == 0
    # The broker is back: both go out now, not five minutes later.
    assert await _relay(jobs) == 2
    for run in (lost, during):
        assert (await wait_for_run(committed, run.id)).status == JobStatus.SUCCEEDED
    assert executions[str(lost.id)] == 1


async def test_work_requested_in_a_rolled_back_transaction_is_never_sent(committed: Maker, jobs: Runtime) -> None:
    async with committed() as session:
        await session.begin()
        await flaky.enqueue(session, fail_times=0)
        await session.rollback()
    async with committed() as session:
        assert (await session.execute(select(func.count()).select_from(JobRun))).scalar_one() == 0
    assert await _relay(jobs) == 0


async def test_a_run_whose_worker_crashed_is_taken_up_again(committed: Maker, jobs: Runtime) -> None:
    run = await _request(committed, flaky, fail_times=0)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    async with committed() as session, session.begin():
        # The worker claimed it, then died: no heartbeat since, message acknowledged by nobody.
        await session.execute(
            update(JobRun)
            .where(JobRun.id == run.id)
            .values(status=JobStatus.RUNNING, attempts=1, started_at=long_ago, heartbeat_at=long_ago)
        )
        await session.execute(update(OutboxMessage).where(OutboxMessage.job_run_id == run.id).values(sent_at=long_ago))
    assert await _relay(jobs) == 1
    finished = await wait_for_run(committed, run.id)
    assert finished.status == JobStatus.SUCCEEDED
    assert finished.attempts == 2
    assert executions[str(run.id)] == 1


async def test_a_running_job_with_a_live_heartbeat_is_left_alone(committed: Maker, jobs: Runtime) -> None:
    run = await _request(committed, flaky, fail_times=0)
    now = dt.datetime.now(dt.UTC)
    async with committed() as session, session.begin():
        await session.execute(
            update(JobRun).where(JobRun.id == run.id).values(status=JobStatus.RUNNING, attempts=1, heartbeat_at=now)
        )
        await session.execute(update(OutboxMessage).where(OutboxMessage.job_run_id == run.id).values(sent_at=now))
    assert await _relay(jobs) == 0
    duplicate = dramatiq.Message(
        queue_name="default", actor_name="tests.flaky", args=(str(run.id),), kwargs={}, options={}
    )
    jobs.broker.enqueue(duplicate)  # even delivered, it is not claimed while another worker beats
    await asyncio.sleep(0.5)
    async with committed() as session:
        assert (await session.get(JobRun, run.id)).status == JobStatus.RUNNING  # type: ignore[union-attr]
    assert executions[str(run.id)] == 0


async def test_a_job_that_cannot_do_its_work_fails_at_once_and_never_reads_finished(
    committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    """« Terminé 0 % » was a job that returned after giving up: now it fails, once, with its reason, and
    Travaux shows « Échec » without a percentage."""
    run = await _request(committed, gives_up)
    assert await _relay(jobs) == 1
    finished = await wait_for_run(committed, run.id)
    assert (finished.status, finished.attempts) == (JobStatus.FAILED, 1)  # no retry: it would not help
    assert executions[str(run.id)] == 1
    assert finished.error == "La source n'accepte plus l'autorisation de ce dossier : reconnectez-la."
    assert finished.counts == {"Lus": 0, "Écrits": 0}
    assert finished.finished_at is not None

    async with committed() as session, session.begin():
        admin = await make_user(session, roles=(FirmRole.ADMIN,))
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client:
        await sign_in(client, admin.email, PASSWORD)
        listing = html.unescape((await client.get("/travaux")).text)
        row = next(row for row in re.findall(r"<tr>(.*?)</tr>", listing, re.DOTALL) if "Travail qui renonce" in row)
        assert "Échec" in row
        assert "Terminé" not in row
        assert "%" not in row
        page = html.unescape((await client.get(f"/travaux/{run.id}")).text)
        assert "Le travail a échoué après 1 essai." in page
        assert "<progress" not in page
