"""Per-request context: request id, principal, locale, the client's address."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

from litestar import Request, Response

from portal.auth.policy import Principal
from portal.i18n import DEFAULT_LOCALE, LOCALES, set_locale

LOCALE_COOKIE = "portal_lang"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_principal: ContextVar[Principal | None] = ContextVar("portal_principal", default=None)
_request_id: ContextVar[str | None] = ContextVar("portal_request_id", default=None)


def current_principal() -> Principal | None:
    return _principal.get()


def current_request_id() -> str | None:
    return _request_id.get()


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "inconnue"


def choose_locale(request: Request[Any, Any, Any], principal: Principal | None) -> str:
    """The person's own choice (account, then cookie), else French."""
    if principal is not None and principal.locale in LOCALES:
        return principal.locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    return cookie if cookie in LOCALES else DEFAULT_LOCALE


async def before_request(request: Request[Any, Any, Any]) -> None:
    """Runs after authentication, before every handler: sets the request id, who acts, in which language."""
    incoming = request.headers.get("x-request-id", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    _request_id.set(request_id)
    user = request.scope.get("user")
    principal = user if isinstance(user, Principal) else None
    _principal.set(principal)
    set_locale(choose_locale(request, principal))


async def after_request(response: Response[Any]) -> Response[Any]:
    """The request id on the answer (the security headers are added to every response: ``portal.web.headers``)."""
    headers = response.headers
    request_id = _request_id.get()
    if request_id:
        headers["X-Request-ID"] = request_id
    return response
