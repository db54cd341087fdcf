"""Sign-in and sign-out pages, and the signed-in person's own account settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from portal.accounts.flow import finish_sign_in
from portal.accounts.pages import SIGN_IN
from portal.accounts.services import AccountService, SignInError
from portal.accounts.sessions import SESSION_USER_ID
from portal.auth.guards import PUBLIC, principal_of, signed_in
from portal.settings import Settings
from portal.web import forms
from portal.web.context import client_address
from portal.web.controllers import LocaleForm, locale_redirect, supported_locale
from portal.web.deps import provide
from portal.web.redirects import local_path


@dataclass
class SignInForm:
    email: str = forms.text(forms.EMAIL_MAX_LENGTH)
    password: str = forms.text(forms.PASSWORD_MAX_LENGTH)
    suivant: str = forms.text(forms.NEXT_MAX_LENGTH)


async def sign_in_context(settings: Settings, next_path: str, **context: Any) -> dict[str, Any]:
    """What the sign-in page shows: ``context``, and the parts other domains fill in (single sign-on)."""
    suivant = local_path(next_path)
    parts = await SIGN_IN.context("sso", settings, suivant)
    return {"suivant": suivant, "email": "", "error": None, "sso_refusal": False, "parts": SIGN_IN, **parts, **context}


class SignInController(Controller):
    path = "/"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"accounts": provide(AccountService)}

    @get("/connexion", opt=PUBLIC, name="accounts:sign_in", media_type=MediaType.HTML)
    async def sign_in_page(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        suivant: FromQuery[str] = "",
        deconnecte: FromQuery[bool] = False,
    ) -> Any:
        # Public route: authentication does not run here, but the session does. A stale
        # session is harmless: the page it leads to checks it and sends the person back.
        suivant = forms.query_text(suivant, forms.NEXT_MAX_LENGTH)
        if request.session.get(SESSION_USER_ID):
            return Redirect(local_path(suivant))
        return Template(
            template_name="accounts/sign_in.html",
            context=await sign_in_context(settings, suivant, signed_out=deconnecte),
        )

    @post("/connexion", opt=PUBLIC, name="accounts:sign_in_submit", media_type=MediaType.HTML)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        settings: NamedDependency[Settings],
        data: Annotated[SignInForm, forms.POSTED],
    ) -> Response[Any]:
        too_long = forms.clip(data)  # before argon2 ever sees a megabyte of password
        if too_long:
            return Template(
                template_name="accounts/sign_in.html",
                context=await sign_in_context(settings, data.suivant, email=data.email,
                                              error=next(iter(too_long.values()))),
                status_code=422,
            )  # fmt: skip
        try:
            user = await accounts.sign_in(
                settings, email=data.email, password=data.password, ip_address=client_address(request)
            )
        except SignInError as refused:
            return Template(
                template_name="accounts/sign_in.html",
                context=await sign_in_context(settings, data.suivant, email=data.email, error=refused.message),
                status_code=refused.status,
            )
        return finish_sign_in(request, user, data.suivant)

    @post("/deconnexion", guards=[signed_in], name="accounts:sign_out")
    async def sign_out(self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Redirect:
        accounts.sign_out(principal_of(request).user_id)
        request.clear_session()
        return Redirect("/connexion?deconnecte=1", status_code=303)


class AccountController(Controller):
    """The signed-in person's own account (Mon compte), reached from their name in the top bar."""

    path = "/compte"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"accounts": provide(AccountService)}

    @get("/", guards=[signed_in], name="accounts:profile", media_type=MediaType.HTML)
    async def profile(self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Template:
        """Who the person is, as the firm knows them; the sections of their account follow."""
        principal = principal_of(request)
        return Template(
            template_name="accounts/profile.html",
            context={"person": await accounts.person(principal.user_id)},
        )

    @post("/langue", guards=[signed_in], name="accounts:locale")
    async def switch_locale(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        data: Annotated[LocaleForm, forms.POSTED],
    ) -> Redirect:
        """Language of the signed-in person: kept on their account and in a cookie."""
        response = locale_redirect(data)
        await accounts.set_locale(principal_of(request).user_id, supported_locale(data.langue))
        return response
