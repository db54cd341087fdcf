"""Connecting Pennylane: its description for the shared authorization-code flow (``portal.integrations.oauth``).

Pennylane's token endpoint reads the client's credentials from the form
(``client_secret_post``), as its documentation shows; the portal asks for read access to
fiscal years and FEC exports.
"""

from __future__ import annotations

from typing import Any

import httpx2

from portal.i18n import N_
from portal.integrations import oauth
from portal.integrations.oauth import AuthorizationStart, Endpoints
from portal.integrations.pennylane.errors import AuthorizationError, PennylaneError
from portal.settings import Settings

__all__ = ["PROVIDER", "SCOPES", "AuthorizationStart", "PennylaneEndpoints", "finish_authorization",
           "start_authorization"]  # fmt: skip

SCOPES = ("fiscal_years:readonly", "exports:fec")
TIMEOUT = httpx2.Timeout(30.0, connect=10.0)
USER_AGENT = "PortailCabinet/1 (+pennylane)"

PROVIDER = oauth.OAuthProvider(
    settings_key="pennylane",
    user_agent=USER_AGENT,
    timeout=TIMEOUT,
    scopes=SCOPES,
    error=PennylaneError,
    authorization_error=AuthorizationError,
    messages=oauth.FlowMessages(
        not_configured=N_("La connexion à Pennylane n'est pas configurée (identifiants de l'application manquants)."),
        state_mismatch=N_("La réponse de Pennylane ne correspond pas à cette demande de connexion. Recommencez."),
        access_denied=N_("L'accès a été refusé sur Pennylane : la connexion n'a pas été faite."),
        invalid_grant=N_(
            "Pennylane n'a pas accepté l'autorisation (expirée ou déjà utilisée). Recommencez la connexion."
        ),
        client_refused=N_("Pennylane a refusé les identifiants de l'application."),
        unreachable=N_("Pennylane ne répond pas pour le moment. Réessayez plus tard."),
    ),
)


class PennylaneEndpoints(Endpoints):
    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoints:
        return PROVIDER.endpoints(settings)


def start_authorization(settings: Settings, redirect_uri: str) -> AuthorizationStart:
    """Where to send the accountant to authorize the portal, and what to keep until they come back."""
    return oauth.start_authorization(PROVIDER, settings, redirect_uri)


async def finish_authorization(settings: Settings, **callback: Any) -> dict[str, Any]:
    """The token dict (``access_token``, ``refresh_token``, ``expires_at``, ``scope``…) the callback's code gives."""
    return await oauth.finish_authorization(PROVIDER, settings, **callback)
