"""Jobs and periodic schedules, and the catalogue the runtime declares on its broker.

A job is an ``async def fn(ctx: JobContext, *, argument: …)`` turned by ``@job`` into a
``Job`` handle: callers request it through the handle (``create_clients.enqueue(session,
entity_id=…)``), type-checked against the function's own arguments, so its name is written
once. Defining a job registers nothing: each domain's plugin registers its handles and
schedules (``register``, ``add_schedules``), and ``portal.jobs.runtime.configure`` declares
the dramatiq actors on the broker chosen by the settings, so importing a domain never
touches a broker.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec

from sqlalchemy.exc import IntegrityError

from portal.jobs import outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

    from portal.auth.policy import Principal
    from portal.jobs.context import JobContext
    from portal.jobs.models import JobRun

P = ParamSpec("P")
JobResult = dict[str, Any] | None


@dataclass(frozen=True)
class Shown:
    """What a person reads of a run's summary: its figures, and a sentence about what they leave out."""

    counts: dict[str, Any]
    note: str | None = None  # a msgid


# How a job's summary reads for one person, when it depends on who reads it (a run's figures
# that count confidential dossiers count only those the reader may see).
Summary = Callable[["AsyncSession", "Principal", "JobRun"], Awaitable[Shown]]


@dataclass(frozen=True)
class Job(Generic[P]):
    """A job: its name (``job_run.actor_name``), the title a person sees, and the function that runs."""

    name: str
    title: str
    function: Callable[Concatenate[JobContext, P], Awaitable[JobResult]]
    queue: str = "default"
    max_retries: int | None = None
    time_limit_ms: int = 6 * 3600 * 1000
    summary: Summary | None = None

    def register(self) -> None:
        """Make the job known to every runtime of this process (its domain's plugin does). Idempotent."""
        register(self)

    async def __call__(self, ctx: JobContext, /, *args: P.args, **kwargs: P.kwargs) -> JobResult:
        """Run the function here and now (the runtime's road; tests call jobs this way too)."""
        return await self.function(ctx, *args, **kwargs)

    def options(
        self,
        *,
        title: str | None = None,
        created_by_id: uuid.UUID | None = None,
        dossier_id: uuid.UUID | None = None,
        person_id: uuid.UUID | None = None,
        delay: dt.timedelta | None = None,
    ) -> Request[P]:
        """The run to request: who started it, which dossier or person it is about, its title, when it may start."""
        return Request(
            self, title=title, created_by_id=created_by_id, dossier_id=dossier_id, person_id=person_id, delay=delay
        )

    def request(self, session: Session, /, *args: P.args, **kwargs: P.kwargs) -> JobRun:
        """As ``Request.request``, with no options."""
        return Request(self).request(session, *args, **kwargs)

    async def enqueue(self, session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> JobRun:
        """As ``Request.enqueue``, with no options."""
        return await Request(self).enqueue(session, *args, **kwargs)

    async def enqueue_once(
        self, session: AsyncSession, dedupe_key: str, /, *args: P.args, **kwargs: P.kwargs
    ) -> JobRun | None:
        """As ``Request.enqueue_once``, with no options."""
        return await Request(self).enqueue_once(session, dedupe_key, *args, **kwargs)


@dataclass(frozen=True)
class Request(Generic[P]):
    """A run of ``job`` about to be requested in the caller's transaction (``portal.jobs.outbox``)."""

    job: Job[P]
    title: str | None = None
    created_by_id: uuid.UUID | None = None
    dossier_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    delay: dt.timedelta | None = None

    def request(self, session: Session, /, *args: P.args, **kwargs: P.kwargs) -> JobRun:
        """Add the run and its message to ``session`` without flushing: usable from flush hooks."""
        return self._add(session, None, args, kwargs)

    async def enqueue(self, session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> JobRun:
        """Request the run in the caller's transaction, flushed: the run the person can follow."""
        run = self._add(session.sync_session, None, args, kwargs)
        await session.flush()
        return run

    async def enqueue_once(
        self, session: AsyncSession, dedupe_key: str, /, *args: P.args, **kwargs: P.kwargs
    ) -> JobRun | None:
        """Like ``enqueue``, but a second request with the same ``dedupe_key`` is a no-op (None).

        The unique constraint on ``dedupe_key`` decides, so concurrent processes agree.
        """
        try:
            async with session.begin_nested():
                run = self._add(session.sync_session, dedupe_key, args, kwargs)
                await session.flush()
                return run
        except IntegrityError:
            return None

    def _add(self, session: Session, dedupe_key: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobRun:
        if args:
            msg = f"job {self.job.name}: arguments are passed by name (they are stored as JSON)"
            raise TypeError(msg)
        if _jobs.get(self.job.name) != self.job:
            # A message nobody consumes would wait forever: the domain's plugin lists its jobs.
            msg = f"job {self.job.name} is not registered"
            raise LookupError(msg)
        return outbox.request(
            session,
            actor_name=self.job.name,
            queue_name=self.job.queue,
            title=self.title or self.job.title,
            arguments=kwargs,
            created_by_id=self.created_by_id,
            dossier_id=self.dossier_id,
            person_id=self.person_id,
            dedupe_key=dedupe_key,
            delay=self.delay,
        )


def job(
    name: str, *, title: str, queue: str = "default", max_retries: int | None = None, summary: Summary | None = None
) -> Callable[[Callable[Concatenate[JobContext, P], Awaitable[JobResult]]], Job[P]]:
    """Make ``function`` a job named ``name`` (the only place that name is written).

    ``summary`` reads a run's figures for one person, when they depend on who reads them;
    without it, everyone reads the run's ``counts``.
    """

    def define(function: Callable[Concatenate[JobContext, P], Awaitable[JobResult]]) -> Job[P]:
        return Job(name=name, title=title, function=function, queue=queue, max_retries=max_retries, summary=summary)

    return define


@dataclass(frozen=True)
class Schedule:
    """Run ``job`` at every slot of ``cron`` (Europe/Paris time)."""

    name: str
    cron: str
    job: Job[...]
    arguments: dict[str, Any] = field(default_factory=dict)
    # A slot missed by more than this (scheduler down) is skipped rather than run late.
    grace: dt.timedelta = dt.timedelta(hours=6)

    @property
    def job_name(self) -> str:
        return self.job.name

    def register(self) -> None:
        """Make the schedule known to the scheduler of this process (its domain's plugin does). Idempotent."""
        add_schedules(self)


def every(cron: str, job: Job[...], *, name: str | None = None, **arguments: Any) -> Schedule:
    """The schedule running ``job`` at every slot of ``cron``; named after the job unless ``name`` is given."""
    return Schedule(name=name or job.name, cron=cron, job=job, arguments=arguments)


_jobs: dict[str, Job[...]] = {}
_schedules: dict[str, Schedule] = {}
_listeners: list[Callable[[Job[...]], None]] = []


def register(*handles: Job[...]) -> None:
    """Make ``handles`` known to every runtime of this process. Idempotent."""
    for handle in handles:
        known = _jobs.get(handle.name)
        if known == handle:
            continue
        if known is not None:
            msg = f"two jobs are named {handle.name}"
            raise ValueError(msg)
        _jobs[handle.name] = handle
        for listener in _listeners:
            listener(handle)


def add_schedules(*schedules: Schedule) -> None:
    """Make ``schedules`` known to the scheduler of this process. Idempotent."""
    for schedule in schedules:
        _schedules[schedule.name] = schedule


def jobs() -> list[Job[...]]:
    return list(_jobs.values())


def get(name: str) -> Job[...] | None:
    """The job registered under ``name``, if any."""
    return _jobs.get(name)


def schedules() -> list[Schedule]:
    return list(_schedules.values())


def on_register(listener: Callable[[Job[...]], None]) -> None:
    """Call ``listener`` for jobs registered from now on (the runtime declares their actors)."""
    _listeners.append(listener)
