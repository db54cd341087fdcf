"""What the sandbox knows from the portal's settings: its registered application and its pages.

Pennylane registers each partner application with its redirect URIs. The sandbox has one
application, the portal (``SANDBOX_CLIENT_ID``), and accepts its callbacks on the portal's
own host and on loopback, where tests and ``make run`` listen on ports chosen at start.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal.sandbox.pennylane.pages import Pages
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    secret: str
    name: str
    redirect_hosts: frozenset[str]

    def accepts_secret(self, secret: str) -> bool:
        return secrets.compare_digest(secret.encode(), self.secret.encode())

    def accepts_redirect(self, uri: str) -> bool:
        parts = urlsplit(uri)
        return (
            parts.scheme in {"http", "https"}
            and parts.hostname in self.redirect_hosts
            and not parts.fragment
            and parts.username is None
        )


@dataclass(frozen=True)
class Site:
    pages: Pages
    clients: Mapping[str, RegisteredClient]

    @classmethod
    def from_settings(cls, settings: Settings) -> Site:
        portal_host = urlsplit(settings.base_url).hostname
        hosts = LOOPBACK | ({portal_host} if portal_host else set())
        portal = RegisteredClient(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, "Portail Cabinet", frozenset(hosts))
        return cls(pages=Pages(settings.templates_dir / "sandbox" / "pennylane"), clients={portal.client_id: portal})
