"""The app's own route table, as the permission and leak tests walk it."""

from __future__ import annotations

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler


def handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    """Every (path, handler) the app serves, without Litestar's automatic OPTIONS answers."""
    return [
        (route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if isinstance(handler, HTTPRouteHandler) and handler.http_methods != {"OPTIONS"}
    ]
