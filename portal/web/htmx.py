"""One answer for htmx and for plain requests: the fragment htmx swaps in, or what a browser loads."""

from __future__ import annotations

from typing import Any

from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest, HTMXTemplate


def page_or_partial(request: HTMXRequest, page: str, partial: str, context: dict[str, Any]) -> Template:
    """The ``partial`` for an htmx request; the whole ``page`` otherwise (a reload, a shared link, no script)."""
    if request.htmx:
        return HTMXTemplate(template_name=partial, context=context)
    return Template(template_name=page, context=context)


def partial_or_redirect(
    request: HTMXRequest, partial: str, context: dict[str, Any], location: str
) -> Template | Redirect:
    """After a form posted: the ``partial`` for htmx, else a redirect to ``location`` (303)."""
    if request.htmx:
        return HTMXTemplate(template_name=partial, context=context)
    return Redirect(location, status_code=303)
