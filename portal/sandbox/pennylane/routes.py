"""The Pennylane sandbox's routes, gathered under ``/pennylane``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency

from portal.sandbox.oauth_server import OUTSIDE
from portal.sandbox.pennylane import api, oauth, tokens
from portal.sandbox.pennylane.site import Site
from portal.sandbox.pennylane.state import current_state

STATUS_WORDS = {"open": "ouvert", "reopen": "rouvert", "closed": "clôturé", "frozen": "figé"}


@get("/", name="sandbox_pennylane:index", opt=OUTSIDE, include_in_schema=False)
async def index(request: Request[Any, Any, Any], sandbox_site: NamedDependency[Site]) -> Response[Any]:
    state = current_state()
    return sandbox_site.pages.render(
        "index.html",
        companies=state.companies,
        statuses=STATUS_WORDS,
        rate_limit=state.rate_limit,
        rate_window=f"{state.rate_window_seconds:g}",
        tokens_url=request.url_for("sandbox_pennylane:tokens"),
    )


def pennylane_router() -> Router:
    return Router(
        path="/pennylane",
        route_handlers=[index, *oauth.ROUTES, *tokens.ROUTES, *api.FILE_ROUTES, api.api_router()],
        include_in_schema=False,
    )
