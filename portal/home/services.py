"""Accueil: what needs the signed-in person, each thing read through the permission model.

Every section is one count and one bounded page, whatever the number of dossiers: never a
query per dossier. A section is computed only for the people it concerns (an approver, an
employee, whoever manages a dossier's connections, a reader of the client base…), and each
of its queries goes through ``restrict``, so a confidential dossier not granted to the person
never appears nor counts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.models import ClientDossierLink
from portal.clients.models import Dossier, DossierStatus
from portal.db.paging import Page, Paging, last_page
from portal.expenses.models import ExpenseNote, NoteStatus
from portal.firm.models import Firm
from portal.firm.services import current_firm
from portal.home.alerts import DossierAlerts, Thresholds, alerts_of
from portal.integrations.commerce.models import CommerceSetup
from portal.integrations.commerce.sources import get_source
from portal.integrations.models import Connection, ConnectionStatus, Provider
from portal.ledger.models import ImportStatus, LedgerImport, YearFigures

T = TypeVar("T")

SHOWN = 10
"""Items of a section on Accueil; « Voir tout » lists the rest."""

RECENT_IMPORTS = dt.timedelta(days=30)
"""How far back a refused or failed import still needs someone (unless a later import succeeded)."""


@dataclass(frozen=True)
class ConnectionRow:
    """A connection that needs its dossier's people: its authorisation lost, or its last sync failed."""

    connection_id: uuid.UUID
    dossier_id: uuid.UUID
    dossier_name: str
    provider: Provider
    status: ConnectionStatus
    error: str | None  # a msgid, translated where shown

    @property
    def source_name(self) -> str:
        source = get_source(self.provider.value)
        return source.name if source is not None else "Pennylane"

    @property
    def href(self) -> str:
        base = f"/entreprises/{self.dossier_id}/connexions"
        source = get_source(self.provider.value)
        return f"{base}/sources/{source.code}" if source is not None else base

    @property
    def lost(self) -> bool:
        return self.status is ConnectionStatus.AUTHORIZATION_LOST


@dataclass(frozen=True)
class ImportRow:
    record: LedgerImport
    dossier_name: str

    @property
    def href(self) -> str:
        return f"/entreprises/{self.record.dossier_id}/connexions/imports/{self.record.id}"


@dataclass(frozen=True)
class DossierRow:
    dossier_id: uuid.UUID
    name: str

    @property
    def href(self) -> str:
        return f"/entreprises/{self.dossier_id}?onglet=facturation"


@dataclass(frozen=True)
class Section(Generic[T]):
    """One section of Accueil: how many things, the first of them, and where all of them are."""

    key: str
    total: int
    items: list[T]
    more: str

    @property
    def truncated(self) -> bool:
        return self.total > len(self.items)


class HomeService:
    """What needs the signed-in person, section by section."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def firm(self) -> Firm | None:
        firm: Firm | None = (await self.session.execute(current_firm())).scalar_one_or_none()
        return firm

    async def _page(self, statement: Select[Any], build: Callable[[Any], T], *, page: int, page_size: int) -> Page[T]:
        """Count the rows ``statement`` selects, then load page ``page`` of them: two bounded queries."""
        paging = Paging(page=page, size=page_size)
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        total = int((await self.session.execute(counted)).scalar_one())
        shown = last_page(paging, total)
        rows = (await self.session.execute(statement.offset((shown - 1) * page_size).limit(page_size))).all()
        return Page.of([build(row) for row in rows], total, paging)

    # --- expense notes ---------------------------------------------------------------

    async def notes_to_approve(self, principal: Principal, *, page: int = 1, page_size: int = SHOWN) -> Page[Any]:
        """Submitted notes the person approves, never their own (``portal.expenses.policy``)."""
        statement = restrict(select(ExpenseNote), principal, Permission.EXPENSES_APPROVE, ExpenseNote).where(
            ExpenseNote.status == NoteStatus.SUBMITTED, ExpenseNote.author_id != principal.user_id
        )
        return await self._page(
            statement.order_by(ExpenseNote.submitted_at, ExpenseNote.id), lambda row: row[0],
            page=page, page_size=page_size,
        )  # fmt: skip

    async def my_pending_notes(self, principal: Principal, *, page: int = 1, page_size: int = SHOWN) -> Page[Any]:
        """The person's own notes that were refused (to correct) or wait for approval."""
        statement = restrict(select(ExpenseNote), principal, Permission.EXPENSES_FILE, ExpenseNote).where(
            ExpenseNote.author_id == principal.user_id,
            ExpenseNote.status.in_((NoteStatus.REFUSED, NoteStatus.SUBMITTED)),
        )
        # Refused ones first: they need the person; submitted ones only wait.
        refused_first = (ExpenseNote.status == NoteStatus.REFUSED).desc()
        return await self._page(
            statement.order_by(refused_first, ExpenseNote.created_at.desc(), ExpenseNote.id), lambda row: row[0],
            page=page, page_size=page_size,
        )  # fmt: skip

    # --- connections and imports -----------------------------------------------------

    async def failing_connections(
        self, principal: Principal, *, page: int = 1, page_size: int = SHOWN
    ) -> Page[ConnectionRow]:
        """Connections of the dossiers the person manages whose authorisation is lost or whose last sync failed."""
        owner = aliased(Dossier, name="owner")  # the restriction's subqueries read the plain table
        failing = or_(
            Connection.status == ConnectionStatus.AUTHORIZATION_LOST,
            and_(
                Connection.status == ConnectionStatus.CONNECTED,
                or_(Connection.last_error.is_not(None), CommerceSetup.last_error.is_not(None)),
            ),
        )
        query: Any = (
            select(
                Connection.id,
                Connection.dossier_id,
                owner.name,
                Connection.provider,
                Connection.status,
                func.coalesce(CommerceSetup.last_error, Connection.last_error),
            )
            .join(owner, owner.id == Connection.dossier_id)
            .outerjoin(CommerceSetup, CommerceSetup.connection_id == Connection.id)
            .where(failing)
        )
        statement = restrict(query, principal, Permission.CONNECTIONS_MANAGE, Connection).order_by(
            owner.sort_name, Connection.provider, Connection.id
        )
        return await self._page(statement, lambda row: ConnectionRow(*row), page=page, page_size=page_size)

    async def failed_imports(
        self, principal: Principal, *, page: int = 1, page_size: int = SHOWN, now: dt.datetime | None = None
    ) -> Page[ImportRow]:
        """Recent refused or failed imports on the person's dossiers, unless a later import of the dossier succeeded."""
        since = (now or dt.datetime.now(dt.UTC)) - RECENT_IMPORTS
        owner = aliased(Dossier, name="owner")
        later = aliased(LedgerImport, name="later")
        superseded = exists().where(
            later.dossier_id == LedgerImport.dossier_id,
            later.status == ImportStatus.SUCCEEDED,
            later.created_at > LedgerImport.created_at,
        )
        query: Any = (
            select(LedgerImport, owner.name)
            .join(owner, owner.id == LedgerImport.dossier_id)
            .where(
                LedgerImport.status.in_((ImportStatus.REFUSED, ImportStatus.FAILED)),
                LedgerImport.created_at >= since,
                not_(superseded),
            )
        )
        statement = restrict(query, principal, Permission.CONNECTIONS_MANAGE, LedgerImport).order_by(
            LedgerImport.created_at.desc(), LedgerImport.id
        )
        return await self._page(statement, lambda row: ImportRow(*row), page=page, page_size=page_size)

    # --- billing ---------------------------------------------------------------------

    async def dossiers_without_client(
        self, principal: Principal, firm: Firm | None, *, page: int = 1, page_size: int = SHOWN
    ) -> Page[DossierRow] | None:
        """Dossiers the person sees that have no client in the billing entity's client base (None: no entity)."""
        entity_id = firm.billing_entity_id if firm else None
        if entity_id is None or not principal.can(Permission.BILLING_CLIENTS_READ):
            return None
        linked = exists().where(
            ClientDossierLink.billing_entity_id == entity_id, ClientDossierLink.dossier_id == Dossier.id
        )
        query: Any = select(Dossier.id, Dossier.name).where(
            Dossier.id != entity_id, Dossier.status != DossierStatus.ARCHIVED, not_(linked)
        )
        statement = restrict(query, principal, Permission.DOSSIERS_READ, Dossier).order_by(
            Dossier.sort_name, Dossier.id
        )
        return await self._page(statement, lambda row: DossierRow(*row), page=page, page_size=page_size)

    # --- KPI alerts --------------------------------------------------------------------

    async def kpi_alerts(
        self, principal: Principal, firm: Firm | None, *, page: int = 1, page_size: int = SHOWN
    ) -> Page[DossierAlerts]:
        """« Mes dossiers » whose latest fiscal year crosses the firm's thresholds, by name.

        Mes dossiers: for a partner or an administrator every dossier they see, for a collaborator those they
        are Comptable on (``KPI_READ``). One statement reads each dossier's latest active year and its N-1
        from ``ledger_year_figures`` (one row per active year, ranked by closing date); the trésorerie and
        DSO thresholds are decided there, the CA's month by month from the ``figures`` JSON of the rows that
        may fall (those with an N-1).
        """
        thresholds = Thresholds(
            revenue_drop_percent=firm.alert_revenue_drop_percent, dso_days=firm.alert_dso_days,
            negative_cash=firm.alert_negative_cash,
        ) if firm else Thresholds()  # fmt: skip
        mine = restrict(select(Dossier.id), principal, Permission.KPI_READ, Dossier)
        ranked = (
            select(
                YearFigures.dossier_id, YearFigures.end_date, YearFigures.tresorerie_nette, YearFigures.dso_jours,
                YearFigures.figures,
                func.row_number().over(partition_by=YearFigures.dossier_id, order_by=YearFigures.end_date.desc())
                .label("rank"),
            )
            .where(YearFigures.dossier_id.in_(mine))
            .subquery("ranked")
        )  # fmt: skip
        latest, previous = ranked.alias("latest"), ranked.alias("previous")
        owner = aliased(Dossier, name="owner")
        may_alert = or_(latest.c.dso_jours > thresholds.dso_days, previous.c.dossier_id.is_not(None))
        if thresholds.negative_cash:
            may_alert = or_(may_alert, latest.c.tresorerie_nette < 0)
        statement = (
            select(owner.id, owner.name, latest.c.end_date, latest.c.tresorerie_nette, latest.c.dso_jours,
                   latest.c.figures, previous.c.figures)
            .join(latest, latest.c.dossier_id == owner.id)
            .outerjoin(previous, and_(previous.c.dossier_id == owner.id, previous.c.rank == 2))  # noqa: PLR2004
            .where(latest.c.rank == 1, may_alert, owner.status != DossierStatus.ARCHIVED)
            .order_by(owner.sort_name, owner.id)
        )  # fmt: skip
        found: list[DossierAlerts] = []
        for dossier_id, name, end_date, cash, dso, figures, previous_figures in await self.session.execute(statement):
            alerts = alerts_of(
                tresorerie_cents=cash, dso_days=dso, figures=figures, previous_figures=previous_figures,
                thresholds=thresholds,
            )  # fmt: skip
            if alerts:
                found.append(DossierAlerts(dossier_id, name, end_date, alerts))
        paging = Paging(page=page, size=page_size)
        shown = last_page(paging, len(found))
        return Page.of(found[(shown - 1) * page_size : shown * page_size], len(found), paging)

    # --- everything ------------------------------------------------------------------

    async def sections(self, principal: Principal) -> list[Section[Any]]:
        """Accueil's sections that concern the person and hold something, in the order they are shown."""
        sections: list[Section[Any]] = []

        def add(key: str, found: Page[Any] | None, more: str) -> None:
            if found is not None and found.total:
                sections.append(Section(key=key, total=found.total, items=found.items, more=more))

        if principal.can_somewhere(Permission.EXPENSES_APPROVE):
            add("notes_to_approve", await self.notes_to_approve(principal), "/notes-de-frais/a-valider")
        if principal.can_somewhere(Permission.EXPENSES_FILE):
            add("my_notes", await self.my_pending_notes(principal), "/notes-de-frais/mes-notes")
        if principal.can_somewhere(Permission.CONNECTIONS_MANAGE):
            add("connections", await self.failing_connections(principal), "/accueil/connexions")
            add("imports", await self.failed_imports(principal), "/accueil/imports")
        firm = await self.firm()
        if principal.can_somewhere(Permission.KPI_READ):
            add("alerts", await self.kpi_alerts(principal, firm), "/accueil/alertes")
        if principal.can(Permission.BILLING_CLIENTS_READ):
            add("billing", await self.dossiers_without_client(principal, firm), "/accueil/facturation")
        return sections
