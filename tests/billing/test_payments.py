"""Encaissements: a payment spread over a client's invoices (chosen amounts or oldest due first), partial
payments, an overpayment kept as the client's credit and applied later, a credit note applied to the invoice it
cancels; refused input leaves nothing written; two payments at once never settle more than the invoice."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.audit.models import AuditEvent
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.billing.fee_models import (
    FeeEntry,
    Invoice,
    InvoiceKind,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PostingKind,
)
from portal.billing.payments import Allocation, PaymentError, PaymentService, today
from tests.factories.expenses import principal_of
from tests.factories.fees import billing_client, billing_entity, invoice, line
from tests.factories.firm import add_role, make_user

D = Decimal
TODAY = today()


async def partner(session: AsyncSession) -> Principal:
    return await principal_of(session, await make_user(session, roles=(FirmRole.PARTNER,)))


async def count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def fresh(session: AsyncSession, item: Invoice) -> Invoice:
    await session.refresh(item)
    return item


async def test_a_payment_settles_the_oldest_due_first_and_keeps_the_rest_as_credit(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Boulangerie Martin", siren="552100554")
    who = await partner(db_session)
    # 120,00 TTC due in 40 days; 240,00 TTC due 20 days ago (the oldest due); 60,00 TTC due 5 days ago.
    later = await invoice(db_session, entity, client, [line("Conseil", "100.00")], due_date=TODAY + dt.timedelta(40))
    oldest = await invoice(db_session, entity, client, [line("Bilan", "200.00")], due_date=TODAY - dt.timedelta(20))
    middle = await invoice(db_session, entity, client, [line("Paie", "50.00")], due_date=TODAY - dt.timedelta(5))
    assert (later.total_ttc, oldest.total_ttc, middle.total_ttc) == (D("120.00"), D("240.00"), D("60.00"))
    service = PaymentService(db_session)

    # 280,00 received: 240,00 settles the oldest, 40,00 goes to the next due; the last is untouched.
    payment = await service.record(
        who, entity.id, client_id=client.id, received_on=TODAY, amount=D("280.00"),
        method=PaymentMethod.TRANSFER, reference="VIR BOULANGERIE MARTIN",
    )  # fmt: skip
    assert payment.unallocated == D("0.00")
    assert {(a.invoice_id, a.amount) for a in payment.allocations} == {
        (oldest.id, D("240.00")),
        (middle.id, D("40.00")),
    }
    oldest, middle, later = [await fresh(db_session, item) for item in (oldest, middle, later)]
    assert (oldest.settled, oldest.paid_at) == (D("240.00"), TODAY)
    assert (middle.settled, middle.paid_at, middle.balance_due) == (D("40.00"), None, D("20.00"))
    assert later.settled == D("0.00")

    # 150,00 more: 20,00 finishes the second, 120,00 the last, 10,00 is the client's credit.
    earlier = TODAY - dt.timedelta(days=1)
    second = await service.record(who, entity.id, client_id=client.id, received_on=earlier, amount=D("150.00"),
                                  method=PaymentMethod.CHEQUE)  # fmt: skip
    assert second.unallocated == D("10.00")
    middle, later = await fresh(db_session, middle), await fresh(db_session, later)
    assert (middle.settled, middle.paid_at) == (D("60.00"), earlier)
    assert (later.settled, later.paid_at) == (D("120.00"), earlier)
    assert await service.credit(who, entity.id, client.id) == D("10.00")
    assert await service.open_invoices(who, entity.id, client.id) == []

    # Each payment is posted in journal BQ, and recorded in the audit log with the invoices it settled.
    posted = (await db_session.execute(select(FeeEntry).where(FeeEntry.source_kind == PostingKind.PAYMENT))).scalars()
    assert sorted(entry.total for entry in posted) == [15000, 28000]
    events = (
        await db_session.execute(select(AuditEvent).where(AuditEvent.action == "billing_payment.recorded"))
    ).scalars()
    first = next(event for event in events if event.object_id == str(payment.id))
    assert first.after is not None
    assert sorted(first.after["invoices"]) == sorted([oldest.number, middle.number])
    assert first.after["amount"] == "280.00"


async def test_chosen_amounts_are_allocated_as_typed(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Garage du Centre")
    who = await partner(db_session)
    first = await invoice(db_session, entity, client, [line("Bilan", "1000.00")], due_date=TODAY - dt.timedelta(60))
    second = await invoice(db_session, entity, client, [line("Paie", "250.00")], due_date=TODAY - dt.timedelta(30))
    # The person chooses to settle the second in full (300,00) and 500,00 of the first: 800,00 received.
    payment = await PaymentService(db_session).record(
        who, entity.id, client_id=client.id, received_on=TODAY, amount=D("800.00"),
        allocations=[Allocation(second.id, D("300.00")), Allocation(first.id, D("500.00"))],
    )  # fmt: skip
    assert payment.unallocated == D("0.00")
    first, second = await fresh(db_session, first), await fresh(db_session, second)
    assert (first.settled, first.balance_due, first.paid_at) == (D("500.00"), D("700.00"), None)
    assert (second.settled, second.paid_at) == (D("300.00"), TODAY)

    # Allocating less than received leaves the difference as credit.
    partial = await PaymentService(db_session).record(
        who, entity.id, client_id=client.id, received_on=TODAY, amount=D("100.00"),
        allocations=[Allocation(first.id, D("60.00"))],
    )  # fmt: skip
    assert partial.unallocated == D("40.00")
    assert (await fresh(db_session, first)).settled == D("560.00")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("zero", "Saisissez un montant supérieur à zéro."),
        ("negative", "Saisissez un montant supérieur à zéro."),
        ("future", "La date d'encaissement ne peut pas être dans le futur."),
        ("over_balance", "150,00\xa0€ dépasse le solde dû de la facture F-REF-1 (120,00\xa0€)."),
        ("other_client", "La facture F-REF-2 n'est pas une facture de ce client."),
        ("over_amount", "La somme répartie (130,00\xa0€) dépasse le montant encaissé (100,00\xa0€)."),
    ],
)
async def test_refused_input_gets_its_message_and_writes_nothing(
    db_session: AsyncSession, case: str, message: str
) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Café des Sports")
    other = await billing_client(db_session, entity, "Hôtel de la Gare")
    who = await partner(db_session)
    mine = await invoice(db_session, entity, client, [line("Conseil", "100.00")], number="F-REF-1")
    theirs = await invoice(db_session, entity, other, [line("Conseil", "100.00")], number="F-REF-2")
    mine_too = await invoice(db_session, entity, client, [line("Paie", "50.00")], number="F-REF-3")
    values: dict[str, object] = {"received_on": TODAY, "amount": D("100.00"), "allocations": None}
    if case == "zero":
        values["amount"] = D("0.00")
    elif case == "negative":
        values["amount"] = D("-5.00")
    elif case == "future":
        values["received_on"] = TODAY + dt.timedelta(days=1)
    elif case == "over_balance":
        values["amount"] = D("150.00")
        values["allocations"] = [Allocation(mine.id, D("150.00"))]
    elif case == "other_client":
        values["allocations"] = [Allocation(mine.id, D("20.00")), Allocation(theirs.id, D("80.00"))]
    elif case == "over_amount":
        values["allocations"] = [Allocation(mine.id, D("70.00")), Allocation(mine_too.id, D("60.00"))]
    with pytest.raises(PaymentError) as refused:
        await PaymentService(db_session).record(who, entity.id, client_id=client.id, **values)  # type: ignore[arg-type]
    assert refused.value.text() == message
    assert await count(db_session, Payment) == 0
    assert await count(db_session, PaymentAllocation) == 0
    assert await count(db_session, FeeEntry) == 0
    for item in (mine, theirs, mine_too):
        assert (await fresh(db_session, item)).settled == D("0.00")


async def test_only_a_billing_manager_records_and_another_entitys_client_is_unknown(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Café des Sports")
    stranger = await billing_client(db_session, await billing_entity(db_session, "SCI des Associés"), "Autre")
    await invoice(db_session, entity, client)
    collaborator = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    service = PaymentService(db_session)
    values = {"received_on": TODAY, "amount": D("10.00")}
    with pytest.raises(PermissionDeniedException):
        await service.record(await principal_of(db_session, collaborator), entity.id, client_id=client.id, **values)  # type: ignore[arg-type]
    # The firm's Gestionnaire de facturation holds it on the billing entity's dossier.
    manager = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, manager, entity, DossierRole.BILLING_MANAGER)
    paid = await service.record(await principal_of(db_session, manager), entity.id, client_id=client.id, **values)  # type: ignore[arg-type]
    assert paid.amount == D("10.00")
    with pytest.raises(NotFoundException):
        await service.record(await partner(db_session), entity.id, client_id=stranger.id, **values)  # type: ignore[arg-type]


async def test_the_clients_credit_settles_a_later_invoice(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Boulangerie Martin")
    who = await partner(db_session)
    service = PaymentService(db_session)
    # An advance of 50,00 and one of 30,00, before any invoice: all of it is credit.
    await service.record(who, entity.id, client_id=client.id, received_on=TODAY - dt.timedelta(3), amount=D("50.00"))
    await service.record(who, entity.id, client_id=client.id, received_on=TODAY, amount=D("30.00"))
    assert await service.credit(who, entity.id, client.id) == D("80.00")
    bill = await invoice(db_session, entity, client, [line("Conseil", "50.00")])  # 60,00 TTC
    applied = await service.apply_credit(who, entity.id, bill.id)
    assert applied == D("60.00")
    bill = await fresh(db_session, bill)
    assert (bill.settled, bill.paid_at) == (D("60.00"), TODAY)
    assert await service.credit(who, entity.id, client.id) == D("20.00")
    # Oldest advance first: 50,00 of the first, 10,00 of the second.
    rows = await db_session.execute(
        select(Payment.amount, Payment.unallocated).where(Payment.client_id == client.id).order_by(Payment.amount)
    )
    assert [tuple(row) for row in rows] == [(D("30.00"), D("20.00")), (D("50.00"), D("0.00"))]
    # Nothing left to settle: refused, nothing changes.
    with pytest.raises(PaymentError) as refused:
        await service.apply_credit(who, entity.id, bill.id)
    assert refused.value.text() == f"La facture {bill.number} n'a plus de solde dû."
    # Applying credit moves no money: no entry besides the two payments'.
    assert await count(db_session, FeeEntry) == 2


async def test_a_credit_note_settles_the_invoice_it_cancels(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Garage du Centre")
    who = await partner(db_session)
    bill = await invoice(db_session, entity, client, [line("Bilan", "1000.00")])  # 1 200,00 TTC
    await PaymentService(db_session).record(who, entity.id, client_id=client.id, received_on=TODAY,
                                            amount=D("900.00"))  # fmt: skip
    # A credit note of 250,00 HT (300,00 TTC) cancels part of it: the 300,00 left due is settled.
    note = await invoice(db_session, entity, client, [line("Remise sur bilan", "250.00")],
                         kind=InvoiceKind.CREDIT_NOTE, credited=bill)  # fmt: skip
    applied = await PaymentService(db_session).apply_credit_note(who, entity.id, note.id)
    assert applied == D("300.00")
    bill, note = await fresh(db_session, bill), await fresh(db_session, note)
    assert (bill.settled, bill.balance_due, bill.paid_at) == (D("1200.00"), D("0.00"), note.issue_date)
    assert note.settled == D("300.00")
    allocation = (
        await db_session.execute(select(PaymentAllocation).where(PaymentAllocation.credit_note_id == note.id))
    ).scalar_one()
    assert (allocation.invoice_id, allocation.payment_id, allocation.amount) == (bill.id, None, D("300.00"))
    with pytest.raises(PaymentError) as refused:
        await PaymentService(db_session).apply_credit_note(who, entity.id, note.id)
    assert refused.value.text() == "Cet avoir est déjà entièrement imputé."


async def _setup_committed(
    maker: async_sessionmaker[AsyncSession],
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, Principal]:
    async with maker() as session, session.begin():
        entity = await billing_entity(session)
        client = await billing_client(session, entity, "Café des Sports")
        bill = await invoice(session, entity, client, [line("Conseil", "100.00")])  # 120,00 TTC
        who = await partner(session)
        return entity.id, client.id, bill.id, who


async def test_two_payments_at_once_never_settle_more_than_the_invoice(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    entity_id, client_id, bill_id, who = await _setup_committed(committed)
    allocation = [Allocation(bill_id, D("120.00"))]

    async def pay() -> str:
        try:
            async with committed() as session, session.begin():
                await PaymentService(session).record(who, entity_id, client_id=client_id, received_on=TODAY,
                                                     amount=D("120.00"), allocations=allocation)  # fmt: skip
        except PaymentError as refused:
            return refused.text()
        return "ok"

    outcomes = await asyncio.gather(pay(), pay())
    assert outcomes.count("ok") == 1
    refused = next(outcome for outcome in outcomes if outcome != "ok")
    # Whichever came second saw the invoice settled, when it read it or when it wrote.
    assert "n'a plus de solde dû" in refused or "réglée entre-temps" in refused

    # A session that read the invoice before the other payment committed still cannot settle it twice: the
    # conditional update sees the balance as it is.
    async with committed() as stale, stale.begin():
        bill = await stale.get(Invoice, bill_id)
        assert bill is not None
        assert bill.balance_due == D("0.00")
    async with committed() as session, session.begin():
        bill = await session.get(Invoice, bill_id)
        assert bill is not None
        assert (bill.settled, bill.paid_at) == (D("120.00"), TODAY)
        assert await count(session, Payment) == 1


async def test_a_balance_read_before_another_payment_is_checked_again_when_written(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    entity_id, client_id, bill_id, who = await _setup_committed(committed)
    async with committed() as late:
        async with late.begin():
            # This session reads the invoice (120,00 due) and keeps it...
            bill = await late.get(Invoice, bill_id)
            assert bill is not None
            assert bill.balance_due == D("120.00")
        # ...while another payment of 100,00 is committed.
        async with committed() as session, session.begin():
            await PaymentService(session).record(who, entity_id, client_id=client_id, received_on=TODAY,
                                                 amount=D("100.00"))  # fmt: skip
        # Its 120,00 on the stale balance is refused by the conditional update: nothing is written.
        whole = [Allocation(bill_id, D("120.00"))]
        async with late.begin():
            with pytest.raises(PaymentError) as refused:
                await PaymentService(late).record(who, entity_id, client_id=client_id, received_on=TODAY,
                                                  amount=D("120.00"), allocations=whole)  # fmt: skip
        assert "réglée entre-temps" in refused.value.text()
    async with committed() as session:
        bill = await session.get(Invoice, bill_id)
        assert bill is not None
        assert bill.settled == D("100.00")
        assert await count(session, Payment) == 1
        assert await count(session, PaymentAllocation) == 1
