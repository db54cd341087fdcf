"""Engines and session makers.

SQLite runs every transaction as ``BEGIN IMMEDIATE``: the web process, the embedded
worker and the scheduler all write to one file, and a deferred transaction that reads
and then writes would fail at once with "database is locked" when another writer
committed in between. Taking the write lock up front lets ``busy_timeout`` queue them.
Sessions opened ``read_only`` use a deferred ``BEGIN`` instead: they never write, and
must not hold the write lock while the same task commits progress in another session.
PostgreSQL gets a pre-pinged pool.

The web process's engines (``make_web_engine``, ``make_session_store_engine``) bound every
wait: for a pooled connection (``POOL_TIMEOUT_SECONDS``) and, on PostgreSQL, for a row lock
(``LOCK_TIMEOUT_MS``; SQLite has ``busy_timeout``). A request stuck behind a stalled one gives
up and is answered 503 (``portal/web/errors.py``) instead of queueing every later one behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anyio
from advanced_alchemy.extensions.litestar._utils import get_aa_scope_state
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from uuid_utils.compat import uuid7

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
    # Set-based inserts (INSERT … SELECT) make their keys in SQL; PostgreSQL has the same
    # function, created by a migration.
    dbapi_connection.create_function("portal_uuid7", 0, _uuid7_bytes)


def _uuid7_bytes() -> bytes:
    return uuid7().bytes


READ_ONLY = "portal_read_only"
# Set for the whole of a request that only reads (GET, HEAD): its transactions take no write lock.
_reading_only: ContextVar[bool] = ContextVar("portal_reading_only", default=False)


def _sqlite_on_begin(connection: Any) -> None:
    # A read-only transaction takes no write lock, so it never blocks a writer (WAL), nor another reader.
    deferred = connection.get_execution_options().get(READ_ONLY, False) or _reading_only.get()
    connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


_WRITING_GETS: set[str] = set()


def writes_on_get(path: str) -> str:
    """Declare that GET ``path`` writes (a redirect back from an outside site, which cannot POST): its
    transactions take SQLite's write lock up front, like a POST's. Returns ``path``."""
    _WRITING_GETS.add(path)
    return path


def read_only_requests(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: GET and HEAD requests read only, so on SQLite they begin deferred.

    Otherwise every page view would queue for SQLite's single write lock behind the others.
    SQLAlchemy runs its connection events in greenlets that share the request's context,
    so the flag reaches ``_sqlite_on_begin``. GET and HEAD never change anything (HTTP says so,
    and the CSRF protection only guards the other methods).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        # Only HTTP scopes have a method; the few GETs that must write (an OAuth callback) say so.
        if scope.get("method") not in {"GET", "HEAD"} or scope.get("path") in _WRITING_GETS:
            await app(scope, receive, send)
            return
        token = _reading_only.set(True)
        try:
            await app(scope, receive, send)
        finally:
            _reading_only.reset(token)

    return middleware


def releases_request_session(scope_key: str) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware (outermost): whatever happens, the request's database session is closed.

    advanced-alchemy commits and closes it in a before-send hook, which runs only when the
    response start reaches Litestar's outermost send. An error before that point (raised in the
    session middleware's send wrapper, say, or a response that never starts) would leave the
    connection checked out and its transaction open for good, holding its locks. Closing
    rolls back whatever was not committed and returns the connection to the pool; the close is
    shielded so that a cancelled request still returns it.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await app(scope, receive, send)
            finally:
                session: AsyncSession | None = get_aa_scope_state(scope, scope_key, pop=True)
                if session is not None:
                    with anyio.CancelScope(shield=True):
                        try:
                            await session.close()
                        except Exception:
                            # The pool discards a connection it cannot reset; nothing else to do.
                            log.warning("closing a request's database session failed", exc_info=True)

        return middleware

    return wrap


# What SQLite writes beside the database: its write-ahead log and the log's shared index.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_sqlite_file(url: str) -> Path | None:
    """Make the SQLite file of ``url`` readable by its owner only (600), before anything is written to it.

    The file is created here, empty (a valid database), with mode 600 whatever the umask; SQLite
    gives its ``-wal`` and ``-shm`` files the database's own mode. A folder created for it is 700.
    A file left readable by others (an older installation) is closed to them, with its companions.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        if candidate.exists() and candidate.stat().st_mode & 0o077:
            candidate.chmod(0o600)
    return path


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine configured for its dialect (a SQLite file is its owner's only)."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


POOL_TIMEOUT_SECONDS = 30
LOCK_TIMEOUT_MS = 20_000
# Session reads and writes are one short statement each: a few connections serve a busy process.
SESSION_STORE_POOL_SIZE = 2
SESSION_STORE_MAX_OVERFLOW = 6


def _bounded_waits(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    if not url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"server_settings": {"lock_timeout": str(LOCK_TIMEOUT_MS)}})
    return make_engine(url, **kwargs)


def make_web_engine(url: str) -> AsyncEngine:
    """The engine of the web process's requests (jobs have their own: ``LoopBoundSessions``)."""
    return _bounded_waits(url)


def make_session_store_engine(url: str) -> AsyncEngine:
    """A small engine of its own for the server-side session store (see ``portal/accounts/sessions.py``)."""
    return _bounded_waits(url, pool_size=SESSION_STORE_POOL_SIZE, max_overflow=SESSION_STORE_MAX_OVERFLOW)


def make_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_only_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


class LoopBoundSessions:
    """One engine per event loop, for code that runs outside the web app.

    dramatiq runs async actors on its own event-loop thread; an asyncpg pool must
    never be shared between loops, so jobs and the scheduler get engines of their own.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._makers: dict[
            int, tuple[AsyncEngine, async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]
        ] = {}
        self._lock = threading.Lock()

    def __call__(self, *, read_only: bool = False) -> AsyncSession:
        loop_id = id(asyncio.get_running_loop())
        with self._lock:
            makers = self._makers.get(loop_id)
            if makers is None:
                engine = make_engine(self.url)
                makers = (engine, make_session_maker(engine), make_read_only_session_maker(engine))
                self._makers[loop_id] = makers
        return makers[2]() if read_only else makers[1]()

    async def dispose_current(self) -> None:
        loop_id = id(asyncio.get_running_loop())
        with self._lock:
            makers = self._makers.pop(loop_id, None)
        if makers is not None:
            await makers[0].dispose()
