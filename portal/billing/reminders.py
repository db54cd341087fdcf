"""Relances: an email to the client at each of the firm's delays after an invoice's due date, until it is paid.

The delays are ``BillingSettings.reminder_days`` (« 7,30 »: J+7 and J+30 after the due date; « 7,30 » when the
firm set none). Each day, for each validated invoice with a balance due and a client address, the delays reached
get one ``Reminder`` row each, written by ``INSERT … SELECT … ON CONFLICT DO NOTHING`` on
``uq_billing_reminder_invoice_delay``: a run again, or two schedulers at once, never write one twice; each row
written requests one email (``billing.email_reminder``, through the outbox, in the same transaction).

An invoice found late (the job did not run for a while, or it was validated after its due date) gets only the
latest delay it reached: an earlier delay is never sent after a later one. A payment stops what is not sent yet:
the email job checks the balance again before sending and leaves a settled invoice's reminder unsent.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.fee_models import BillingSettings, Invoice, InvoiceKind, InvoiceStatus, Reminder
from portal.billing.payments import TOLERANCE, open_balance
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate

DEFAULT_DELAYS = "7,30"
MAX_DELAY = 365


def delays(text: str | None) -> list[int]:
    """« 7, 30 » → [7, 30]: the delays in days after the due date, increasing, each once (1 to 365)."""
    found = {int(value) for value in re.findall(r"\d+", text or "")}
    return sorted(value for value in found if 0 < value <= MAX_DELAY)


async def delays_of(session: AsyncSession, entity_id: uuid.UUID) -> list[int]:
    statement = select(BillingSettings.reminder_days).where(BillingSettings.entity_id == entity_id)
    text = (await session.execute(statement)).scalar_one_or_none()
    return delays(text if text is not None else DEFAULT_DELAYS)


def _reminded(at_least: Any) -> Any:
    """The invoice already has a reminder at ``at_least`` days or later."""
    return exists().where(Reminder.invoice_id == Invoice.id, Reminder.delay_days >= at_least)


def _remindable(entity_id: uuid.UUID) -> list[Any]:
    return [
        Invoice.entity_id == entity_id,
        Invoice.status == InvoiceStatus.VALIDATED,
        Invoice.kind == InvoiceKind.INVOICE,
        open_balance(),
        Invoice.client_email != "",
    ]


async def write_due(session: AsyncSession, entity_id: uuid.UUID, on: dt.date) -> list[uuid.UUID]:
    """Write the reminders due ``on`` (one per invoice and delay reached, the latest only); the new rows' ids."""
    written: list[uuid.UUID] = []
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stamp = dt.datetime.now(dt.UTC)
    for delay in sorted(await delays_of(session, entity_id), reverse=True):
        source = select(
            func.portal_uuid7(),
            Invoice.id,
            literal(delay),
            literal(stamp, type_=Reminder.created_at.type),
            literal(stamp, type_=Reminder.updated_at.type),
        ).where(*_remindable(entity_id), Invoice.due_date <= on - dt.timedelta(days=delay), ~_reminded(delay))
        insert = (
            module.insert(Reminder)
            .from_select(["id", "invoice_id", "delay_days", "created_at", "updated_at"], source)
            .on_conflict_do_nothing()
            .returning(Reminder.id)
        )
        written += list((await session.execute(insert)).scalars())
    return written


@dataclass(frozen=True)
class NextReminder:
    invoice: Invoice
    delay: int | None  # None: every delay was sent
    on: dt.date | None


class ReminderService:
    """What the Relances page reads: the reminders written, and the next one of each invoice due."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sent_page(
        self, principal: Principal, entity_id: uuid.UUID, paging: Paging = FIRST_PAGE
    ) -> Page[tuple[Reminder, Invoice]]:
        """The reminders written, latest first, each with its invoice (restricted through the invoice)."""
        statement = (
            restrict(cast("Select[Any]", select(Reminder, Invoice)), principal, Permission.BILLING_FEES_READ, Invoice)
            .join(Invoice, Invoice.id == Reminder.invoice_id)
            .where(Invoice.entity_id == entity_id)
            .order_by(Reminder.created_at.desc(), Reminder.id)
        )
        page: Page[Any] = await paginate(self.session, statement, paging)
        return replace(page, items=[tuple(row) for row in page.items])

    async def next_page(
        self, principal: Principal, entity_id: uuid.UUID, on: dt.date, paging: Paging = FIRST_PAGE
    ) -> Page[NextReminder]:
        """The invoices with a balance due and an address, by due date, each with its next reminder."""
        steps = await delays_of(self.session, entity_id)
        statement = (
            restrict(select(Invoice), principal, Permission.BILLING_FEES_READ, Invoice)
            .where(*_remindable(entity_id))
            .order_by(Invoice.due_date, Invoice.number)
        )
        page: Page[Any] = await paginate(self.session, statement, paging)
        ids = [invoice.id for invoice in page.items]
        latest: dict[uuid.UUID, int] = {}
        if ids:
            rows = await self.session.execute(
                select(Reminder.invoice_id, func.max(Reminder.delay_days))
                .where(Reminder.invoice_id.in_(ids))
                .group_by(Reminder.invoice_id)
            )
            latest = {key: int(value) for key, value in rows}
        items = []
        for invoice in page.items:
            after = [step for step in steps if step > latest.get(invoice.id, 0)]
            if not after:
                items.append(NextReminder(invoice, None, None))
                continue
            # Late already: the latest delay reached is the next one sent (an earlier one never comes after it).
            reached = [step for step in after if invoice.due_date + dt.timedelta(days=step) <= on]
            step = reached[-1] if reached else after[0]
            items.append(NextReminder(invoice, step, max(on, invoice.due_date + dt.timedelta(days=step))))
        return replace(page, items=items)


async def reminder_to_send(session: AsyncSession, reminder_id: uuid.UUID) -> tuple[Reminder, Invoice] | None:
    """The reminder and its invoice, if it is still to send (not sent, its invoice still due)."""
    found = (
        await session.execute(
            select(Reminder, Invoice)
            .join(Invoice, Invoice.id == Reminder.invoice_id)
            .where(Reminder.id == reminder_id, Reminder.sent_at.is_(None))
        )
    ).first()
    if found is None:
        return None
    reminder, invoice = found
    if invoice.total_ttc - invoice.settled <= TOLERANCE:
        return None
    return reminder, invoice


def balance(invoice: Invoice) -> Decimal:
    return invoice.total_ttc - invoice.settled
