"""Dossiers non facturés: who the firm forgot to bill.

Two lists, each one count and one page read through ``restrict``:

- the clients of the base with an active dossier and no accepted lettre de mission (with the letter under way,
  if one is written or sent);
- the missions of accepted letters due in a period (as ``engagements.billable_missions`` reads them, computed by
  the database here so the list pages and counts in SQL) that no invoice line bills: no ``InvoiceLine`` with
  that mission and a ``period_start`` in the period.
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, and_, case, cast, exists, extract, not_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.fee_models import Engagement, EngagementStatus, InvoiceLine, Mission, Rhythm
from portal.billing.fees import MONTHS_IN_YEAR, month_end, month_start, months_of
from portal.billing.models import BillingClient, ClientDossierLink
from portal.clients.models import Dossier, DossierStatus
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate


def _month(column: Any) -> Any:
    """A date column's month as ``fees.month_index`` numbers it, computed by the database."""
    return cast(extract("year", column), Integer) * MONTHS_IN_YEAR + cast(extract("month", column), Integer) - 1


def due_in(first: int, last: int) -> Any:
    """The mission (joined to its letter) is due in one of the months ``first``…``last`` at least."""
    start, end = _month(Engagement.start_date), _month(Engagement.renewal_date)
    step = case((Mission.rhythm == Rhythm.MONTHLY, 1), (Mission.rhythm == Rhythm.QUARTERLY, 3), else_=MONTHS_IN_YEAR)
    low = case((start > first, start), else_=first)
    high = case((end - 1 < last, end - 1), else_=last)
    first_due = low + (step - (low - start) % step) % step
    return and_(Mission.rhythm != Rhythm.PER_ACT, first_due <= high)


@dataclass(frozen=True)
class ForgottenClient:
    client: BillingClient
    pending: Engagement | None  # a letter written or sent, not accepted yet


@dataclass(frozen=True)
class UnbilledMission:
    mission: Mission
    engagement: Engagement


class UnbilledService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _clients(self, principal: Principal, entity_id: uuid.UUID) -> Select[Any]:
        active = exists(
            select(ClientDossierLink.id)
            .join(Dossier, Dossier.id == ClientDossierLink.dossier_id)
            .where(ClientDossierLink.client_id == BillingClient.id, Dossier.status == DossierStatus.ACTIVE)
        )
        accepted = exists(
            select(Engagement.id).where(
                Engagement.client_id == BillingClient.id, Engagement.status == EngagementStatus.ACCEPTED
            )
        )
        statement = select(BillingClient).where(BillingClient.billing_entity_id == entity_id, active, not_(accepted))
        return restrict(statement, principal, Permission.BILLING_FEES_READ, BillingClient)

    async def clients(
        self, principal: Principal, entity_id: uuid.UUID, paging: Paging = FIRST_PAGE
    ) -> Page[ForgottenClient]:
        statement = self._clients(principal, entity_id).order_by(BillingClient.sort_name, BillingClient.id)
        page = await paginate(self.session, statement, paging)
        ids = [client.id for client in page.items]
        pending: dict[uuid.UUID, Engagement] = {}
        if ids:
            letters = (
                restrict(select(Engagement), principal, Permission.BILLING_FEES_READ, Engagement)
                .where(
                    Engagement.client_id.in_(ids),
                    Engagement.status.in_([EngagementStatus.DRAFT, EngagementStatus.SENT]),
                )
                .order_by(Engagement.created_at)
            )
            pending = {letter.client_id: letter for letter in (await self.session.execute(letters)).unique().scalars()}
        items = [ForgottenClient(client, pending.get(client.id)) for client in page.items]
        return Page.of(items, page.total, paging)

    def _missions(self, principal: Principal, entity_id: uuid.UUID, first: int, last: int) -> Select[Any]:
        billed = exists(
            select(InvoiceLine.id).where(
                InvoiceLine.mission_id == Mission.id,
                InvoiceLine.period_start >= month_start(first),
                InvoiceLine.period_start <= month_end(last),
            )
        )
        statement = typing.cast(
            "Select[Any]",
            select(Mission, Engagement)
            .join(Engagement, Engagement.id == Mission.engagement_id)
            .where(
                Engagement.entity_id == entity_id,
                Engagement.status == EngagementStatus.ACCEPTED,
                due_in(first, last),
                not_(billed),
            ),
        )
        return restrict(statement, principal, Permission.BILLING_FEES_READ, Engagement)

    async def missions(
        self, principal: Principal, entity_id: uuid.UUID, period: tuple[dt.date, dt.date], paging: Paging = FIRST_PAGE
    ) -> Page[UnbilledMission]:
        """The missions due in ``period`` (the months whose first day lies in it) that nothing bills there."""
        first, last = months_of(*period)
        # An alias: the restriction's subqueries on ``billing_client`` must not correlate with the join.
        client = aliased(BillingClient)
        statement = self._missions(principal, entity_id, first, last).join(client, client.id == Engagement.client_id)
        statement = statement.order_by(client.sort_name, Engagement.reference, Mission.position, Mission.id)
        page = await paginate(self.session, statement, paging)
        return Page.of([UnbilledMission(row[0], row[1]) for row in page.items], page.total, paging)
