"""A person's signed-in browsers (Mon compte › Mes sessions): opened at sign-in, checked at every
request, listed and ended by the person.

The server-side session store cannot list a person's sessions (its keys are random ids), so
each sign-in also writes a ``user_session`` row and the session keeps that row's id. The
session authentication (``portal.accounts.sessions``) refuses a session whose row is ended,
missing, of an older epoch, or older than ``Settings.session_absolute_seconds`` since the sign-in,
whatever its activity: ending a row ends that browser's session on its next request.

``last_seen_at`` is written in the request's own transaction (no second pooled connection), at
most once a minute: the session remembers when it last wrote it, so the other requests of that
minute only read. The write is the transaction's first statement, so on SQLite it takes the
write lock before any read (a read-then-write transaction could fail if another one committed
in between), and waits for it like any other writer.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_object_session
from uuid_utils.compat import uuid7

from portal.accounts.models import User, UserSession
from portal.i18n import N_, _

SEEN_EVERY = dt.timedelta(minutes=1)
USER_AGENT_MAX_LENGTH = 512
IP_MAX_LENGTH = 64


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_session_row(user: User, *, ip_address: str, user_agent: str) -> UserSession:
    """A new row for a browser signing in as ``user``, added to the session ``user`` was loaded in
    (the request's: it commits with the sign-in)."""
    db_session = async_object_session(user)
    if db_session is None:  # pragma: no cover - every way of signing in loads the person in the request
        message = "finish_sign_in needs the person as loaded in the request's database session"
        raise RuntimeError(message)
    moment = now()
    row = UserSession(
        id=uuid.UUID(bytes=uuid7().bytes),
        user_id=user.id,
        epoch=user.session_epoch,
        created_at=moment,
        last_seen_at=moment,
        ip_address=ip_address[:IP_MAX_LENGTH],
        user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
    )
    db_session.add(row)
    return row


async def touch(db_session: AsyncSession, row_id: uuid.UUID) -> None:
    """Write that the browser was seen now (the caller says when it last did: at most once a minute)."""
    await db_session.execute(
        update(UserSession)
        .where(UserSession.id == row_id, UserSession.ended_at.is_(None))
        .values(last_seen_at=now())
        .execution_options(synchronize_session=False)
    )


async def is_current(
    db_session: AsyncSession, row_id: uuid.UUID, user_id: uuid.UUID, epoch: int, *, absolute: dt.timedelta
) -> bool:
    """Whether the session of this row may still act as the person: not ended, of their epoch, not
    older than ``absolute`` since the sign-in."""
    row = await db_session.get(UserSession, row_id)
    return (
        row is not None
        and row.user_id == user_id
        and row.epoch == epoch
        and row.ended_at is None
        and row.created_at > now() - absolute
    )


def _active(user: User, *, idle: dt.timedelta, absolute: dt.timedelta) -> list[object]:
    moment = now()
    return [
        UserSession.user_id == user.id,
        UserSession.epoch == user.session_epoch,
        UserSession.ended_at.is_(None),
        UserSession.created_at > moment - absolute,
        # Its stored session expired without activity (``last_seen_at`` lags a minute at most).
        UserSession.last_seen_at > moment - idle - SEEN_EVERY,
    ]


async def active_sessions(
    db_session: AsyncSession, user: User, *, idle: dt.timedelta, absolute: dt.timedelta
) -> list[UserSession]:
    """The person's sessions that still work, the most recently seen first."""
    statement = (
        select(UserSession)
        .where(*_active(user, idle=idle, absolute=absolute))  # type: ignore[arg-type]
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return list((await db_session.execute(statement)).scalars())


async def end_one(db_session: AsyncSession, user_id: uuid.UUID, row_id: uuid.UUID) -> bool:
    """End one session of the person's (another person's is not found); False if it was not running."""
    ended = await db_session.execute(
        update(UserSession)
        .where(UserSession.id == row_id, UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now())
        .execution_options(synchronize_session=False)
    )
    return bool(ended.rowcount)  # type: ignore[attr-defined]


async def end_all(db_session: AsyncSession, user_id: uuid.UUID, *, but: uuid.UUID | None = None) -> int:
    """End every running session of the person, but ``but``'s; how many were running."""
    statement = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if but is not None:
        statement = statement.where(UserSession.id != but)
    ended = await db_session.execute(statement.values(ended_at=now()).execution_options(synchronize_session=False))
    return int(ended.rowcount or 0)  # type: ignore[attr-defined]


# --- the browser, in words -----------------------------------------------------------------

# Checked in this order: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (
    (re.compile(r"Edg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"SamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|Chromium/|CriOS/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
)
_SYSTEMS = (
    (re.compile(r"iPad"), "iPadOS"),
    (re.compile(r"iPhone|iPod"), "iOS"),
    (re.compile(r"Android"), "Android"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"Linux"), "Linux"),
)
UNKNOWN_BROWSER = N_("Navigateur inconnu")
ON_SYSTEM = N_("%(browser)s sur %(system)s")


def describe(user_agent: str) -> str:
    """ "Firefox sur Windows", from a User-Agent header (in the reader's language)."""
    browser = next((name for pattern, name in _BROWSERS if pattern.search(user_agent)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(user_agent)), None)
    if browser is None:
        browser = _(UNKNOWN_BROWSER)
    return _(ON_SYSTEM) % {"browser": browser, "system": system} if system else browser


@dataclass(frozen=True)
class SessionView:
    """One line of Mes sessions."""

    id: uuid.UUID
    device: str
    ip_address: str
    signed_in_at: dt.datetime
    last_seen_at: dt.datetime
    current: bool


def views(rows: list[UserSession], current: uuid.UUID | None) -> list[SessionView]:
    """The lines of Mes sessions, this browser's first."""
    lines = [
        SessionView(id=row.id, device=describe(row.user_agent), ip_address=row.ip_address,
                    signed_in_at=row.created_at, last_seen_at=row.last_seen_at, current=row.id == current)
        for row in rows
    ]  # fmt: skip
    return sorted(lines, key=lambda line: not line.current)
