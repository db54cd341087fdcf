"""The commerce sandbox's routes, gathered under ``/commerce``: an index, OAuth, the API."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency, Provide

from portal.integrations.commerce.sources import SourceAuth
from portal.sandbox.commerce import api, oauth
from portal.sandbox.commerce.catalogue import Account, PosProfile
from portal.sandbox.commerce.site import CommerceSite
from portal.sandbox.commerce.state import current_state
from portal.sandbox.oauth_server import OUTSIDE
from portal.settings import Settings


def _facts(account: Account) -> dict[str, str]:
    """What the index says of an account, in words: where it sells, at which rates, how it is paid."""
    profile = account.profile
    methods = ", ".join(method.name for method in profile.methods)
    if isinstance(profile, PosProfile):
        places = ", ".join(register.name for register in profile.registers)
        rates = ", ".join(rate.label.removeprefix("TVA ") for rate in profile.rates)
    else:
        places = ", ".join(destination.name for destination in profile.destinations)
        rates = ", ".join(sorted({f"{tax.label}" for tax in profile.taxes}))
    return {"places": places, "rates": rates, "methods": methods}


@get("/", name="sandbox_commerce:index", opt=OUTSIDE, include_in_schema=False)
async def index(request: Request[Any, Any, Any], commerce_site: NamedDependency[CommerceSite]) -> Response[Any]:
    state = current_state()
    accounts = list(state.accounts.values())
    api_url = request.url_for("sandbox_commerce:consumers").removesuffix("/consumers")
    return commerce_site.pages.render(
        "index.html",
        accounts=accounts,
        facts={account.id: _facts(account) for account in accounts},
        first_days={account.id: state.first_day(account) for account in accounts},
        api_key_auth=SourceAuth.API_KEY,
        today=state.today,
        rate_limit=state.rate_limit,
        rate_window=f"{state.rate_window_seconds:g}",
        api_url=api_url,
    )


def commerce_router(settings: Settings) -> Router:
    site = CommerceSite.from_settings(settings)

    def provide_site() -> CommerceSite:
        return site

    return Router(
        path="/commerce",
        route_handlers=[index, *oauth.ROUTES, api.api_router()],
        dependencies={"commerce_site": Provide(provide_site, sync_to_thread=False)},
        include_in_schema=False,
    )
