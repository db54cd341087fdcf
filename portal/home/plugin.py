"""Accueil: the page after sign-in, what needs the signed-in person across the domains below it."""

from __future__ import annotations

from portal.domain import Domain
from portal.home.controllers import HomeController

plugin = Domain(name="home", routes=lambda _settings: [HomeController])
