"""The catalogue of jobs and periodic schedules.

A job is an ``async def fn(ctx: JobContext, **arguments)`` registered with ``@job``.
Registering only records the function; ``portal.jobs.runtime.configure`` declares the
dramatiq actors on the broker chosen by the settings, so importing a domain never
touches a broker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

JobFunction = Callable[..., Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    title: str
    function: JobFunction
    queue: str = "default"
    max_retries: int | None = None
    time_limit_ms: int = 6 * 3600 * 1000


@dataclass(frozen=True)
class Schedule:
    """Run ``job_name`` at every slot of ``cron`` (Europe/Paris time)."""

    name: str
    cron: str
    job_name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    # A slot missed by more than this (scheduler down) is skipped rather than run late.
    grace: dt.timedelta = dt.timedelta(hours=6)


_jobs: dict[str, JobSpec] = {}
_schedules: dict[str, Schedule] = {}
_listeners: list[Callable[[JobSpec], None]] = []


def job(
    name: str, *, title: str, queue: str = "default", max_retries: int | None = None
) -> Callable[[JobFunction], JobFunction]:
    def register(function: JobFunction) -> JobFunction:
        spec = JobSpec(name=name, title=title, function=function, queue=queue, max_retries=max_retries)
        _jobs[name] = spec
        for listener in _listeners:
            listener(spec)
        return function

    return register


def every(cron: str, job_name: str, *, name: str | None = None, **arguments: Any) -> Schedule:
    schedule = Schedule(name=name or job_name, cron=cron, job_name=job_name, arguments=arguments)
    _schedules[schedule.name] = schedule
    return schedule


def get(name: str) -> JobSpec:
    return _jobs[name]


def jobs() -> list[JobSpec]:
    return list(_jobs.values())


def schedules() -> list[Schedule]:
    return list(_schedules.values())


def on_register(listener: Callable[[JobSpec], None]) -> None:
    """Call ``listener`` for jobs registered from now on (the runtime declares their actors)."""
    _listeners.append(listener)
