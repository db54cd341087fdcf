"""Relances: one reminder per invoice and delay after the due date (J+7, J+30), never twice, never an earlier
delay after a later one, none once paid; each one emailed to the client in French through the outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from portal.billing import reminders, tasks
from portal.billing.fee_models import BillingSettings, Invoice, InvoiceKind, Reminder
from portal.billing.payments import Allocation, PaymentService
from portal.jobs.context import JobContext
from portal.jobs.models import OutboxMessage
from portal.jobs.registry import schedules
from portal.settings import Settings
from tests.factories.expenses import principal_of
from tests.factories.fees import billing_client, billing_entity, invoice, line
from tests.factories.firm import make_user

ON = dt.date(2026, 12, 1)


def days(count: int) -> dt.date:
    return ON - dt.timedelta(days=count)


async def written(session: AsyncSession) -> set[tuple[str | None, int]]:
    """(invoice number, delay) of every reminder written."""
    rows = await session.execute(
        select(Invoice.number, Reminder.delay_days).join(Invoice, Invoice.id == Reminder.invoice_id)
    )
    return {(number, delay) for number, delay in rows}


async def by_number(session: AsyncSession) -> dict[str | None, Reminder]:
    rows = await session.execute(select(Reminder, Invoice.number).join(Invoice, Invoice.id == Reminder.invoice_id))
    return {number: reminder for reminder, number in rows}


def mails(folder: Path) -> list[EmailMessage]:
    found = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(folder.glob("*.eml"))]
    return [message for message in found if isinstance(message, EmailMessage)]


def context(session_maker: async_sessionmaker[AsyncSession], settings: Settings) -> JobContext:
    def sessions(*, read_only: bool = False) -> AsyncSession:
        del read_only
        return session_maker()

    return JobContext(run_id=uuid.uuid4(), sessions=sessions, created_by_id=None, settings=settings)  # type: ignore[arg-type]


async def test_each_delay_reached_gets_one_reminder_and_only_the_latest_when_late(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Café des Sports", email="compta@cafe.fr")
    silent = await billing_client(db_session, entity, "Sans Adresse")
    await invoice(db_session, entity, client, number="F-10", due_date=days(10))  # J+10: the J+7 reminder
    await invoice(db_session, entity, client, number="F-40", due_date=days(40))  # J+40: only J+30
    await invoice(db_session, entity, client, number="F-03", due_date=days(3))  # J+3: nothing yet
    await invoice(db_session, entity, client, number="F-07", due_date=days(7))  # J+7 exactly: due today
    paid = await invoice(db_session, entity, client, number="F-PAID", due_date=days(20))
    await invoice(db_session, entity, silent, number="F-NOMAIL", due_date=days(20))  # no address: none
    await invoice(db_session, entity, client, number="AV-1", due_date=days(20), kind=InvoiceKind.CREDIT_NOTE)
    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    await PaymentService(db_session).record(partner, entity.id, client_id=client.id, received_on=days(1),
                                            amount=paid.total_ttc,
                                            allocations=[Allocation(paid.id, paid.total_ttc)])  # fmt: skip

    first = await reminders.write_due(db_session, entity.id, ON)
    assert await written(db_session) == {("F-10", 7), ("F-07", 7), ("F-40", 30)}
    assert len(first) == 3
    assert await reminders.write_due(db_session, entity.id, ON) == []  # run again: nothing more
    # Twenty-three days later, F-10 reaches J+33 → J+30; F-07 reaches J+30 exactly; F-03 reaches J+26 → J+7.
    later = ON + dt.timedelta(days=23)
    assert len(await reminders.write_due(db_session, entity.id, later)) == 3
    assert await written(db_session) == {
        ("F-10", 7), ("F-07", 7), ("F-40", 30), ("F-10", 30), ("F-07", 30), ("F-03", 7),
    }  # fmt: skip
    # F-03 reaches J+30 in its turn; then every delay is sent: nothing ever again.
    far = later + dt.timedelta(days=400)
    assert len(await reminders.write_due(db_session, entity.id, far)) == 1
    assert ("F-03", 30) in await written(db_session)
    assert await reminders.write_due(db_session, entity.id, far) == []


async def test_the_firms_delays_are_read_from_its_settings(db_session: AsyncSession) -> None:
    assert reminders.delays("7, 30") == [7, 30]
    assert reminders.delays("45;15 15 j+60") == [15, 45, 60]
    assert reminders.delays("0, 500") == []
    entity = await billing_entity(db_session)
    db_session.add(BillingSettings(entity_id=entity.id, reminder_days="15"))
    client = await billing_client(db_session, entity, "Café des Sports", email="compta@cafe.fr")
    await invoice(db_session, entity, client, number="F-10", due_date=days(10))
    await invoice(db_session, entity, client, number="F-20", due_date=days(20))
    await reminders.write_due(db_session, entity.id, ON)
    assert await written(db_session) == {("F-20", 15)}


async def test_the_daily_job_emails_each_reminder_once_and_a_payment_stops_it(
    db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Café des Sports", email="compta@cafe.fr")
    db_session.add(BillingSettings(entity_id=entity.id, iban="FR7630006000011234567890189"))
    bill = await invoice(db_session, entity, client, [line("Tenue comptable", "1000.00")], number="F2026-000031",
                         issue_date=dt.date(2026, 10, 1), due_date=days(8))  # fmt: skip
    settled = await invoice(db_session, entity, client, number="F2026-000032", due_date=days(8))
    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    await PaymentService(db_session).record(partner, entity.id, client_id=client.id, received_on=days(1),
                                            amount=Decimal("300.00"),
                                            allocations=[Allocation(bill.id, Decimal("300.00"))])  # fmt: skip
    await db_session.flush()
    outbox = settings.with_overrides(smtp_url=f"file://{tmp_path}")
    job = context(session_maker, outbox)

    assert await tasks.send_reminders(job, day=ON.isoformat()) == {tasks.REMINDERS_WRITTEN: 2}
    requests = list(
        (
            await db_session.execute(select(OutboxMessage).where(OutboxMessage.actor_name == "billing.email_reminder"))
        ).scalars()
    )
    assert len(requests) == 2
    assert await tasks.send_reminders(job, day=ON.isoformat()) == {tasks.REMINDERS_WRITTEN: 0}  # a second run

    # The second invoice is paid before its email goes: its reminder stays unsent.
    await PaymentService(db_session).record(partner, entity.id, client_id=client.id, received_on=ON,
                                            amount=settled.total_ttc,
                                            allocations=[Allocation(settled.id, settled.total_ttc)])  # fmt: skip
    rows = await by_number(db_session)
    assert await tasks.email_reminder(job, str(rows["F2026-000031"].id)) == {tasks.REMINDER_RESULT: tasks.REMINDER_SENT}
    assert await tasks.email_reminder(job, str(rows["F2026-000031"].id)) == {
        tasks.REMINDER_RESULT: tasks.REMINDER_NOT_DUE
    }  # delivered twice by the broker: sent once
    assert await tasks.email_reminder(job, str(rows["F2026-000032"].id)) == {
        tasks.REMINDER_RESULT: tasks.REMINDER_NOT_DUE
    }
    (message,) = mails(tmp_path)
    assert message["To"] == "Café des Sports <compta@cafe.fr>"
    assert message["Subject"] == f"Relance : facture F2026-000031 échue le {days(8):%d/%m/%Y}"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = " ".join(body.get_content().split())
    assert (
        f"la facture F2026-000031 du 01/10/2026, arrivée à échéance le {days(8):%d/%m/%Y}, reste due pour "
        "900,00 € (montant de la facture : 1 200,00 €)." in text.replace("\u202f", " ").replace("\xa0", " ")
    )
    assert "IBAN FR7630006000011234567890189" in text
    await db_session.refresh(rows["F2026-000031"])
    assert rows["F2026-000031"].sent_at is not None
    await db_session.refresh(rows["F2026-000032"])
    assert rows["F2026-000032"].sent_at is None
    sent = (await db_session.execute(select(AuditEvent).where(AuditEvent.action == "billing_reminder.sent"))).scalars()
    assert [(event.object_id, event.after and event.after["delay"]) for event in sent] == [(str(bill.id), 7)]


def test_the_job_runs_every_morning() -> None:
    (schedule,) = [item for item in schedules() if item.job is tasks.send_reminders]
    assert schedule.cron == "0 7 * * *"
