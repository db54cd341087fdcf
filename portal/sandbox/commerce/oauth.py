"""OAuth 2.0 of the commerce sandbox, for the sources that connect by consent (Lightspeed,
Square, Zettle, Shopify…): the consent page, the token endpoint (code with PKCE, rotating
refresh) and revocation.

The consent is for one source, named by ``source=<code>`` in the authorization request:
the page asks the merchant which of their accounts at that source the portal may read,
and the token answer says which consumer it speaks for (``consumer_id``), as the unified
API's connection flow does. Access tokens last an hour; each refresh gives a new pair and
kills the old one, so a client must keep the newest refresh token at once.

Until the redirect URI is known to belong to the application, problems are shown on a
page and never redirected (an open redirect otherwise); after that, they go back to the
application as ``error=…`` (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from portal.integrations.commerce.sources import Source, get_source
from portal.sandbox.commerce.catalogue import Account
from portal.sandbox.commerce.site import CommerceSite
from portal.sandbox.commerce.state import IssuedTokens, current_state, digest, oauth_accounts
from portal.sandbox.oauth_server import NO_STORE, OUTSIDE, VERIFIER, back_to, calling_client, code_accepted, oauth_error
from portal.sandbox.pennylane.site import RegisteredClient


@dataclass(frozen=True)
class AuthorizeRequest:
    client: RegisteredClient
    redirect_uri: str
    state: str
    code_challenge: str
    source: Source
    accounts: tuple[Account, ...]

    @property
    def hidden_fields(self) -> dict[str, str]:
        """What the consent form posts back, to be checked again."""
        return {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
            "source": self.source.code,
        }


def _check(site: CommerceSite, params: Mapping[str, Any]) -> AuthorizeRequest | Response[Any]:
    client = site.clients.get(str(params.get("client_id", "")))
    if client is None:
        return site.pages.render(
            "error.html",
            status_code=400,
            title="Application inconnue",
            message="Cette application n'est pas enregistrée : aucune autorisation n'est possible.",
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
    challenge = str(params.get("code_challenge", ""))
    if params.get("code_challenge_method") != "S256" or not VERIFIER.match(challenge):
        return refuse("invalid_request", "PKCE obligatoire : code_challenge avec code_challenge_method=S256.")
    source = get_source(str(params.get("source", "")))
    accounts = tuple(oauth_accounts(current_state(), source.code)) if source else ()
    if source is None or not accounts:
        return refuse("invalid_request", "Source inconnue, ou qui ne se connecte pas par consentement.")
    return AuthorizeRequest(client, redirect_uri, state, challenge, source, accounts)


def _consent(
    site: CommerceSite, request: Request[Any, Any, Any], asked: AuthorizeRequest, *, error: str = ""
) -> Response[Any]:
    return site.pages.render(
        "consent.html",
        status_code=400 if error else 200,
        client_name=asked.client.name,
        source=asked.source,
        action=request.url_for("sandbox_commerce:authorize"),
        hidden=asked.hidden_fields,
        accounts=asked.accounts,
        error=error,
    )


@get("/oauth/authorize", name="sandbox_commerce:authorize", opt=OUTSIDE, include_in_schema=False)
async def authorize(request: Request[Any, Any, Any], commerce_site: NamedDependency[CommerceSite]) -> Response[Any]:
    asked = _check(commerce_site, request.query_params)
    if not isinstance(asked, AuthorizeRequest):
        return asked
    return _consent(commerce_site, request, asked)


@post("/oauth/authorize", name="sandbox_commerce:decide", opt=OUTSIDE, include_in_schema=False)
async def decide(request: Request[Any, Any, Any], commerce_site: NamedDependency[CommerceSite]) -> Response[Any]:
    form = await request.form()
    asked = _check(commerce_site, form)
    if not isinstance(asked, AuthorizeRequest):
        return asked
    if form.get("decision") != "allow":
        target = back_to(
            asked.redirect_uri, error="access_denied", error_description="Accès refusé.", state=asked.state
        )
        return Redirect(target, status_code=303)
    chosen = str(form.get("consumer_id", ""))
    account = next((account for account in asked.accounts if account.id == chosen), None)
    if account is None:
        return _consent(commerce_site, request, asked, error="Choisissez le compte à connecter.")
    code = current_state().issue_code(
        client_id=asked.client.client_id,
        redirect_uri=asked.redirect_uri,
        account_id=account.id,
        code_challenge=asked.code_challenge,
    )
    return Redirect(back_to(asked.redirect_uri, code=code, state=asked.state), status_code=303)


# --- server to server ---


def _tokens(issued: IssuedTokens) -> Response[Any]:
    return Response(issued.as_response(), media_type=MediaType.JSON, headers=NO_STORE)


@post("/oauth/token", name="sandbox_commerce:token", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def token(request: Request[Any, Any, Any], commerce_site: NamedDependency[CommerceSite]) -> Response[Any]:
    form = await request.form()
    client = calling_client(commerce_site.clients, request, form)
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
        issued = state.issue_grant(client_id=client.client_id, account_id=code.account_id)
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


@post("/oauth/revoke", name="sandbox_commerce:revoke", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def revoke(request: Request[Any, Any, Any], commerce_site: NamedDependency[CommerceSite]) -> Response[Any]:
    form = await request.form()
    if calling_client(commerce_site.clients, request, form) is None:
        return oauth_error("invalid_client", 401)
    # RFC 7009: an unknown token is not an error, the answer is the same.
    current_state().revoke(str(form.get("token", "")))
    return Response({}, media_type=MediaType.JSON, headers=NO_STORE)


ROUTES = [authorize, decide, token, revoke]
