"""Utilisateurs (people, invitations), the invitation link, and Paramètres pages."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest, HTMXTemplate
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.flow import finish_sign_in
from portal.accounts.models import User
from portal.audit.sentences import areas
from portal.audit.services import AuditEventService, audit_filter
from portal.auth.guards import PUBLIC, principal_of, requires
from portal.auth.permissions import AREAS, DESCRIPTIONS, LABELS, Permission
from portal.auth.policy import Principal
from portal.auth.roles import DOSSIER_ROLE_PERMISSIONS, ROLE_PERMISSIONS, DossierRole, FirmRole
from portal.clients.services import DossierService
from portal.db.paging import Paging, Sort
from portal.firm.invitations import Grant, InvitationService, InviteError, LinkError, grantable_firm_roles
from portal.firm.pages import GENERAL_SETTINGS
from portal.firm.services import (
    MAX_DSO_DAYS,
    MAX_GRACE_DAYS,
    MAX_REVENUE_DROP_PERCENT,
    ROLES_PAGE_SIZE,
    USER_SORTS,
    USERS_ORDER,
    FirmService,
    UserError,
    UserService,
    status_of,
)
from portal.i18n import _
from portal.jobs.diagnostic import diagnostic
from portal.jobs.services import JobRunService
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.htmx import partial_or_redirect


@dataclass
class InviteForm:
    """The Nouveau form's fields but the list of dossiers as Comptable (ids, each checked)."""

    email: str = forms.text(forms.EMAIL_MAX_LENGTH)
    nom: str = forms.text(forms.NAME_MAX_LENGTH)
    collaborateur: str = forms.text(forms.CHOICE_MAX_LENGTH)
    dossier_cabinet: str = forms.text(forms.CHOICE_MAX_LENGTH)
    employe: str = forms.text(forms.CHOICE_MAX_LENGTH)
    facturation: str = forms.text(forms.CHOICE_MAX_LENGTH)
    client: str = forms.text(forms.CHOICE_MAX_LENGTH)
    role_cabinet: str = forms.text(forms.CHOICE_MAX_LENGTH)
    comptable: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)


@dataclass
class RoleRemovalForm:
    """The button taking one role on one dossier from a person."""

    dossier: str = forms.text(forms.CHOICE_MAX_LENGTH)
    role: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class ConfirmForm:
    """A destructive action's confirmation box."""

    confirmer: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class SecondFactorRuleForm:
    """Paramètres › Double authentification: mandatory for partners and administrators, and the grace in days."""

    obligatoire: str = forms.text(forms.CHOICE_MAX_LENGTH)
    delai: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class DashboardAlertsForm:
    """Paramètres › Alertes du tableau de bord: the thresholds of Accueil's KPI alerts."""

    baisse_ca: str = forms.text(forms.CHOICE_MAX_LENGTH)
    dso: str = forms.text(forms.CHOICE_MAX_LENGTH)
    tresorerie: str = forms.text(forms.CHOICE_MAX_LENGTH)


def _whole_number(typed: str, highest: int) -> int | None:
    """A whole number from 1 to ``highest`` typed in a form, or None."""
    typed = typed.strip()
    if not (typed.isascii() and typed.isdigit() and len(typed) <= len(str(highest))):
        return None
    value = int(typed)
    return value if 1 <= value <= highest else None


@dataclass
class FirmRoleRemovalForm:
    """The confirmed button taking one firm role from a person."""

    role: str = forms.text(forms.CHOICE_MAX_LENGTH)
    confirme: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class AcceptForm:
    """The invitation link's form: the password chosen, twice."""

    password: str = forms.text(forms.PASSWORD_MAX_LENGTH)
    confirmation: str = forms.text(forms.PASSWORD_MAX_LENGTH)


# Firm roles the form may offer besides Collaborateur (a checkbox): those the inviter may give.
NAMED_FIRM_ROLES = (FirmRole.PARTNER, FirmRole.ADMIN)
FIRM_DOSSIER_ROLES = (("employe", DossierRole.EMPLOYEE), ("facturation", DossierRole.BILLING_MANAGER))
PICKERS = {"comptable": False, "client": False}  # picker name → lists firm dossiers (both: client dossiers)


def _ids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return ids


def _form_values(form: InviteForm) -> tuple[dict[str, Any], dict[str, str]]:
    """The Nouveau form's values (each cut to its limit) and the message of each field that was too long."""
    too_long = forms.clip(form)
    values: dict[str, Any] = {name: value.strip() for name, value in asdict(form).items() if isinstance(value, str)}
    values["comptable"] = form.comptable
    return values, too_long


def _requested_roles(values: dict[str, Any]) -> tuple[set[FirmRole], list[Grant]]:
    """What the Nouveau form asks for. A malformed dossier id is a dossier that does not exist."""
    roles: set[FirmRole] = set()
    grants: list[Grant] = []
    if values["role_cabinet"]:
        try:
            roles.add(FirmRole(values["role_cabinet"]))
        except ValueError:
            raise InviteError(_("Rôle inconnu."), "role_cabinet") from None
    accountant_of = values["comptable"]
    if values["collaborateur"] or accountant_of:
        roles.add(FirmRole.COLLABORATOR)
    grants.extend(Grant(_dossier_id(raw, "comptable"), DossierRole.ACCOUNTANT) for raw in accountant_of)
    firm_roles = [role for key, role in FIRM_DOSSIER_ROLES if values[key]]
    if firm_roles:
        if not values["dossier_cabinet"]:
            raise InviteError(_("Choisissez le dossier du cabinet."), "dossier_cabinet")
        firm_dossier = _dossier_id(values["dossier_cabinet"], "dossier_cabinet")
        grants.extend(Grant(firm_dossier, role) for role in firm_roles)
    if values["client"]:
        grants.append(Grant(_dossier_id(values["client"], "client"), DossierRole.CLIENT_USER))
    return roles, grants


def _dossier_id(raw: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InviteError(_("Dossier introuvable."), field) from None


async def _new_form(
    principal: Principal,
    invitations: InvitationService,
    values: dict[str, Any],
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    firm_dossiers = (await invitations.dossier_choices(principal, firm_dossiers=True, query="")).found
    if not values.get("dossier_cabinet"):
        default = await invitations.firm_dossier_default(firm_dossiers)
        values["dossier_cabinet"] = str(default) if default else ""
    comptable = await invitations.dossier_choices(principal, firm_dossiers=False, chosen=_ids(values["comptable"]))
    client = await invitations.dossier_choices(principal, firm_dossiers=False, chosen=_ids([values["client"]]))
    return {
        "form": values,
        "errors": dict(errors or {}),
        "firm_dossiers": firm_dossiers,
        "pickers": {"comptable": comptable, "client": client},
        "named_roles": [role for role in NAMED_FIRM_ROLES if role in grantable_firm_roles(principal)],
    }


async def _detail_context(
    request: Request[Any, Any, Any],
    users: UserService,
    invitations: InvitationService,
    user: User,
    *,
    error: str | None = None,
) -> dict[str, Any]:
    principal = principal_of(request)
    invitation = await invitations.for_user(user.id)
    return {
        "person": user,
        "invitation": invitation,
        "status": status_of(user, invitation),
        "firm_roles": sorted(user.firm_roles, key=list(FirmRole).index),
        "memberships": await users.dossier_roles(
            principal, user, Paging.from_query(request.query_params, default_size=ROLES_PAGE_SIZE)
        ),
        "can_invite": principal.can(Permission.USERS_INVITE),
        "can_manage": principal.can(Permission.USERS_MANAGE),
        "is_self": user.id == principal.user_id,
        "second_factor_active": await users.second_factor_active(user)
        if principal.can(Permission.USERS_MANAGE)
        else None,
        "error": error,
    }


class UserController(Controller):
    """Utilisateurs: the people the viewer may see, inviting, and managing one person."""

    path = "/utilisateurs"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {
        "users": provide(UserService),
        "invitations": provide(InvitationService),
        "dossiers": provide(DossierService),
    }

    @get("/", guards=[requires(Permission.USERS_READ)], name="firm:users", dependencies=PAGING)
    async def index(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        paging: NamedDependency[Paging],
        q: FromQuery[str] = "",
        tri: FromQuery[str] = "",
    ) -> Template:
        q = forms.query_text(q)
        sort = Sort.read(tri, USER_SORTS, USERS_ORDER)
        result = await users.visible_page(principal_of(request), query=q, paging=paging, sort=sort)
        return Template(template_name="firm/users.html", context={"result": result, "q": q.strip(), "sort": sort})

    @get("/nouveau", guards=[requires(Permission.USERS_INVITE)], name="firm:user_new")
    async def new(
        self,
        request: Request[Any, Any, Any],
        invitations: NamedDependency[InvitationService],
        email: FromQuery[str] = "",
    ) -> Template:
        values, _too_long = _form_values(InviteForm(email=email))
        context = await _new_form(principal_of(request), invitations, values)
        return Template(template_name="firm/user_new.html", context=context)

    @post("/", guards=[requires(Permission.USERS_INVITE)], name="firm:user_invite", media_type=MediaType.HTML)
    async def invite(
        self,
        request: Request[Any, Any, Any],
        invitations: NamedDependency[InvitationService],
        data: Annotated[InviteForm, forms.POSTED],
    ) -> Any:
        principal = principal_of(request)
        values, too_long = _form_values(data)
        if too_long:
            context = await _new_form(principal, invitations, values, too_long)
            return Template(template_name="firm/user_new.html", context=context, status_code=422)
        try:
            roles, grants = _requested_roles(values)
            outcome = await invitations.invite(
                principal, email=values["email"], name=values["nom"], firm_roles=roles, grants=grants
            )
        except InviteError as refused:
            # Nothing was kept: a 4xx response rolls the request's transaction back.
            context = await _new_form(principal, invitations, values, {refused.field or "general": refused.message})
            return Template(template_name="firm/user_new.html", context=context, status_code=refused.status)
        if outcome.created or outcome.user is None:
            # A new person, or (the same answer, to the byte) someone hidden from the inviter, whose
            # page must not be the difference: the list either way (``portal.firm.invitations``).
            flash(request, _("Invitation envoyée à %(email)s.") % {"email": outcome.email}, category="success")
            return Redirect("/utilisateurs/", status_code=303)
        if outcome.invited:
            message = _("Rôles ajoutés à %(email)s ; une nouvelle invitation lui est envoyée.")
        else:
            message = _("Rôles ajoutés à %(email)s, qui en est averti par courriel.")
        flash(request, message % {"email": outcome.email}, category="success")
        return Redirect(f"/utilisateurs/{outcome.user.id}", status_code=303)

    @get(
        "/dossiers",
        guards=[requires(Permission.USERS_INVITE)],
        name="firm:user_dossier_picker",
        media_type=MediaType.HTML,
    )
    async def dossier_picker(
        self,
        request: HTMXRequest,
        invitations: NamedDependency[InvitationService],
        role: FromQuery[str] = "comptable",
        q: FromQuery[str] = "",
    ) -> Template:
        """The live search of the Nouveau form's dossier pickers (a fragment, with or without htmx)."""
        field = role if role in PICKERS else "comptable"
        chosen = _ids([str(value) for value in request.query_params.getall(field, [])])
        picker = await invitations.dossier_choices(
            principal_of(request), firm_dossiers=PICKERS[field], query=forms.query_text(q), chosen=chosen
        )
        return HTMXTemplate(
            template_name="firm/_partials/dossier_picker.html",
            context={"picker": picker, "field": field, "multiple": field == "comptable"},
        )

    @get("/{user_id:uuid}", guards=[requires(Permission.USERS_READ)], name="firm:user")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        user_id: FromPath[uuid.UUID],
    ) -> Template:
        user = await users.get_visible(principal_of(request), user_id)
        context = await _detail_context(request, users, invitations, user)
        return Template(template_name="firm/user_detail.html", context=context)

    async def _act(
        self,
        request: Request[Any, Any, Any],
        users: UserService,
        invitations: InvitationService,
        user_id: uuid.UUID,
        *,
        action: Callable[[Principal, User], Awaitable[object]],
        done: str,
        values: Mapping[str, str] | None = None,
    ) -> Any:
        """Do ``action`` to the person (404 if hidden): back to their page with ``done``, or the refusal (422)."""
        principal = principal_of(request)
        user = await users.get_visible(principal, user_id)
        try:
            await action(principal, user)
        except UserError as refused:
            context = await _detail_context(request, users, invitations, user, error=str(refused))
            return Template(template_name="firm/user_detail.html", context=context, status_code=422)
        flash(request, done % {"email": user.email, "name": user.name, **(values or {})}, category="success")
        return Redirect(f"/utilisateurs/{user.id}", status_code=303)

    @post(
        "/{user_id:uuid}/invitation/renvoyer",
        guards=[requires(Permission.USERS_INVITE)],
        name="firm:user_resend",
        media_type=MediaType.HTML,
    )
    async def resend(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        user_id: FromPath[uuid.UUID],
    ) -> Any:
        done = _("Invitation renvoyée à %(email)s : le lien précédent ne fonctionne plus.")
        return await self._act(request, users, invitations, user_id, action=invitations.resend, done=done)

    @post(
        "/{user_id:uuid}/invitation/revoquer",
        guards=[requires(Permission.USERS_INVITE)],
        name="firm:user_revoke",
        media_type=MediaType.HTML,
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        user_id: FromPath[uuid.UUID],
    ) -> Any:
        done = _("Invitation révoquée : le lien ne fonctionne plus.")
        return await self._act(request, users, invitations, user_id, action=invitations.revoke, done=done)

    @post(
        "/{user_id:uuid}/desactiver",
        guards=[requires(Permission.USERS_MANAGE)],
        name="firm:user_deactivate",
        media_type=MediaType.HTML,
    )
    async def deactivate(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        user_id: FromPath[uuid.UUID],
    ) -> Any:
        done = _("%(name)s est désactivé : ses sessions sont fermées.")
        return await self._act(request, users, invitations, user_id, action=users.deactivate, done=done)

    @post(
        "/{user_id:uuid}/reactiver",
        guards=[requires(Permission.USERS_MANAGE)],
        name="firm:user_reactivate",
        media_type=MediaType.HTML,
    )
    async def reactivate(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        user_id: FromPath[uuid.UUID],
    ) -> Any:
        done = _("%(name)s est réactivé.")
        return await self._act(request, users, invitations, user_id, action=users.reactivate, done=done)

    @post(
        "/{user_id:uuid}/double-authentification/reinitialiser",
        guards=[requires(Permission.USERS_MANAGE)],
        name="firm:user_reset_second_factor",
        media_type=MediaType.HTML,
    )
    async def reset_second_factor(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        user_id: FromPath[uuid.UUID],
        data: Annotated[ConfirmForm, forms.POSTED],
    ) -> Any:
        """Remove the person's second factor (they lost their phone), once the box is ticked; they are emailed."""

        async def reset(actor: Principal, user: User) -> None:
            if data.confirmer != "1":
                raise UserError(_("Cochez la case pour confirmer la réinitialisation."))
            await users.reset_second_factor(actor, user)

        done = _("Double authentification de %(name)s réinitialisée : %(email)s en est averti par courriel.")
        return await self._act(request, users, invitations, user_id, action=reset, done=done)

    @post(
        "/{user_id:uuid}/roles-cabinet/retirer",
        guards=[requires(Permission.USERS_MANAGE)],
        name="firm:user_remove_firm_role",
        media_type=MediaType.HTML,
    )
    async def remove_firm_role(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        user_id: FromPath[uuid.UUID],
        data: Annotated[FirmRoleRemovalForm, forms.POSTED],
    ) -> Any:
        """Take one firm role from the person, once confirmed: audited, and their sessions end."""
        forms.clip(data)
        try:
            role = FirmRole(data.role)
        except ValueError:
            raise NotFoundException from None

        async def remove(principal: Principal, user: User) -> None:
            if data.confirme != "oui":
                raise UserError(_("Confirmez le retrait du rôle."))
            if not await users.remove_firm_role(principal, user, role):
                raise UserError(_("Ce rôle avait déjà été retiré."))

        done = _("Rôle « %(role)s » retiré à %(name)s : ses sessions sont fermées.")
        return await self._act(
            request, users, invitations, user_id, action=remove, done=done, values={"role": _(role.label)}
        )

    @post(
        "/{user_id:uuid}/roles/retirer",
        guards=[requires(Permission.USERS_INVITE)],
        name="firm:user_remove_role",
        media_type=MediaType.HTML,
    )
    async def remove_role(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        invitations: NamedDependency[InvitationService],
        dossiers: NamedDependency[DossierService],
        user_id: FromPath[uuid.UUID],
        *,
        data: Annotated[RoleRemovalForm, forms.POSTED],
    ) -> Any:
        """Take one role on one dossier from the person (the dossier must be one the actor sees: else 404)."""
        principal = principal_of(request)
        user = await users.get_visible(principal, user_id)
        dossier_ids = _ids([data.dossier])
        try:
            role = DossierRole(data.role)
        except ValueError:
            raise NotFoundException from None
        if not dossier_ids:
            raise NotFoundException
        dossier = await dossiers.get_visible(principal, dossier_ids[0])
        try:
            removed = await users.remove_dossier_role(principal, user, dossier, role)
        except UserError as refused:
            context = await _detail_context(request, users, invitations, user, error=str(refused))
            return Template(template_name="firm/user_detail.html", context=context, status_code=422)
        if removed:
            message = _("Rôle « %(role)s » retiré sur %(dossier)s.") % {"role": _(role.label), "dossier": dossier.name}
        else:
            message = _("Ce rôle avait déjà été retiré.")
        flash(request, message, category="success")
        return Redirect(f"/utilisateurs/{user.id}", status_code=303)


# The token is in the address: no page after this one learns it, and no cache keeps it.
LINK_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class InvitationLinkController(Controller):
    """The link of the invitation email: choose a password, and be signed in (public)."""

    path = "/invitation"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"invitations": provide(InvitationService)}

    @staticmethod
    def _refused(refused: LinkError) -> Template:
        return Template(
            template_name="errors/error.html",
            context={"status": refused.status, "title": _(refused.title), "message": _(refused.message)},
            status_code=refused.status,
            headers=LINK_HEADERS,
        )

    @get("/{token:str}", opt=PUBLIC, name="firm:invitation", media_type=MediaType.HTML)
    async def page(self, invitations: NamedDependency[InvitationService], token: FromPath[str]) -> Template:
        try:
            invitation = await invitations.open(token)
        except LinkError as refused:
            return self._refused(refused)
        return Template(
            template_name="firm/invitation.html",
            context={"person": invitation.user, "token": token, "errors": {}},
            headers=LINK_HEADERS,
        )

    @post("/{token:str}", opt=PUBLIC, name="firm:invitation_accept", media_type=MediaType.HTML)
    async def accept(
        self,
        request: Request[Any, Any, Any],
        invitations: NamedDependency[InvitationService],
        db_session: NamedDependency[AsyncSession],
        token: FromPath[str],
        data: Annotated[AcceptForm, forms.POSTED],
    ) -> Any:
        errors = forms.clip(data)
        try:
            if errors:  # refused before the password is hashed (a link that cannot be used says so first)
                await invitations.open(token)
            else:
                user = await invitations.accept(token, password=data.password, confirmation=data.confirmation)
        except LinkError as refused:
            return self._refused(refused)
        except InviteError as refused:
            errors = {refused.field or "general": refused.message}
        if errors:
            invitation = await invitations.open(token)
            context = {"person": invitation.user, "token": token, "errors": errors}
            return Template(
                template_name="firm/invitation.html", context=context, status_code=422, headers=LINK_HEADERS
            )
        # Signed in as at the sign-in page: a fresh session id, bound to the person's epoch.
        redirect = await finish_sign_in(request, db_session, user, "/")
        flash(request, _("Bienvenue, %(name)s : votre mot de passe est enregistré.") % {"name": user.name},
              category="success")  # fmt: skip
        return redirect


@dataclass
class GeneralPage:
    """What Paramètres › Informations générales reads, and the session the other domains' parts build theirs on."""

    firms: NamedDependency[FirmService]
    dossiers: NamedDependency[DossierService]
    db_session: NamedDependency[AsyncSession]


class SettingsController(Controller):
    path = "/parametres"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {
        "firms": provide(FirmService),
        "dossiers": provide(DossierService),
        "general_page": Provide(GeneralPage, sync_to_thread=False),
        "job_runs": provide(JobRunService),
    }

    @get("/", guards=[requires(Permission.SETTINGS_READ)], name="firm:settings")
    async def general(self, request: Request[Any, Any, Any], general_page: NamedDependency[GeneralPage]) -> Template:
        return await self._general(request, general_page)

    @staticmethod
    async def _general(
        request: Request[Any, Any, Any], general_page: GeneralPage, **refused: Any
    ) -> Template:  # fmt: skip
        principal = principal_of(request)
        firm = await general_page.firms.current()
        context = {
            "firm": firm,
            "parts": GENERAL_SETTINGS,
            "own_dossier": await general_page.dossiers.find_visible(principal, firm.own_dossier_id) if firm else None,
            **await GENERAL_SETTINGS.context("billing", principal, general_page.db_session, firm),
            **refused,
        }
        return Template(template_name="firm/settings/general.html", context=context,
                        status_code=422 if refused else 200)  # fmt: skip

    @post(
        "/double-authentification",
        guards=[requires(Permission.SETTINGS_UPDATE)],
        name="firm:second_factor_rule",
        media_type=MediaType.HTML,
    )
    async def second_factor_rule(
        self,
        request: Request[Any, Any, Any],
        general_page: NamedDependency[GeneralPage],
        data: Annotated[SecondFactorRuleForm, forms.POSTED],
    ) -> Template | Redirect:
        """Make a second factor mandatory for partners and administrators, with a grace period in days."""
        typed = data.delai.strip()
        days = int(typed) if typed.isascii() and typed.isdigit() and len(typed) <= len(str(MAX_GRACE_DAYS)) else -1
        if not 0 <= days <= MAX_GRACE_DAYS:
            error = _("Le délai doit être un nombre de jours entre 0 et %(max)s.") % {"max": MAX_GRACE_DAYS}
            return await self._general(request, general_page, second_factor_form=data, second_factor_error=error)
        required = data.obligatoire == "1"
        await general_page.firms.set_second_factor_rule(principal_of(request), required=required, grace_days=days)
        if required:
            message = _("La double authentification est obligatoire pour les associés et administrateurs.")
        else:
            message = _("La double authentification est facultative.")
        flash(request, message, category="success")
        return Redirect("/parametres#double-authentification", status_code=303)

    @post(
        "/alertes-tableau-de-bord",
        guards=[requires(Permission.SETTINGS_UPDATE)],
        name="firm:dashboard_alerts",
        media_type=MediaType.HTML,
    )
    async def dashboard_alerts(
        self,
        request: Request[Any, Any, Any],
        general_page: NamedDependency[GeneralPage],
        data: Annotated[DashboardAlertsForm, forms.POSTED],
    ) -> Template | Redirect:
        """The thresholds of the KPI alerts every person's Accueil shows on their dossiers."""
        errors: dict[str, str] = {}
        drop = _whole_number(data.baisse_ca, MAX_REVENUE_DROP_PERCENT)
        if drop is None:
            errors["baisse_ca"] = _(
                "La baisse du chiffre d'affaires doit être un pourcentage entier entre 1 et %(max)s."
            ) % {"max": MAX_REVENUE_DROP_PERCENT}
        days = _whole_number(data.dso, MAX_DSO_DAYS)
        if days is None:
            errors["dso"] = _("Le délai clients doit être un nombre de jours entre 1 et %(max)s.") % {
                "max": MAX_DSO_DAYS
            }
        if drop is None or days is None:
            return await self._general(request, general_page, alerts_form=data, alerts_errors=errors)
        await general_page.firms.set_dashboard_alerts(
            principal_of(request), revenue_drop_percent=drop, dso_days=days, negative_cash=data.tresorerie == "1"
        )
        flash(request, _("Les alertes du tableau de bord sont enregistrées."), category="success")
        return Redirect("/parametres#alertes-tableau-de-bord", status_code=303)

    @get("/roles", guards=[requires(Permission.SETTINGS_READ)], name="firm:roles")
    async def roles(self) -> Template:
        dossier_permissions = {p for granted in DOSSIER_ROLE_PERMISSIONS.values() for p in granted}
        return Template(
            template_name="firm/settings/roles.html",
            context={
                "roles": list(FirmRole),
                "areas": [(area, list(permissions)) for area, permissions in AREAS],
                "labels": LABELS,
                "descriptions": DESCRIPTIONS,
                "matrix": ROLE_PERMISSIONS,
                "dossier_roles": list(DossierRole),
                "dossier_areas": [
                    (area, [p for p in permissions if p in dossier_permissions])
                    for area, permissions in AREAS
                    if any(p in dossier_permissions for p in permissions)
                ],
                "dossier_matrix": DOSSIER_ROLE_PERMISSIONS,
            },
        )

    @get(
        "/journal",
        guards=[requires(Permission.AUDIT_LOG_READ)],
        name="firm:audit_log",
        dependencies={**PAGING, "audit_events": provide(AuditEventService)},
    )
    async def audit_log(
        self,
        request: Request[Any, Any, Any],
        audit_events: NamedDependency[AuditEventService],
        paging: NamedDependency[Paging],
        *,
        personne: FromQuery[str] = "",
        dossier: FromQuery[str] = "",
        type: FromQuery[str] = "",  # noqa: A002 - the query's own word
        du: FromQuery[str] = "",
        au: FromQuery[str] = "",
    ) -> Template:
        principal = principal_of(request)
        narrowed, errors = audit_filter(personne=personne, dossier=dossier, kind=type, since=du, until=au)
        result = await audit_events.visible_page(principal, paging, narrowed=narrowed)
        asked = {"personne": personne, "dossier": dossier, "type": type, "du": du, "au": au}
        params = {key: value for key, value in asked.items() if value}
        context = {
            "result": result,
            "events": await audit_events.described(principal, result.items),
            "choices": await audit_events.choices(principal),
            "areas": areas(),
            "params": params,
            "errors": errors,
        }
        return Template(template_name="firm/settings/audit_log.html", context=context)

    @get("/systeme", guards=[requires(Permission.JOBS_RUN_DIAGNOSTIC)], name="firm:system")
    async def system(self) -> Template:
        return Template(template_name="firm/settings/system.html")

    @post(
        "/systeme/diagnostic",
        guards=[requires(Permission.JOBS_RUN_DIAGNOSTIC)],
        name="firm:diagnostic",
        media_type=MediaType.HTML,
    )
    async def start_diagnostic(self, request: HTMXRequest, job_runs: NamedDependency[JobRunService]) -> Any:
        run = await job_runs.enqueue(diagnostic.options(created_by_id=principal_of(request).user_id))
        # The run panel replaces the button and follows the run live.
        return partial_or_redirect(request, "jobs/_partials/run.html", {"run": run}, f"/travaux/{run.id}")
