"""Parts of one domain's page that a domain above it fills in.

A page lower in the house (the dossier panel of ``clients``, the settings of ``firm``) names
its extension points; the domain that knows the content (``billing``) registers how to build
its part's template context. The lower page never imports the higher domain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

ContextPart = Callable[..., Awaitable[dict[str, Any]]]


class PageParts:
    """The named parts of a page, each with the function that builds its template context."""

    def __init__(self) -> None:
        self._parts: dict[str, ContextPart] = {}

    def provide(self, name: str) -> Callable[[ContextPart], ContextPart]:
        """Decorator: ``function`` builds the context of part ``name`` (one function per part)."""

        def register(function: ContextPart) -> ContextPart:
            self._parts[name] = function
            return function

        return register

    async def context(self, name: str, *args: Any) -> dict[str, Any]:
        """The context of part ``name``, or nothing when no domain fills it in."""
        part = self._parts.get(name)
        return await part(*args) if part is not None else {}
