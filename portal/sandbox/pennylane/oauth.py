"""OAuth 2.0 of the sandbox, as Pennylane documents it: the consent page (a company, the scopes
asked for), on the OAuth server both sandboxes share (``portal.sandbox.oauth_server``: the
token endpoint with PKCE and rotating refresh, revocation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency

from portal.sandbox.oauth_server import (
    OUTSIDE,
    AuthorizeRequest,
    IssuedTokens,
    Posted,
    check_authorize,
    denied,
    revoke_endpoint,
    token_endpoint,
)
from portal.sandbox.pennylane.pages import SCOPE_WORDS
from portal.sandbox.pennylane.site import Site
from portal.sandbox.pennylane.state import Consented, current_state

UNKNOWN_CLIENT = "Cette application n'est pas enregistrée auprès de Pennylane : aucune autorisation n'est possible."


def _check(site: Site, params: Mapping[str, Any]) -> AuthorizeRequest | Response[Any]:
    def show(title: str, message: str) -> Response[Any]:
        return site.pages.render("error.html", status_code=400, title=title, message=message)

    asked = check_authorize(site.clients, params, show, unknown_client=UNKNOWN_CLIENT)
    if isinstance(asked, AuthorizeRequest) and not _scopes(asked):
        return asked.refuse("invalid_scope", "Droits demandés inconnus.")
    return asked


def _scopes(asked: AuthorizeRequest) -> tuple[str, ...]:
    """The scopes asked for, in order, once each; none when one is unknown."""
    scopes = tuple(dict.fromkeys(str(asked.params.get("scope", "")).split()))
    return scopes if all(scope in SCOPE_WORDS for scope in scopes) else ()


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
        hidden=asked.hidden_fields | {"scope": " ".join(_scopes(asked))},
        companies=current_state().companies,
        scopes=_scopes(asked),
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
async def decide(request: Request[Any, Any, Any], data: Posted, sandbox_site: NamedDependency[Site]) -> Response[Any]:
    form = data.values
    asked = _check(sandbox_site, form)
    if not isinstance(asked, AuthorizeRequest):
        return asked
    if form.get("decision") != "allow":
        return denied(asked)
    state = current_state()
    raw_company = str(form.get("company_id", ""))
    company = state.company(int(raw_company)) if raw_company.isdigit() else None
    if company is None:
        return _consent(sandbox_site, request, asked, error="Choisissez l'entreprise à connecter.")
    code = state.issue_code(
        client_id=asked.client.client_id,
        redirect_uri=asked.redirect_uri,
        subject=Consented(company.id, frozenset(_scopes(asked))),
        code_challenge=asked.code_challenge,
    )
    return asked.grant(code)


# --- server to server ---


def _tokens(issued: IssuedTokens[Consented]) -> dict[str, Any]:
    return issued.as_response(scope=" ".join(sorted(issued.subject.scopes)))


@post("/oauth/token", name="sandbox_pennylane:token", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def token(request: Request[Any, Any, Any], data: Posted, sandbox_site: NamedDependency[Site]) -> Response[Any]:
    return await token_endpoint(request, data.values, sandbox_site.clients, current_state(), _tokens)


@post("/oauth/revoke", name="sandbox_pennylane:revoke", opt=OUTSIDE, include_in_schema=False, status_code=200)
async def revoke(request: Request[Any, Any, Any], data: Posted, sandbox_site: NamedDependency[Site]) -> Response[Any]:
    return await revoke_endpoint(request, data.values, sandbox_site.clients, current_state())


ROUTES = [authorize, decide, token, revoke]
