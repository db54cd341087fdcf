"""Where every way of signing in ends: the one place a session becomes a person's.

The password form, and the ways added beside it (a second factor, single sign-on, a link
that sets a new password), each prove who the person is, then call ``finish_sign_in``.
Nothing else writes a signed-in session, so what holds for one way holds for all of them:
a fresh session id (no fixation), the person's session epoch, a row of Mes sessions
(``portal.accounts.user_sessions``) that the session names, and the page they asked for.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Request
from litestar.response import Redirect

from portal.accounts.models import User
from portal.accounts.sessions import SESSION_EPOCH, SESSION_ROW, SESSION_SEEN, SESSION_USER_ID, rotate_session
from portal.accounts.user_sessions import open_session_row
from portal.web.context import client_address
from portal.web.redirects import local_path


def finish_sign_in(request: Request[Any, Any, Any], user: User, next_path: str) -> Redirect:
    """Make this browser's session the person's, with a new id, and send them on to ``next_path``.

    ``user`` is the person as loaded in the request's database session: their row of Mes
    sessions is written in it, and commits with the sign-in.
    """
    row = open_session_row(user, ip_address=client_address(request), user_agent=request.headers.get("user-agent", ""))
    request.clear_session()
    request.set_session({
        SESSION_USER_ID: str(user.id),
        SESSION_EPOCH: user.session_epoch,
        SESSION_ROW: str(row.id),
        SESSION_SEEN: int(time.time()),
    })  # fmt: skip
    rotate_session(request)
    return Redirect(local_path(next_path), status_code=303)
