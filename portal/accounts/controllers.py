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
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts import recovery
from portal.accounts.flow import (
    SESSION_MUST_ENROL,
    SESSION_PENDING,
    establish_session,
    finish_sign_in,
    pending_of,
    remember_browser,
    second_factor_enrolled,
)
from portal.accounts.models import User
from portal.accounts.pages import ACCOUNT, SIGN_IN
from portal.accounts.second_factor import (
    LOCKED_OUT,
    REUSED_CODE,
    WRONG_CODE,
    Outcome,
    SecondFactorService,
)
from portal.accounts.services import AccountService, PasswordChangeError, SignInError
from portal.accounts.sessions import SESSION_ROW, SESSION_USER_ID
from portal.accounts.user_sessions import views
from portal.auth.guards import PUBLIC, principal_of, signed_in
from portal.i18n import _, ngettext
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


@dataclass
class CodeForm:
    """A code from the authenticator app, or a recovery code (or, where accepted, the password)."""

    code: str = forms.text(forms.PASSWORD_MAX_LENGTH)


@dataclass
class SignInCodeForm(CodeForm):
    """The code page: the code, and whether to remember this browser for 30 days."""

    se_souvenir: str = forms.text(forms.CHOICE_MAX_LENGTH)


def provide_second_factors(db_session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]) -> Any:
    """The second-factor service, with the sign-in throttle's limits."""
    return SecondFactorService(
        db_session, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
    )


SECOND_FACTORS = Provide(provide_second_factors, sync_to_thread=False)
# Codes and secrets are on these pages: no cache keeps them, no page after learns the address.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
CODE_PAGE_TEMPLATE = "accounts/sign_in_code.html"


def _refusal(outcome: Outcome, second_factors: SecondFactorService) -> str:
    if outcome is Outcome.LOCKED:
        minutes = max(1, int(second_factors.window.total_seconds()) // 60)
        return ngettext(*LOCKED_OUT, minutes) % {"minutes": minutes}
    return _(REUSED_CODE) if outcome is Outcome.REUSED else _(WRONG_CODE)


class SignInController(Controller):
    path = "/"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"accounts": provide(AccountService), "second_factors": SECOND_FACTORS}

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
        db_session: NamedDependency[AsyncSession],
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
        return await finish_sign_in(request, db_session, user, data.suivant)

    @get("/connexion/code", opt=PUBLIC, name="accounts:sign_in_code", media_type=MediaType.HTML)
    async def code_page(self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]) -> Any:
        """The second step of a sign-in: a code from the person's app, or one of their recovery codes."""
        pending = pending_of(request)
        if pending is None or pending.expired():
            return await self._start_again(request, settings, expired=pending is not None)
        return Template(template_name=CODE_PAGE_TEMPLATE, context={"error": None}, headers=NO_STORE)

    @post("/connexion/code", opt=PUBLIC, name="accounts:sign_in_code_submit", media_type=MediaType.HTML)
    async def submit_code(
        self,
        request: Request[Any, Any, Any],
        second_factors: NamedDependency[SecondFactorService],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        data: Annotated[SignInCodeForm, forms.POSTED],
    ) -> Any:
        """A code: signed in, or told why not; the fifth wrong one ends this sign-in."""
        pending = pending_of(request)
        if pending is None or pending.expired():
            return await self._start_again(request, settings, expired=pending is not None)
        user = await db_session.get(User, pending.user_id)
        if user is None or not user.is_active or user.session_epoch != pending.epoch:
            return await self._start_again(request, settings, expired=True)
        outcome = Outcome.WRONG if forms.clip(data) else await second_factors.check(user, data.code)
        if outcome.accepted:
            redirect = await establish_session(request, db_session, user, pending.next_path, second_factor=True)
            if data.se_souvenir == "1":
                label = request.headers.get("user-agent", "")
                remember_browser(request, redirect, *await second_factors.trust_browser(user, label))
            if outcome is Outcome.RECOVERY:
                left = (await second_factors.status(user.id)).recovery_codes_left
                flash(request, _("Code de secours utilisé : il vous en reste %(count)s. Vous pouvez en générer de "
                                 "nouveaux dans Mon compte.") % {"count": left}, category="info")  # fmt: skip
            return redirect
        # The refusal is an error status, which rolls the request back: keep the count and the audit event.
        await second_factors.keep()
        attempts = pending.attempts + 1
        if attempts >= second_factors.max_failures or outcome is Outcome.LOCKED:
            request.set_session({})  # emptied, not cleared: the page rendered below reads it
            if outcome is Outcome.LOCKED:
                message = _refusal(outcome, second_factors)
            else:
                message = _("Trop de codes incorrects : recommencez la connexion.")
            context = await sign_in_context(settings, pending.next_path, email=user.email, error=message)
            return Template(template_name="accounts/sign_in.html", context=context, status_code=429)
        request.session[SESSION_PENDING] = {**request.session[SESSION_PENDING], "attempts": attempts}
        return Template(
            template_name=CODE_PAGE_TEMPLATE,
            context={"error": _refusal(outcome, second_factors)},
            status_code=401,
            headers=NO_STORE,
        )

    @staticmethod
    async def _start_again(request: Request[Any, Any, Any], settings: Settings, *, expired: bool) -> Any:
        """Back to the password: nothing is pending here (a signed-in session stays as it is), or it expired."""
        if not expired:
            return Redirect("/connexion", status_code=303)
        request.set_session({})  # emptied, not cleared: the page rendered below reads it
        return Template(
            template_name="accounts/sign_in.html",
            context=await sign_in_context(settings, "/", error=_("La connexion a expiré : recommencez.")),
            status_code=401,
        )

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
        db_session: NamedDependency[AsyncSession],
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
        # The link proves the address only: a person with a second factor is still asked for it.
        response = await finish_sign_in(request, db_session, user, "/")
        flash(request, _("Votre nouveau mot de passe est enregistré ; vos autres sessions sont fermées."),
              category="success")  # fmt: skip
        return response


async def _profile(person: User, second_factors: SecondFactorService) -> dict[str, Any]:
    return {
        "person": person,
        "second_factor": await second_factors.status(person.id),
        "second_factor_required": await second_factors.required_of(person),
    }


class AccountController(Controller):
    """The signed-in person's own account (Mon compte), reached from their name in the top bar."""

    path = "/compte"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"accounts": provide(AccountService), "second_factors": SECOND_FACTORS}

    @staticmethod
    async def _page(
        request: Request[Any, Any, Any],
        accounts: AccountService,
        second_factors: SecondFactorService,
        settings: Settings,
        *,
        password_errors: Mapping[str, str] | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> Template:
        """Mon compte: the person, their password form, their second factor and their sessions."""
        principal = principal_of(request)
        person = await accounts.person(principal.user_id)
        sessions = views(await accounts.sessions(person, settings), _row_of(request))
        return Template(
            template_name="accounts/profile.html",
            context={
                **await _profile(person, second_factors),
                **await ACCOUNT.context("notifications", principal, accounts.session),
                "parts": ACCOUNT,
                "sessions": sessions,
                "password_errors": password_errors or {},
                **context,
            },
            status_code=status_code,
            headers=NO_STORE,
        )

    @get("/", guards=[signed_in], name="accounts:profile", media_type=MediaType.HTML)
    async def profile(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
        settings: NamedDependency[Settings],
    ) -> Template:
        """Who the person is, as the firm knows them; the sections of their account follow."""
        return await self._page(request, accounts, second_factors, settings)

    @post("/mot-de-passe", guards=[signed_in], name="accounts:change_password", media_type=MediaType.HTML)
    async def change_password(  # noqa: PLR0917 - Litestar passes the dependencies by name
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
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
            return await self._page(
                request, accounts, second_factors, settings, password_errors=errors, status_code=422
            )
        # Already signed in (second factor included): this browser stays so, under the new epoch.
        response = await establish_session(request, db_session, user, "/compte", second_factor=True)
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

    # --- the second factor (accounts/_two_factor.html on the profile) --------------------

    @get("/double-authentification", guards=[signed_in], name="accounts:two_factor", media_type=MediaType.HTML)
    async def two_factor(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
    ) -> Any:
        """Enrolment: the QR code and the secret of an enrolment under way, or the button that starts one."""
        person = await accounts.person(principal_of(request).user_id)
        if await second_factors.is_active(person.id):
            return Redirect("/compte", status_code=303)
        return self._enrolment(request, person, await second_factors.pending(person))

    @staticmethod
    def _enrolment(request: Request[Any, Any, Any], person: User, enrolment: Any, *, error: str | None = None,
                   status_code: int = 200) -> Template:  # fmt: skip
        return Template(
            template_name="accounts/two_factor_enrol.html",
            context={
                "person": person,
                "enrolment": enrolment,
                "error": error,
                "must_enrol": bool(request.session.get(SESSION_MUST_ENROL)),
            },
            status_code=status_code,
            headers=NO_STORE,
        )

    @post("/double-authentification", guards=[signed_in], name="accounts:two_factor_start")
    async def start_two_factor(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
    ) -> Redirect:
        """« Activer la double authentification »: a new secret, waiting for its first code."""
        await second_factors.start(await accounts.person(principal_of(request).user_id))
        return Redirect("/compte/double-authentification", status_code=303)

    @post(
        "/double-authentification/confirmer",
        guards=[signed_in],
        name="accounts:two_factor_confirm",
        media_type=MediaType.HTML,
    )
    async def confirm_two_factor(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
        data: Annotated[CodeForm, forms.POSTED],
    ) -> Any:
        """The first code from the app: the second factor is active, and the recovery codes are shown once."""
        person = await accounts.person(principal_of(request).user_id)
        enrolment = await second_factors.pending(person)
        if enrolment is None:
            return Redirect("/compte", status_code=303)
        codes = None if forms.clip(data) else await second_factors.confirm(person, data.code)
        if codes is None:
            await second_factors.keep()  # the failed attempt stays in the audit log
            message = _("Code incorrect : saisissez le code à 6 chiffres affiché par votre application.")
            return self._enrolment(request, person, enrolment, error=message, status_code=422)
        second_factor_enrolled(request)
        return self._recovery_codes(codes, enrolled=True)

    @staticmethod
    def _recovery_codes(codes: list[str], *, enrolled: bool) -> Template:
        # Shown in this answer only: they are stored hashed, so nothing can show them again.
        return Template(
            template_name="accounts/two_factor_codes.html",
            context={"codes": codes, "enrolled": enrolled},
            headers=NO_STORE,
        )

    @staticmethod
    async def _proven(second_factors: SecondFactorService, person: User, proof: CodeForm) -> str | None:
        """None when ``proof`` (a current code or the password) is right; else what to tell the person."""
        outcome = Outcome.WRONG if forms.clip(proof) else await second_factors.check(
            person, proof.code, recovery=False, password=True
        )  # fmt: skip
        if outcome.accepted:
            return None
        await second_factors.keep()  # the refusal rolls back: keep the count and the audit event
        return _refusal(outcome, second_factors) if outcome is not Outcome.WRONG else _(
            "Code ou mot de passe incorrect."
        )  # fmt: skip

    async def _profile_with_error(
        self,
        request: Request[Any, Any, Any],
        accounts: AccountService,
        second_factors: SecondFactorService,
        settings: Settings,
        error: str,
    ) -> Template:
        return await self._page(request, accounts, second_factors, settings, two_factor_error=error, status_code=422)

    @post(
        "/double-authentification/desactiver",
        guards=[signed_in],
        name="accounts:two_factor_disable",
        media_type=MediaType.HTML,
    )
    async def disable_two_factor(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
        settings: NamedDependency[Settings],
        data: Annotated[CodeForm, forms.POSTED],
    ) -> Any:
        """Disable the second factor, with a current code or the password."""
        person = await accounts.person(principal_of(request).user_id)
        if await second_factors.required_of(person):
            message = _("La double authentification est obligatoire pour votre rôle : elle ne peut pas être "
                        "désactivée.")  # fmt: skip
            return await self._profile_with_error(request, accounts, second_factors, settings, message)
        error = await self._proven(second_factors, person, data)
        if error:
            return await self._profile_with_error(request, accounts, second_factors, settings, error)
        await second_factors.remove(person, "second_factor.disable")
        flash(request, _("Double authentification désactivée."), category="success")
        return Redirect("/compte", status_code=303)

    @post(
        "/double-authentification/navigateurs/oublier",
        guards=[signed_in],
        name="accounts:two_factor_forget_browsers",
    )
    async def forget_browsers(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
    ) -> Redirect:
        """« Oublier ces navigateurs »: every remembered browser asks for a code again."""
        await second_factors.forget_browsers(await accounts.person(principal_of(request).user_id))
        flash(request, _("Les navigateurs mémorisés demanderont de nouveau un code."), category="success")
        return Redirect("/compte#double-authentification", status_code=303)

    @post(
        "/double-authentification/codes-de-secours",
        guards=[signed_in],
        name="accounts:two_factor_recovery_codes",
        media_type=MediaType.HTML,
    )
    async def regenerate_recovery_codes(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        second_factors: NamedDependency[SecondFactorService],
        settings: NamedDependency[Settings],
        data: Annotated[CodeForm, forms.POSTED],
    ) -> Any:
        """Ten new recovery codes (the previous ones stop working), with a current code or the password."""
        person = await accounts.person(principal_of(request).user_id)
        if not await second_factors.is_active(person.id):
            return Redirect("/compte", status_code=303)
        error = await self._proven(second_factors, person, data)
        if error:
            return await self._profile_with_error(request, accounts, second_factors, settings, error)
        return self._recovery_codes(await second_factors.regenerate_recovery_codes(person), enrolled=False)
