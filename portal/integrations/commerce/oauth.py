"""Connecting a POS or e-commerce source by consent: the unified API's description for the shared
authorization-code flow (``portal.integrations.oauth``), against ``settings.commerce_oauth_url``.

The consent page lists one source's accounts (``source=<code>``); the token the callback's
code gives carries ``consumer_id``, the account it speaks for. Refresh tokens rotate:
whoever refreshes must store the new pair at once (the client's ``on_token``). ``revoke``
ends an authorization when a connection is removed; it is best effort, since the
connection is gone on the portal's side whatever the source says.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuthError  # type: ignore[import-untyped]

from portal.i18n import N_
from portal.integrations import oauth
from portal.integrations.commerce.errors import AuthorizationError, CommerceError
from portal.integrations.commerce.sources import Source, SourceAuth
from portal.integrations.oauth import AuthorizationStart, Endpoints
from portal.settings import Settings

__all__ = ["PROVIDER", "AuthorizationStart", "CommerceEndpoints", "finish_authorization", "revoke",
           "start_authorization"]  # fmt: skip

TIMEOUT = httpx2.Timeout(60.0, connect=10.0)  # a page of 1,000 orders may take a while to make
USER_AGENT = "PortailCabinet/1 (+commerce)"

PROVIDER = oauth.OAuthProvider(
    settings_key="commerce",
    user_agent=USER_AGENT,
    timeout=TIMEOUT,
    error=CommerceError,
    authorization_error=AuthorizationError,
    lost_grant_errors=oauth.LOST_GRANT_ERRORS | {"invalid_token"},
    messages=oauth.FlowMessages(
        not_configured=N_(
            "La connexion aux logiciels de caisse n'est pas configurée (identifiants de l'application manquants)."
        ),
        state_mismatch=N_("La réponse de la source ne correspond pas à cette demande de connexion. Recommencez."),
        access_denied=N_("L'accès a été refusé sur la source : la connexion n'a pas été faite."),
        invalid_grant=N_("La source n'a pas accepté l'autorisation (expirée ou déjà utilisée). Recommencez."),
        client_refused=N_("La source a refusé les identifiants de l'application du portail."),
        unreachable=N_("La source ne répond pas pour le moment. Réessayez plus tard."),
    ),
)


class CommerceEndpoints(Endpoints):
    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoints:
        return PROVIDER.endpoints(settings)


def start_authorization(settings: Settings, source: Source, redirect_uri: str) -> AuthorizationStart:
    """Where to send the merchant to authorize the portal at ``source``, and what to keep until they come back."""
    PROVIDER.client_credentials(settings)
    if source.auth is not SourceAuth.OAUTH:
        raise ValueError(f"{source.code} connects with an API key, not by consent")
    return oauth.start_authorization(PROVIDER, settings, redirect_uri, source=source.code)


async def finish_authorization(settings: Settings, *, source: Source | None = None, **callback: Any) -> dict[str, Any]:
    """The token dict the callback's code gives: ``access_token``, ``refresh_token``, ``consumer_id``…"""
    refused = functools.partial(AuthorizationError, source=source.name if source else "")
    token = await oauth.finish_authorization(PROVIDER, settings, refused=refused, **callback)
    if not token.get("consumer_id"):
        raise refused(detail="token answer without consumer_id")
    return token


async def revoke(settings: Settings, token: dict[str, Any]) -> bool:
    """End the authorization at the source (both tokens die); True when the source confirmed.

    Best effort: never raises, since the portal forgets the token either way.
    """
    if not (token.get("refresh_token") or token.get("access_token")) or not settings.commerce_client_id:
        return False
    try:
        async with PROVIDER.oauth_client(settings) as client:
            response = await oauth.revoke_token(client, PROVIDER.endpoints(settings).revoke_url, token)
    except (OAuthError, httpx2.HTTPError, ValueError):
        return False
    return bool(response.is_success)
