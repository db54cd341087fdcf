"""The transactional outbox: jobs are requested in the domain transaction and relayed after commit.

``request`` writes a ``JobRun`` and an ``OutboxMessage`` with the caller's session, so
the request for work commits or rolls back with the change that needs it. The relay
hands unsent messages to the broker; if the broker is down they stay unsent and the
next pass (after the next commit, on a timer, at start-up) sends them. Messages whose
run never finished are sent again after a while (a run whose worker stopped beating,
within a minute): the runner's claim makes a second delivery harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import dramatiq
from sqlalchemy import Select, and_, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from portal.jobs.models import JobRun, JobStatus, OutboxMessage

log = logging.getLogger(__name__)

_PENDING_FLAG = "portal_outbox_pending"
_after_commit_hooks: list[Callable[[], None]] = []


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def request(
    session: Session,
    *,
    actor_name: str,
    queue_name: str,
    title: str,
    arguments: dict[str, Any],
    created_by_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
    delay: dt.timedelta | None = None,
    dossier_id: uuid.UUID | None = None,
    person_id: uuid.UUID | None = None,
) -> JobRun:
    """Add a run and its message to ``session`` without flushing: usable from flush hooks.

    Callers go through a job's handle (``portal.jobs.registry.Job``), which fills in its name,
    queue and title.
    """
    run = JobRun(
        actor_name=actor_name,
        title=title,
        arguments=arguments,
        created_by_id=created_by_id,
        dossier_id=dossier_id,
        person_id=person_id,
        status=JobStatus.QUEUED,
    )
    # One flush writes both rows; the relationship orders the inserts.
    session.add(
        OutboxMessage(
            job_run=run,
            actor_name=actor_name,
            queue_name=queue_name,
            dedupe_key=dedupe_key,
            available_at=now() + (delay or dt.timedelta()),
        )
    )
    session.info[_PENDING_FLAG] = True
    return run


def on_commit_with_pending(hook: Callable[[], None]) -> None:
    """Call ``hook`` after any commit that enqueued messages (the relay wakes up)."""
    _after_commit_hooks.append(hook)


def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING_FLAG, False):
        for hook in _after_commit_hooks.copy():  # a snapshot: hooks registered meanwhile wait for the next commit
            hook()


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_FLAG, None)


def install() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda session, _previous: _after_rollback(session))


async def requeue_stalled(
    session: AsyncSession,
    *,
    older_than: dt.timedelta,
    dead_after: dt.timedelta | None = None,
    everything: bool = False,
) -> int:
    """Mark for resending the messages whose run was lost by the broker or a crashed worker.

    A run still queued, or retrying, ``older_than`` after its message was sent or its last
    attempt (a message the broker lost) is sent again; so is a running run without a
    heartbeat for ``dead_after`` (its worker died; ``older_than`` if not given): a worker
    beats every few seconds, so a crash is noticed long before a lost message would be.
    ``everything`` resends every unfinished run at once (the embedded broker loses its
    memory at each start).
    """
    stamp = now()
    cutoff = stamp - older_than
    unfinished = JobRun.status.in_([JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.RUNNING])
    stalled: ColumnElement[bool]
    if everything:
        stalled = unfinished
    else:
        stalled = or_(
            and_(JobRun.status == JobStatus.QUEUED, OutboxMessage.sent_at < cutoff),
            and_(JobRun.status == JobStatus.RETRYING, JobRun.updated_at < cutoff),
            and_(JobRun.status == JobStatus.RUNNING, JobRun.heartbeat_at < stamp - (dead_after or older_than)),
        )
    return await _resend(
        session, select(JobRun.id).join(OutboxMessage, OutboxMessage.job_run_id == JobRun.id).where(stalled)
    )


async def _resend(session: AsyncSession, run_ids: Select[uuid.UUID]) -> int:
    """Mark for resending the sent messages of the runs ``run_ids`` selects; how many were."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.sent_at.is_not(None), OutboxMessage.job_run_id.in_(run_ids))
        .values(sent_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def requeue_after_broker_failure(session: AsyncSession) -> int:
    """Mark for resending every run not started yet whose message went out: the broker just failed.

    A broker that fails may have lost what it had accepted and not yet delivered (a Redis
    without persistence, stopped or restarted, loses its queues, retries waiting in its delay
    queue included). Without this, such a message would wait for ``older_than`` in
    ``requeue_stalled``; here it is sent again as soon as the broker is back. A message
    delivered twice still runs once (the claim), so resending what was not lost costs only
    the message.
    """
    return await _resend(session, select(JobRun.id).where(JobRun.status.in_([JobStatus.QUEUED, JobStatus.RETRYING])))


async def relay_once(
    sessions: Callable[[], AsyncSession],
    broker: dramatiq.Broker,
    *,
    redeliver_after: dt.timedelta,
    dead_after: dt.timedelta | None = None,
    redeliver_everything: bool = False,
    batch_size: int = 500,
) -> int:
    """Send due messages to the broker; return how many were sent. Stops at the first broker error."""
    async with sessions() as session:
        async with session.begin():
            await requeue_stalled(
                session, older_than=redeliver_after, dead_after=dead_after, everything=redeliver_everything
            )
        sent_total = 0
        while True:
            async with session.begin():
                statement = (
                    select(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.available_at <= now())
                    .order_by(OutboxMessage.available_at)
                    .limit(batch_size)
                )
                if session.get_bind().dialect.name == "postgresql":
                    # Several relays (web processes, scheduler) may run at once: each takes its own rows.
                    statement = statement.with_for_update(skip_locked=True, of=OutboxMessage)
                rows = list((await session.execute(statement)).scalars())
                if not rows:
                    return sent_total
                sent, error = await anyio.to_thread.run_sync(_send_batch, broker, rows)
                stamp = now()
                for row in rows[:sent]:
                    row.sent_at = stamp
                    row.send_attempts += 1
                    row.last_error = None
                if error is not None:
                    failed = rows[sent]
                    failed.send_attempts += 1
                    failed.last_error = error
            sent_total += sent
            if error is not None:
                async with session.begin():
                    await requeue_after_broker_failure(session)
                log.warning(
                    "outbox relay: broker unavailable, %s message(s) left for later: %s", len(rows) - sent, error
                )
                return sent_total
            if len(rows) < batch_size:
                return sent_total


def _send_batch(broker: dramatiq.Broker, rows: list[OutboxMessage]) -> tuple[int, str | None]:
    for index, row in enumerate(rows):
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=row.queue_name,
            actor_name=row.actor_name,
            args=(str(row.job_run_id),),
            kwargs={},
            options={},
        )
        try:
            broker.enqueue(message)
        except Exception as exc:  # noqa: BLE001 - any broker failure means "try again later"
            return index, f"{type(exc).__name__}: {exc}"
    return len(rows), None
