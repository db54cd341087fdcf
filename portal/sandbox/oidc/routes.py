"""The OpenID sandbox's routes, under ``/oidc``: discovery, keys, consent, token, userinfo.

The consent page stands for the provider's sign-in: the tester says who they are (an address
from the demo or any other, a name, whether the provider vouches for the address) and the
application is sent back a code, redeemed with its PKCE verifier at the token endpoint for an
access token and an id token (RS256, ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``sub``,
``email``, ``email_verified``, ``name``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import MediaType, Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide

from portal.sandbox.oauth_server import (
    NO_STORE,
    OUTSIDE,
    AuthorizeRequest,
    IssuedTokens,
    Posted,
    calling_client,
    check_authorize,
    denied,
    digest,
    token_endpoint,
)
from portal.sandbox.oidc.keys import ALGORITHM, signing_key
from portal.sandbox.oidc.state import SignedIn, current_state, subject_for
from portal.sandbox.pennylane.pages import Pages
from portal.sandbox.pennylane.site import LOOPBACK, RegisteredClient
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings

UNKNOWN_CLIENT = "Cette application n'est pas enregistrée auprès du fournisseur d'identité de démonstration."
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# The demo's people, offered on the consent page (any other address may be typed).
SUGGESTIONS = (
    ("associe@cabinet-durand.fr", "Claire Durand"),
    ("admin@cabinet-durand.fr", "Marc Lefèvre"),
    ("julie.bernard@cabinet-durand.fr", "Julie Bernard"),
    ("thomas.petit@cabinet-durand.fr", "Thomas Petit"),
    ("inconnu@exemple.fr", "Personne inconnue"),
)


@dataclass(frozen=True)
class OidcSite:
    pages: Pages
    clients: Mapping[str, RegisteredClient]
    var_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcSite:
        portal_host = urlsplit(settings.base_url).hostname
        hosts = LOOPBACK | ({portal_host} if portal_host else set())
        portal = RegisteredClient(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, "Portail Cabinet", frozenset(hosts))
        return cls(Pages(settings.templates_dir / "sandbox" / "oidc"), {portal.client_id: portal}, settings.var_dir)

    @property
    def key(self) -> RSAKey:
        return current_state().rotated_key or signing_key(self.var_dir)


def issuer_of(request: Request[Any, Any, Any]) -> str:
    """The sandbox's issuer, as the caller addresses it (the portal's settings name the same)."""
    return str(request.base_url).rstrip("/") + "/sandbox/oidc"


@get("/.well-known/openid-configuration", name="sandbox_oidc:discovery", opt=OUTSIDE, include_in_schema=False)
async def discovery(request: Request[Any, Any, Any]) -> Response[Any]:
    issuer = issuer_of(request)
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
    }
    return Response(document, media_type=MediaType.JSON)


@get("/jwks", name="sandbox_oidc:jwks", opt=OUTSIDE, include_in_schema=False)
async def jwks(oidc_site: NamedDependency[OidcSite]) -> Response[Any]:
    return Response({"keys": [oidc_site.key.as_dict(private=False)]}, media_type=MediaType.JSON)


def _check(site: OidcSite, params: Mapping[str, Any]) -> AuthorizeRequest | Response[Any]:
    def show(title: str, message: str) -> Response[Any]:
        return site.pages.render("error.html", status_code=400, title=title, message=message)

    asked = check_authorize(site.clients, params, show, unknown_client=UNKNOWN_CLIENT)
    if isinstance(asked, AuthorizeRequest) and "openid" not in str(params.get("scope", "")).split():
        return asked.refuse("invalid_scope", "Le droit « openid » est obligatoire.")
    return asked


def _consent(
    site: OidcSite, request: Request[Any, Any, Any], asked: AuthorizeRequest, *, error: str = "",
    typed: Mapping[str, Any] | None = None,
) -> Response[Any]:  # fmt: skip
    typed = typed or {}
    return site.pages.render(
        "consent.html",
        status_code=400 if error else 200,
        client_name=asked.client.name,
        action=request.url_for("sandbox_oidc:decide"),
        hidden=asked.hidden_fields
        | {"scope": str(asked.params.get("scope", "")), "nonce": str(asked.params.get("nonce", ""))[:255]},
        suggestions=SUGGESTIONS,
        email=str(typed.get("email", "")),
        person_name=str(typed.get("name", "")),
        subject=str(typed.get("sub", "")),
        verified=not typed or typed.get("email_verified") == "1",
        error=error,
    )


@get("/authorize", name="sandbox_oidc:authorize", opt=OUTSIDE, include_in_schema=False)
async def authorize(request: Request[Any, Any, Any], oidc_site: NamedDependency[OidcSite]) -> Response[Any]:
    asked = _check(oidc_site, request.query_params)
    if not isinstance(asked, AuthorizeRequest):
        return asked
    return _consent(oidc_site, request, asked)


@post("/authorize", name="sandbox_oidc:decide", opt=OUTSIDE, include_in_schema=False)
async def decide(request: Request[Any, Any, Any], data: Posted, oidc_site: NamedDependency[OidcSite]) -> Response[Any]:
    form = data.values
    asked = _check(oidc_site, form)
    if not isinstance(asked, AuthorizeRequest):
        return asked
    if form.get("decision") != "allow":
        return denied(asked)
    email = str(form.get("email", "")).strip()[:320]
    if not EMAIL.match(email):
        return _consent(oidc_site, request, asked, error="Saisissez une adresse e-mail valide.", typed=form)
    name = str(form.get("name", "")).strip()[:200] or email.split("@")[0]
    subject = str(form.get("sub", "")).strip()[:255] or subject_for(email)
    signed_in = SignedIn(subject, email, name, form.get("email_verified") == "1", str(form.get("nonce", ""))[:255])
    code = current_state().issue_code(
        client_id=asked.client.client_id,
        redirect_uri=asked.redirect_uri,
        subject=signed_in,
        code_challenge=asked.code_challenge,
    )
    return asked.grant(code)


def _id_token(site: OidcSite, issuer: str, client_id: str, signed_in: SignedIn) -> str:
    state = current_state()
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": client_id, "iat": now, "exp": now + state.id_token_seconds,
                              "nonce": signed_in.nonce, "sub": signed_in.subject, "name": signed_in.name}  # fmt: skip
    if state.email_in_id_token:
        claims |= {"email": signed_in.email, "email_verified": signed_in.email_verified}
    claims |= state.claims
    key = state.foreign_key or site.key
    return jwt.encode({"alg": ALGORITHM, "kid": site.key.kid, "typ": "JWT"}, claims, key)


@post("/token", name="sandbox_oidc:token", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def token(request: Request[Any, Any, Any], data: Posted, oidc_site: NamedDependency[OidcSite]) -> Response[Any]:
    client = calling_client(oidc_site.clients, request, data.values)
    issuer = issuer_of(request)

    def answer(issued: IssuedTokens[SignedIn]) -> dict[str, Any]:
        client_id = client.client_id if client else ""
        return issued.as_response(id_token=_id_token(oidc_site, issuer, client_id, issued.subject), scope="openid")

    return await token_endpoint(request, data.values, oidc_site.clients, current_state(), answer)


@get("/userinfo", name="sandbox_oidc:userinfo", opt=OUTSIDE, include_in_schema=False)
async def userinfo(request: Request[Any, Any, Any]) -> Response[Any]:
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    state = current_state()
    grant = state.grants.get(digest(bearer.strip())) if scheme.lower() == "bearer" else None
    if grant is None or not grant.active or state.clock() >= grant.access_expires_at:
        headers = NO_STORE | {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return Response({"error": "invalid_token"}, status_code=401, media_type=MediaType.JSON, headers=headers)
    return Response(grant.subject.claims(), media_type=MediaType.JSON, headers=NO_STORE)


@get("/", name="sandbox_oidc:index", opt=OUTSIDE, include_in_schema=False)
async def index(request: Request[Any, Any, Any], oidc_site: NamedDependency[OidcSite]) -> Response[Any]:
    return oidc_site.pages.render("index.html", issuer=issuer_of(request), client_id=SANDBOX_CLIENT_ID,
                                  suggestions=SUGGESTIONS)  # fmt: skip


def oidc_router(settings: Settings) -> Router:
    site = OidcSite.from_settings(settings)

    def provide_site() -> OidcSite:
        return site

    return Router(
        path="/oidc",
        route_handlers=[index, discovery, jwks, authorize, decide, token, userinfo],
        dependencies={"oidc_site": Provide(provide_site, sync_to_thread=False)},
        include_in_schema=False,
    )
