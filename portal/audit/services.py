"""Reading the audit log as the person asking is allowed to, in words."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import Select, or_, select

from portal.audit.models import AuditEvent
from portal.audit.sentences import DOSSIER, PERSON, Context, Described, describe, families, names_of, wanted_names
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.i18n import N_
from portal.settings import FIRM_TIMEZONE


@dataclass(frozen=True)
class AuditFilter:
    """What the journal is narrowed to: a person (who acted, or whom it is about), a dossier, a kind, dates."""

    person_id: uuid.UUID | None = None
    dossier_id: uuid.UUID | None = None
    kind: str | None = None  # a family of kinds (``expense_note``), or one kind (``expense_note.submitted``)
    since: dt.date | None = None
    until: dt.date | None = None

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.person_id is not None:
            statement = statement.where(
                or_(AuditEvent.actor_id == self.person_id, AuditEvent.person_id == self.person_id)
            )
        if self.dossier_id is not None:
            statement = statement.where(AuditEvent.dossier_id == self.dossier_id)
        if self.kind:
            if "." in self.kind:
                statement = statement.where(AuditEvent.action == self.kind)
            else:
                statement = statement.where(
                    or_(
                        *(AuditEvent.action.startswith(f"{prefix}.", autoescape=True) for prefix in families(self.kind))
                    )
                )
        if self.since is not None:
            statement = statement.where(AuditEvent.created_at >= _midnight(self.since))
        if self.until is not None:
            statement = statement.where(AuditEvent.created_at < _midnight(self.until + dt.timedelta(days=1)))
        return statement


def audit_filter(
    *, personne: str, dossier: str, kind: str, since: str, until: str
) -> tuple[AuditFilter, dict[str, str]]:
    """The journal's filters read from its query, and a French message (a msgid) for each one not understood."""
    errors: dict[str, str] = {}

    def identifier(name: str, value: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(value) if value.strip() else None
        except ValueError:
            errors[name] = N_("Ce choix n'est pas dans la liste.")
            return None

    def day(name: str, value: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(value.strip()) if value.strip() else None
        except ValueError:
            errors[name] = N_("Date attendue au format jj/mm/aaaa.")
            return None

    narrowed = AuditFilter(
        person_id=identifier("personne", personne),
        dossier_id=identifier("dossier", dossier),
        kind=kind.strip()[:80] or None,
        since=day("du", since),
        until=day("au", until),
    )
    if narrowed.since and narrowed.until and narrowed.since > narrowed.until:
        errors["au"] = N_("La date de fin précède la date de début.")
    return narrowed, errors


def _midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in the firm's time zone, as the log stores moments (UTC)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=FIRM_TIMEZONE).astimezone(dt.UTC)


@dataclass(frozen=True)
class Choices:
    """The people and dossiers the journal's filters offer: those of events the reader may read, by name."""

    people: list[tuple[uuid.UUID, str]]
    dossiers: list[tuple[uuid.UUID, str]]


class AuditEventRepository(SQLAlchemyAsyncRepository[AuditEvent]):
    model_type = AuditEvent


class AuditEventService(SQLAlchemyAsyncRepositoryService[AuditEvent, AuditEventRepository]):
    repository_type = AuditEventRepository

    def _visible(self, principal: Principal) -> Select[Any]:
        return restrict(select(AuditEvent), principal, Permission.AUDIT_LOG_READ, AuditEvent)

    async def visible_page(
        self, principal: Principal, paging: Paging = FIRST_PAGE, *, narrowed: AuditFilter | None = None
    ) -> Page[AuditEvent]:
        """Events ``principal`` may read, newest first, through the permission model's restriction."""
        visible = (narrowed or AuditFilter()).apply(self._visible(principal))
        statement = visible.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        return await paginate(self.repository.session, statement, paging)

    async def for_dossier(self, principal: Principal, dossier_id: uuid.UUID, *, limit: int = 50) -> list[AuditEvent]:
        """The latest events about one dossier and what belongs to it (its panel's Historique)."""
        statement = (
            self._visible(principal)
            .where(AuditEvent.dossier_id == dossier_id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
        return list((await self.repository.session.execute(statement)).scalars())

    async def described(self, principal: Principal, events: Sequence[AuditEvent]) -> list[Described]:
        """``events`` as sentences, naming only the people and dossiers ``principal`` may read."""
        people, dossiers = wanted_names(events)
        session = self.repository.session
        context = Context(
            people=await names_of(session, principal, PERSON, people),  # type: ignore[arg-type]
            dossiers=await names_of(session, principal, DOSSIER, dossiers),  # type: ignore[arg-type]
        )
        return [describe(event, context) for event in events]

    async def choices(self, principal: Principal) -> Choices:
        """Whom and which dossiers the reader's events name: the filters offer nothing else."""
        visible = self._visible(principal).subquery()
        session = self.repository.session
        actors = select(visible.c.actor_id).where(visible.c.actor_id.is_not(None)).distinct()
        subjects = select(visible.c.person_id).where(visible.c.person_id.is_not(None)).distinct()
        dossier_ids = select(visible.c.dossier_id).where(visible.c.dossier_id.is_not(None)).distinct()
        people = set((await session.execute(actors)).scalars()) | set((await session.execute(subjects)).scalars())
        people_names = await names_of(session, principal, PERSON, people)  # type: ignore[arg-type]
        dossier_names = await names_of(
            session,  # type: ignore[arg-type]
            principal,
            DOSSIER,
            (await session.execute(dossier_ids)).scalars(),
        )
        return Choices(people=_by_name(people_names), dossiers=_by_name(dossier_names))


def _by_name(names: dict[uuid.UUID, str]) -> list[tuple[uuid.UUID, str]]:
    return sorted(names.items(), key=lambda pair: pair[1].casefold())
