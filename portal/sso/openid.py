"""The portal as an OpenID Connect relying party: the authorization-code flow with PKCE, through authlib.

``begin`` reads the provider's discovery document (``<issuer>/.well-known/openid-configuration``,
kept an hour) and gives the URL to send the person to, with a random ``state``, ``nonce`` and
PKCE verifier (S256) that the caller keeps in the server-side session. ``complete`` takes the
callback's answer and what was kept: it checks the state, trades the code (with the verifier)
at the token endpoint, and verifies the id token: its signature against the provider's JWKS
(asymmetric algorithms only, the keys fetched again once when a key id is unknown, as after a
rotation), ``iss`` (the configured issuer), ``aud`` (the portal's client id, ``azp`` when there
are several), ``exp``, ``iat``, ``sub`` and the ``nonce``. The email and whether the provider
vouches for it come from the id token, or from the userinfo endpoint when the token has none.

Every failure is a ``SignOnError``: a reason for the audit log and the words the person reads.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # type: ignore[import-untyped]
from authlib.oauth2.client import OAuth2Client as OAuth2Protocol  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from portal.i18n import N_
from portal.sso.providers import MICROSOFT_VERIFIED, Provider

SCOPES = "openid email profile"
TIMEOUT = httpx2.Timeout(10.0)
USER_AGENT = "Portail Cabinet (single sign-on)"
DISCOVERY_SECONDS = 3600
LEEWAY_SECONDS = 60
# Signatures by the provider's private key only: never "none", never a secret shared with clients (HS256).
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")

FAILED = N_("La connexion par authentification unique n'a pas abouti. Recommencez depuis la page de connexion.")
UNREACHABLE = N_("Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants.")
DENIED = N_("La connexion a été annulée chez le fournisseur d'identité.")


class SignOnError(Exception):
    """A sign-in by a provider that did not go through: ``reason`` for the log, ``message`` (a msgid) for the person."""

    def __init__(
        self, reason: str, message: str = FAILED, detail: str = "", *, user_id: uuid.UUID | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.message = message
        self.user_id = user_id  # the person it was about, when one was found


@dataclass(frozen=True)
class Started:
    """``url, state, nonce, code_verifier``: where to go, and what to keep until the person comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, once everything is checked."""

    issuer: str
    subject: str
    email: str
    email_verified: bool
    name: str


# --- discovery and keys, kept per process ---

_documents: dict[str, tuple[float, dict[str, Any]]] = {}
_key_sets: dict[str, dict[str, Any]] = {}


def forget() -> None:
    """Drop every discovery document and key set kept (tests: a sandbox with new keys)."""
    _documents.clear()
    _key_sets.clear()


def _http() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(timeout=TIMEOUT, headers={"User-Agent": USER_AGENT})


async def _get_json(url: str, **headers: str) -> dict[str, Any]:
    try:
        async with _http() as http:
            response = await http.get(url, headers=headers)
        response.raise_for_status()
        body = response.json()
    except (httpx2.HTTPError, ValueError) as exc:
        raise SignOnError("provider_unreachable", UNREACHABLE, f"{url}: {exc!r}") from exc
    if not isinstance(body, dict):
        raise SignOnError("provider_unreachable", UNREACHABLE, f"{url}: not a JSON object")
    return body


async def discover(provider: Provider) -> dict[str, Any]:
    """The provider's discovery document, which must name the configured issuer (OpenID Discovery §4.3)."""
    kept = _documents.get(provider.issuer)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    document = await _get_json(f"{provider.issuer}/.well-known/openid-configuration")
    if document.get("issuer") != provider.issuer:
        raise SignOnError("issuer_mismatch", detail=f"{document.get('issuer')!r} != {provider.issuer!r}")
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(endpoint), str):
            raise SignOnError("discovery_incomplete", detail=endpoint)
    _documents[provider.issuer] = (time.monotonic() + DISCOVERY_SECONDS, document)
    return document


async def _key_set(jwks_uri: str, *, fresh: bool = False) -> KeySet:
    if fresh or jwks_uri not in _key_sets:
        _key_sets[jwks_uri] = await _get_json(jwks_uri)
    try:
        return KeySet.import_key_set(_key_sets[jwks_uri])  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise SignOnError("jwks_invalid", detail=repr(exc)) from exc


# --- the flow ---


async def begin(provider: Provider, redirect_uri: str) -> Started:
    document = await discover(provider)
    protocol = OAuth2Protocol(
        session=None,
        client_id=provider.client_id,
        scope=SCOPES,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
    nonce = secrets.token_urlsafe(32)
    url, state = protocol.create_authorization_url(
        document["authorization_endpoint"], state=secrets.token_urlsafe(32), code_verifier=verifier, nonce=nonce
    )
    return Started(url=url, state=state, nonce=nonce, code_verifier=verifier)


async def complete(
    provider: Provider,
    answer: Mapping[str, str],
    *,
    redirect_uri: str,
    expected_state: str,
    nonce: str,
    code_verifier: str,
) -> Identity:
    """The identity the provider's answer (the callback's query) proves, or ``SignOnError``."""
    # The state first: an answer that is not ours is not read any further, error or code.
    if not expected_state or not secrets.compare_digest(answer.get("state", ""), expected_state):
        raise SignOnError("state_mismatch")
    if answer.get("error"):
        message = DENIED if answer["error"] == "access_denied" else FAILED
        raise SignOnError(f"provider_error:{answer['error'][:40]}", message, answer.get("error_description", ""))
    if not answer.get("code"):
        raise SignOnError("no_code")
    document = await discover(provider)
    token = await _trade(provider, document, answer["code"], redirect_uri, code_verifier)
    claims = await verify_id_token(provider, document, str(token.get("id_token") or ""), nonce)
    if "email" not in claims and isinstance(document.get("userinfo_endpoint"), str) and token.get("access_token"):
        claims = {**await _userinfo(document["userinfo_endpoint"], str(token["access_token"]), claims["sub"]),
                  **claims}  # fmt: skip
    email = claims.get("email")
    return Identity(
        issuer=provider.issuer,
        subject=claims["sub"],
        email=email.strip().lower() if isinstance(email, str) else "",
        email_verified=provider.email_verified(claims),
        name=str(claims.get("name") or "")[:200],
    )


def _auth_method(document: Mapping[str, Any]) -> str:
    supported = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"


async def _trade(
    provider: Provider, document: Mapping[str, Any], code: str, redirect_uri: str, code_verifier: str
) -> dict[str, Any]:
    client = AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method=_auth_method(document),
        redirect_uri=redirect_uri,
        timeout=TIMEOUT,
        headers={"User-Agent": USER_AGENT},
    )
    async with client:
        try:
            token = await client.fetch_token(
                document["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=code_verifier
            )
        except OAuthError as exc:
            raise SignOnError(f"token_refused:{exc.error}", detail=str(exc)) from exc
        except (httpx2.HTTPError, ValueError) as exc:
            raise SignOnError("provider_unreachable", UNREACHABLE, repr(exc)) from exc
    return dict(token)


async def verify_id_token(provider: Provider, document: Mapping[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
    """The id token's claims, once its signature, issuer, audience, dates and nonce are checked."""
    if not id_token:
        raise SignOnError("id_token_missing")
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [algorithm for algorithm in ASYMMETRIC if algorithm in offered]
    try:
        try:
            token = jwt.decode(id_token, await _key_set(document["jwks_uri"]), algorithms=algorithms)
        except InvalidKeyIdError:  # a key the provider rotated in since the key set was read
            token = jwt.decode(id_token, await _key_set(document["jwks_uri"], fresh=True), algorithms=algorithms)
    except JoseError as exc:
        raise SignOnError("id_token_signature", detail=repr(exc)) from exc
    except ValueError as exc:  # not a JWS at all
        raise SignOnError("id_token_malformed", detail=repr(exc)) from exc
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "values": provider.token_issuers},
        aud={"essential": True, "value": provider.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise SignOnError(f"id_token_claims:{exc.error}", detail=str(exc)) from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != provider.client_id:
        raise SignOnError("id_token_claims:azp")
    if not isinstance(claims["nonce"], str) or not secrets.compare_digest(claims["nonce"], nonce):
        raise SignOnError("id_token_claims:nonce")
    return claims


async def _userinfo(endpoint: str, access_token: str, subject: str) -> dict[str, Any]:
    """What the userinfo endpoint says, when it speaks of the id token's subject (OpenID Connect §5.3.2)."""
    info = await _get_json(endpoint, Authorization=f"Bearer {access_token}")
    if info.get("sub") != subject:
        raise SignOnError("userinfo_subject_mismatch")
    return {key: info[key] for key in ("email", "email_verified", "name", MICROSOFT_VERIFIED) if key in info}
