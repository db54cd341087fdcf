"""Per-request context: request id, principal, locale, the client's address."""

from __future__ import annotations

import functools
import ipaddress
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


UNKNOWN_ADDRESS = "inconnue"
# What the audit log and the sign-in attempts keep of an address (``String(64)``).
ADDRESS_MAX_LENGTH = 64
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.cache
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in trusted)


def _address(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def forwarded_client(peer: str, forwarded_for: list[str], trusted: tuple[str, ...]) -> str:
    """Who a request comes from: its peer, unless the peer is a trusted proxy; then, reading
    ``X-Forwarded-For`` from the right (each proxy appends whom it heard from), the first hop
    that is not a trusted proxy. Anything that is not an address ends the walk: only what the
    trusted proxies wrote is believed."""
    networks = _networks(trusted)
    current = _address(peer)
    if current is None:
        return peer[:ADDRESS_MAX_LENGTH] or UNKNOWN_ADDRESS
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    while any(current in network for network in networks) and hops:
        previous = _address(hops.pop())
        if previous is None:
            break
        current = previous
    return str(current)[:ADDRESS_MAX_LENGTH]


def client_address(request: Request[Any, Any, Any]) -> str:
    """The address a request comes from, as the throttling and the audit log record it.

    ``X-Forwarded-For`` counts only when the request comes from one of ``PORTAL_TRUSTED_PROXIES``
    (none by default): anyone else could write any address there.
    """
    if request.client is None:
        return UNKNOWN_ADDRESS
    settings = request.app.state.get("settings")
    trusted: tuple[str, ...] = settings.trusted_proxies if settings is not None else ()
    return forwarded_client(request.client.host, request.headers.getall("x-forwarded-for", []), trusted)


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
