"""Who is acting right now: set per request by middleware, per run by the job runner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The author of the changes flushed in the current context."""

    user_id: uuid.UUID | None
    label: str
    request_id: str | None = None
    ip_address: str | None = None


SYSTEM = Actor(user_id=None, label="système")

_current: ContextVar[Actor] = ContextVar("portal_audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def set_actor(actor: Actor) -> None:
    """Set the actor for the rest of the current context (a request)."""
    _current.set(actor)
