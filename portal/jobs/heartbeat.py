"""Heartbeats of the runs a worker process executes, written from a thread of their own.

A run's heartbeat says "the process running this attempt is alive"; a run whose heartbeat
is older than ``PORTAL_JOB_DEAD_AFTER_SECONDS`` is taken as dead and sent again. The beats
are written by a thread with its own event loop and its own database connection, never by
the jobs' event loop: every async job of a process shares that one loop, and a job that
holds it (CPU work, a blocking call) would stop every beat of the process, so live runs
would be taken for dead.

A beat is conditional on the attempt it belongs to: once a run has been taken over by
another worker, the old attempt's beat finds nothing to update, stops, and tells the
runner, which cancels that attempt.

A live run is never taken over, even if its beats are late (a database too slow to take
them): on PostgreSQL the same connection holds a session advisory lock per run for as long
as the attempt lives (``lock_key``), and a claim takes over a running run only if it can
take that lock; a killed worker's connection closes, and its locks go with it. Within one
process (the embedded worker on SQLite) a claim also refuses a run this process is running
(``running_here``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from portal.db.engine import make_engine
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import now

log = logging.getLogger(__name__)


def lock_key(run_id: uuid.UUID) -> int:
    """The advisory lock key of a run: its id's random half, as PostgreSQL's signed bigint."""
    return int.from_bytes(run_id.bytes[8:], "big", signed=True)


@dataclass
class _Beating:
    run_id: uuid.UUID
    attempt: int
    on_lost: Callable[[], None]


class Heartbeats:
    """Beats every ``interval()`` seconds for each run started here and not yet stopped."""

    def __init__(self, url: str, interval: Callable[[], float]) -> None:
        self._url = url
        self._interval = interval
        self._postgres = url.startswith("postgresql")
        # Keyed by (run, attempt): a process may take over its own run (its beats were late).
        self._runs: dict[tuple[uuid.UUID, int], _Beating] = {}
        self._here: set[uuid.UUID] = set()  # read from the jobs' threads, hence the lock
        self._start_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Used only inside the thread's loop.
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None
        self._busy: asyncio.Lock | None = None
        self._beating: asyncio.Task[None] | None = None

    def start(self, run_id: uuid.UUID, attempt: int, on_lost: Callable[[], None]) -> concurrent.futures.Future[None]:
        """Beat for ``run_id`` at ``attempt`` (and hold its lock) until ``stop``; ``on_lost`` is called,
        from the heartbeat thread, if another attempt owns the run meanwhile."""
        with self._start_lock:
            self._here.add(run_id)
        return asyncio.run_coroutine_threadsafe(self._start(_Beating(run_id, attempt, on_lost)), self._thread_loop())

    def stop(self, run_id: uuid.UUID, attempt: int) -> concurrent.futures.Future[None]:
        """No more beats for ``run_id`` at ``attempt``; its lock is released. Idempotent."""
        with self._start_lock:
            self._here.discard(run_id)
        return asyncio.run_coroutine_threadsafe(self._stop(run_id, attempt), self._thread_loop())

    def running_here(self, run_id: uuid.UUID) -> bool:
        """Whether an attempt of ``run_id`` is running in this process."""
        with self._start_lock:
            return run_id in self._here

    def _thread_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    self._busy = asyncio.Lock()
                    self._beating = loop.create_task(self._beat_forever())
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=serve, name="portal-job-heartbeat", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    async def _start(self, beating: _Beating) -> None:
        assert self._busy is not None  # noqa: S101 - set before the loop runs
        async with self._busy:
            self._runs[beating.run_id, beating.attempt] = beating
            if self._postgres:
                try:
                    await self._lock(await self._connect(), beating.run_id)
                except Exception:
                    # The next beat reconnects and takes every lock again.
                    log.exception("heartbeat: could not take the lock of run %s", beating.run_id)
                    await self._close()

    async def _stop(self, run_id: uuid.UUID, attempt: int) -> None:
        assert self._busy is not None  # noqa: S101 - set before the loop runs
        async with self._busy:
            if self._runs.pop((run_id, attempt), None) is None:
                return
            try:
                if not self._runs:
                    await self._close()  # idle: no connection kept (and every lock released with it)
                elif self._postgres and self._connection is not None:
                    await self._connection.execute(select(func.pg_advisory_unlock(lock_key(run_id))))
                    await self._connection.commit()
            except Exception:
                log.exception("heartbeat: could not release the lock of run %s", run_id)
                await self._close()

    async def _beat_forever(self) -> None:
        assert self._busy is not None  # noqa: S101 - set before the loop runs
        while True:
            await asyncio.sleep(self._interval())
            async with self._busy:
                if not self._runs:
                    continue
                try:
                    lost = await self._beat()
                except Exception:
                    log.exception("heartbeat: beat failed, will reconnect")
                    await self._close()
                    continue
            for beating in lost:
                with contextlib.suppress(Exception):
                    beating.on_lost()

    async def _beat(self) -> list[_Beating]:
        connection = await self._connect()
        stamp = now()
        lost: list[_Beating] = []
        for beating in self._runs.values():
            result = await connection.execute(
                update(JobRun)
                .where(
                    JobRun.id == beating.run_id, JobRun.attempts == beating.attempt, JobRun.status == JobStatus.RUNNING
                )
                .values(heartbeat_at=stamp)
            )
            if not result.rowcount:
                lost.append(beating)
        await connection.commit()
        for beating in lost:
            log.warning("run %s is no longer this attempt's (taken over or finished): it stops", beating.run_id)
            del self._runs[beating.run_id, beating.attempt]
            if self._postgres:
                await connection.execute(select(func.pg_advisory_unlock(lock_key(beating.run_id))))
                await connection.commit()
        return lost

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            self._engine = self._engine or make_engine(self._url, poolclass=NullPool)
            self._connection = await self._engine.connect()
            for run_id, _attempt in self._runs if self._postgres else ():
                await self._lock(self._connection, run_id)
        return self._connection

    async def _lock(self, connection: AsyncConnection, run_id: uuid.UUID) -> None:
        taken = (await connection.execute(select(func.pg_try_advisory_lock(lock_key(run_id))))).scalar()
        await connection.commit()
        if not taken:
            log.warning("heartbeat: the lock of run %s is held elsewhere", run_id)

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
