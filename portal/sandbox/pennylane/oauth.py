"""OAuth 2.0 of the sandbox: the consent page, the token endpoint (code with PKCE, rotating
refresh) and revocation, as Pennylane documents them.

Until the redirect URI is known to belong to the application, problems are shown on a
page and never redirected (an open redirect otherwise); after that, they go back to the
application as ``error=…``, as RFC 6749 §4.1.2.1 says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from portal.sandbox.oauth_server import (
    NO_STORE,
    OUTSIDE,
    VERIFIER,
    back_to,
    calling_client,
    code_accepted,
    oauth_error,
)
from portal.sandbox.pennylane.pages import SCOPE_WORDS
from portal.sandbox.pennylane.site import RegisteredClient, Site
from portal.sandbox.pennylane.state import IssuedTokens, current_state, digest


@dataclass(frozen=True)
class AuthorizeRequest:
    client: RegisteredClient
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str

    @property
    def hidden_fields(self) -> dict[str, str]:
        """What the consent form posts back, to be checked again."""
        return {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": " ".join(self.scopes),
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }


def _check(site: Site, params: Mapping[str, Any]) -> AuthorizeRequest | Response[Any]:
    client = site.clients.get(str(params.get("client_id", "")))
    if client is None:
        return site.pages.render(
            "error.html",
            status_code=400,
            title="Application inconnue",
            message="Cette application n'est pas enregistrée auprès de Pennylane : aucune autorisation n'est possible.",
        )
    redirect_uri = str(params.get("redirect_uri", ""))
    if not client.accepts_redirect(redirect_uri):
        return site.pages.render(
            "error.html",
            status_code=400,
            title="Adresse de retour refusée",
            message="L'adresse de retour demandée n'est pas celle enregistrée pour cette application.",
        )
    state = str(params.get("state", ""))

    def refuse(error: str, description: str) -> Response[Any]:
        return Redirect(back_to(redirect_uri, error=error, error_description=description, state=state), status_code=303)

    if params.get("response_type") != "code":
        return refuse("unsupported_response_type", "Seul response_type=code est accepté.")
    scopes = tuple(dict.fromkeys(str(params.get("scope", "")).split()))
    if not scopes or any(scope not in SCOPE_WORDS for scope in scopes):
        return refuse("invalid_scope", "Droits demandés inconnus.")
    challenge = str(params.get("code_challenge", ""))
    if params.get("code_challenge_method") != "S256" or not VERIFIER.match(challenge):
        return refuse("invalid_request", "PKCE obligatoire : code_challenge avec code_challenge_method=S256.")
    return AuthorizeRequest(client, redirect_uri, scopes, state, challenge)


def _consent(
    site: Site,
    request: Request[Any, Any, Any],
    asked: AuthorizeRequest,
    *,
    error: str = "",
    selected: int | None = None,
) -> Response[Any]:
    return site.pages.render(
        "consent.html",
        status_code=400 if error else 200,
        client_name=asked.client.name,
        action=request.url_for("sandbox_pennylane:authorize"),
        hidden=asked.hidden_fields,
        companies=current_state().companies,
        scopes=asked.scopes,
        selected=selected,
        error=error,
    )


@get("/oauth/authorize", name="sandbox_pennylane:authorize", opt=OUTSIDE, include_in_schema=False)
async def authorize(request: Request[Any, Any, Any], sandbox_site: NamedDependency[Site]) -> Response[Any]:
    asked = _check(sandbox_site, request.query_params)
    if not isinstance(asked, AuthorizeRequest):
        return asked
    return _consent(sandbox_site, request, asked)


@post("/oauth/authorize", name="sandbox_pennylane:decide", opt=OUTSIDE, include_in_schema=False)
async def decide(request: Request[Any, Any, Any], sandbox_site: NamedDependency[Site]) -> Response[Any]:
    form = await request.form()
    asked = _check(sandbox_site, form)
    if not isinstance(asked, AuthorizeRequest):
        return asked
    if form.get("decision") != "allow":
        target = back_to(
            asked.redirect_uri, error="access_denied", error_description="Accès refusé.", state=asked.state
        )
        return Redirect(target, status_code=303)
    state = current_state()
    raw_company = str(form.get("company_id", ""))
    company = state.company(int(raw_company)) if raw_company.isdigit() else None
    if company is None:
        return _consent(sandbox_site, request, asked, error="Choisissez l'entreprise à connecter.")
    code = state.issue_code(
        client_id=asked.client.client_id,
        redirect_uri=asked.redirect_uri,
        company_id=company.id,
        scopes=frozenset(asked.scopes),
        code_challenge=asked.code_challenge,
    )
    return Redirect(back_to(asked.redirect_uri, code=code, state=asked.state), status_code=303)


# --- server to server ---


def _tokens(issued: IssuedTokens) -> Response[Any]:
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "scope": " ".join(sorted(issued.scopes)),
    }
    return Response(body, media_type=MediaType.JSON, headers=NO_STORE)


@post("/oauth/token", name="sandbox_pennylane:token", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def token(request: Request[Any, Any, Any], sandbox_site: NamedDependency[Site]) -> Response[Any]:
    form = await request.form()
    client = calling_client(sandbox_site.clients, request, form)
    if client is None:
        return oauth_error("invalid_client", 401)
    state = current_state()
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = state.redeem_code(str(form.get("code", "")))
        if code is None or not code_accepted(code, client, form):
            return oauth_error(
                "invalid_grant", description="Code inconnu, expiré, déjà utilisé ou vérificateur PKCE faux."
            )
        issued = state.issue_grant(client_id=client.client_id, company_id=code.company_id, scopes=code.scopes)
        code.grant_key = digest(issued.access_token)
        return _tokens(issued)
    if grant_type == "refresh_token":
        rotated = state.rotate(str(form.get("refresh_token", "")), client.client_id)
        if rotated is None:
            return oauth_error(
                "invalid_grant", description="Jeton de renouvellement inconnu, expiré, révoqué ou déjà utilisé."
            )
        return _tokens(rotated)
    return oauth_error("unsupported_grant_type")


@post("/oauth/revoke", name="sandbox_pennylane:revoke", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def revoke(request: Request[Any, Any, Any], sandbox_site: NamedDependency[Site]) -> Response[Any]:
    form = await request.form()
    if calling_client(sandbox_site.clients, request, form) is None:
        return oauth_error("invalid_client", 401)
    # RFC 7009: an unknown token is not an error, the answer is the same.
    current_state().revoke(str(form.get("token", "")))
    return Response({}, media_type=MediaType.JSON, headers=NO_STORE)


ROUTES = [authorize, decide, token, revoke]
