"""Server-side sessions with a fresh session id at every sign-in, and the session authentication."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar.store import SQLAlchemyStore
from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.security.session_auth import SessionAuth
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.types import Empty, Message, ScopeSession
from sqlalchemy.ext.asyncio import AsyncEngine

from portal.accounts.models import WebSession
from portal.accounts.services import load_principal
from portal.accounts.user_sessions import SEEN_EVERY, is_current, touch
from portal.auth.policy import Principal
from portal.db.engine import make_session_store_engine
from portal.settings import Settings

_ROTATE = "portal_rotate_session"
_NEW_ID = "portal_new_session_id"

SESSION_USER_ID = "user_id"
SESSION_EPOCH = "epoch"
SESSION_ROW = "row"  # the id of the person's ``user_session`` row for this browser (Mes sessions)
SESSION_SEEN = "seen"  # when that row's ``last_seen_at`` was last written (Unix time)


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions that are stored only when they hold something, and that can drop
    the current id and issue a new one.

    A visitor with nothing in their session (``/healthz``, the sign-in page, a robot) gets no
    stored session and no session cookie: otherwise anyone could fill the store with one
    request each. A session emptied or cleared (sign-out, a flash message read) is deleted
    from the store and its cookie expired.

    Sign-in asks for a new id, so that an id planted before sign-in (session fixation)
    never becomes an authenticated session.
    """

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        new_id = connection.scope.get("state", {}).get(_NEW_ID)
        return str(new_id) if new_id else super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        cookie_id = connection.cookies.get(self.config.key)
        known_id = cookie_id if cookie_id and cookie_id != "null" else None
        if scope_session is Empty or not scope_session:
            if known_id:
                # Deletes the stored session under the visitor's id and expires their cookie.
                await super().store_in_message(Empty, message, connection)
            return
        state = connection.scope.setdefault("state", {})
        if state.get(_ROTATE) and not state.get(_NEW_ID):
            if known_id:
                await self.delete(known_id, store=self.config.get_store_from_app(connection.scope["app"]))
            state[_NEW_ID] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)


@dataclass
class PortalSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def build_session_store(settings: Settings) -> tuple[Store, AsyncEngine | None]:
    """The store of server-side sessions, and the engine it owns (to dispose of at shutdown).

    On PostgreSQL sessions live in the ``web_session`` table, read and written through an engine
    of their own, never through the requests' pool. The session middleware loads a session
    before the request takes its connection and saves it after the response is built, while
    that connection is still checked out (the request commits just before the response is
    sent). Through one pool, a busy process ended with every connection held by a request
    waiting for a second one to save its session: the pool was exhausted for good. With two
    pools a request holds at most one connection of each, and a store connection is held for
    one short statement that waits for nothing a request holds, so no wait can go round.

    Writing the session in the request's own transaction would avoid the second connection
    too, but would tie it to the request's outcome: a refused form (rolled back) would lose
    the flash message or the sign-out it carries, and every signed-in GET would write in a
    transaction meant to read only.

    On SQLite sessions are files: a database store would write while the request's transaction
    holds the single write lock.
    """
    if settings.is_sqlite:
        return FileStore(settings.var_dir / "sessions", create_directories=True), None
    engine = make_session_store_engine(settings.database_url)
    config = SQLAlchemyAsyncConfig(engine_instance=engine, create_all=False)
    return SQLAlchemyStore(config, model=WebSession, namespace="sessions"), engine


def session_cookie_name(settings: Settings) -> str:
    """The session cookie's name: host-only (``__Host-``) when the portal is served over HTTPS."""
    return "__Host-portal_session" if settings.secure_cookies else "portal_session"


SIGN_IN_PATH = "/connexion"


def is_signed_in(scope: Any) -> bool:
    """The request was authenticated as a person (the session authentication ran and found one)."""
    return isinstance(scope.get("user"), Principal)


def csrf_binding(settings: Settings) -> Callable[[Any], str]:
    """What a CSRF token is bound to (``portal.web.csrf``): a signed-in session's id, read from its
    cookie; before sign-in, nothing (the empty pre-session value)."""
    cookie = session_cookie_name(settings).encode("latin-1")

    def binding(scope: Any) -> str:
        session = scope.get("session")
        if not isinstance(session, dict) or not session.get(SESSION_USER_ID):
            return ""
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                for part in value.split(b";"):
                    key, _, found = part.strip().partition(b"=")
                    if key == cookie:
                        return str(found.decode("latin-1"))
        return ""

    return binding


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Ask for a new session id when this response is sent."""
    connection.scope.setdefault("state", {})[_ROTATE] = True


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def build_session_auth(settings: Settings, alchemy: SQLAlchemyAsyncConfig) -> SessionAuth[Principal, Any]:
    absolute = dt.timedelta(seconds=settings.session_absolute_seconds)

    async def retrieve_principal(
        session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]
    ) -> Principal | None:
        user_id = _uuid(session.get(SESSION_USER_ID))
        if user_id is None:
            return None
        row_id = _uuid(session.get(SESSION_ROW))
        epoch = int(session.get(SESSION_EPOCH, -1))
        db_session = alchemy.provide_session(connection.app.state, connection.scope)
        principal = None
        if row_id is not None:
            seen = int(session.get(SESSION_SEEN, 0))
            if time.time() - seen >= SEEN_EVERY.total_seconds():
                # The transaction's first statement, once a minute (see portal.accounts.user_sessions).
                await touch(db_session, row_id)
                session[SESSION_SEEN] = int(time.time())
            if await is_current(db_session, row_id, user_id, epoch, absolute=absolute):
                principal = await load_principal(db_session, user_id, epoch)
        if principal is None:
            # Ended from Mes sessions, past its absolute lifetime, signed out everywhere, deactivated
            # or deleted (or signed in before sessions had rows): forget this session for good.
            connection.clear_session()
        return principal

    secure = settings.secure_cookies
    return SessionAuth[Principal, Any](
        retrieve_user_handler=retrieve_principal,
        session_backend_config=PortalSessionConfig(
            key=session_cookie_name(settings),
            secure=secure,
            httponly=True,
            samesite="lax",
            max_age=settings.session_max_age_seconds,
        ),
        exclude=["^/static/"],
        exclude_opt_key="exclude_from_auth",
    )
