"""Sign-in and sign-out pages, Mot de passe oublié ?, and the signed-in person's own account settings."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from portal.accounts import recovery
from portal.accounts.flow import finish_sign_in
from portal.accounts.pages import SIGN_IN
from portal.accounts.services import AccountService, PasswordChangeError, SignInError
from portal.accounts.sessions import SESSION_ROW, SESSION_USER_ID
from portal.accounts.user_sessions import views
from portal.auth.guards import PUBLIC, principal_of, signed_in
from portal.i18n import _
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


@dataclass
class ForgottenForm:
    email: str = forms.text(forms.EMAIL_MAX_LENGTH)


@dataclass
class NewPasswordForm:
    """A new password, twice (the reset link's form)."""

    password: str = forms.text(forms.PASSWORD_MAX_LENGTH)
    confirmation: str = forms.text(forms.PASSWORD_MAX_LENGTH)


@dataclass
class PasswordChangeForm:
    """Changer mon mot de passe: the current one, and the new one twice."""

    actuel: str = forms.text(forms.PASSWORD_MAX_LENGTH)
    password: str = forms.text(forms.PASSWORD_MAX_LENGTH)
    confirmation: str = forms.text(forms.PASSWORD_MAX_LENGTH)


@dataclass
class SessionForm:
    """The Terminer button of one line of Mes sessions."""

    session: str = forms.text(forms.CHOICE_MAX_LENGTH)


def _row_of(request: Request[Any, Any, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.session.get(SESSION_ROW)))
    except ValueError:
        return None


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
        await accounts.sign_out(principal_of(request).user_id, _row_of(request))
        request.clear_session()
        return Redirect("/connexion?deconnecte=1", status_code=303)


# The token is in the address: no page after this one learns it, and no cache keeps it.
LINK_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class PasswordResetController(Controller):
    """Mot de passe oublié ?: asking for a link by email, and the link's page (public)."""

    path = "/"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"resets": provide(recovery.PasswordResetService)}

    @get("/mot-de-passe-oublie", opt=PUBLIC, name="accounts:forgotten", media_type=MediaType.HTML)
    async def forgotten_page(self) -> Template:
        return Template(template_name="accounts/forgotten.html", context={"email": "", "sent": False, "error": None})

    @post("/mot-de-passe-oublie", opt=PUBLIC, name="accounts:forgotten_submit", media_type=MediaType.HTML)
    async def forgotten(
        self,
        request: Request[Any, Any, Any],
        resets: NamedDependency[recovery.PasswordResetService],
        data: Annotated[ForgottenForm, forms.POSTED],
    ) -> Template:
        """The same answer whether or not the address has an account (see ``portal.accounts.recovery``)."""
        too_long = forms.clip(data)
        if too_long:
            context = {"email": data.email, "sent": False, "error": next(iter(too_long.values()))}
            return Template(template_name="accounts/forgotten.html", context=context, status_code=422)
        try:
            await resets.request(email=data.email, ip_address=client_address(request))
        except recovery.ResetThrottled:
            context = {"email": data.email, "sent": False, "error": _(recovery.THROTTLED)}
            return Template(template_name="accounts/forgotten.html", context=context, status_code=429)
        return Template(template_name="accounts/forgotten.html", context={"email": data.email, "sent": True,
                                                                          "error": None})  # fmt: skip

    @staticmethod
    def _refused(refused: recovery.ResetLinkError) -> Template:
        return Template(
            template_name="errors/error.html",
            context={"status": refused.status, "title": _(refused.title), "message": _(refused.message)},
            status_code=refused.status,
            headers=LINK_HEADERS,
        )

    @get("/mot-de-passe/{token:str}", opt=PUBLIC, name="accounts:reset", media_type=MediaType.HTML)
    async def reset_page(
        self, resets: NamedDependency[recovery.PasswordResetService], token: FromPath[str]
    ) -> Template:
        try:
            user = await resets.open(token)
        except recovery.ResetLinkError as refused:
            return self._refused(refused)
        return Template(
            template_name="accounts/reset.html",
            context={"person": user, "token": token, "errors": {}},
            headers=LINK_HEADERS,
        )

    @post("/mot-de-passe/{token:str}", opt=PUBLIC, name="accounts:reset_submit", media_type=MediaType.HTML)
    async def reset(
        self,
        request: Request[Any, Any, Any],
        resets: NamedDependency[recovery.PasswordResetService],
        token: FromPath[str],
        data: Annotated[NewPasswordForm, forms.POSTED],
    ) -> Any:
        errors = forms.clip(data)
        try:
            if errors:  # refused before the password is hashed (a link that cannot be used says so first)
                await resets.open(token)
            else:
                user = await resets.reset(token, password=data.password, confirmation=data.confirmation)
        except recovery.ResetLinkError as refused:
            return self._refused(refused)
        except recovery.ResetPasswordError as refused:
            errors = {refused.field: refused.message}
        if errors:
            person = await resets.open(token)
            return Template(
                template_name="accounts/reset.html",
                context={"person": person, "token": token, "errors": errors},
                status_code=422,
                headers=LINK_HEADERS,
            )
        response = finish_sign_in(request, user, "/")
        flash(request, _("Votre nouveau mot de passe est enregistré ; vos autres sessions sont fermées."),
              category="success")  # fmt: skip
        return response


class AccountController(Controller):
    """The signed-in person's own account (Mon compte), reached from their name in the top bar."""

    path = "/compte"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"accounts": provide(AccountService)}

    @staticmethod
    async def _page(
        request: Request[Any, Any, Any],
        accounts: AccountService,
        settings: Settings,
        *,
        password_errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        person = await accounts.person(principal_of(request).user_id)
        sessions = views(await accounts.sessions(person, settings), _row_of(request))
        return Template(
            template_name="accounts/profile.html",
            context={"person": person, "sessions": sessions, "password_errors": password_errors or {}},
            status_code=status_code,
        )

    @get("/", guards=[signed_in], name="accounts:profile", media_type=MediaType.HTML)
    async def profile(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        settings: NamedDependency[Settings],
    ) -> Template:
        """Who the person is, as the firm knows them; the sections of their account follow."""
        return await self._page(request, accounts, settings)

    @post("/mot-de-passe", guards=[signed_in], name="accounts:change_password", media_type=MediaType.HTML)
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        settings: NamedDependency[Settings],
        data: Annotated[PasswordChangeForm, forms.POSTED],
    ) -> Response[Any]:
        """Changer mon mot de passe: every other session ends; this browser stays signed in."""
        errors = forms.clip(data)
        if not errors:
            try:
                user = await accounts.change_password(
                    settings, principal_of(request).user_id, current=data.actuel, new=data.password,
                    confirmation=data.confirmation, ip_address=client_address(request),
                )  # fmt: skip
            except PasswordChangeError as refused:
                errors = {refused.field: refused.message}
        if errors:
            return await self._page(request, accounts, settings, password_errors=errors, status_code=422)
        response = finish_sign_in(request, user, "/compte")
        flash(request, _("Votre mot de passe est modifié ; vos autres sessions sont fermées."), category="success")
        return response

    @post("/sessions/terminer", guards=[signed_in], name="accounts:end_session")
    async def end_session(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        data: Annotated[SessionForm, forms.POSTED],
    ) -> Redirect:
        """End one of the person's sessions: that browser is signed out on its next request."""
        try:
            row_id = uuid.UUID(data.session)
        except ValueError:
            row_id = None
        if row_id is not None and await accounts.end_session(principal_of(request).user_id, row_id):
            flash(request, _("La session est terminée."), category="success")
        else:
            flash(request, _("Cette session était déjà terminée."), category="info")
        return Redirect("/compte#sessions", status_code=303)

    @post("/sessions/terminer-les-autres", guards=[signed_in], name="accounts:end_other_sessions")
    async def end_other_sessions(
        self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]
    ) -> Redirect:
        """End every session of the person's but this one."""
        ended = await accounts.end_other_sessions(principal_of(request).user_id, _row_of(request))
        flash(request, _("Vos autres sessions sont terminées.") if ended else _("Vous n'aviez pas d'autre session."),
              category="success")  # fmt: skip
        return Redirect("/compte#sessions", status_code=303)

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
