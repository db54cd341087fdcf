"""Rapprochement bancaire: a statement's credit lines imported once each, with the invoice they likely pay (its
number in the label, or its amount), confirmed into a payment or ignored; a bad file is refused whole."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from portal.billing.bank import BankService, StatementError, parse_statement
from portal.billing.fee_models import BankLine, BankLineStatus, FeeEntry, Invoice, Payment, PostingKind
from portal.billing.payments import PaymentError
from tests.factories.expenses import principal_of
from tests.factories.fees import billing_client, billing_entity, invoice, line
from tests.factories.firm import make_user

D = Decimal

STATEMENT = """date;libellé;montant;référence
02/11/2026;VIR SEPA BOULANGERIE MARTIN FACT F2026-000012;1 440,00;RUM 123
03/11/2026;PRLV URSSAF;-312,45;
04/11/2026;VIR GARAGE DU CENTRE;360,00;
05/11/2026;VIR CAFE DES SPORTS f2026 13;100,00;
06/11/2026;REMISE CHEQUES;75,50;
"""


def test_a_statement_reads_french_dates_and_decimal_commas_and_keeps_credits() -> None:
    statement = parse_statement(STATEMENT.encode())
    assert [(item.line_no, item.booked_on, item.amount) for item in statement.credits] == [
        (2, dt.date(2026, 11, 2), D("1440.00")),
        (4, dt.date(2026, 11, 4), D("360.00")),
        (5, dt.date(2026, 11, 5), D("100.00")),
        (6, dt.date(2026, 11, 6), D("75.50")),
    ]
    assert statement.credits[0].label == "VIR SEPA BOULANGERIE MARTIN FACT F2026-000012"
    assert statement.credits[0].reference == "RUM 123"
    assert statement.skipped == 1


def test_the_debit_credit_layout_in_windows_1252_is_read_too() -> None:
    export = (
        "Date opération;Date valeur;Libellé;Débit euros;Crédit euros\r\n"
        "30/10/2026;31/10/2026;VIR M. DUPONT HONORAIRES;;1.234,56\r\n"
        "31/10/2026;31/10/2026;CARTE FRAIS;45,00;\r\n"
    ).encode("cp1252")
    statement = parse_statement(export)
    assert [(item.booked_on, item.label, item.amount) for item in statement.credits] == [
        (dt.date(2026, 10, 30), "VIR M. DUPONT HONORAIRES", D("1234.56"))
    ]
    assert statement.skipped == 1


def test_every_error_is_given_with_its_line_and_nothing_is_kept() -> None:
    bad = (
        "date;libellé;montant\n31/02/2026;VIR A;10,00\n01/03/2026;VIR B;dix euros\n;VIR C;5,00\n"
        "02/03/2026;VIR D;1,234\n"
    )
    with pytest.raises(StatementError) as refused:
        parse_statement(bad.encode())
    assert refused.value.messages() == [
        "Ligne 2 : « 31/02/2026 » n'est pas une date (JJ/MM/AAAA).",
        "Ligne 3 : « dix euros » n'est pas un montant (par exemple 1 234,56).",
        "Ligne 4 : la date manque.",
        "Ligne 5 : « 1,234 » n'est pas un montant (par exemple 1 234,56).",
    ]
    with pytest.raises(StatementError) as no_columns:
        parse_statement(b"when;what;how much\n01/01/2026;x;1\n")
    assert no_columns.value.messages() == [
        (
            "Ligne 1 : colonnes attendues « date;libellé;montant;référence », ou « Date;Libellé;Débit;Crédit » "
            "(colonnes trouvées : when, what, how much)."
        )
    ]
    with pytest.raises(StatementError) as empty:
        parse_statement(b"\n\n")
    assert empty.value.messages() == ["Le relevé est vide."]


async def test_import_suggests_by_number_or_amount_and_a_second_import_adds_nothing(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    bakery = await billing_client(db_session, entity, "Boulangerie Martin")
    garage = await billing_client(db_session, entity, "Garage du Centre")
    cafe = await billing_client(db_session, entity, "Café des Sports")
    by_number = await invoice(db_session, entity, bakery, [line("Bilan", "1200.00")], number="F2026-000012")
    by_amount = await invoice(db_session, entity, garage, [line("Paie", "300.00")], number="F2026-000011")
    short = await invoice(db_session, entity, cafe, [line("Conseil", "500.00")], number="F2026-000013")
    # Two open invoices of 90,00: an amount alone names neither.
    await invoice(db_session, entity, cafe, [line("Acte", "75.00")], number="F2026-000014")
    await invoice(db_session, entity, garage, [line("Acte", "75.00")], number="F2026-000015")
    service = BankService(db_session)

    outcome = await service.import_statement(partner, entity.id, STATEMENT.encode())
    assert (outcome.credits, outcome.added, outcome.suggested, outcome.skipped) == (4, 4, 3, 1)
    lines = {item.label: item for item in (await db_session.execute(select(BankLine))).scalars()}
    assert lines["VIR SEPA BOULANGERIE MARTIN FACT F2026-000012"].suggested_invoice_id == by_number.id
    assert lines["VIR GARAGE DU CENTRE"].suggested_invoice_id == by_amount.id  # 360,00 = its balance
    assert lines["VIR CAFE DES SPORTS f2026 13"].suggested_invoice_id == short.id  # « f2026 13 » is F2026-000013
    assert lines["REMISE CHEQUES"].suggested_invoice_id is None
    assert {item.status for item in lines.values()} == {BankLineStatus.TO_MATCH}

    # The same statement, and one overlapping it by a line, add only what is new.
    again = await service.import_statement(partner, entity.id, STATEMENT.encode())
    assert (again.credits, again.added) == (4, 0)
    overlap = "date;libellé;montant\n06/11/2026;REMISE CHEQUES;75,50\n06/11/2026;REMISE CHEQUES;75,50\n"
    third = await service.import_statement(partner, entity.id, overlap.encode())
    assert (third.credits, third.added) == (2, 1)  # two equal lines: the first known, the second new
    assert (await db_session.execute(select(func.count()).select_from(BankLine))).scalar_one() == 5
    imported = (
        await db_session.execute(select(AuditEvent).where(AuditEvent.action == "billing_bank_line.imported"))
    ).scalars()
    # One event per import (the order the database returns them in is not asked for).
    assert sorted(event.after["added"] for event in imported if event.after) == [0, 1, 4]


async def test_confirming_records_the_payment_and_a_line_is_matched_once(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    bakery = await billing_client(db_session, entity, "Boulangerie Martin")
    cafe = await billing_client(db_session, entity, "Café des Sports")
    bill = await invoice(db_session, entity, bakery, [line("Bilan", "1000.00")], number="F2026-000012")  # 1 200,00
    other = await invoice(db_session, entity, cafe, [line("Conseil", "50.00")], number="F2026-000020")  # 60,00
    service = BankService(db_session)
    await service.import_statement(partner, entity.id, STATEMENT.encode())
    lines = {item.label: item for item in (await db_session.execute(select(BankLine))).scalars()}

    # 1 440,00 names F2026-000012 (1 200,00 due): the invoice is paid and 240,00 is the client's credit.
    first = lines["VIR SEPA BOULANGERIE MARTIN FACT F2026-000012"]
    payment = await service.confirm(partner, entity.id, first.id)
    assert (payment.client_id, payment.amount, payment.unallocated) == (bakery.id, D("1440.00"), D("240.00"))
    assert (payment.received_on, payment.bank_line_id, payment.reference) == (dt.date(2026, 11, 2), first.id, "RUM 123")
    await db_session.refresh(bill)
    assert (bill.settled, bill.paid_at) == (D("1200.00"), dt.date(2026, 11, 2))
    assert first.status is BankLineStatus.MATCHED
    posted = (await db_session.execute(select(FeeEntry).where(FeeEntry.source_id == payment.id))).scalar_one()
    assert (posted.source_kind, posted.total) == (PostingKind.PAYMENT, 144000)
    with pytest.raises(PaymentError) as twice:
        await service.confirm(partner, entity.id, first.id)
    assert twice.value.text() == "Cette ligne a déjà été traitée."

    # A line without a suggestion is matched to the invoice the person names by its number.
    cheques = lines["REMISE CHEQUES"]
    with pytest.raises(PaymentError) as unnamed:
        await service.confirm(partner, entity.id, cheques.id)
    assert unnamed.value.text() == "Indiquez la facture que ce virement règle."
    with pytest.raises(PaymentError) as unknown:
        await service.confirm(partner, entity.id, cheques.id, "F2026-999999")
    assert unknown.value.text() == "Aucune facture ouverte ne porte le numéro « F2026-999999 »."
    paid = await service.confirm(partner, entity.id, cheques.id, "f2026-20")
    assert (paid.client_id, paid.amount, paid.unallocated) == (cafe.id, D("75.50"), D("15.50"))
    await db_session.refresh(other)
    assert other.settled == D("60.00")

    # Ignoring: once; the line stays, ignored, with no payment.
    garage_line = lines["VIR GARAGE DU CENTRE"]
    await service.ignore(partner, entity.id, garage_line.id)
    assert garage_line.status is BankLineStatus.IGNORED
    with pytest.raises(PaymentError):
        await service.ignore(partner, entity.id, garage_line.id)
    assert (await db_session.execute(select(func.count()).select_from(Payment))).scalar_one() == 2
    counts = await service.counts(partner, entity.id)
    assert counts == {BankLineStatus.TO_MATCH: 1, BankLineStatus.MATCHED: 2, BankLineStatus.IGNORED: 1}
    actions = {
        event.action
        for event in (
            await db_session.execute(select(AuditEvent).where(AuditEvent.object_type == "billing_bank_line"))
        ).scalars()
    }
    assert actions == {"billing_bank_line.matched", "billing_bank_line.ignored"}
    assert (await db_session.get(Invoice, bill.id)) is not None
