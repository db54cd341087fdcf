"""Where every way of signing in ends: the one place a session becomes a person's.

The password form, and the ways added beside it (single sign-on, a link that sets a new
password), each prove who the person is, then call ``finish_sign_in``. It asks for the
person's second factor when they have one: the browser then holds only a short-lived
*pending* marker (``/connexion/code``), and the session becomes the person's once a code
passes. ``establish_session`` is the only function that writes a signed-in session, so what
holds for one way holds for all of them: a fresh session id (no fixation), the person's session
epoch, a row of Mes sessions (``portal.accounts.user_sessions``) that the session names, the
firm's second-factor rule, and the page they asked for.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.accounts.second_factor import SecondFactorService, obligation_at_sign_in
from portal.accounts.sessions import SESSION_EPOCH, SESSION_ROW, SESSION_SEEN, SESSION_USER_ID, rotate_session
from portal.accounts.user_sessions import open_session_row
from portal.web.context import client_address
from portal.web.redirects import local_path

SESSION_PENDING = "second_factor_pending"
"""Session key of a sign-in waiting for its second factor: user id, epoch, next path, started at, attempts."""
SESSION_DUE = "second_factor_due"
"""Session key: the firm's rule asks this person to enrol by this date (ISO); a banner says so on every page."""
SESSION_MUST_ENROL = "second_factor_must_enrol"
"""Session key: the grace period is over; only enrolment and signing out are open until the person enrols."""

PENDING_LIFETIME = dt.timedelta(minutes=5)
TRUSTED_COOKIE = "portal_trusted_browser"
"""The cookie of a browser remembered after a right code (``__Host-`` prefixed with https)."""
CODE_PAGE = "/connexion/code"
ENROL_PAGE = "/compte/double-authentification"
# What a person who must enrol first may still reach (static files are outside authentication).
OPEN_WHILE_ENROLLING = (ENROL_PAGE, "/deconnexion", "/compte/langue", "/connexion", "/static/")


@dataclass(frozen=True)
class Pending:
    """A sign-in whose first step passed, waiting for the person's second factor."""

    user_id: uuid.UUID
    epoch: int
    next_path: str
    started_at: dt.datetime
    attempts: int

    def expired(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(dt.UTC)) - self.started_at > PENDING_LIFETIME

    def as_session(self) -> dict[str, Any]:
        return {
            "user_id": str(self.user_id),
            "epoch": self.epoch,
            "next": self.next_path,
            "started_at": self.started_at.isoformat(),
            "attempts": self.attempts,
        }


def pending_of(request: Request[Any, Any, Any]) -> Pending | None:
    """The sign-in waiting for a second factor in this browser's session, if any (malformed: none)."""
    raw = request.session.get(SESSION_PENDING) if "session" in request.scope else None
    if not isinstance(raw, dict):
        return None
    try:
        return Pending(
            user_id=uuid.UUID(str(raw["user_id"])),
            epoch=int(raw["epoch"]),
            next_path=local_path(str(raw.get("next", "/"))),
            started_at=dt.datetime.fromisoformat(str(raw["started_at"])),
            attempts=int(raw.get("attempts", 0)),
        )
    except (KeyError, ValueError, TypeError):
        return None


async def finish_sign_in(
    request: Request[Any, Any, Any], db_session: AsyncSession, user: User, next_path: str
) -> Redirect:
    """The person proved who they are: ask for their second factor if they have one (unless this browser
    was remembered after a right code), else sign them in."""
    second_factors = SecondFactorService(db_session)
    if await second_factors.is_active(user.id):
        if await second_factors.trusts(user, request.cookies.get(trusted_cookie_name(request))):
            return await establish_session(request, db_session, user, next_path, second_factor=True)
        request.clear_session()
        pending = Pending(user.id, user.session_epoch, local_path(next_path), dt.datetime.now(dt.UTC), 0)
        request.set_session({SESSION_PENDING: pending.as_session()})
        rotate_session(request)
        return Redirect(CODE_PAGE, status_code=303)
    return await establish_session(request, db_session, user, next_path, second_factor=False)


async def establish_session(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    user: User,
    next_path: str,
    *,
    second_factor: bool,
) -> Redirect:
    """Make this browser's session the person's, with a new id, and send them on to ``next_path``.

    ``user`` is the person as loaded in the request's database session: their row of Mes
    sessions is written in it, and commits with the sign-in. Without a second factor, the firm's
    rule may ask for one: a reminder on every page during the person's grace period, and after it
    enrolment before anything else.
    """
    row = open_session_row(user, ip_address=client_address(request), user_agent=request.headers.get("user-agent", ""))
    request.clear_session()
    values: dict[str, Any] = {
        SESSION_USER_ID: str(user.id),
        SESSION_EPOCH: user.session_epoch,
        SESSION_ROW: str(row.id),
        SESSION_SEEN: int(time.time()),
    }
    target = local_path(next_path)
    if not second_factor:
        obligation = await obligation_at_sign_in(db_session, user)
        if obligation.overdue:
            values[SESSION_MUST_ENROL] = True
            target = ENROL_PAGE
        elif obligation.due is not None:
            values[SESSION_DUE] = obligation.due.isoformat()
    request.set_session(values)
    rotate_session(request)
    return Redirect(target, status_code=303)


def trusted_cookie_name(request: Request[Any, Any, Any]) -> str:
    return f"__Host-{TRUSTED_COOKIE}" if request.app.state.settings.secure_cookies else TRUSTED_COOKIE


def remember_browser(
    request: Request[Any, Any, Any], response: Response[Any], token: str, expires: dt.datetime
) -> None:
    """Give this browser the cookie of a remembered browser (only its hash is stored)."""
    secure = bool(request.app.state.settings.secure_cookies)
    response.set_cookie(
        key=trusted_cookie_name(request),
        value=token,
        max_age=int((expires - dt.datetime.now(dt.UTC)).total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def second_factor_enrolled(request: Request[Any, Any, Any]) -> None:
    """The person enrolled: the reminder and the restriction of the firm's rule end for this session."""
    request.session.pop(SESSION_DUE, None)
    request.session.pop(SESSION_MUST_ENROL, None)


def enrolment_first(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Before every handler: someone the firm's rule now obliges to enrol reaches nothing else."""
    if "session" not in request.scope or not request.session.get(SESSION_MUST_ENROL):
        return None
    if request.url.path.startswith(OPEN_WHILE_ENROLLING):
        return None
    if request.headers.get("hx-request"):  # the whole page goes, not a fragment swapped into it
        return Response(b"", status_code=204, headers={"HX-Redirect": ENROL_PAGE})
    return Redirect(ENROL_PAGE, status_code=303)
