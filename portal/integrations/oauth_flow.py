"""The authorization-code flow with PKCE (S256) through authlib, as Pennylane and the POS /
e-commerce sources both run it.

The pieces that do not depend on the provider live here: the authlib client set up for a
token endpoint that reads the client's credentials from the form (``client_secret_post``),
the authorization URL with a random ``state`` and ``code_verifier``, and the reading of the
callback's query. Each provider's module keeps its settings, its checks, its error types
and the messages the person sees.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from authlib.oauth2.client import OAuth2Client as OAuth2Protocol  # type: ignore[import-untyped]

# Tokens are refreshed this long before they run out, so a request never carries a dying one.
LEEWAY_SECONDS = 60
CLIENT_AUTH = "client_secret_post"


def authlib_client(
    *, client_id: str, client_secret: str, token_url: str, timeout: httpx2.Timeout, user_agent: str, **options: Any
) -> Any:
    """An authlib ``AsyncOAuth2Client`` (an ``httpx2.AsyncClient``) for one provider's token endpoint."""
    return AsyncOAuth2Client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method=CLIENT_AUTH,
        revocation_endpoint_auth_method=CLIENT_AUTH,
        token_endpoint=token_url,
        leeway=LEEWAY_SECONDS,
        timeout=timeout,
        headers={"User-Agent": user_agent},
        **options,
    )


def authorization_url(
    authorize_url: str, *, client_id: str, redirect_uri: str, scope: str | None = None, **params: Any
) -> tuple[str, str, str]:
    """``url, state, code_verifier``: where to send the person, and what to keep until they come back."""
    protocol = OAuth2Protocol(
        session=None, client_id=client_id, scope=scope, redirect_uri=redirect_uri, code_challenge_method="S256"
    )
    verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
    url, state = protocol.create_authorization_url(
        authorize_url, state=secrets.token_urlsafe(32), code_verifier=verifier, **params
    )
    return url, state, verifier


def callback_answer(authorization_response: str) -> dict[str, str]:
    """The query of the callback's URL, one value a name (the last one)."""
    query = parse_qs(urlsplit(authorization_response).query, keep_blank_values=True)
    return {key: values[-1] for key, values in query.items()}
