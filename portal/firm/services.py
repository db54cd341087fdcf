"""Services for the firm's people and its own record."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar, cast

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.addresses import InvalidEmailError, checked_email
from portal.accounts.models import DossierMembership, User, UserRole
from portal.accounts.passwords import hash_password, password_problem
from portal.accounts.second_factor import Requirement, SecondFactorService
from portal.accounts.services import normalise_email
from portal.accounts.tasks import send_second_factor_reset
from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.auth.roles import DossierRole, FirmRole, in_order
from portal.clients.models import Dossier
from portal.clients.policy import visible
from portal.db.paging import FIRST_PAGE, Page, Paging, Sort, paginate
from portal.firm.models import Firm, Invitation
from portal.firm.policy import seen_member
from portal.i18n import N_, _

ROLES_PAGE_SIZE = 100
USER_SORTS = ("nom", "email", "ajout", "connexion")
"""The columns Utilisateurs sorts by (``tri``): name, address, when the account was made, the last sign-in."""
USERS_ORDER = Sort("nom")
ROLES_FIRST_PAGE = Paging(size=ROLES_PAGE_SIZE)
# Dossier names shown per role on the Utilisateurs list ("Comptable : A, B (+3)").
NAMES_PER_ROLE = 2


class UserError(ValueError):
    """A user could not be created or changed; the message is French and meant for the person."""


OWN_ROLES = N_("Vous ne pouvez pas modifier vos propres rôles : demandez-le à un autre administrateur.")
# Roles the firm may never be left without, among its active people.
ALWAYS_HELD = (FirmRole.PARTNER, FirmRole.ADMIN)
LAST_HOLDER = N_("%(name)s est le dernier %(role)s actif du cabinet : nommez-en un autre d'abord.")


class PersonStatus(StrEnum):
    """Where a person stands: an account in use, an invitation on its way or dead, or switched off."""

    ACTIVE = "active"
    INVITED = "invited"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DEACTIVATED = "deactivated"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    PersonStatus.ACTIVE: N_("Actif"),
    PersonStatus.INVITED: N_("Invitation envoyée"),
    PersonStatus.EXPIRED: N_("Invitation expirée"),
    PersonStatus.REVOKED: N_("Invitation révoquée"),
    PersonStatus.DEACTIVATED: N_("Désactivé"),
}


def status_of(user: User, invitation: Invitation | None, now: dt.datetime | None = None) -> PersonStatus:
    if not user.is_active:
        return PersonStatus.DEACTIVATED
    if invitation is None or invitation.accepted_at is not None:
        return PersonStatus.ACTIVE
    if invitation.revoked_at is not None:
        return PersonStatus.REVOKED
    now = now or dt.datetime.now(dt.UTC)
    # No expiry yet: the sending job has not drawn the link, the invitation is on its way.
    if invitation.expires_at is not None and invitation.expires_at <= now:
        return PersonStatus.EXPIRED
    return PersonStatus.INVITED


@dataclass(frozen=True)
class RoleSummary:
    """A person's dossiers for one role, as the viewer may see them: the first names and how many in all."""

    role: DossierRole
    names: list[str]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.names)


@dataclass(frozen=True)
class PersonRow:
    user: User
    status: PersonStatus
    dossier_roles: list[RoleSummary] = field(default_factory=list)


@dataclass(frozen=True)
class DossierRoles:
    """One dossier and the person's roles on it."""

    dossier: Dossier
    roles: list[DossierRole]


class UserRepository(SQLAlchemyAsyncRepository[User]):
    model_type = User


class UserService(SQLAlchemyAsyncRepositoryService[User, UserRepository]):
    """People who sign in, and their firm-wide roles."""

    repository_type = UserRepository
    match_fields: ClassVar[list[str]] = ["email"]

    async def get_by_email(self, email: str) -> User | None:
        return await self.get_one_or_none(User.email == normalise_email(email))

    async def create_user(
        self, *, email: str, name: str, roles: Iterable[FirmRole], password: str | None = None
    ) -> User:
        """Create a person with ``roles``. Raises ``UserError`` with a French message."""
        try:
            email = checked_email(email)
        except InvalidEmailError as invalid:
            raise UserError(_(invalid.message)) from None
        name = name.strip()
        if not name:
            raise UserError("Le nom est obligatoire.")
        role_set = set(roles)
        if not role_set:
            raise UserError("Choisissez au moins un rôle.")
        if await self.get_by_email(email) is not None:
            raise UserError(f"Un utilisateur existe déjà avec l'adresse {email}.")
        password_hash = None
        if password is not None:
            problem = password_problem(password, email=email, name=name)
            if problem:
                raise UserError(problem)
            password_hash = hash_password(password)
        user = User(email=email, name=name, password_hash=password_hash)
        user.roles = [UserRole(role=role) for role in sorted(role_set, key=list(FirmRole).index)]
        return await self.create(user)

    # --- the Utilisateurs pages -----------------------------------------------------------

    def _visible(self, viewer: Principal) -> Select[Any]:
        return restrict(select(User), viewer, Permission.USERS_READ, User)

    async def visible_page(
        self, viewer: Principal, *, query: str = "", paging: Paging = FIRST_PAGE, sort: Sort = USERS_ORDER
    ) -> Page[PersonRow]:
        """The people ``viewer`` may see (``portal.firm.policy``), one sorted page (``USER_SORTS``), with their
        status and dossier roles."""
        session = self.repository.session
        statement = self._visible(viewer)
        words = query.strip().lower()
        if words:
            pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(
                or_(User.name.ilike(pattern, escape="\\"), User.email.like(pattern, escape="\\"))
            )
        column = {"email": User.email, "ajout": User.created_at, "connexion": User.last_login_at}.get(
            sort.key, func.lower(User.name)
        )
        shown = await paginate(session, statement.order_by(sort.order(column), User.id), paging)
        users: list[User] = shown.items
        ids = [user.id for user in users]
        invitations = await self.invitations_of(ids)
        summaries = await self._role_summaries(viewer, ids)
        now = dt.datetime.now(dt.UTC)
        rows = [
            PersonRow(
                user=user,
                status=status_of(user, invitations.get(user.id), now),
                dossier_roles=summaries.get(user.id, []),
            )
            for user in users
        ]
        return replace(shown, items=rows)

    async def invitations_of(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Invitation]:
        if not user_ids:
            return {}
        result = await self.repository.session.execute(select(Invitation).where(Invitation.user_id.in_(user_ids)))
        return {invitation.user_id: invitation for invitation in result.scalars()}

    async def _role_summaries(self, viewer: Principal, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[RoleSummary]]:
        """Per person and role, the first dossier names (by name) and the count, of dossiers ``viewer`` sees.

        One statement for the page: a window numbers each person's dossiers per role, so
        a Comptable of thousands of dossiers costs no more than one of two.
        """
        if not user_ids:
            return {}
        member = seen_member()
        partition = (member.user_id, member.role)
        ranked = (
            select(
                member.user_id.label("user_id"),
                member.role.label("role"),
                Dossier.name.label("name"),
                func.row_number().over(partition_by=partition, order_by=(Dossier.sort_name, Dossier.id)).label("rank"),
                func.count().over(partition_by=partition).label("total"),
            )
            .join(Dossier, Dossier.id == member.dossier_id)
            .where(member.user_id.in_(user_ids), visible(viewer))
            .subquery()
        )
        rows = await self.repository.session.execute(
            select(ranked.c.user_id, ranked.c.role, ranked.c.name, ranked.c.total)
            .where(ranked.c.rank <= NAMES_PER_ROLE)
            .order_by(ranked.c.user_id, ranked.c.role, ranked.c.rank)
        )
        found: dict[uuid.UUID, dict[DossierRole, RoleSummary]] = {}
        for user_id, value, name, total in rows:
            role = DossierRole(value)
            per_role = found.setdefault(user_id, {})
            summary = per_role.setdefault(role, RoleSummary(role=role, names=[], total=int(total)))
            summary.names.append(name)
        return {user_id: [per_role[role] for role in in_order(per_role)] for user_id, per_role in found.items()}

    async def get_visible(self, viewer: Principal, user_id: uuid.UUID) -> User:
        """The person, or 404 when there is none or ``viewer`` may not see them."""
        statement = self._visible(viewer).where(User.id == user_id)
        user: User | None = (await self.repository.session.execute(statement)).scalar_one_or_none()
        if user is None:
            raise NotFoundException
        return user

    async def dossier_roles(
        self, viewer: Principal, user: User, paging: Paging = ROLES_FIRST_PAGE
    ) -> Page[DossierRoles]:
        """``user``'s roles, dossier by dossier, on the dossiers ``viewer`` may see (a page of dossiers)."""
        session = self.repository.session
        member = seen_member()
        dossiers = (
            select(Dossier)
            .where(
                visible(viewer),
                Dossier.id.in_(select(member.dossier_id).where(member.user_id == user.id)),
            )
            .order_by(Dossier.sort_name, Dossier.id)
        )
        shown = await paginate(session, dossiers, paging)
        roles: dict[uuid.UUID, list[DossierRole]] = {}
        if shown.items:
            held = await session.execute(
                select(DossierMembership.dossier_id, DossierMembership.role).where(
                    DossierMembership.user_id == user.id,
                    DossierMembership.dossier_id.in_([dossier.id for dossier in shown.items]),
                )
            )
            for dossier_id, role in held:
                roles.setdefault(dossier_id, []).append(DossierRole(role))
        items = [DossierRoles(dossier=dossier, roles=in_order(roles.get(dossier.id, []))) for dossier in shown.items]
        return replace(shown, items=items)

    async def deactivate(self, actor: Principal, user: User) -> None:
        """Switch the person off: every open session of theirs ends at once; history and roles stay."""
        if not actor.can(Permission.USERS_MANAGE):
            raise PermissionDeniedException
        if user.id == actor.user_id:
            raise UserError(_("Vous ne pouvez pas désactiver votre propre compte."))
        if not user.is_active:
            return
        await self._keep_one_holder(user, user.firm_roles)
        user.is_active = False
        # load_principal compares the session's epoch with this one: every session ends on its next request.
        user.session_epoch += 1
        record(self.repository.session, "user.deactivate", object_type="user_account", object_id=str(user.id))
        await self.repository.session.flush()

    async def reactivate(self, actor: Principal, user: User) -> None:
        if not actor.can(Permission.USERS_MANAGE):
            raise PermissionDeniedException
        if user.is_active:
            return
        user.is_active = True
        record(self.repository.session, "user.reactivate", object_type="user_account", object_id=str(user.id))
        await self.repository.session.flush()

    @property
    def _session(self) -> AsyncSession:
        return cast("AsyncSession", self.repository.session)

    async def second_factor_active(self, user: User) -> bool:
        return await SecondFactorService(self._session).is_active(user.id)

    async def reset_second_factor(self, actor: Principal, user: User) -> None:
        """An administrator removes the person's second factor (they lost their phone): audited, and they are
        emailed. Nobody resets their own this way (they disable it from Mon compte, with a code or password)."""
        if not actor.can(Permission.USERS_MANAGE):
            raise PermissionDeniedException
        if user.id == actor.user_id:
            raise UserError(_("Désactivez votre propre double authentification depuis Mon compte."))
        session = self._session
        if not await SecondFactorService(session).remove(user, "second_factor.reset"):
            raise UserError(_("Cette personne n'a pas de double authentification active."))
        await send_second_factor_reset.options(created_by_id=actor.user_id, person_id=user.id).enqueue(
            session, user_id=str(user.id)
        )

    async def remove_firm_role(self, actor: Principal, user: User, role: FirmRole) -> bool:
        """Take the firm role ``role`` from ``user``; False if they did not hold it.

        Nobody changes their own roles, and the firm keeps at least one active partner and one
        active administrator (``_keep_one_holder``). The person's sessions end at once, so that the
        role is gone from their next request.
        """
        if not actor.can(Permission.USERS_MANAGE):
            raise PermissionDeniedException
        if user.id == actor.user_id:
            raise UserError(_(OWN_ROLES))
        session = self.repository.session
        await self._keep_one_holder(user, {role})
        held = select(UserRole).where(UserRole.user_id == user.id, UserRole.role == role).with_for_update()
        row = (await session.execute(held)).scalar_one_or_none()
        if row is None:  # never held, or taken away by someone else a moment ago
            return False
        await session.delete(row)  # through the ORM: the row's deletion is in the audit log too
        user.session_epoch += 1
        record(session, "user.remove_role", object_type="user_account", object_id=str(user.id), role=role.value)
        await session.flush()
        await session.refresh(user, ["roles"])
        return True

    async def _keep_one_holder(self, user: User, roles: Iterable[FirmRole]) -> None:
        """Refuse when taking ``roles`` (or their account) from ``user`` would leave the firm without an
        active partner or administrator.

        The holders' rows are read ``FOR UPDATE`` (in one order, partners first): of two concurrent
        removals, the second waits for the first to commit, then counts what is left. SQLite takes
        its single write lock at the start of every writing transaction, which serializes them too.
        """
        session = self.repository.session
        for role in ALWAYS_HELD:
            if role not in roles:
                continue
            holders = (
                select(UserRole.user_id)
                .join(User, User.id == UserRole.user_id)
                .where(UserRole.role == role, User.is_active.is_(True))
                .order_by(UserRole.id)
                .with_for_update()
            )
            if set((await session.execute(holders)).scalars()) == {user.id}:
                raise UserError(_(LAST_HOLDER) % {"name": user.name, "role": _(role.label).lower()})

    async def remove_dossier_role(self, actor: Principal, user: User, dossier: Dossier, role: DossierRole) -> bool:
        """Take ``role`` on ``dossier`` (which ``actor`` found visible) from ``user``; False if they did not hold it."""
        if not (actor.can(Permission.USERS_MANAGE) or actor.can(Permission.USERS_INVITE)):
            raise PermissionDeniedException
        if user.id == actor.user_id:
            raise UserError(_(OWN_ROLES))
        session = self.repository.session
        membership = (
            await session.execute(
                select(DossierMembership).where(
                    DossierMembership.user_id == user.id,
                    DossierMembership.dossier_id == dossier.id,
                    DossierMembership.role == role,
                )
            )
        ).scalar_one_or_none()
        if membership is None:
            return False
        await session.delete(membership)
        await session.flush()
        return True


def current_firm() -> Select[Any]:
    """The firm of this installation (one row; the oldest, should a second ever be written)."""
    return select(Firm).order_by(Firm.created_at).limit(1)


def billing_entity_id() -> Select[Any]:
    """The firm's billing entity (a dossier id, or NULL): for flush hooks and jobs, which need no row."""
    return select(Firm.billing_entity_id).order_by(Firm.created_at).limit(1)


async def second_factor_requirement(session: AsyncSession) -> Requirement | None:
    """The firm's rule on second factors, as sign-in reads it (``accounts.second_factor.REQUIREMENT``)."""
    row = (
        await session.execute(
            select(Firm.second_factor_required_since, Firm.second_factor_grace_days).order_by(Firm.created_at).limit(1)
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return Requirement(since=row[0], grace=dt.timedelta(days=row[1]))


MAX_GRACE_DAYS = 90
# Bounds of the dashboard alerts' thresholds (Paramètres › Alertes du tableau de bord).
MAX_REVENUE_DROP_PERCENT = 100
MAX_DSO_DAYS = 365


class FirmRepository(SQLAlchemyAsyncRepository[Firm]):
    model_type = Firm


class FirmService(SQLAlchemyAsyncRepositoryService[Firm, FirmRepository]):
    """The firm's own record (one row per installation)."""

    repository_type = FirmRepository

    async def current(self) -> Firm | None:
        firm: Firm | None = (await self.repository.session.execute(current_firm())).scalar_one_or_none()
        return firm

    async def set_second_factor_rule(self, actor: Principal, *, required: bool, grace_days: int) -> Firm:
        """Make a second factor mandatory for partners and administrators (or optional again); audited
        as a change of the firm. Switching it on starts everyone's grace period at their next sign-in."""
        if not actor.can(Permission.SETTINGS_UPDATE):
            raise PermissionDeniedException
        firm = await self.current()
        if firm is None:
            raise NotFoundException
        if required and firm.second_factor_required_since is None:
            firm.second_factor_required_since = dt.datetime.now(dt.UTC)
        elif not required:
            firm.second_factor_required_since = None
        firm.second_factor_grace_days = grace_days
        await self.repository.session.flush()
        return firm

    async def set_dashboard_alerts(
        self, actor: Principal, *, revenue_drop_percent: int, dso_days: int, negative_cash: bool
    ) -> Firm:
        """The thresholds of Accueil's KPI alerts; audited as a change of the firm."""
        if not actor.can(Permission.SETTINGS_UPDATE):
            raise PermissionDeniedException
        firm = await self.current()
        if firm is None:
            raise NotFoundException
        firm.alert_revenue_drop_percent = revenue_drop_percent
        firm.alert_dso_days = dso_days
        firm.alert_negative_cash = negative_cash
        await self.repository.session.flush()
        return firm
