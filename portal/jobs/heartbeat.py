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
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable

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


class Heartbeats:
    """Beats every ``interval()`` seconds for each attempt started here and not yet stopped.

    ``start`` and ``stop`` only register the attempt and return at once: a job never waits
    for the heartbeat thread (on PostgreSQL, that thread takes and releases the run locks
    right after, well within the dead-after delay).
    """

    def __init__(self, url: str, interval: Callable[[], float]) -> None:
        self._url = url
        self._interval = interval
        self._postgres = url.startswith("postgresql")
        # The attempts running here, keyed by (run, attempt); read and written from any thread.
        self._runs: dict[tuple[uuid.UUID, int], Callable[[], None]] = {}
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Used only inside the heartbeat thread's loop.
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None
        self._locked: set[uuid.UUID] = set()
        self._busy: asyncio.Lock | None = None
        self._beating: asyncio.Task[None] | None = None

    def start(self, run_id: uuid.UUID, attempt: int, on_lost: Callable[[], None]) -> None:
        """Beat for ``run_id`` at ``attempt`` (and hold its lock) until ``stop``; ``on_lost`` is called,
        from the heartbeat thread, if another attempt owns the run meanwhile."""
        with self._guard:
            self._runs[run_id, attempt] = on_lost
        self._settle_soon()

    def stop(self, run_id: uuid.UUID, attempt: int) -> None:
        """No more beats for ``run_id`` at ``attempt``; its lock is released. Idempotent."""
        with self._guard:
            self._runs.pop((run_id, attempt), None)
        self._settle_soon()

    def running_here(self, run_id: uuid.UUID) -> bool:
        """Whether an attempt of ``run_id`` is running in this process."""
        with self._guard:
            return any(running == run_id for running, _attempt in self._runs)

    def _wanted(self) -> dict[tuple[uuid.UUID, int], Callable[[], None]]:
        with self._guard:
            return dict(self._runs)

    def _settle_soon(self) -> None:
        loop = self._thread_loop()
        if self._postgres:
            asyncio.run_coroutine_threadsafe(self._settle(), loop)

    def _thread_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
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

    async def _settle(self) -> None:
        """Hold the lock of every run started here, and of no other."""
        assert self._busy is not None  # noqa: S101 - set before the loop runs
        async with self._busy:
            wanted = {run_id for run_id, _attempt in self._wanted()}
            try:
                if not wanted:
                    await self._close()  # idle: no connection kept (and every lock released with it)
                    return
                await self._settle_locks(await self._connect(), wanted)
            except Exception:
                log.exception("heartbeat: could not take or release run locks; will reconnect")
                await self._close()

    async def _settle_locks(self, connection: AsyncConnection, wanted: set[uuid.UUID]) -> None:
        if not self._postgres:
            return
        for run_id in wanted - self._locked:
            if (await connection.execute(select(func.pg_try_advisory_lock(lock_key(run_id))))).scalar():
                self._locked.add(run_id)
            else:
                log.warning("heartbeat: the lock of run %s is held elsewhere", run_id)
        for run_id in self._locked - wanted:
            await connection.execute(select(func.pg_advisory_unlock(lock_key(run_id))))
            self._locked.discard(run_id)
        await connection.commit()

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            await self._beat()

    async def _beat(self) -> None:
        assert self._busy is not None  # noqa: S101 - set before the loop runs
        async with self._busy:
            runs = self._wanted()
            if not runs:
                await self._close()
                return
            stamp = now()
            lost: list[tuple[tuple[uuid.UUID, int], Callable[[], None]]] = []
            try:
                connection = await self._connect()
                await self._settle_locks(connection, {run_id for run_id, _attempt in runs})
                for (run_id, attempt), on_lost in runs.items():
                    result = await connection.execute(
                        update(JobRun)
                        .where(JobRun.id == run_id, JobRun.attempts == attempt, JobRun.status == JobStatus.RUNNING)
                        .values(heartbeat_at=stamp)
                    )
                    if not result.rowcount:
                        lost.append(((run_id, attempt), on_lost))
                await connection.commit()
            except Exception:
                log.exception("heartbeat: beat failed, will reconnect")
                await self._close()
                return
        for key, on_lost in lost:
            with self._guard:
                still_here = self._runs.get(key) is on_lost  # else stopped meanwhile (it just finished): not lost
                if still_here:
                    del self._runs[key]
            if still_here:
                log.warning("run %s is no longer this attempt's (taken over): it stops", key[0])
                with contextlib.suppress(Exception):
                    on_lost()

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            self._engine = self._engine or make_engine(self._url, poolclass=NullPool)
            self._connection = await self._engine.connect()
        return self._connection

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        self._locked.clear()  # a closed connection holds no lock
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
