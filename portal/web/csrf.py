"""CSRF tokens bound to the session they were issued for.

Litestar's CSRF middleware is a double-submit cookie: the form's token must equal the cookie's,
and both carry an HMAC of the portal's secret. Any pair it issued works in any browser, so a
pair taken from one browser (or planted in a victim's cookie jar) passes in another. Here the
HMAC also covers a *binding*, a value of the session the token was issued in: the signed-in
session's own id. A token is therefore accepted only in the session it was made for.

A visitor who has not signed in has no session to bind to (the portal stores none for them);
their forms (the sign-in page, the invitation link) are bound to the empty pre-session value and
work as the double-submit cookie they were. At sign-in the session id changes, so the first page
after it finds a cookie issued for another session and issues a new token: forms of a page
opened before signing in (or in another session) answer "Formulaire expiré".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from litestar.config.csrf import CSRFConfig
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware._utils import should_bypass_middleware
from litestar.middleware.csrf import CSRF_SECRET_BYTES, CSRF_SECRET_LENGTH, CSRFMiddleware
from litestar.utils.scope.state import ScopeState

if TYPE_CHECKING:
    from litestar.connection import Request
    from litestar.types import ASGIApp, Receive, Scope, Send

Binding = Callable[["Scope"], str]
"""The value of the request's session a token is bound to ("" before any session)."""


def _signature(secret: str, token: str, binding: str) -> str:
    return hmac.new(secret.encode(), f"{token}|{binding}".encode(), hashlib.sha256).hexdigest()


class SessionBoundCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF middleware, its tokens signed together with the session's binding."""

    def __init__(self, app: ASGIApp, config: CSRFConfig, binding: Binding) -> None:
        super().__init__(app, config)
        self.binding = binding

    def _issue(self, binding: str) -> str:
        token = secrets.token_hex(CSRF_SECRET_BYTES)
        return token + _signature(self.config.secret, token, binding)

    def _valid(self, token: str, binding: str) -> str | None:
        """The random part of ``token`` if its signature holds for ``binding``, else None."""
        if len(token) < CSRF_SECRET_LENGTH + 1:
            return None
        random_part, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
        expected = _signature(self.config.secret, random_part, binding)
        return random_part if hmac.compare_digest(signature, expected) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or self._bypassed(scope):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
        binding = self.binding(scope)
        cookie = request.cookies.get(self.config.cookie_name)
        state = ScopeState.from_scope(scope)
        if request.method in self.config.safe_methods:
            # A cookie issued for another session (or none yet): a new token, for this one.
            fresh = cookie is None or self._valid(cookie, binding) is None
            token = state.csrf_token = self._issue(binding) if fresh else str(cookie)
            # The wrapper sets the cookie when it is given none.
            wrapped = self.create_send_wrapper(send=send, token=token, csrf_cookie=None if fresh else cookie)
            await self.app(scope, receive, wrapped)
            return
        posted = request.headers.get(self.config.header_name)
        content_type, _ = request.content_type
        if not posted and content_type in {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}:
            form = await request.form()
            value = form.get("_csrf_token", None)
            posted = value if isinstance(value, str) else None
        if posted is None or cookie is None:
            raise PermissionDeniedException("CSRF token verification failed")
        from_form, from_cookie = self._valid(posted, binding), self._valid(cookie, binding)
        if from_form is None or from_cookie is None or not hmac.compare_digest(from_form, from_cookie):
            raise PermissionDeniedException("CSRF token verification failed")
        state.csrf_token = posted
        await self.app(scope, receive, send)

    def _bypassed(self, scope: Scope) -> bool:
        return should_bypass_middleware(
            scope=scope,
            scopes=self.scopes,
            exclude_opt_key=self.config.exclude_from_csrf_key,
            exclude_path_pattern=self.exclude,
        )


def session_bound_csrf(config: CSRFConfig, binding: Binding) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory, for ``Litestar(middleware=[...])`` (``csrf_config`` is then left unset,
    so that Litestar does not add its own unbound check beside this one)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        return SessionBoundCSRFMiddleware(app, config, binding)

    return middleware
