"""Inviting people, and the link that lets them in.

An invitation gives a person roles at once (firm roles, roles on dossiers) and sends them
a link to choose their password. The link's token is drawn by the sending job
(``portal.firm.tasks``), which keeps only its SHA-256: the token exists in clear in the
email alone. A link serves once, for seven days; resending draws a new one (the previous
link dies at once), revoking kills it. Inviting someone who already has an account adds
the roles to that account; if they already chose a password they get a notice, not a link.

People are looked up through the rule of the Utilisateurs pages (``portal.firm.policy``): an
address that belongs to someone the inviter may not see (a client user of a confidential
dossier not granted to them) is answered exactly as a new address would be (the same
checks, the same message), but nothing is changed and nobody is emailed: the person is
neither given roles by someone who does not know of them nor told of the attempt. The
attempt is in the audit log, about that person, so only those who see them read it; one of
them (a partner granted the dossier) can invite the person if that was meant.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, cast

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar.exceptions import PermissionDeniedException
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.addresses import InvalidEmailError, checked_email
from portal.accounts.models import DossierMembership, User, UserRole
from portal.accounts.passwords import hash_password_off_loop, new_password_problem
from portal.accounts.services import normalise_email
from portal.audit.context import acting_as, current_actor
from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.auth.roles import DossierRole, FirmRole
from portal.clients import search
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.firm.links import token_digest
from portal.firm.models import Invitation
from portal.firm.policy import user_visible
from portal.firm.services import OWN_ROLES, FirmService, UserError, UserService
from portal.firm.tasks import send_access_notice, send_invitation
from portal.i18n import N_, _, ngettext

PICKER_LIMIT = 10
MAX_NAME_LENGTH = 200
# Form fields the errors point at (the Nouveau form's names).
GRANT_FIELDS = {
    DossierRole.ACCOUNTANT: "comptable",
    DossierRole.EMPLOYEE: "dossier_cabinet",
    DossierRole.BILLING_MANAGER: "dossier_cabinet",
    DossierRole.CLIENT_USER: "client",
    DossierRole.MAPPER: "email",
}


class InviteError(UserError):
    """An invitation refused; ``message`` is translated, ``field`` the form field it is about (or None), ``status``
    the HTTP answer (422: correct the form; 403: what was asked is not the inviter's to give)."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


# Firm roles from the highest: one gives by invitation a firm role at or below the highest one holds (a partner
# names partners and administrators, an administrator administrators), never one above it.
FIRM_RANKS = (FirmRole.PARTNER, FirmRole.ADMIN, FirmRole.COLLABORATOR)
NOT_YOURS_TO_GIVE = {
    FirmRole.PARTNER: N_("Seul un associé peut nommer un associé."),
    FirmRole.ADMIN: N_("Seul un associé ou un administrateur peut nommer un administrateur."),
    FirmRole.COLLABORATOR: N_("Seul un associé ou un administrateur peut inviter un collaborateur."),
}


def grantable_firm_roles(inviter: Principal) -> tuple[FirmRole, ...]:
    """The firm roles ``inviter`` may give: theirs and those below (none without the right to invite)."""
    if not inviter.can(Permission.USERS_INVITE):
        return ()
    held = [FIRM_RANKS.index(role) for role in inviter.roles]
    return FIRM_RANKS[min(held) :] if held else ()


class LinkError(Exception):
    """An invitation link that cannot be used; ``title`` and ``message`` are msgids, ``status`` HTTP."""

    def __init__(self, title: str, message: str, status: int) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


UNKNOWN = LinkError(
    N_("Lien d'invitation invalide"),
    N_("Ce lien d'invitation n'est pas valide. Il a peut-être été remplacé par un lien plus récent : "
       "utilisez le dernier courriel reçu, ou demandez une nouvelle invitation au cabinet."),
    404,
)  # fmt: skip
EXPIRED = LinkError(
    N_("Invitation expirée"),
    N_("Ce lien d'invitation a expiré. Demandez au cabinet de vous renvoyer une invitation."),
    410,
)
REVOKED = LinkError(
    N_("Invitation révoquée"),
    N_("Cette invitation a été révoquée par le cabinet. Contactez-le si vous pensez qu'il s'agit d'une erreur."),
    410,
)
USED = LinkError(
    N_("Invitation déjà utilisée"),
    N_("Ce lien d'invitation a déjà servi. Connectez-vous avec votre adresse e-mail et votre mot de passe."),
    410,
)


@dataclass(frozen=True)
class Grant:
    """A role to give on a dossier."""

    dossier_id: uuid.UUID
    role: DossierRole


@dataclass(frozen=True)
class InviteOutcome:
    """What the inviter is told. For an address of someone hidden from them, what a new person's
    invitation would say (``created``, ``invited``), while ``user`` is None and nothing was done."""

    email: str
    user: User | None
    created: bool  # a new person (as far as the inviter may know)
    invited: bool  # a link to choose a password is on its way (else a notice of new access)
    firm_roles_added: list[FirmRole]
    grants_added: list[Grant]


@dataclass(frozen=True)
class PickerChoices:
    """The dossier picker of the Nouveau form: what is chosen, and what the search found besides."""

    chosen: list[Dossier]
    found: list[Dossier]
    more: bool  # the search found more than it shows


class InvitationRepository(SQLAlchemyAsyncRepository[Invitation]):
    model_type = Invitation


class InvitationService(SQLAlchemyAsyncRepositoryService[Invitation, InvitationRepository]):
    """Invitations: giving roles, sending the link, and accepting it."""

    repository_type = InvitationRepository

    @property
    def session(self) -> AsyncSession:
        # The portal opens plain sessions only (never advanced-alchemy's scoped ones); the outbox needs one.
        return cast("AsyncSession", self.repository.session)

    # --- inviting ---------------------------------------------------------------------------

    async def invite(
        self,
        inviter: Principal,
        *,
        email: str,
        name: str,
        firm_roles: Iterable[FirmRole] = (),
        grants: Iterable[Grant] = (),
    ) -> InviteOutcome:
        """Give ``email``'s person ``firm_roles`` and ``grants``, creating the person if need be, and
        request the email (an invitation link, or a notice for someone who already signs in).

        Everything is checked before anything is written; raises ``InviteError``. A dossier
        the inviter may not see is "Dossier introuvable.", exactly like one that does not
        exist. A Comptable with no firm role becomes a collaborator of the firm. An address of
        someone ``inviter`` may not see is answered as a new one, and nothing is done (module docstring).
        """
        email, name, roles, wanted = await self._checked(inviter, email, name, firm_roles, grants)
        user, created = await self._person(inviter, email, name)
        if user is None:
            return await self._withheld(email, roles, wanted)
        if any(grant.role == DossierRole.ACCOUNTANT for grant in wanted) and not (roles or user.firm_roles):
            roles.add(FirmRole.COLLABORATOR)
        roles_added = await self._add_firm_roles(user, roles)
        grants_added = await self._add_grants(inviter, user, wanted)
        session = self.session
        invited = user.password_hash is None
        if not invited and not roles_added and not grants_added:
            raise InviteError(_("%(email)s a déjà tous ces rôles.") % {"email": user.email}, "email")
        record(
            session, "user.invite", object_type="user_account", object_id=str(user.id), email=user.email,
            created=created, firm_roles=[role.value for role in roles_added], dossier_roles=len(grants_added),
        )  # fmt: skip
        # The runs name their recipient (person_id): hidden with them from whoever may not see them.
        if invited:
            invitation = await self._issue(inviter, user)
            await send_invitation.options(created_by_id=inviter.user_id, person_id=user.id).enqueue(
                session, invitation_id=str(invitation.id)
            )
        else:
            # Someone who already signs in is told what they were given: role names, never dossier names.
            labels = [role.label for role in roles_added]
            labels += [role.label for role in DossierRole if any(grant.role == role for grant in grants_added)]
            await send_access_notice.options(created_by_id=inviter.user_id, person_id=user.id).enqueue(
                session, user_id=str(user.id), roles=labels
            )
        await session.refresh(user, ["roles"])
        return InviteOutcome(email=user.email, user=user, created=created, invited=invited,
                             firm_roles_added=roles_added, grants_added=grants_added)  # fmt: skip

    async def _withheld(self, email: str, roles: set[FirmRole], grants: list[Grant]) -> InviteOutcome:
        """The invitation of someone hidden from the inviter: recorded about that person (so the log shows it
        only to those who see them), nothing else; the inviter is answered as for a new person."""
        session = self.session
        person = (await session.execute(select(User.id).where(User.email == email))).scalar_one()
        record(
            session, "user.invite_withheld", object_type="user_account", object_id=str(person),
            firm_roles=sorted(role.value for role in roles), dossier_roles=len(grants),
        )  # fmt: skip
        await session.flush()
        return InviteOutcome(email=email, user=None, created=True, invited=True, firm_roles_added=[], grants_added=[])

    async def _checked(
        self, inviter: Principal, email: str, name: str, firm_roles: Iterable[FirmRole], grants: Iterable[Grant]
    ) -> tuple[str, str, set[FirmRole], list[Grant]]:
        """The request, normalised, once every rule that does not depend on the person holds."""
        try:
            email = checked_email(email)
        except InvalidEmailError as invalid:
            raise InviteError(_(invalid.message), "email") from None
        name = " ".join(name.split())
        if email == normalise_email(inviter.email):  # an administrator making themselves partner, say
            raise InviteError(_(OWN_ROLES), "email")
        if len(name) > MAX_NAME_LENGTH:
            too_long = ngettext(
                "Le nom ne doit pas dépasser %(max)d caractère.",
                "Le nom ne doit pas dépasser %(max)d caractères.",
                MAX_NAME_LENGTH,
            )
            raise InviteError(too_long % {"max": MAX_NAME_LENGTH}, "nom")
        roles = set(firm_roles)
        grantable = grantable_firm_roles(inviter)
        for role in FIRM_RANKS:
            if role in roles and role not in grantable:  # only a forged form asks for it: the form never offers it
                raise InviteError(_(NOT_YOURS_TO_GIVE[role]), "role_cabinet", status=403)
        wanted = list(dict.fromkeys(grants))
        if not roles and not wanted:
            raise InviteError(_("Choisissez au moins un rôle."))
        await self._check_grants(inviter, wanted)
        return email, name, roles, wanted

    async def _person(self, inviter: Principal, email: str, name: str) -> tuple[User | None, bool]:
        """The person with this address (and whether they were created now); a deactivated one is refused.

        None (and "created") for someone ``inviter`` may not see: checked as a new address is, then left alone.
        """
        users = UserService(session=self.session)
        user = await users.get_by_email(email)
        hidden = user is not None and not await self._sees(inviter, user)
        created = False
        if user is None or hidden:
            if not name:
                raise InviteError(_("Le nom est obligatoire."), "nom")
            if user is not None:  # hidden from the inviter
                return None, True
            user, created = await self._create_person(users, email, name)
        if not user.is_active:
            message = _("Le compte de %(email)s est désactivé : réactivez-le avant de lui donner des rôles.")
            raise InviteError(message % {"email": user.email}, "email")
        return user, created

    async def _sees(self, inviter: Principal, user: User) -> bool:
        """``inviter`` may see ``user``, by the rule of the Utilisateurs pages."""
        statement = select(User.id).where(User.id == user.id, user_visible(inviter))
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def _check_grants(self, inviter: Principal, grants: list[Grant]) -> None:
        dossiers = DossierService(session=self.session)
        for grant in grants:
            field = GRANT_FIELDS[grant.role]
            dossier = await dossiers.find_visible(inviter, grant.dossier_id)
            if dossier is None:
                raise InviteError(_("Dossier introuvable."), field)
            place = grant.role.for_firm_dossier
            if place is True and not dossier.is_firm_dossier:
                message = _("Le rôle « %(role)s » ne s'attribue que sur un dossier du cabinet.")
                raise InviteError(message % {"role": _(grant.role.label)}, field)
            if place is False and dossier.is_firm_dossier:
                message = _("Le rôle « %(role)s » ne s'attribue que sur un dossier client.")
                raise InviteError(message % {"role": _(grant.role.label)}, field)

    async def _create_person(self, users: UserService, email: str, name: str) -> tuple[User, bool]:
        """A new person without a password; if another request created them a moment ago, that one."""
        session = self.session
        user = User(email=email, name=name, password_hash=None, roles=[])
        try:
            async with session.begin_nested():
                session.add(user)
        except IntegrityError:
            existing = await users.get_by_email(email)
            if existing is None:
                raise
            return existing, False
        return user, True

    async def _add_once(self, row: Any) -> bool:
        """Insert ``row`` unless its unique constraint says it is there already (another request, say)."""
        session = self.session
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            return False
        return True

    async def _add_firm_roles(self, user: User, roles: set[FirmRole]) -> list[FirmRole]:
        missing = sorted(roles - user.firm_roles, key=list(FirmRole).index)
        return [role for role in missing if await self._add_once(UserRole(user_id=user.id, role=role))]

    async def _add_grants(self, inviter: Principal, user: User, grants: list[Grant]) -> list[Grant]:
        if not grants:
            return []
        held = await self.session.execute(
            select(DossierMembership.dossier_id, DossierMembership.role).where(
                DossierMembership.user_id == user.id,
                DossierMembership.dossier_id.in_({grant.dossier_id for grant in grants}),
            )
        )
        existing = {Grant(dossier_id, DossierRole(role)) for dossier_id, role in held}
        added = []
        for grant in grants:
            if grant in existing:
                continue
            membership = DossierMembership(
                dossier_id=grant.dossier_id, user_id=user.id, role=grant.role, granted_by_id=inviter.user_id
            )
            if await self._add_once(membership):
                added.append(grant)
        return added

    async def _issue(self, actor: Principal, user: User) -> Invitation:
        """Ask for one more delivery of ``user``'s invitation; the link in force (if any) dies now."""
        invitation = await self.for_user(user.id)
        if invitation is None:
            invitation = Invitation(user_id=user.id, invited_by_id=actor.user_id, deliveries_requested=1)
            if not await self._add_once(invitation):  # created by a concurrent request
                invitation = await self.for_user(user.id)
                if invitation is None:  # pragma: no cover - the row that made the insert fail is there
                    raise InviteError(_("L'invitation n'a pas pu être enregistrée. Réessayez."))
                return await self._issue(actor, user)
            return invitation
        invitation.invited_by_id = actor.user_id
        invitation.token_hash = None
        invitation.expires_at = None
        invitation.revoked_at = None
        invitation.deliveries_requested += 1
        await self.session.flush()
        return invitation

    async def for_user(self, user_id: uuid.UUID) -> Invitation | None:
        statement = select(Invitation).where(Invitation.user_id == user_id)
        invitation: Invitation | None = (await self.session.execute(statement)).scalar_one_or_none()
        return invitation

    async def resend(self, actor: Principal, user: User) -> Invitation:
        """A new link for someone who has not chosen a password yet; the previous link stops working."""
        if not actor.can(Permission.USERS_INVITE):
            raise PermissionDeniedException
        if not user.is_active:
            raise InviteError(_("Ce compte est désactivé : réactivez-le avant de renvoyer l'invitation."))
        if user.password_hash is not None:
            raise InviteError(
                _("Cette personne a déjà choisi son mot de passe : il n'y a pas d'invitation à renvoyer.")
            )
        invitation = await self._issue(actor, user)
        record(
            self.session, "invitation.resend", object_type="invitation", object_id=str(invitation.id), person_id=user.id
        )
        await send_invitation.options(created_by_id=actor.user_id, person_id=user.id).enqueue(
            self.session, invitation_id=str(invitation.id)
        )
        return invitation

    async def revoke(self, actor: Principal, user: User) -> Invitation:
        """The link stops working (it then says so); resending makes a new one."""
        if not actor.can(Permission.USERS_INVITE):
            raise PermissionDeniedException
        invitation = await self.for_user(user.id)
        if invitation is None or invitation.accepted_at is not None or user.password_hash is not None:
            raise InviteError(_("Il n'y a pas d'invitation en cours à révoquer."))
        if invitation.revoked_at is None:
            invitation.revoked_at = dt.datetime.now(dt.UTC)
            await self.session.flush()
        return invitation

    # --- the link ---------------------------------------------------------------------------

    async def open(self, token: str) -> Invitation:
        """The invitation whose link this is, if it can still be accepted; else ``LinkError``."""
        statement = select(Invitation).where(Invitation.token_hash == token_digest(token))
        invitation: Invitation | None = (await self.session.execute(statement)).scalar_one_or_none()
        if invitation is None:
            raise UNKNOWN
        if invitation.accepted_at is not None:
            raise USED
        if invitation.revoked_at is not None or not invitation.user.is_active:
            raise REVOKED
        if invitation.expires_at is None or invitation.expires_at <= dt.datetime.now(dt.UTC):
            raise EXPIRED
        return invitation

    async def accept(self, token: str, *, password: str, confirmation: str) -> User:
        """Set the person's password and spend the link; the caller signs them in.

        The link is spent by one conditional UPDATE: of two concurrent acceptances, one
        matches the row and the other finds it already accepted.
        """
        invitation = await self.open(token)
        refused = new_password_problem(password, confirmation, email=invitation.user.email, name=invitation.user.name)
        if refused:
            field, message = refused
            raise InviteError(message, field)
        # Before the UPDATE (the row stays locked as little as possible), and off the event loop as at sign-in
        # and at a reset link: argon2 is slow by design and would stall every request of the process.
        password_hash = await hash_password_off_loop(password)
        now = dt.datetime.now(dt.UTC)
        session = self.session
        spent = await session.execute(
            update(Invitation)
            .where(
                Invitation.id == invitation.id,
                Invitation.token_hash == token_digest(token),
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .values(accepted_at=now)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise USED
        user = invitation.user
        user.password_hash = password_hash
        user.last_login_at = now
        # The person is the author from here on, as at the sign-in page.
        with acting_as(replace(current_actor(), user_id=user.id, label=user.email)):
            record(
                session, "invitation.accept", object_type="invitation", object_id=str(invitation.id), person_id=user.id
            )
            record(session, "auth.sign_in", object_type="user_account", object_id=str(user.id), method="invitation")
            await session.flush()
        return user

    async def accept_by_sign_on(self, user: User) -> bool:
        """Spend ``user``'s pending invitation because they proved their address another way (single
        sign-on): they are in without choosing a password, and the link stops working. False when no
        invitation is pending (none, accepted, revoked or expired). One conditional UPDATE, as ``accept``."""
        now = dt.datetime.now(dt.UTC)
        session = self.session
        spent = await session.execute(
            update(Invitation)
            .where(
                Invitation.user_id == user.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                # Not sent yet (no expiry drawn) is pending too: the email is on its way.
                Invitation.expires_at.is_(None) | (Invitation.expires_at > now),
            )
            .values(accepted_at=now)
            .returning(Invitation.id)
            .execution_options(synchronize_session=False)
        )
        invitation_id = spent.scalar_one_or_none()
        if invitation_id is None:
            return False
        with acting_as(replace(current_actor(), user_id=user.id, label=user.email)):
            record(session, "invitation.accept", object_type="invitation", object_id=str(invitation_id),
                   method="oidc")  # fmt: skip
            await session.flush()
        return True

    # --- the Nouveau form -------------------------------------------------------------------

    async def dossier_choices(
        self, inviter: Principal, *, firm_dossiers: bool, query: str = "", chosen: Iterable[uuid.UUID] = ()
    ) -> PickerChoices:
        """For the live dossier picker: the chosen dossiers the inviter sees, and the first others matching
        ``query`` among the client dossiers (or the firm's own) the inviter sees."""
        session = self.session
        chosen_ids = list(dict.fromkeys(chosen))
        base = restrict(select(Dossier), inviter, Permission.DOSSIERS_READ, Dossier).where(
            Dossier.is_firm_dossier.is_(firm_dossiers)
        )
        picked: list[Dossier] = []
        if chosen_ids:
            picked = list(
                (await session.execute(base.where(Dossier.id.in_(chosen_ids)).order_by(Dossier.sort_name))).scalars()
            )
        statement = base.where(search.matches(query)).order_by(Dossier.sort_name, Dossier.id)
        if chosen_ids:
            statement = statement.where(Dossier.id.not_in(chosen_ids))
        found = list((await session.execute(statement.limit(PICKER_LIMIT + 1))).scalars())
        return PickerChoices(chosen=picked, found=found[:PICKER_LIMIT], more=len(found) > PICKER_LIMIT)

    async def firm_dossier_default(self, choices: list[Dossier]) -> uuid.UUID | None:
        """The firm dossier the form offers first: the firm's own, else its billing entity, else the first."""
        firm = await FirmService(session=self.session).current()
        ids = [dossier.id for dossier in choices]
        for candidate in (firm.own_dossier_id, firm.billing_entity_id) if firm else ():
            if candidate in ids:
                return candidate
        return ids[0] if ids else None
