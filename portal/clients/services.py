"""Dossier rules: who sees what, searching, creating and changing dossiers, confidentiality."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, ClassVar, cast

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar.exceptions import NotFoundException
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership, User, UserRole
from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.auth.roles import ROLE_PERMISSIONS, DossierRole, FirmRole, in_order
from portal.clients import search
from portal.clients.models import Dossier, DossierAccess, DossierStatus
from portal.clients.policy import member, seen_by, visible_count
from portal.clients.schemas import DossierValues
from portal.clients.tasks import notify_siren_referred
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.i18n import N_, _


class DossierSort(StrEnum):
    """Orders of the Entreprises list (``tri`` in the URL)."""

    NAME = "nom"
    NAME_DESC = "-nom"
    SIREN = "siren"
    SIREN_DESC = "-siren"
    CREATED = "ajout"
    CREATED_DESC = "-ajout"

    @property
    def column(self) -> Any:
        return {"nom": Dossier.sort_name, "siren": Dossier.siren, "ajout": Dossier.created_at}[self.value.lstrip("-")]

    @property
    def key(self) -> str:
        return self.value.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")

    @property
    def nullable(self) -> bool:
        """Only the SIREN may be missing; NULLS LAST elsewhere would keep PostgreSQL off the index."""
        return self.value.lstrip("-") == "siren"


# People whose sight of a dossier one statement asks at once (``access_choices``).
SEEN_BY_BATCH = 100

# The one answer for a SIREN a partner must look at (``DossierService._check_siren``): the same words and
# status whether the dossier holding it is hidden from the person or archived.
REFERRED = N_("Ce SIREN ne peut pas être utilisé pour ce dossier. Un associé du cabinet a été prévenu.")


class DuplicateSirenError(ValueError):
    """A dossier already has this SIREN. ``existing`` is it, when the person may see and open it; else the
    matter went to the partners who see it (``referred_to``: that dossier's id, never shown)."""

    def __init__(self, siren: str, existing: Dossier | None, referred_to: uuid.UUID | None = None) -> None:
        super().__init__(siren)
        self.siren = siren
        self.existing = existing
        self.referred_to = referred_to

    @property
    def message(self) -> str:
        if self.existing is not None:
            return N_("Un dossier existe déjà pour ce SIREN : %(name)s.")
        return REFERRED


@dataclass(frozen=True)
class AccessChoice:
    """A person who may be put on a dossier's access list, and whether they see the dossier now, and why.

    ``sees`` is the permission rule's own answer (``policy.seen_by``); the reasons say which part of it
    lets them: ticked on the list, a role on the dossier, or a firm role that sees every dossier not
    confidential.
    """

    user: User
    granted: bool
    sees: bool = False
    roles: tuple[DossierRole, ...] = ()
    firm_roles: tuple[FirmRole, ...] = ()

    @property
    def reasons(self) -> list[str]:
        """Why the person sees the dossier, in words (French, translated here)."""
        reasons = [_("coché ci-dessous")] if self.granted else []
        reasons.extend(_("%(role)s sur ce dossier") % {"role": _(role.label)} for role in self.roles)
        reasons.extend(
            _("%(role)s : voit les dossiers non confidentiels") % {"role": _(role.label)} for role in self.firm_roles
        )
        return reasons


@dataclass(frozen=True)
class Member:
    """A person with a role on a dossier, and all their roles there."""

    user: User
    roles: tuple[DossierRole, ...]


class DossierRepository(SQLAlchemyAsyncRepository[Dossier]):
    model_type = Dossier


class DossierService(SQLAlchemyAsyncRepositoryService[Dossier, DossierRepository]):
    repository_type = DossierRepository
    match_fields: ClassVar[list[str]] = ["siren"]

    def _visible(self, principal: Principal, permission: Permission = Permission.DOSSIERS_READ) -> Any:
        return restrict(select(Dossier), principal, permission, Dossier)

    async def visible_page(
        self,
        principal: Principal,
        *,
        query: str = "",
        sort: DossierSort = DossierSort.NAME,
        paging: Paging = FIRST_PAGE,
        mine: bool = False,
    ) -> Page[Dossier]:
        """The dossiers ``principal`` may see that match ``query``, one sorted page, with their count.

        ``mine``: only "Mes dossiers", those where ``principal`` is Comptable (always visible to them).
        """
        matching = search.matches(query)
        if mine:
            matching = and_(matching, member(principal, DossierRole.ACCOUNTANT))
        statement = self._visible(principal).where(matching)
        column = sort.column
        order = column.desc() if sort.descending else column.asc()
        if sort.nullable:
            order = order.nulls_last()  # no SIREN last either way, on SQLite as on PostgreSQL
        statement = statement.order_by(order, Dossier.id)
        count = (
            select(func.count()).select_from(Dossier).where(matching) if mine else visible_count(principal, matching)
        )
        return await paginate(self.repository.session, statement, paging, count=count)

    async def find_visible(
        self, principal: Principal, dossier_id: uuid.UUID | None, permission: Permission = Permission.DOSSIERS_READ
    ) -> Dossier | None:
        """The dossier, or None when there is none or ``principal`` may not see (or act on) it."""
        if dossier_id is None:
            return None
        statement = self._visible(principal, permission).where(Dossier.id == dossier_id)
        dossier: Dossier | None = (await self.repository.session.execute(statement)).scalar_one_or_none()
        return dossier

    async def get_visible(
        self, principal: Principal, dossier_id: uuid.UUID, permission: Permission = Permission.DOSSIERS_READ
    ) -> Dossier:
        """The dossier, or 404 when it does not exist or ``principal`` may not see (or act on) it."""
        dossier = await self.find_visible(principal, dossier_id, permission)
        if dossier is None:
            raise NotFoundException
        return dossier

    async def _check_siren(self, principal: Principal, siren: str | None, *, exclude: uuid.UUID | None = None) -> None:
        """Raise ``DuplicateSirenError`` when another dossier holds ``siren`` (the unique constraint is the backstop).

        A dossier the person may open is named, with its link. Otherwise the answer must not tell
        whether a dossier hidden from them exists. Refusing with "a dossier you may not see"
        confirmed one exists (an oracle: type a company's SIREN, learn whether the firm keeps its
        books in confidence). So the same words and status (``REFERRED``, 409) answer another
        reason that depends on nothing hidden: the SIREN of an *archived* dossier, which the person
        may see, but which a partner reopens (its history with it) rather than a second dossier
        being started. Either way the partners who see that dossier are told who asked, and decide
        (grant access, reopen, or answer). The answer itself then holds nothing about a hidden
        dossier: not its name, its id, nor whether it is hidden or archived; what the person can
        look up (Entreprises never lists a hidden dossier) is what they could before typing.
        """
        if siren is None:
            return
        statement = select(Dossier.id, Dossier.status).where(Dossier.siren == siren)
        if exclude is not None:
            statement = statement.where(Dossier.id != exclude)
        found = (await self.repository.session.execute(statement)).first()
        if found is None:
            return
        existing_id, status = found
        seen = (
            await self.repository.session.execute(self._visible(principal).where(Dossier.id == existing_id))
        ).scalar()
        if seen is not None and status != DossierStatus.ARCHIVED:
            raise DuplicateSirenError(siren, seen)
        raise DuplicateSirenError(siren, None, referred_to=existing_id)

    async def refer_to_partners(self, principal: Principal, refused: DuplicateSirenError, name: str) -> None:
        """Tell the partners who see the dossier holding ``refused.siren`` that ``principal`` asked for it.

        Recorded and requested about that dossier (hidden with it), and committed now: the request
        answers 409, which rolls its own transaction back.
        """
        if refused.referred_to is None:
            return
        session = cast("AsyncSession", self.repository.session)  # the portal opens plain sessions only
        record(
            session, "dossier.siren_referred", object_type="dossier", object_id=str(refused.referred_to),
            dossier_id=refused.referred_to, siren=refused.siren, requested_name=name,
        )  # fmt: skip
        # No author: the run is not the asker's to follow (their Travaux would show it, or not, depending
        # on the dossier); those who see the dossier find it in theirs.
        await notify_siren_referred.options(dossier_id=refused.referred_to).enqueue(
            session, dossier_id=str(refused.referred_to), siren=refused.siren, requested_name=name,
            requested_by_id=str(principal.user_id),
        )  # fmt: skip
        await session.commit()

    async def create_dossier(self, principal: Principal, values: DossierValues) -> Dossier:
        """Create a dossier; its client in the billing entity follows in the background (``portal.billing.hooks``).

        Raises ``DuplicateSirenError`` when the SIREN is taken, also when another request
        took it a moment ago (the unique constraint decides).
        """
        await self._check_siren(principal, values.siren)
        dossier = Dossier(**asdict(values))
        session = self.repository.session
        try:
            async with session.begin_nested():
                session.add(dossier)
                await session.flush()
        except IntegrityError:
            await self._check_siren(principal, values.siren)
            raise
        return dossier

    async def update_dossier(self, principal: Principal, dossier: Dossier, values: DossierValues) -> Dossier:
        await self._check_siren(principal, values.siren, exclude=dossier.id)
        for key, value in asdict(values).items():
            setattr(dossier, key, value)
        await self.repository.session.flush()
        return dossier

    async def members(self, dossier: Dossier) -> list[Member]:
        """The people holding a role on ``dossier`` (which the caller found visible), by name."""
        rows = await self.repository.session.execute(
            select(User, DossierMembership.role)
            .join(DossierMembership, DossierMembership.user_id == User.id)
            .where(DossierMembership.dossier_id == dossier.id)
            .order_by(User.name, User.id)
        )
        grouped: dict[uuid.UUID, tuple[User, list[DossierRole]]] = {}
        for user, role in rows:
            grouped.setdefault(user.id, (user, []))[1].append(role)
        return [Member(user, tuple(in_order(roles))) for user, roles in grouped.values()]

    def _grantable(self, dossier: Dossier) -> Any:
        """Who may be put on ``dossier``'s access list: the firm's people, and those already tied to it.

        Client users of other dossiers are not offered (their names would tell of their dossiers).
        """
        return or_(
            exists().where(UserRole.user_id == User.id),
            exists().where(DossierAccess.user_id == User.id, DossierAccess.dossier_id == dossier.id),
            exists().where(DossierMembership.user_id == User.id, DossierMembership.dossier_id == dossier.id),
        )

    async def access_choices(self, dossier: Dossier) -> list[AccessChoice]:
        """The people who may be granted the dossier: whether they are on its access list, whether they see it
        now (the rule of ``portal.clients.policy.visible``, asked for each) and through what."""
        session = self.repository.session
        users = list(
            (
                await session.execute(
                    select(User).where(User.is_active.is_(True), self._grantable(dossier)).order_by(User.name)
                )
            ).scalars()
        )
        granted = set(
            (
                await session.execute(select(DossierAccess.user_id).where(DossierAccess.dossier_id == dossier.id))
            ).scalars()
        )
        roles: dict[uuid.UUID, list[DossierRole]] = {}
        memberships = select(DossierMembership.user_id, DossierMembership.role).where(
            DossierMembership.dossier_id == dossier.id
        )
        for user_id, role in await session.execute(memberships):
            roles.setdefault(user_id, []).append(role)
        principals = [
            Principal.build(user_id=user.id, email=user.email, name=user.name, locale=user.locale,
                            roles=user.firm_roles, dossier_roles={dossier.id: frozenset(roles.get(user.id, ()))})
            for user in users
        ]  # fmt: skip
        sees: list[bool] = []
        for start in range(0, len(principals), SEEN_BY_BATCH):
            row = (await session.execute(seen_by(principals[start : start + SEEN_BY_BATCH], dossier.id))).one()
            sees.extend(bool(value) for value in row)
        choices = []
        for user, principal, seen in zip(users, principals, sees, strict=True):
            firm_wide = () if dossier.is_confidential or not principal.can(Permission.DOSSIERS_READ) else tuple(
                role for role in principal.sorted_roles if Permission.DOSSIERS_READ in ROLE_PERMISSIONS[role]
            )  # fmt: skip
            choices.append(
                AccessChoice(user=user, granted=user.id in granted, sees=seen,
                             roles=tuple(in_order(roles.get(user.id, ()))), firm_roles=firm_wide)
            )  # fmt: skip
        return choices

    async def set_confidentiality(
        self, principal: Principal, dossier: Dossier, *, confidential: bool, user_ids: Iterable[uuid.UUID]
    ) -> None:
        """Mark or unmark the dossier confidential and set who has access. The person acting keeps access."""
        session = self.repository.session
        wanted = set(user_ids) | {principal.user_id}
        active = set(
            (
                await session.execute(
                    select(User.id).where(User.id.in_(wanted), User.is_active.is_(True), self._grantable(dossier))
                )
            ).scalars()
        )
        current = {
            grant.user_id: grant
            for grant in (
                await session.execute(select(DossierAccess).where(DossierAccess.dossier_id == dossier.id))
            ).scalars()
        }
        for user_id, grant in current.items():
            if user_id not in active:
                await session.delete(grant)
        for user_id in active - current.keys():
            session.add(DossierAccess(dossier_id=dossier.id, user_id=user_id, granted_by_id=principal.user_id))
        dossier.is_confidential = confidential
        await session.flush()

    async def export_rows(self, principal: Principal, *, query: str = "", chunk: int = 1000) -> AsyncIterator[Dossier]:
        """Every dossier ``principal`` may see that matches ``query``, streamed in name order."""
        statement = (
            self._visible(principal, Permission.DOSSIERS_READ)
            .where(search.matches(query))
            .order_by(Dossier.sort_name, Dossier.id)
            .execution_options(yield_per=chunk)
        )
        result = await self.repository.session.stream_scalars(statement)
        async for dossier in result:
            yield dossier
