"""The broker chosen by ``PORTAL_BROKER_URL``, the actors declared on it, and how a run executes.

Each run is claimed with a conditional UPDATE before its function runs: only a
queued or retrying run (or a running one whose worker stopped beating for
``PORTAL_JOB_DEAD_AFTER_SECONDS``, and, on PostgreSQL, whose lock no live worker
holds) can be claimed, so a message delivered twice runs once at a time, and a
finished run is never redone. The outcome of an attempt is recorded only while that
attempt still owns the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, CurrentMessage
from sqlalchemy import and_, func, or_, update

from portal.audit.context import Actor, acting_as
from portal.db.engine import LoopBoundSessions
from portal.jobs import outbox, registry
from portal.jobs.context import JobContext, JobFailed, RunTakenOverError
from portal.jobs.heartbeat import Heartbeats, lock_key
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import now
from portal.settings import Settings

log = logging.getLogger(__name__)


def make_broker(url: str, namespace: str = "dramatiq") -> dramatiq.Broker:
    """The broker at ``url``; on Redis every key is prefixed with ``namespace`` (one per test worker)."""
    broker: dramatiq.Broker
    if url == "stub":
        broker = StubBroker()
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker  # noqa: PLC0415 - the client library only for the broker in use

        broker = RedisBroker(url=url, namespace=namespace)  # type: ignore[no-untyped-call]  # dramatiq leaves RedisBroker.__init__ unannotated
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker  # noqa: PLC0415 - the client library only for the broker in use

        broker = RabbitmqBroker(url=url)
    else:
        msg = f"PORTAL_BROKER_URL non reconnue : {url!r} (attendu : stub, redis://…, amqp://…)"
        raise ValueError(msg)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(CurrentMessage())
    return broker


@dataclass
class Runtime:
    settings: Settings
    broker: dramatiq.Broker
    sessions: LoopBoundSessions
    actors: dict[str, dramatiq.Actor[Any, Any]] = field(default_factory=dict)
    # Set after a commit that enqueued work; a job that requested follow-up work relays it itself.
    relay_requested: threading.Event = field(default_factory=threading.Event)
    heartbeats: Heartbeats = field(init=False)

    def __post_init__(self) -> None:
        self.heartbeats = Heartbeats(self.sessions.url, lambda: self.settings.job_heartbeat_seconds)

    def declare(self, spec: registry.Job[...]) -> None:
        if spec.name in self.actors:
            return
        runtime = self

        async def run(run_id: str) -> None:
            await execute(runtime, spec, uuid.UUID(run_id))

        run.__name__ = spec.name.replace(".", "_")
        max_retries = spec.max_retries if spec.max_retries is not None else self.settings.job_max_retries
        self.actors[spec.name] = dramatiq.actor(
            actor_name=spec.name,
            queue_name=spec.queue,
            broker=self.broker,
            max_retries=max_retries,
            min_backoff=self.settings.job_min_backoff_ms,
            max_backoff=self.settings.job_max_backoff_ms,
            time_limit=spec.time_limit_ms,
        )(run)


_runtime: Runtime | None = None


def configure(settings: Settings) -> Runtime:
    """Build the broker for ``settings`` and declare every registered job on it (once per process).

    The process has installed its domains first (``portal.domains.install``): their jobs are
    registered, their models known and their listeners on. Jobs registered later are declared too.
    """
    global _runtime  # noqa: PLW0603 - one broker per process, as dramatiq itself assumes
    if _runtime is not None and _runtime.settings.broker_url == settings.broker_url:
        return _runtime
    outbox.install()
    broker = make_broker(settings.broker_url, settings.broker_namespace)
    dramatiq.set_broker(broker)
    runtime = Runtime(settings=settings, broker=broker, sessions=LoopBoundSessions(settings.database_url))
    outbox.on_commit_with_pending(runtime.relay_requested.set)
    for spec in registry.jobs():
        runtime.declare(spec)
    registry.on_register(runtime.declare)
    _runtime = runtime
    return runtime


def current() -> Runtime:
    if _runtime is None:
        msg = "the job runtime is not configured"
        raise RuntimeError(msg)
    return _runtime


def dead_after(settings: Settings) -> dt.timedelta:
    """A running run whose heartbeat is older than this is taken as dead (its worker was killed)."""
    return dt.timedelta(seconds=settings.job_dead_after_seconds)


async def _claim(runtime: Runtime, run_id: uuid.UUID) -> JobRun | None:
    if runtime.heartbeats.running_here(run_id):
        return None  # alive in this very process, whatever its heartbeat says
    stamp = now()
    dead = and_(JobRun.status == JobStatus.RUNNING, JobRun.heartbeat_at < stamp - dead_after(runtime.settings))
    async with runtime.sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            # A live attempt holds its run's lock (``heartbeat``) even when its beats are late.
            dead = and_(dead, func.pg_try_advisory_xact_lock(lock_key(run_id)))
        result = await session.execute(
            update(JobRun)
            .where(JobRun.id == run_id, or_(JobRun.status.in_([JobStatus.QUEUED, JobStatus.RETRYING]), dead))
            .values(
                status=JobStatus.RUNNING,
                attempts=JobRun.attempts + 1,
                started_at=func.coalesce(JobRun.started_at, stamp),
                heartbeat_at=stamp,
                error=None,
            )
            .returning(JobRun)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()


async def _finish(runtime: Runtime, run: JobRun, **values: Any) -> None:
    """Record the outcome of ``run``'s attempt, unless another attempt has taken the run over."""
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(JobRun)
            .where(JobRun.id == run.id, JobRun.attempts == run.attempts, JobRun.status == JobStatus.RUNNING)
            .values(**values)
        )


async def execute(runtime: Runtime, spec: registry.Job[...], run_id: uuid.UUID) -> None:
    """Claim the run, execute its function, record the outcome. Raises to ask dramatiq for a retry."""
    run = await _claim(runtime, run_id)
    if run is None:
        log.info("job %s run %s: already finished or running elsewhere, skipped", spec.name, run_id)
        return
    max_retries = spec.max_retries if spec.max_retries is not None else runtime.settings.job_max_retries
    context = JobContext(
        run_id=run_id,
        sessions=runtime.sessions,
        created_by_id=run.created_by_id,
        settings=runtime.settings,
        attempt=run.attempts,
        checkpoint=run.checkpoint,
    )
    loop = asyncio.get_running_loop()
    lost = threading.Event()
    with acting_as(Actor(user_id=run.created_by_id, label=f"travail {spec.name}")):
        work: asyncio.Future[dict[str, Any] | None] = asyncio.ensure_future(spec.function(context, **run.arguments))

    def on_lost() -> None:  # from the heartbeat thread
        lost.set()
        loop.call_soon_threadsafe(work.cancel)

    # The run stays "running here" (and, on PostgreSQL, locked) until its outcome is recorded: stopped
    # before, a run whose beats were late would look dead for a moment and could be claimed again.
    runtime.heartbeats.start(run_id, run.attempts, on_lost)
    try:
        result = await work
    except (asyncio.CancelledError, RunTakenOverError) as stopped:
        if isinstance(stopped, asyncio.CancelledError) and not lost.is_set():
            raise  # the worker itself is stopping
        log.warning("job %s run %s attempt %s: taken over by another worker, stopped", spec.name, run_id, run.attempts)
    except JobFailed as failed:
        log.info("job %s run %s attempt %s: failed for good: %s", spec.name, run_id, run.attempts, failed.message)
        await _finish(runtime, run, status=JobStatus.FAILED, error=failed.message, finished_at=now(),
                      counts=context.counts | failed.counts)  # fmt: skip
    except Exception as exc:
        # Everything after the claim is inside this block: a claimed run always ends recorded.
        final = run.attempts > max_retries
        log.warning("job %s run %s attempt %s failed: %s", spec.name, run_id, run.attempts, exc)
        await _finish(
            runtime,
            run,
            status=JobStatus.FAILED if final else JobStatus.RETRYING,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=now() if final else None,
        )
        if not final:
            raise
    else:
        counts = context.counts | (result or {})
        values: dict[str, Any] = {"status": JobStatus.SUCCEEDED, "finished_at": now(), "counts": counts}
        await _finish(runtime, run, **values)
    finally:
        runtime.heartbeats.stop(run_id, run.attempts)
        await _relay_follow_ups(runtime)


async def _relay_follow_ups(runtime: Runtime) -> None:
    if not runtime.relay_requested.is_set():
        return
    runtime.relay_requested.clear()
    try:
        await outbox.relay_once(
            runtime.sessions,
            runtime.broker,
            redeliver_after=dt.timedelta(seconds=runtime.settings.outbox_redeliver_after_seconds),
            dead_after=dead_after(runtime.settings),
        )
    except Exception:
        log.exception("relaying follow-up jobs failed; the periodic relay will send them")
