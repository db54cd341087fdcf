"""OAuth 2.0 of the commerce sandbox, for the sources that connect by consent (Lightspeed,
Square, Zettle, Shopify…): the consent page, the token endpoint (code with PKCE, rotating
refresh) and revocation.

The consent is for one source, named by ``source=<code>`` in the authorization request:
the page asks the merchant which of their accounts at that source the portal may read,
and the token answer says which consumer it speaks for (``consumer_id``), as the unified
API's connection flow does. Access tokens last an hour; each refresh gives a new pair and
kills the old one, so a client must keep the newest refresh token at once.

The token endpoint, revocation and the checks of an authorization request are the OAuth
server both sandboxes share (``portal.sandbox.oauth_server``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency

from portal.integrations.commerce.sources import Source, get_source
from portal.sandbox.commerce.catalogue import Account
from portal.sandbox.commerce.site import CommerceSite
from portal.sandbox.commerce.state import current_state, oauth_accounts, token_answer
from portal.sandbox.oauth_server import (
    OUTSIDE,
    AuthorizeRequest,
    Posted,
    check_authorize,
    denied,
    revoke_endpoint,
    token_endpoint,
)


@dataclass(frozen=True)
class SourceConsent:
    """An authorization request for one source, and that source's accounts the person may choose from."""

    asked: AuthorizeRequest
    source: Source
    accounts: tuple[Account, ...]


def _check(site: CommerceSite, params: Mapping[str, Any]) -> SourceConsent | Response[Any]:
    def show(title: str, message: str) -> Response[Any]:
        return site.pages.render("error.html", status_code=400, title=title, message=message)

    asked = check_authorize(
        site.clients, params, show,
        unknown_client="Cette application n'est pas enregistrée : aucune autorisation n'est possible.",
    )  # fmt: skip
    if not isinstance(asked, AuthorizeRequest):
        return asked
    source = get_source(str(params.get("source", "")))
    accounts = tuple(oauth_accounts(current_state(), source.code)) if source else ()
    if source is None or not accounts:
        return asked.refuse("invalid_request", "Source inconnue, ou qui ne se connecte pas par consentement.")
    return SourceConsent(asked, source, accounts)


def _consent(
    site: CommerceSite, request: Request[Any, Any, Any], consent: SourceConsent, *, error: str = ""
) -> Response[Any]:
    return site.pages.render(
        "consent.html",
        status_code=400 if error else 200,
        client_name=consent.asked.client.name,
        source=consent.source,
        action=request.url_for("sandbox_commerce:authorize"),
        hidden=consent.asked.hidden_fields | {"source": consent.source.code},
        accounts=consent.accounts,
        error=error,
    )


@get("/oauth/authorize", name="sandbox_commerce:authorize", opt=OUTSIDE, include_in_schema=False)
async def authorize(request: Request[Any, Any, Any], commerce_site: NamedDependency[CommerceSite]) -> Response[Any]:
    consent = _check(commerce_site, request.query_params)
    if not isinstance(consent, SourceConsent):
        return consent
    return _consent(commerce_site, request, consent)


@post("/oauth/authorize", name="sandbox_commerce:decide", opt=OUTSIDE, include_in_schema=False)
async def decide(
    request: Request[Any, Any, Any],
    data: Posted,
    commerce_site: NamedDependency[CommerceSite],
) -> Response[Any]:
    form = data.values
    consent = _check(commerce_site, form)
    if not isinstance(consent, SourceConsent):
        return consent
    asked = consent.asked
    if form.get("decision") != "allow":
        return denied(asked)
    chosen = str(form.get("consumer_id", ""))
    account = next((account for account in consent.accounts if account.id == chosen), None)
    if account is None:
        return _consent(commerce_site, request, consent, error="Choisissez le compte à connecter.")
    code = current_state().issue_code(
        client_id=asked.client.client_id,
        redirect_uri=asked.redirect_uri,
        subject=account.id,
        code_challenge=asked.code_challenge,
    )
    return asked.grant(code)


# --- server to server ---


@post("/oauth/token", name="sandbox_commerce:token", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def token(
    request: Request[Any, Any, Any],
    data: Posted,
    commerce_site: NamedDependency[CommerceSite],
) -> Response[Any]:
    return await token_endpoint(request, data.values, commerce_site.clients, current_state(), token_answer)


@post("/oauth/revoke", name="sandbox_commerce:revoke", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def revoke(
    request: Request[Any, Any, Any],
    data: Posted,
    commerce_site: NamedDependency[CommerceSite],
) -> Response[Any]:
    return await revoke_endpoint(request, data.values, commerce_site.clients, current_state())


ROUTES = [authorize, decide, token, revoke]
