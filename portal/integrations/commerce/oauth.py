"""Connecting a POS or e-commerce source by consent: the authorization-code flow with PKCE
(S256), through authlib, against the unified API's OAuth (``settings.commerce_oauth_url``).

``start_authorization`` gives the URL to send the merchant (or their accountant) to, for
one source (``source=<code>``: the consent page lists that source's accounts), with a
random ``state`` and ``code_verifier`` that the caller keeps in the server-side session;
the callback hands the URL it was called with to ``finish_authorization``, which checks
the state itself (a mismatch, a refusal or a spent code is an ``AuthorizationError``) and
trades the code for the token dict the caller stores: ``access_token``, ``refresh_token``,
``expires_at`` and ``consumer_id``, the account the token speaks for.

The token endpoint reads the client's credentials from the form (``client_secret_post``).
Refresh tokens rotate: whoever refreshes must store the new pair at once (the client's
``on_token``). ``revoke`` ends an authorization when a connection is removed; it is best
effort, since the connection is gone on the portal's side whatever the source says.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx2
from authlib.integrations.httpx_client import OAuthError  # type: ignore[import-untyped]

from portal.i18n import N_
from portal.integrations.commerce.errors import AuthorizationError, CommerceError
from portal.integrations.commerce.sources import Source, SourceAuth
from portal.integrations.oauth_flow import authlib_client, authorization_url, callback_answer
from portal.settings import Settings

TIMEOUT = httpx2.Timeout(60.0, connect=10.0)  # a page of 1,000 orders may take a while to make
USER_AGENT = "PortailCabinet/1 (+commerce)"


@dataclass(frozen=True)
class CommerceEndpoints:
    authorize_url: str
    token_url: str
    revoke_url: str
    api_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> CommerceEndpoints:
        oauth = settings.commerce_oauth_url.rstrip("/")
        return cls(
            authorize_url=f"{oauth}/authorize",
            token_url=f"{oauth}/token",
            revoke_url=f"{oauth}/revoke",
            api_url=settings.commerce_api_url.rstrip("/"),
        )


class AuthorizationStart(NamedTuple):
    """``url, state, code_verifier = start_authorization(...)``"""

    url: str
    state: str
    code_verifier: str


def _require_credentials(settings: Settings) -> None:
    if not settings.commerce_client_id or not settings.commerce_client_secret:
        raise CommerceError(
            N_("La connexion aux logiciels de caisse n'est pas configurée (identifiants de l'application manquants)."),
            detail="PORTAL_COMMERCE_CLIENT_ID / PORTAL_COMMERCE_CLIENT_SECRET",
        )


def oauth_client(settings: Settings, **options: Any) -> Any:
    """An authlib ``AsyncOAuth2Client`` (an ``httpx2.AsyncClient``) set up for the unified API."""
    return authlib_client(
        client_id=settings.commerce_client_id,
        client_secret=settings.commerce_client_secret,
        token_url=CommerceEndpoints.from_settings(settings).token_url,
        timeout=TIMEOUT,
        user_agent=USER_AGENT,
        **options,
    )


def start_authorization(settings: Settings, source: Source, redirect_uri: str) -> AuthorizationStart:
    """Where to send the merchant to authorize the portal at ``source``, and what to keep until they come back."""
    _require_credentials(settings)
    if source.auth is not SourceAuth.OAUTH:
        raise ValueError(f"{source.code} connects with an API key, not by consent")
    url, state, verifier = authorization_url(
        CommerceEndpoints.from_settings(settings).authorize_url,
        client_id=settings.commerce_client_id,
        redirect_uri=redirect_uri,
        source=source.code,
    )
    return AuthorizationStart(url=url, state=state, code_verifier=verifier)


async def finish_authorization(
    settings: Settings,
    *,
    redirect_uri: str,
    authorization_response: str,
    expected_state: str,
    code_verifier: str,
    source: Source | None = None,
) -> dict[str, Any]:
    """Trade the code of ``authorization_response`` (the callback's full URL) for a token dict:
    ``access_token``, ``refresh_token``, ``expires_at``, ``consumer_id``…"""
    _require_credentials(settings)
    name = source.name if source else ""
    answer = callback_answer(authorization_response)
    # The state first: an answer that is not ours is not read any further, error or code.
    if not expected_state or not secrets.compare_digest(answer.get("state", ""), expected_state):
        raise AuthorizationError(
            N_("La réponse de la source ne correspond pas à cette demande de connexion. Recommencez."),
            source=name,
            detail="state mismatch",
        )
    if answer.get("error") == "access_denied":
        raise AuthorizationError(
            N_("L'accès a été refusé sur la source : la connexion n'a pas été faite."),
            source=name,
            detail="access_denied",
        )
    if "error" in answer or not answer.get("code"):
        detail = f"{answer.get('error', 'no code')}: {answer.get('error_description', '')}"
        raise AuthorizationError(source=name, detail=detail)
    async with oauth_client(settings, redirect_uri=redirect_uri) as client:
        try:
            token = await client.fetch_token(
                authorization_response=authorization_response, state=expected_state, code_verifier=code_verifier
            )
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                raise AuthorizationError(
                    N_("La source n'a pas accepté l'autorisation (expirée ou déjà utilisée). Recommencez."),
                    source=name,
                    detail=str(exc),
                ) from exc
            raise AuthorizationError(
                N_("La source a refusé les identifiants de l'application du portail."), source=name, detail=str(exc)
            ) from exc
        except (httpx2.HTTPError, ValueError) as exc:  # ValueError: an answer that is not a JSON object
            raise AuthorizationError(
                N_("La source ne répond pas pour le moment. Réessayez plus tard."), source=name, detail=repr(exc)
            ) from exc
    if not token.get("consumer_id"):
        raise AuthorizationError(source=name, detail="token answer without consumer_id")
    return dict(token)


async def revoke(settings: Settings, token: dict[str, Any]) -> bool:
    """End the authorization at the source (both tokens die); True when the source confirmed.

    Best effort: never raises, since the portal forgets the token either way.
    """
    value, hint = (
        (token["refresh_token"], "refresh_token")
        if token.get("refresh_token")
        else (token.get("access_token"), "access_token")
    )
    if not value or not settings.commerce_client_id:
        return False
    try:
        async with oauth_client(settings) as client:
            response = await client.revoke_token(
                CommerceEndpoints.from_settings(settings).revoke_url, token=value, token_type_hint=hint
            )
    except (OAuthError, httpx2.HTTPError, ValueError):
        return False
    return bool(response.is_success)
