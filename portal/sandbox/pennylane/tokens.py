"""Personal API tokens: made on a page, named, with chosen rights, shown once.

The API takes one as a bearer like an OAuth access token, without refresh. The state
keeps its SHA-256 only, so the page that shows it is the last place it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from portal.sandbox.oauth_server import OUTSIDE
from portal.sandbox.pennylane.pages import SCOPE_WORDS
from portal.sandbox.pennylane.site import Site
from portal.sandbox.pennylane.state import ApiToken, SandboxState, current_state
from portal.web import forms

NAME_MAX = 80
LIFETIMES = ((30, "30 jours"), (90, "90 jours"), (365, "1 an"), (0, "Jamais"))


@dataclass
class PostedToken:
    """The tokens page's form as posted (its name is checked against ``NAME_MAX`` as typed, not cut)."""

    name: str = forms.text(forms.NAME_MAX_LENGTH)
    company_id: str = forms.text(forms.CHOICE_MAX_LENGTH)
    lifetime_days: str = forms.text(forms.CHOICE_MAX_LENGTH, default="90")
    scope: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)


@dataclass
class TokenForm:
    name: str = ""
    company_id: int | None = None
    scopes: list[str] = field(default_factory=list)
    lifetime_days: int = 90


def _expiry(record: ApiToken) -> str:
    if record.expires_at is None:
        return "Jamais"
    return f"{datetime.fromtimestamp(record.expires_at, UTC):%d/%m/%Y}"


def _page(
    site: Site,
    request: Request[Any, Any, Any],
    state: SandboxState,
    *,
    form: TokenForm | None = None,
    errors: list[str] | None = None,
    created: tuple[str, ApiToken] | None = None,
) -> Response[Any]:
    tokens = [record for record in state.api_tokens.values() if record.active]
    return site.pages.render(
        "tokens.html",
        status_code=400 if errors else 200,
        action=request.url_for("sandbox_pennylane:tokens_create"),
        companies=state.companies,
        company_names={company.id: company.name for company in state.companies},
        form=form or TokenForm(),
        lifetimes=LIFETIMES,
        errors=errors or [],
        tokens=tokens,
        expiries={record.id: _expiry(record) for record in tokens},
        delete_actions={
            record.id: request.url_for("sandbox_pennylane:tokens_delete", token_id=record.id) for record in tokens
        },
        created=created[1] if created else None,
        created_token=created[0] if created else "",
    )


@get("/jetons", name="sandbox_pennylane:tokens", opt=OUTSIDE, include_in_schema=False)
async def tokens_page(request: Request[Any, Any, Any], sandbox_site: NamedDependency[Site]) -> Response[Any]:
    return _page(sandbox_site, request, current_state())


@post("/jetons", name="sandbox_pennylane:tokens_create", opt=OUTSIDE, include_in_schema=False)
async def create_token(
    request: Request[Any, Any, Any], data: Annotated[PostedToken, forms.POSTED], sandbox_site: NamedDependency[Site]
) -> Response[Any]:
    state = current_state()
    form = TokenForm(
        name=data.name.strip(),
        company_id=int(data.company_id) if data.company_id.isdigit() else None,
        scopes=[scope for scope in data.scope if scope in SCOPE_WORDS],
        lifetime_days=int(data.lifetime_days) if data.lifetime_days.isdigit() else 90,
    )
    errors = []
    if not form.name or len(form.name) > NAME_MAX:
        errors.append("Donnez au jeton un nom descriptif (80 caractères au plus).")
    company = state.company(form.company_id) if form.company_id is not None else None
    if company is None:
        errors.append("Choisissez l'entreprise à laquelle le jeton donne accès.")
    if not form.scopes:
        errors.append("Cochez au moins un droit.")
    if errors or company is None:
        return _page(sandbox_site, request, state, form=form, errors=errors)
    created = state.create_api_token(
        name=form.name, company_id=company.id, scopes=frozenset(form.scopes), lifetime_days=form.lifetime_days or None
    )
    return _page(sandbox_site, request, state, created=created)


@post("/jetons/{token_id:int}/supprimer", name="sandbox_pennylane:tokens_delete", opt=OUTSIDE, include_in_schema=False)
async def delete_token(request: Request[Any, Any, Any], token_id: FromPath[int]) -> Redirect:
    current_state().delete_api_token(token_id)
    return Redirect(request.url_for("sandbox_pennylane:tokens"), status_code=303)


ROUTES = [tokens_page, create_token, delete_token]
