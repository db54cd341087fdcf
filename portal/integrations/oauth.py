"""Connecting a source by consent, once for every provider: the authorization-code flow with PKCE
(S256), through authlib, described per provider by an ``OAuthProvider``.

``start_authorization`` gives the URL to send the person to, with a random ``state`` and
``code_verifier`` that the caller keeps in the server-side session (``authorizations``);
the callback hands the URL it was called with to ``finish_authorization``, which checks the
state itself (a mismatch, a refusal or a spent code is the provider's authorization error)
and trades the code for the token dict the caller stores. ``revoke_token`` ends an
authorization when a connection is removed.

Both token endpoints read the client's credentials from the form (``client_secret_post``).
What differs between providers is data: their settings, scopes, timeout, the words of each
failure and the error class that carries them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import httpx2
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # type: ignore[import-untyped]
from authlib.oauth2.client import OAuth2Client as OAuth2Protocol  # type: ignore[import-untyped]

from portal.settings import Settings

# Tokens are refreshed this long before they run out, so a request never carries a dying one.
LEEWAY_SECONDS = 60
CLIENT_AUTH = "client_secret_post"
# What a token endpoint answers when the authorization itself is gone (rather than the app refused).
LOST_GRANT_ERRORS = frozenset({"invalid_grant", "missing_token", "token_invalid", "token_expired"})

ErrorFactory = Callable[..., Exception]  # (message=None, *, detail="", …) -> the provider's error


@dataclass(frozen=True)
class Endpoints:
    authorize_url: str
    token_url: str
    revoke_url: str
    api_url: str


@dataclass(frozen=True)
class FlowMessages:
    """What the person reads when a connection does not go through (French msgids)."""

    not_configured: str
    state_mismatch: str
    access_denied: str
    invalid_grant: str
    client_refused: str
    unreachable: str


@dataclass(frozen=True)
class OAuthProvider:
    """One outside service connected by OAuth: its settings (``<settings_key>_client_id``,
    ``_client_secret``, ``_oauth_url``, ``_api_url``), how it is called, what it says."""

    settings_key: str
    user_agent: str
    timeout: httpx2.Timeout
    messages: FlowMessages
    error: ErrorFactory  # the provider's base error: configuration faults
    authorization_error: ErrorFactory  # a connection that did not go through
    scopes: tuple[str, ...] = ()
    lost_grant_errors: frozenset[str] = field(default=LOST_GRANT_ERRORS)

    def endpoints(self, settings: Settings) -> Endpoints:
        oauth = str(getattr(settings, f"{self.settings_key}_oauth_url")).rstrip("/")
        return Endpoints(
            authorize_url=f"{oauth}/authorize",
            token_url=f"{oauth}/token",
            revoke_url=f"{oauth}/revoke",
            api_url=str(getattr(settings, f"{self.settings_key}_api_url")).rstrip("/"),
        )

    def client_credentials(self, settings: Settings) -> tuple[str, str]:
        """``client_id, client_secret``, or the provider's error when the portal has none."""
        client_id = str(getattr(settings, f"{self.settings_key}_client_id"))
        client_secret = str(getattr(settings, f"{self.settings_key}_client_secret"))
        if not client_id or not client_secret:
            prefix = f"PORTAL_{self.settings_key.upper()}"
            raise self.error(self.messages.not_configured, detail=f"{prefix}_CLIENT_ID / {prefix}_CLIENT_SECRET")
        return client_id, client_secret

    def oauth_client(self, settings: Settings, **options: Any) -> Any:
        """An authlib ``AsyncOAuth2Client`` (an ``httpx2.AsyncClient``) for this provider's token endpoint."""
        client_id = str(getattr(settings, f"{self.settings_key}_client_id"))
        client_secret = str(getattr(settings, f"{self.settings_key}_client_secret"))
        return AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=CLIENT_AUTH,
            revocation_endpoint_auth_method=CLIENT_AUTH,
            token_endpoint=self.endpoints(settings).token_url,
            leeway=LEEWAY_SECONDS,
            timeout=self.timeout,
            headers={"User-Agent": self.user_agent},
            **options,
        )


class AuthorizationStart(NamedTuple):
    """``url, state, code_verifier = start_authorization(...)``"""

    url: str
    state: str
    code_verifier: str


def start_authorization(
    provider: OAuthProvider, settings: Settings, redirect_uri: str, **params: Any
) -> AuthorizationStart:
    """Where to send the person to authorize the portal, and what to keep until they come back."""
    client_id, _secret = provider.client_credentials(settings)
    protocol = OAuth2Protocol(
        session=None,
        client_id=client_id,
        scope=" ".join(provider.scopes) or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
    url, state = protocol.create_authorization_url(
        provider.endpoints(settings).authorize_url, state=secrets.token_urlsafe(32), code_verifier=verifier, **params
    )
    return AuthorizationStart(url=url, state=state, code_verifier=verifier)


def callback_answer(authorization_response: str) -> dict[str, str]:
    """The query of the callback's URL, one value a name (the last one)."""
    query = parse_qs(urlsplit(authorization_response).query, keep_blank_values=True)
    return {key: values[-1] for key, values in query.items()}


async def finish_authorization(
    provider: OAuthProvider,
    settings: Settings,
    *,
    redirect_uri: str,
    authorization_response: str,
    expected_state: str,
    code_verifier: str,
    refused: ErrorFactory | None = None,
) -> dict[str, Any]:
    """Trade the code of ``authorization_response`` (the callback's full URL) for a token dict:
    ``access_token``, ``refresh_token``, ``expires_at``… ``refused`` builds the error (the
    provider's authorization error unless given)."""
    provider.client_credentials(settings)
    refused = refused or provider.authorization_error
    words = provider.messages
    answer = callback_answer(authorization_response)
    # The state first: an answer that is not ours is not read any further, error or code.
    if not expected_state or not secrets.compare_digest(answer.get("state", ""), expected_state):
        raise refused(words.state_mismatch, detail="state mismatch")
    if answer.get("error") == "access_denied":
        raise refused(words.access_denied, detail="access_denied")
    if "error" in answer or not answer.get("code"):
        raise refused(detail=f"{answer.get('error', 'no code')}: {answer.get('error_description', '')}")
    async with provider.oauth_client(settings, redirect_uri=redirect_uri) as client:
        try:
            token = await client.fetch_token(
                authorization_response=authorization_response, state=expected_state, code_verifier=code_verifier
            )
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                raise refused(words.invalid_grant, detail=str(exc)) from exc
            raise refused(words.client_refused, detail=str(exc)) from exc
        except (httpx2.HTTPError, ValueError) as exc:  # ValueError: an answer that is not a JSON object
            raise refused(words.unreachable, detail=repr(exc)) from exc
    return dict(token)


async def revoke_token(client: Any, revoke_url: str, token: dict[str, Any]) -> httpx2.Response:
    """Revoke ``token`` (its refresh token when it has one: both die) with an authlib ``client``."""
    value, hint = (
        (token["refresh_token"], "refresh_token")
        if token.get("refresh_token")
        else (token.get("access_token"), "access_token")
    )
    response: httpx2.Response = await client.revoke_token(revoke_url, token=value, token_type_hint=hint)
    return response
