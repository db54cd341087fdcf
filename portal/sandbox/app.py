"""Mounting the sandbox: a router for the portal, or an application of its own for tests.

The portal mounts ``sandbox_router(settings)`` when ``settings.sandbox`` is on (``make run``,
tests), never in production. Every route is open: no session, no CSRF (``OUTSIDE``), since
they stand for another site and for server-to-server calls.
"""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.di import Provide

from portal.sandbox.commerce import commerce_router
from portal.sandbox.oidc import oidc_router
from portal.sandbox.pennylane import pennylane_router
from portal.sandbox.pennylane.site import Site
from portal.settings import Settings
from portal.web.forms import FormDecoding


def sandbox_router(settings: Settings) -> Router:
    """``/sandbox`` and what it serves: ``/sandbox/pennylane/...``, ``/sandbox/commerce/...``, ``/sandbox/oidc/...``."""
    site = Site.from_settings(settings)

    def provide_site() -> Site:
        return site

    return Router(
        path="/sandbox",
        route_handlers=[pennylane_router(), commerce_router(settings), oidc_router(settings)],
        dependencies={"sandbox_site": Provide(provide_site, sync_to_thread=False)},
        include_in_schema=False,
    )


def create_sandbox_app(settings: Settings) -> Litestar:
    """The sandbox alone, as tests serve it on a loopback port."""
    return Litestar(
        route_handlers=[sandbox_router(settings)], plugins=[FormDecoding()], openapi_config=None, debug=settings.debug
    )
