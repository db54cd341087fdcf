"""The server's own time per request, in a ``Server-Timing`` response header.

``Server-Timing: app;dur=12.34`` is the time in milliseconds from when the request
entered the middleware stack to when the response started (its status line and
headers sent): routing aside, what the portal spent on it, session and authentication
included. Under load a client's latency also counts the time spent queueing; this does not.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "ServerTimingMiddleware", "server_time_ms"]

HEADER = "server-timing"
METRIC = "app"


class ServerTimingMiddleware:
    """Pure ASGI middleware: adds ``Server-Timing: app;dur=…`` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:  # a str enum: equal to the plain "http" servers send
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - started) * 1000
                value = f"{METRIC};dur={elapsed_ms:.2f}".encode("latin-1")
                message["headers"] = [*message.get("headers", ()), (HEADER.encode("latin-1"), value)]
            await send(message)

        await self.app(scope, receive, send_timed)


def server_time_ms(header: str | None) -> float | None:
    """The ``app`` duration in a ``Server-Timing`` header value, in milliseconds; ``None`` if absent."""
    for metric in (header or "").split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        if name != METRIC:
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur":
                return float(value.strip().strip('"'))
    return None
