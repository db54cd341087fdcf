"""The app's own route table, as the permission and leak tests walk it."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.utils.signature import ParsedSignature


def handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    """Every (path, handler) the app serves, without Litestar's automatic OPTIONS answers."""
    return [
        (route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if isinstance(handler, HTTPRouteHandler) and handler.http_methods != {"OPTIONS"}
    ]


# What Litestar gives a handler or a dependency by name, never from the query string.
_INJECTED = {"request", "data", "socket", "state", "scope", "headers", "cookies", "query", "self"}


def query_parameters(path: str, handler: HTTPRouteHandler) -> set[str]:
    """The query parameters ``handler`` reads: its own parameters and those of every dependency it is
    given (transitively), less path parameters, dependencies and what Litestar injects."""
    dependencies = handler.resolve_dependencies()
    names = set(handler.parsed_fn_signature.parameters)
    pending, visited = list(dependencies.values()), set()
    while pending:
        provider = pending.pop()
        if id(provider) in visited:
            continue
        visited.add(id(provider))
        signature = getattr(provider, "parsed_fn_signature", None) or ParsedSignature.from_fn(provider.dependency, {})
        names |= set(signature.parameters)
    return names - set(dependencies) - set(re.findall(r"\{(\w+)", path)) - _INJECTED
