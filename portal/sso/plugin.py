"""Single sign-on: the identities linked to people, the way back from the providers, the sign-in page's buttons."""

from __future__ import annotations

from portal.accounts.pages import SIGN_IN
from portal.domain import Domain
from portal.sso import models
from portal.sso.controllers import SignOnController, buttons

plugin = Domain(
    name="sso",
    models=[models],
    routes=lambda _settings: [SignOnController],
    parts=[SIGN_IN.part("sso", "sso/_partials/buttons.html", buttons)],
)
