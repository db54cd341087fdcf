"""Periodic jobs: one run per slot, however many schedulers tick."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts import tasks
from portal.accounts.models import LoginAttempt, PasswordReset, UserSession, WebSession
from portal.jobs import maintenance, registry
from portal.jobs.models import JobStatus, OutboxMessage
from portal.jobs.outbox import relay_once
from portal.jobs.runtime import Runtime
from portal.jobs.scheduler import latest_slot, tick
from portal.settings import Settings
from tests.factories.firm import make_user
from tests.waiting import wait_for_run

UTC = dt.UTC


def test_slots_are_read_in_paris_time() -> None:
    # 06:00 in Paris is 05:00 UTC in winter and 04:00 UTC in summer.
    winter = dt.datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    summer = dt.datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    assert latest_slot("0 6 * * *", winter) == dt.datetime(2026, 1, 15, 5, 0, tzinfo=UTC)
    assert latest_slot("0 6 * * *", summer) == dt.datetime(2026, 7, 15, 4, 0, tzinfo=UTC)
    # At 05:59 Paris time the latest slot is yesterday's.
    before = dt.datetime(2026, 1, 15, 4, 59, tzinfo=UTC)
    assert latest_slot("0 6 * * *", before) == dt.datetime(2026, 1, 14, 5, 0, tzinfo=UTC)
    # A slot is due at its own minute.
    assert latest_slot("0 6 * * *", dt.datetime(2026, 1, 15, 5, 0, 30, tzinfo=UTC)) == dt.datetime(
        2026, 1, 15, 5, 0, tzinfo=UTC
    )


@pytest.fixture
def one_schedule(monkeypatch: pytest.MonkeyPatch) -> registry.Schedule:
    schedule = registry.Schedule(name="test-purge", cron="0 6 * * *", job=maintenance.purge_outbox)
    monkeypatch.setattr(registry, "_schedules", {schedule.name: schedule})
    return schedule


async def _outbox_count(maker: async_sessionmaker[AsyncSession]) -> int:
    async with maker() as session:
        return int((await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one())


async def test_a_slot_is_enqueued_once(
    committed: async_sessionmaker[AsyncSession], jobs: Runtime, one_schedule: registry.Schedule
) -> None:
    at = dt.datetime(2026, 1, 15, 5, 30, tzinfo=UTC)
    assert await tick(jobs.sessions, at) == 1
    assert await tick(jobs.sessions, at + dt.timedelta(minutes=5)) == 0
    assert await _outbox_count(committed) == 1
    next_day = at + dt.timedelta(days=1)
    assert await tick(jobs.sessions, next_day) == 1
    assert await _outbox_count(committed) == 2


async def test_concurrent_schedulers_enqueue_a_slot_once(
    committed: async_sessionmaker[AsyncSession], jobs: Runtime, one_schedule: registry.Schedule
) -> None:
    at = dt.datetime(2026, 3, 2, 5, 1, tzinfo=UTC)
    results = await asyncio.gather(*(tick(jobs.sessions, at) for _ in range(4)))
    assert sum(results) == 1
    assert await _outbox_count(committed) == 1


async def test_a_slot_missed_beyond_its_grace_is_skipped(
    committed: async_sessionmaker[AsyncSession], jobs: Runtime, one_schedule: registry.Schedule
) -> None:
    late = dt.datetime(2026, 1, 15, 5, 0, tzinfo=UTC) + one_schedule.grace + dt.timedelta(minutes=1)
    assert await tick(jobs.sessions, late) == 0
    assert await _outbox_count(committed) == 0


async def test_housekeeping_jobs_purge_what_is_old(
    committed: async_sessionmaker[AsyncSession], jobs: Runtime, settings: Settings
) -> None:
    old = dt.datetime.now(UTC) - dt.timedelta(days=10)
    async with committed() as session, session.begin():
        session.add_all(
            [
                LoginAttempt(email="a@b.fr", ip_address="127.0.0.1", created_at=old, updated_at=old),
                LoginAttempt(email="a@b.fr", ip_address="127.0.0.1"),
            ]
        )
        if not settings.is_sqlite:
            session.add(WebSession(key="ancienne", namespace="sessions", value=b"{}", expires_at=old))
        person = await make_user(session)
        now = dt.datetime.now(UTC)
        long_ago = now - dt.timedelta(days=40)
        session.add_all(
            [
                # Mes sessions: one ended a month ago, one signed in 40 days ago (gone); one running (kept).
                UserSession(user_id=person.id, epoch=0, last_seen_at=long_ago, ip_address="192.0.2.1",
                            ended_at=long_ago, created_at=long_ago, updated_at=long_ago),
                UserSession(user_id=person.id, epoch=0, last_seen_at=long_ago, ip_address="192.0.2.1",
                            created_at=long_ago, updated_at=long_ago),
                UserSession(user_id=person.id, epoch=0, last_seen_at=now, ip_address="192.0.2.1"),
                # Reset requests: an old one (gone) and today's (kept).
                PasswordReset(email="a@b.fr", ip_address="127.0.0.1", created_at=old, updated_at=old),
                PasswordReset(email="a@b.fr", ip_address="127.0.0.1"),
            ]
        )  # fmt: skip
        runs = [await handle.enqueue(session) for handle in (tasks.purge_login_attempts, tasks.purge_expired_sessions)]
    await relay_once(jobs.sessions, jobs.broker, redeliver_after=dt.timedelta(minutes=5))
    for run in runs:
        assert (await wait_for_run(committed, run.id)).status == JobStatus.SUCCEEDED
    async with committed() as session:
        assert (await session.execute(select(func.count()).select_from(LoginAttempt))).scalar_one() == 1
        assert (await session.execute(select(func.count()).select_from(WebSession))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(UserSession))).scalar_one() == 1
        assert (await session.execute(select(func.count()).select_from(PasswordReset))).scalar_one() == 1


def test_every_schedule_names_a_registered_job() -> None:
    names = {spec.name for spec in registry.jobs()}
    assert {schedule.job_name for schedule in registry.schedules()} <= names
    assert {"auth.purge_login_attempts", "auth.purge_expired_sessions", "jobs.purge_outbox"} <= {
        schedule.job_name for schedule in registry.schedules()
    }
