"""Connecting Pennylane: the authorization-code flow with PKCE (S256), through authlib.

``start_authorization`` gives the URL to send the accountant to, with a random ``state``
and ``code_verifier`` that the caller keeps in the server-side session; the callback
hands the URL it was called with to ``finish_authorization``, which checks the state
itself (a mismatch, a refusal or a spent code is an ``AuthorizationError``) and trades
the code for the token dict the caller stores.

Pennylane's token endpoint reads the client's credentials from the form
(``client_secret_post``), as its documentation shows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuthError  # type: ignore[import-untyped]

from portal.i18n import N_
from portal.integrations.oauth_flow import authlib_client, authorization_url, callback_answer
from portal.integrations.pennylane.errors import AuthorizationError, PennylaneError
from portal.settings import Settings

SCOPES = ("fiscal_years:readonly", "exports:fec")
TIMEOUT = httpx2.Timeout(30.0, connect=10.0)
USER_AGENT = "PortailCabinet/1 (+pennylane)"


@dataclass(frozen=True)
class PennylaneEndpoints:
    authorize_url: str
    token_url: str
    revoke_url: str
    api_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> PennylaneEndpoints:
        oauth = settings.pennylane_oauth_url.rstrip("/")
        return cls(
            authorize_url=f"{oauth}/authorize",
            token_url=f"{oauth}/token",
            revoke_url=f"{oauth}/revoke",
            api_url=settings.pennylane_api_url.rstrip("/"),
        )


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    code_verifier: str


def _require_credentials(settings: Settings) -> None:
    if not settings.pennylane_client_id or not settings.pennylane_client_secret:
        raise PennylaneError(
            N_("La connexion à Pennylane n'est pas configurée (identifiants de l'application manquants)."),
            detail="PORTAL_PENNYLANE_CLIENT_ID / PORTAL_PENNYLANE_CLIENT_SECRET",
        )


def oauth_client(settings: Settings, **options: Any) -> Any:
    """An authlib ``AsyncOAuth2Client`` (an ``httpx2.AsyncClient``) set up for Pennylane."""
    return authlib_client(
        client_id=settings.pennylane_client_id,
        client_secret=settings.pennylane_client_secret,
        token_url=PennylaneEndpoints.from_settings(settings).token_url,
        timeout=TIMEOUT,
        user_agent=USER_AGENT,
        **options,
    )


def start_authorization(settings: Settings, redirect_uri: str) -> AuthorizationStart:
    """Where to send the accountant to authorize the portal, and what to keep until they come back."""
    _require_credentials(settings)
    url, state, verifier = authorization_url(
        PennylaneEndpoints.from_settings(settings).authorize_url,
        client_id=settings.pennylane_client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(SCOPES),
    )
    return AuthorizationStart(url=url, state=state, code_verifier=verifier)


async def finish_authorization(
    settings: Settings,
    *,
    redirect_uri: str,
    authorization_response: str,
    expected_state: str,
    code_verifier: str,
) -> dict[str, Any]:
    """Trade the code of ``authorization_response`` (the callback's full URL) for a token dict:
    ``access_token``, ``refresh_token``, ``expires_at``, ``scope``…"""
    _require_credentials(settings)
    answer = callback_answer(authorization_response)
    # The state first: an answer that is not ours is not read any further, error or code.
    if not expected_state or not secrets.compare_digest(answer.get("state", ""), expected_state):
        raise AuthorizationError(
            N_("La réponse de Pennylane ne correspond pas à cette demande de connexion. Recommencez."),
            detail="state mismatch",
        )
    if answer.get("error") == "access_denied":
        raise AuthorizationError(
            N_("L'accès a été refusé sur Pennylane : la connexion n'a pas été faite."), detail="access_denied"
        )
    if "error" in answer or not answer.get("code"):
        raise AuthorizationError(detail=f"{answer.get('error', 'no code')}: {answer.get('error_description', '')}")
    async with oauth_client(settings, redirect_uri=redirect_uri) as client:
        try:
            token = await client.fetch_token(
                authorization_response=authorization_response,
                state=expected_state,
                code_verifier=code_verifier,
            )
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                raise AuthorizationError(
                    N_(
                        "Pennylane n'a pas accepté l'autorisation (expirée ou déjà utilisée). Recommencez la connexion."
                    ),
                    detail=str(exc),
                ) from exc
            raise AuthorizationError(
                N_("Pennylane a refusé les identifiants de l'application."), detail=str(exc)
            ) from exc
        except (httpx2.HTTPError, ValueError) as exc:  # ValueError: an answer that is not a JSON object
            raise AuthorizationError(
                N_("Pennylane ne répond pas pour le moment. Réessayez plus tard."), detail=repr(exc)
            ) from exc
    return dict(token)
