"""What the commerce sandbox knows from the portal's settings: its registered application and pages.

The unified API registers each partner application with its redirect URIs. As in the
Pennylane sandbox (whose ``RegisteredClient`` and ``Pages`` it reuses), there is one
application, the portal (``SANDBOX_CLIENT_ID``), whose callbacks are accepted on the
portal's own host and on loopback, where tests and ``make run`` listen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal.sandbox.pennylane.pages import Pages
from portal.sandbox.pennylane.site import LOOPBACK, RegisteredClient
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings


@dataclass(frozen=True)
class CommerceSite:
    pages: Pages
    clients: Mapping[str, RegisteredClient]

    @classmethod
    def from_settings(cls, settings: Settings) -> CommerceSite:
        portal_host = urlsplit(settings.base_url).hostname
        hosts = LOOPBACK | ({portal_host} if portal_host else set())
        portal = RegisteredClient(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, "Portail Cabinet", frozenset(hosts))
        return cls(pages=Pages(settings.templates_dir / "sandbox" / "commerce"), clients={portal.client_id: portal})
