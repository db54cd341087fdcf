"""The broker chosen by ``PORTAL_BROKER_URL``, the actors declared on it, and how a run executes.

Each run is claimed with a conditional UPDATE before its function runs: only a
queued or retrying run (or a running one whose worker stopped beating) can be
claimed, so a message delivered twice runs once at a time, and a finished run is
never redone.
"""

from __future__ import annotations

import asyncio
import contextlib
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

import portal.db.models  # noqa: F401 - every model known, audit log on
from portal.audit.context import Actor, acting_as
from portal.db.engine import LoopBoundSessions
from portal.jobs import outbox, registry
from portal.jobs.context import JobContext
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

    def declare(self, spec: registry.JobSpec) -> None:
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
    """Build the broker for ``settings`` and declare every registered job on it (once per process)."""
    global _runtime  # noqa: PLW0603 - one broker per process, as dramatiq itself assumes
    if _runtime is not None and _runtime.settings.broker_url == settings.broker_url:
        return _runtime
    import portal.jobs.catalog  # noqa: F401, PLC0415 - registers every job before actors are declared, not on import

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


async def _claim(runtime: Runtime, run_id: uuid.UUID) -> JobRun | None:
    stamp = now()
    stale = stamp - dt.timedelta(seconds=runtime.settings.outbox_redeliver_after_seconds)
    async with runtime.sessions() as session, session.begin():
        result = await session.execute(
            update(JobRun)
            .where(
                JobRun.id == run_id,
                or_(
                    JobRun.status.in_([JobStatus.QUEUED, JobStatus.RETRYING]),
                    and_(JobRun.status == JobStatus.RUNNING, JobRun.heartbeat_at < stale),
                ),
            )
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


async def _finish(runtime: Runtime, run_id: uuid.UUID, **values: Any) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.execute(update(JobRun).where(JobRun.id == run_id).values(**values))


async def _beat(runtime: Runtime, run_id: uuid.UUID) -> None:
    interval = max(1.0, runtime.settings.outbox_redeliver_after_seconds / 5)
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            await _finish(runtime, run_id, heartbeat_at=now())


async def execute(runtime: Runtime, spec: registry.JobSpec, run_id: uuid.UUID) -> None:
    """Claim the run, execute its function, record the outcome. Raises to ask dramatiq for a retry."""
    run = await _claim(runtime, run_id)
    if run is None:
        log.info("job %s run %s: already finished or running elsewhere, skipped", spec.name, run_id)
        return
    max_retries = spec.max_retries if spec.max_retries is not None else runtime.settings.job_max_retries
    beat = asyncio.create_task(_beat(runtime, run_id))
    context = JobContext(
        run_id=run_id,
        sessions=runtime.sessions,
        created_by_id=run.created_by_id,
        settings=runtime.settings,
        attempt=run.attempts,
        checkpoint=run.checkpoint,
    )
    try:
        with acting_as(Actor(user_id=run.created_by_id, label=f"travail {spec.name}")):
            result = await spec.function(context, **run.arguments)
    except Exception as exc:
        # Everything after the claim is inside this block: a claimed run always ends recorded.
        final = run.attempts > max_retries
        log.warning("job %s run %s attempt %s failed: %s", spec.name, run_id, run.attempts, exc)
        await _finish(
            runtime,
            run_id,
            status=JobStatus.FAILED if final else JobStatus.RETRYING,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=now() if final else None,
        )
        if not final:
            raise
    else:
        counts = context.counts | (result or {})
        values: dict[str, Any] = {"status": JobStatus.SUCCEEDED, "finished_at": now(), "counts": counts}
        await _finish(runtime, run_id, **values)
    finally:
        beat.cancel()
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
        )
    except Exception:
        log.exception("relaying follow-up jobs failed; the periodic relay will send them")
