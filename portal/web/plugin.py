"""The portal's own pages: the home page, the language switch, the health check."""

from __future__ import annotations

from portal.domain import Domain
from portal.web.controllers import WebController, health

plugin = Domain(name="web", routes=lambda _settings: [WebController, health])
