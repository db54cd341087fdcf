"""Invoices: drafts never take a number, validation numbers a continuous sequence per series (under concurrency
too), VAT is rounded per rate, a credit note cancels at most what is due, and a validated invoice stays."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
from litestar.exceptions import NotFoundException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import DossierRole, FirmRole
from portal.billing.fee_models import Invoice, InvoiceKind, InvoiceStatus
from portal.billing.invoices import INVOICE_ORDER, FeeError, InvoiceFilters, InvoiceService, today
from portal.clients.models import Dossier, DossierAccess
from portal.db.paging import FIRST_PAGE
from tests.factories.billing import line, make_draft, make_fees
from tests.factories.expenses import principal_of
from tests.factories.firm import add_role, make_user

CENT = Decimal("0.01")


def expected_number(prefix: str, sequence: int) -> str:
    return f"{prefix}{today().year}-{sequence:06d}"


async def test_drafts_have_no_number_and_validation_numbers_them_in_order(db_session: AsyncSession) -> None:
    fees = await make_fees(db_session, clients=3)
    service = InvoiceService(db_session)
    drafts = [await make_draft(db_session, fees, client) for client in fees.clients]
    assert all(draft.number is None and draft.status is InvoiceStatus.DRAFT for draft in drafts)

    removed = await service.remove_drafts(fees.principal, [drafts[1].id])
    validated = await service.validate(fees.principal, [drafts[0].id, drafts[2].id])

    # Numbered by client name within the batch; the removed draft took nothing.
    assert sorted(validated.numbers) == [expected_number("F", 1), expected_number("F", 2)]
    assert removed == 1
    later = await make_draft(db_session, fees, fees.clients[1])
    assert (await service.validate(fees.principal, [later.id])).numbers == [expected_number("F", 3)]
    for invoice in validated.invoices:
        assert invoice.issue_date == today()
        assert invoice.due_date == today() + dt.timedelta(days=30)
        assert invoice.client_address
        assert invoice.client_siren
        assert invoice.client_email


async def test_a_validated_invoice_is_never_removed_nor_changed(db_session: AsyncSession) -> None:
    fees = await make_fees(db_session, clients=1)
    service = InvoiceService(db_session)
    invoice = await make_draft(db_session, fees, fees.clients[0])
    await service.validate(fees.principal, [invoice.id])

    assert await service.remove_drafts(fees.principal, [invoice.id]) == 0
    with pytest.raises(FeeError):
        await service.replace_lines(fees.principal, invoice.id, [line(price="1.00")])
    with pytest.raises(FeeError):
        await service.validate(fees.principal, [invoice.id])
    assert (await db_session.get(Invoice, invoice.id)) is not None


async def test_two_invoices_cannot_share_a_number(db_session: AsyncSession) -> None:
    fees = await make_fees(db_session, clients=2)
    first, second = [await make_draft(db_session, fees, client) for client in fees.clients]
    await InvoiceService(db_session).validate(fees.principal, [first.id])
    await db_session.refresh(first)
    second.status, second.number, second.series, second.sequence = (
        InvoiceStatus.VALIDATED, first.number, first.series, 99,
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        await db_session.flush()


async def test_vat_is_rounded_per_rate_not_per_line(db_session: AsyncSession) -> None:
    fees = await make_fees(db_session, clients=1)
    # Three lines at 20 % whose VAT rounds up line by line (0.0334 → 0.03 each … ) and two other rates.
    lines = [line(f"Acte {n}", price="0.17") for n in range(3)] + [
        line("Conseil", price="33.33", quantity="1.5", rate="10.00"),
        line("Abonnement logiciel", price="12.45", rate="5.50"),
    ]
    invoice = await make_draft(db_session, fees, fees.clients[0], *lines)
    # By hand: 20 %: base 0,51 → 0,102 → 0,10 (line by line 3 × 0,034 → 3 × 0,03 = 0,09).
    # 10 %: 1,5 × 33,33 = 49,995 → 50,00 HT → 5,00. 5,5 %: 12,45 → 0,68475 → 0,68.
    assert invoice.total_ht == Decimal("62.96")
    assert invoice.total_vat == Decimal("0.10") + Decimal("5.00") + Decimal("0.68")
    assert invoice.total_ttc == Decimal("62.96") + Decimal("5.78")
    per_line = sum(
        ((Decimal(price) * Decimal(quantity)).quantize(CENT, ROUND_HALF_UP) * Decimal(rate) / 100).quantize(
            CENT, ROUND_HALF_UP
        )
        for price, quantity, rate in [("0.17", "1", "20")] * 3 + [("33.33", "1.5", "10"), ("12.45", "1", "5.5")]
    )
    assert per_line != invoice.total_vat  # the case really tells the two roundings apart


async def test_a_credit_note_cancels_at_most_what_is_due_and_is_numbered_in_its_own_series(
    db_session: AsyncSession,
) -> None:
    fees = await make_fees(db_session, clients=1)
    service = InvoiceService(db_session)
    invoice = await make_draft(db_session, fees, fees.clients[0], line(price="250.00"))
    await service.validate(fees.principal, [invoice.id])

    note = await service.credit_note(fees.principal, invoice.id)
    assert note.kind is InvoiceKind.CREDIT_NOTE
    assert note.total_ttc == Decimal("300.00")
    with pytest.raises(FeeError) as refused:
        await service.replace_lines(fees.principal, note.id, [line(price="300.00")])
    assert refused.value.field == "montant"
    partial = await service.replace_lines(fees.principal, note.id, [line("Remise commerciale", price="50.00")])
    assert partial.total_ttc == Decimal("60.00")
    assert (await service.validate(fees.principal, [note.id])).numbers == [expected_number("AV", 1)]
    assert note.credited_invoice_id == invoice.id


async def test_drafts_of_one_client_group_into_one(db_session: AsyncSession) -> None:
    fees = await make_fees(db_session, clients=2)
    service = InvoiceService(db_session)
    first = await make_draft(db_session, fees, fees.clients[0], line(price="10.00"))
    second = await make_draft(db_session, fees, fees.clients[0], line("Bulletins", price="20.00", quantity="3"))
    other = await make_draft(db_session, fees, fees.clients[1])
    with pytest.raises(FeeError):
        await service.group_drafts(fees.principal, [first.id, other.id])

    kept = await service.group_drafts(fees.principal, [first.id, second.id])
    assert kept.id == first.id
    assert [item.label for item in kept.lines] == ["Tenue comptable", "Bulletins"]
    assert kept.total_ht == Decimal("70.00")
    assert await db_session.get(Invoice, second.id) is None


async def test_a_comptable_reads_only_the_invoices_of_their_dossiers_and_never_a_hidden_one(
    db_session: AsyncSession,
) -> None:
    fees = await make_fees(db_session, clients=3)
    fees.dossiers[2].is_confidential = True
    db_session.add(DossierAccess(dossier_id=fees.dossiers[2].id, user_id=fees.partner.id))  # the partner bills it
    service = InvoiceService(db_session)
    drafts = [await make_draft(db_session, fees, client) for client in fees.clients]
    await service.validate(fees.principal, [draft.id for draft in drafts])
    accountant = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, accountant, fees.dossiers[0], DossierRole.ACCOUNTANT)
    manager = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, manager, fees.entity, DossierRole.BILLING_MANAGER)

    def names(page: object) -> set[str]:
        return {invoice.client_name for invoice in page.items}  # type: ignore[attr-defined]

    reader = await principal_of(db_session, accountant)
    assert names(await service.page(reader, InvoiceFilters(), FIRST_PAGE, INVOICE_ORDER)) == {drafts[0].client_name}
    billing = await principal_of(db_session, manager)
    seen = names(await service.page(billing, InvoiceFilters(), FIRST_PAGE, INVOICE_ORDER))
    assert seen == {drafts[0].client_name, drafts[1].client_name}
    db_session.add(DossierAccess(dossier_id=fees.dossiers[2].id, user_id=manager.id))
    await db_session.flush()
    assert len(names(await service.page(billing, InvoiceFilters(), FIRST_PAGE, INVOICE_ORDER))) == 3
    with pytest.raises(NotFoundException):
        await service.get(reader, drafts[1].id)


async def test_sixteen_concurrent_validations_leave_no_gap_and_no_duplicate(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    async with committed() as session, session.begin():
        fees = await make_fees(session, clients=16)
        drafts = [(await make_draft(session, fees, client)).id for client in fees.clients]
    principal = fees.principal

    async def validate(invoice_id: uuid.UUID) -> str:
        async with committed() as session, session.begin():
            return (await InvoiceService(session).validate(principal, [invoice_id])).numbers[0]

    numbers = await asyncio.gather(*(validate(invoice_id) for invoice_id in drafts))

    assert sorted(numbers) == [expected_number("F", sequence) for sequence in range(1, 17)]
    async with committed() as session:
        counted = await session.execute(
            select(func.count(), func.count(func.distinct(Invoice.number))).where(Invoice.status == "validated")
        )
        assert tuple(counted.one()) == (16, 16)
        assert (await session.execute(select(func.count()).select_from(Dossier))).scalar_one() == 17
