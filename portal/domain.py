"""What a domain adds to the portal, declared once in its ``plugin.py``.

A ``Domain`` names its model modules (so that the metadata is complete), its routes, the
ORM listeners it installs, the row restrictions it registers, its jobs and schedules, and the
parts of other domains' pages it fills in.
Declaring it switches nothing on: ``install`` does, in every process (the application, a
worker, the scheduler, a command, the test suite: ``portal.domains.install``), and the
application takes its routes through Litestar's ``on_app_init``. Both are idempotent, so
a process may build any number of applications.

It imports nothing above the permission model (jobs and schedules register themselves), so
the layers under the domains that have tables, listeners and jobs of their own (the audit
log, background work) declare themselves the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from litestar.plugins import InitPluginProtocol

from portal.auth.policy import Restriction, register_restriction

if TYPE_CHECKING:
    from litestar.config.app import AppConfig
    from litestar.types import ControllerRouterHandler

    from portal.settings import Settings

Routes = Callable[["Settings"], Sequence["ControllerRouterHandler"]]


class Registrable(Protocol):
    """A job, a schedule (``portal.jobs.registry``) or a page part: registering it makes it known to this process."""

    def register(self) -> None: ...


def no_routes(_settings: Settings) -> Sequence[ControllerRouterHandler]:
    return ()


@dataclass(frozen=True, eq=False)
class Domain(InitPluginProtocol):
    """One domain of the portal, as a Litestar plugin."""

    name: str
    # The modules declaring its tables, imported by the plugin module: Alembic sees what the plugins
    # name (tests/test_domains.py checks that no mapped module is left out).
    models: Sequence[ModuleType] = ()
    # Its controllers and routers, for these settings (some exist in development only).
    routes: Routes = no_routes
    # Idempotent functions putting its ORM listeners on every session, in this order.
    listeners: Sequence[Callable[[], None]] = ()
    # How rows of a model (its own, or another domain's that belong to its rows) are narrowed.
    restrictions: Sequence[tuple[type, Restriction]] = ()
    # Its jobs and schedules (``Job`` handles, ``every(…)``).
    jobs: Sequence[Registrable] = ()
    schedules: Sequence[Registrable] = ()
    # The parts of lower domains' pages it fills in (``portal.web.extensions``).
    parts: Sequence[Registrable] = ()

    def install(self) -> None:
        """Switch the domain on in this process: listeners, restrictions, jobs, schedules. Idempotent."""
        for listen in self.listeners:
            listen()
        for model, restriction in self.restrictions:
            register_restriction(model, restriction)
        for registrable in (*self.jobs, *self.schedules, *self.parts):
            registrable.register()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        self.install()
        app_config.route_handlers.extend(self.routes(app_config.state["settings"]))
        return app_config
