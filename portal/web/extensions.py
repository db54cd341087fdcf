"""Parts of one domain's page that a domain above it fills in.

A page lower in the house (the dossier panel of ``clients``, the settings of ``firm``) names
its extension points; the domain that knows the content (``billing``) declares its part's
template and how to build that template's context (``PANEL_TABS.part(…)``), and its plugin
registers it. The lower page never imports the higher domain, and its template includes the
part by the name the domain gave (``parts.template``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

ContextPart = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Part:
    """Part ``name`` of ``page``: ``template``, with the context ``context`` builds."""

    page: PageParts
    name: str
    template: str
    context: ContextPart

    def register(self) -> None:
        """Fill the part in on its page (the domain's plugin does). Idempotent: one per name."""
        self.page._parts[self.name] = self  # noqa: SLF001 - the page's own registry


class PageParts:
    """The named parts of a page, each with its template and the function that builds its context."""

    def __init__(self) -> None:
        self._parts: dict[str, Part] = {}

    def part(self, name: str, template: str, context: ContextPart) -> Part:
        """Part ``name`` is ``template``, and ``context`` builds its context; registered by the domain's plugin."""
        return Part(self, name, template, context)

    def template(self, name: str) -> str | None:
        """The template of part ``name``, or None when no domain fills it in."""
        part = self._parts.get(name)
        return part.template if part is not None else None

    async def context(self, name: str, *args: Any) -> dict[str, Any]:
        """The context of part ``name``, or nothing when no domain fills it in."""
        part = self._parts.get(name)
        return await part.context(*args) if part is not None else {}
