"""Security headers on every response, whoever makes it.

A handler's page, an exception handler's error page, and what Litestar answers by itself before
any route is found (404 of an unknown address, 405 of a wrong method) all leave through the
application's ``before_send`` hooks, so the headers are added there and nowhere else: an
``after_request`` hook sees only the responses of handlers that returned normally.

A response may set its own value of any of these (the sandbox's consent page its policy, the
invitation link ``no-referrer``); the defaults fill in what it did not say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Two years, subdomains included: what the HSTS preload list asks for.
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"
NO_STORE = "no-store"
# Files anyone may cache (CSS, scripts, images): they say nothing about anyone.
_PUBLIC_PREFIX = "/static/"


def _cookie_names(scope: Scope) -> set[str]:
    names: set[str] = set()
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            names.update(part.split("=", 1)[0].strip() for part in value.decode("latin-1").split(";"))
    return names


def _private(scope: Scope, session_cookie: str, private_paths: frozenset[str], *, signed_in: bool) -> bool:
    """A response no cache may keep: to a signed-in request (or one that carries a session), or a private page."""
    path = str(scope.get("path", ""))
    if path.startswith(_PUBLIC_PREFIX):
        return False
    return signed_in or path in private_paths or session_cookie in _cookie_names(scope)


def security_headers(
    *, https: bool, session_cookie: str, private_paths: Iterable[str], is_signed_in: Callable[[Scope], bool]
) -> BeforeMessageSendHookHandler:
    """The ``before_send`` hook adding the security headers to every HTTP response.

    ``https``: the portal is served over HTTPS (HSTS is sent). ``session_cookie``: a request
    carrying it belongs to a session, and its answer is ``no-store``, as is the answer to any
    signed-in request (``is_signed_in(scope)``) and to ``private_paths`` (the sign-in page).
    """
    paths = frozenset(private_paths)

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        if https:
            headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        if _private(scope, session_cookie, paths, signed_in=is_signed_in(scope)):
            cache_control = headers.get("Cache-Control", "")
            if NO_STORE not in cache_control:
                headers["Cache-Control"] = NO_STORE

    return hook
