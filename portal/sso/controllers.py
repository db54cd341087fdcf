"""« Se connecter avec … »: off to the provider, and back to the firm's space (or to the sign-in page, refused).

The start is a plain link (the sign-in page's buttons): it keeps the flow's ``state``, ``nonce``
and PKCE verifier, keyed by the state, in a cookie of their own, encrypted and authenticated with
the portal's keys (Fernet) and good for ten minutes, and sends the browser to the provider. A
cookie rather than the server-side session: a visitor who is not signed in stores nothing on the
server, however many times a robot follows the link, and a page of the portal opened meanwhile
(which ends a session without a person) loses nothing. The provider sends the browser back to
``/connexion/oidc/<provider>/retour``, which takes the flow out of the cookie whatever happens
next (a state serves once), checks everything
(``portal.sso.openid``), decides who may get in (``portal.sso.services``) and ends in
``finish_sign_in``, like every other way of signing in. A refusal is said on the sign-in page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from litestar import Controller, MediaType, Request, Response, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.controllers import sign_in_context
from portal.accounts.flow import finish_sign_in
from portal.accounts.sessions import SESSION_USER_ID
from portal.auth.guards import PUBLIC
from portal.db.engine import writes_on_get
from portal.i18n import _
from portal.settings import Settings
from portal.sso import openid, providers
from portal.sso.openid import Identity, SignOnError
from portal.sso.services import REFUSALS, SignOnService
from portal.web import forms
from portal.web.deps import provide
from portal.web.redirects import local_path

# The start records a failure, the way back signs in: GETs that write (SQLite's write lock taken up front).
for _key in providers.KEYS:
    writes_on_get(f"/connexion/oidc/{_key}")
    writes_on_get(f"/connexion/oidc/{_key}/retour")
MAX_PENDING = 3  # tabs half-way at once; older ones are dropped
PENDING_SECONDS = 600  # a flow not finished within ten minutes is refused
Pending = dict[str, dict[str, str]]  # state -> what the way back needs


async def buttons(settings: Settings, next_path: str) -> dict[str, Any]:
    """The sign-in page's part: one button per configured provider, carrying where the person was going."""
    query = "" if next_path == "/" else "?" + urlencode({"suivant": next_path})
    return {
        "sso_providers": [
            {"key": provider.key, "text": provider.button_text, "href": f"/connexion/oidc/{provider.key}{query}"}
            for provider in providers.configured(settings)
        ]
    }


def _cookie_name(settings: Settings) -> str:
    return "__Host-portal_oidc" if settings.secure_cookies else "portal_oidc"


def _cipher(settings: Settings) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in settings.encryption_keys])


def _pending(request: Request[Any, Any, Any], settings: Settings) -> Pending:
    """The flows this browser started and has not finished, from its cookie (none if it was tampered with)."""
    raw = request.cookies.get(_cookie_name(settings), "")
    try:
        found = json.loads(_cipher(settings).decrypt(raw.encode("ascii"), ttl=PENDING_SECONDS)) if raw else {}
    except (InvalidToken, UnicodeEncodeError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _cookie(settings: Settings, pending: Pending) -> Cookie:
    """The cookie holding ``pending`` (expired when nothing is pending), sent back with the provider's answer
    (``SameSite=Lax``: a top-level navigation from another site)."""
    value = _cipher(settings).encrypt(json.dumps(pending).encode()).decode("ascii") if pending else ""
    return Cookie(key=_cookie_name(settings), value=value, max_age=PENDING_SECONDS if pending else 0, path="/",
                  httponly=True, secure=settings.secure_cookies, samesite="lax")  # fmt: skip


def _take(pending: Pending, state: str) -> dict[str, str] | None:
    flow = pending.pop(state, None) if state else None
    if flow is None:
        return None
    started = dt.datetime.fromisoformat(flow["at"])
    return flow if dt.datetime.now(dt.UTC) - started < dt.timedelta(seconds=PENDING_SECONDS) else None


class SignOnController(Controller):
    path = "/connexion/oidc"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"sign_on": provide(SignOnService)}

    @get("/{provider:str}", opt=PUBLIC, name="sso:start")
    async def start(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        sign_on: NamedDependency[SignOnService],
        provider: FromPath[str],
        suivant: FromQuery[str] = "",
    ) -> Response[Any]:
        suivant = local_path(forms.query_text(suivant, forms.NEXT_MAX_LENGTH))
        chosen = providers.find(settings, provider)
        if chosen is None or request.session.get(SESSION_USER_ID):
            return Redirect("/connexion" if chosen is None else suivant, status_code=303)
        try:
            started = await openid.begin(chosen, chosen.redirect_uri(settings))
        except SignOnError as failure:
            return await _refused(sign_on, settings, chosen, failure, next_path=suivant)
        pending = _pending(request, settings)
        pending[started.state] = {
            "provider": chosen.key, "nonce": started.nonce, "verifier": started.code_verifier, "next": suivant,
            "at": dt.datetime.now(dt.UTC).isoformat(),
        }  # fmt: skip
        kept = dict(list(pending.items())[-MAX_PENDING:])
        return Redirect(started.url, status_code=303, cookies=[_cookie(settings, kept)])

    @get("/{provider:str}/retour", opt=PUBLIC, name="sso:callback", media_type=MediaType.HTML)
    async def callback(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        sign_on: NamedDependency[SignOnService],
        db_session: NamedDependency[AsyncSession],
        provider: FromPath[str],
    ) -> Response[Any]:
        chosen = providers.find(settings, provider)
        if chosen is None:
            return Redirect("/connexion", status_code=303)
        answer = {key: str(value)[:2048] for key, value in request.query_params.items()}
        state = answer.get("state", "")
        pending = _pending(request, settings)
        flow = _take(pending, state)
        cookie = _cookie(settings, pending)  # the state is spent, whatever happens next
        if flow is None or flow["provider"] != chosen.key:  # not a flow this browser started, or spent
            refusal = await _refused(sign_on, settings, chosen, SignOnError("state_mismatch"))
            refusal.cookies.append(cookie)
            return refusal
        identity: Identity | None = None
        try:
            identity = await openid.complete(
                chosen, answer, redirect_uri=chosen.redirect_uri(settings), expected_state=state,
                nonce=flow["nonce"], code_verifier=flow["verifier"],
            )  # fmt: skip
            user = await sign_on.sign_in(chosen, identity)
        except SignOnError as failure:
            refusal = await _refused(sign_on, settings, chosen, failure, identity=identity, next_path=flow["next"])
            refusal.cookies.append(cookie)
            return refusal
        signed_in = await finish_sign_in(request, db_session, user, flow["next"])
        signed_in.cookies.append(cookie)
        return signed_in


async def _refused(
    sign_on: SignOnService,
    settings: Settings,
    provider: providers.Provider,
    failure: SignOnError,
    *,
    identity: Identity | None = None,
    next_path: str = "/",
) -> Template:
    """The attempt recorded, and the sign-in page saying why (403 when the person was refused, 400 when the
    flow failed)."""
    await sign_on.refused(provider, failure, identity)
    status = 403 if failure.reason in REFUSALS else 400
    return Template(
        template_name="accounts/sign_in.html",
        context=await sign_in_context(settings, next_path, error=_(failure.message), sso_refusal=True),
        status_code=status,
    )
