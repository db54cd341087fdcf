"""Periodic jobs and the relay loop.

``tick`` enqueues the latest due slot of every schedule with a dedupe key naming the
slot: any number of scheduler processes can tick at once and each slot still runs
once. ``BackgroundLoop`` relays the outbox (woken right after commits that enqueued
something, and on a timer) and, where asked, ticks the schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from cronsim import CronSim
from sqlalchemy.ext.asyncio import AsyncSession

from portal.jobs import registry
from portal.jobs.outbox import on_commit_with_pending, relay_once
from portal.jobs.runtime import Runtime, dead_after
from portal.settings import FIRM_TIMEZONE

log = logging.getLogger(__name__)


def latest_slot(cron: str, at: dt.datetime) -> dt.datetime:
    """The most recent slot of ``cron`` at or before ``at`` (cron read in Paris time)."""
    local = at.astimezone(FIRM_TIMEZONE).replace(second=0, microsecond=0)
    # CronSim in reverse yields slots strictly before its start; step one minute ahead to include ``at``.
    slot = next(iter(CronSim(cron, local + dt.timedelta(minutes=1), reverse=True)))
    return slot.astimezone(dt.UTC)


async def tick(sessions: Callable[[], AsyncSession], at: dt.datetime | None = None) -> int:
    """Enqueue every schedule slot that is due and not yet enqueued; return how many were."""
    at = at or dt.datetime.now(dt.UTC)
    enqueued = 0
    async with sessions() as session, session.begin():
        for schedule in registry.schedules():
            slot = latest_slot(schedule.cron, at)
            if at - slot > schedule.grace:
                continue
            run = await schedule.job.enqueue_once(
                session, f"schedule:{schedule.name}:{slot.isoformat()}", **schedule.arguments
            )
            enqueued += run is not None
    return enqueued


class BackgroundLoop:
    """Relays the outbox and (optionally) ticks schedules, in the event loop it is started in."""

    def __init__(self, runtime: Runtime, *, schedules: bool) -> None:
        self.runtime = runtime
        self.schedules = schedules
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def poke(self) -> None:
        """Thread-safe: relay as soon as possible (called after a commit that enqueued work)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run_once(self, *, redeliver_everything: bool = False) -> int:
        settings = self.runtime.settings
        if self.schedules:
            await tick(self.runtime.sessions)
        return await relay_once(
            self.runtime.sessions,
            self.runtime.broker,
            redeliver_after=dt.timedelta(seconds=settings.outbox_redeliver_after_seconds),
            dead_after=dead_after(settings),
            redeliver_everything=redeliver_everything,
        )

    async def _forever(self, *, first_redeliver_everything: bool) -> None:
        redeliver_everything = first_redeliver_everything
        while True:
            try:
                await self.run_once(redeliver_everything=redeliver_everything)
                redeliver_everything = False
            except Exception:
                log.exception("background loop pass failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.runtime.settings.scheduler_tick_seconds)
            self._wake.clear()

    def start(self, *, redeliver_everything: bool = False) -> None:
        self._loop = asyncio.get_running_loop()
        on_commit_with_pending(self.poke)
        self._task = asyncio.create_task(self._forever(first_redeliver_everything=redeliver_everything))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.runtime.sessions.dispose_current()
