"""Parts of one domain's page that a domain above it fills in.

A page lower in the house (the dossier panel of ``clients``, the settings of ``firm``) names
its extension points; the domain that knows the content (``billing``) registers its part's
template and how to build that template's context. The lower page never imports the higher
domain, and its template includes the part by the name the domain gave (``parts.template``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

ContextPart = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Part:
    template: str
    context: ContextPart


class PageParts:
    """The named parts of a page, each with its template and the function that builds its context."""

    def __init__(self) -> None:
        self._parts: dict[str, Part] = {}

    def provide(self, name: str, template: str) -> Callable[[ContextPart], ContextPart]:
        """Decorator: part ``name`` is ``template``, and ``function`` builds its context (one per part)."""

        def register(function: ContextPart) -> ContextPart:
            self._parts[name] = Part(template, function)
            return function

        return register

    def template(self, name: str) -> str | None:
        """The template of part ``name``, or None when no domain fills it in."""
        part = self._parts.get(name)
        return part.template if part is not None else None

    async def context(self, name: str, *args: Any) -> dict[str, Any]:
        """The context of part ``name``, or nothing when no domain fills it in."""
        part = self._parts.get(name)
        return await part.context(*args) if part is not None else {}
