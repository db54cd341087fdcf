"""The firm's books: each validated invoice and credit note posted once in journal VT, each payment in BQ, every
entry balanced to the cent; exported as a FEC the portal's own reader and validator accept, with the same totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.roles import FirmRole
from portal.billing.fee_models import FeeEntry, InvoiceKind, PostingKind
from portal.billing.payments import PaymentService, today
from portal.billing.posting import FeeLedger, aux_account, post_invoices
from portal.ledger import fec
from tests.factories.expenses import principal_of
from tests.factories.fees import billing_client, billing_entity, invoice, line
from tests.factories.firm import make_user

D = Decimal


def lines_of(entry: FeeEntry) -> list[tuple[str, str | None, int, int]]:
    return [(item.account, item.aux_account, item.debit, item.credit) for item in entry.lines]


async def entries(session: AsyncSession, kind: PostingKind | None = None) -> list[FeeEntry]:
    statement = select(FeeEntry).order_by(FeeEntry.entry_date, FeeEntry.piece_ref)
    if kind is not None:
        statement = statement.where(FeeEntry.source_kind == kind)
    return list((await session.execute(statement)).scalars())


async def test_an_invoice_is_posted_once_in_vt_with_vat_per_rate(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Boulangerie Martin", siren="552100554")
    # Two rates, two revenue accounts: 2 × 333,33 at 20 % on 706000, 99,99 at 10 % on 706100, 50,00 at 0 %.
    bill = await invoice(db_session, entity, client, [
        line("Tenue comptable", "333.33", quantity="2"),
        line("Formation", "99.99", vat_rate="10.00", account="706100"),
        line("Débours", "50.00", vat_rate="0.00", account="706100"),
    ], number="F2026-000042", issue_date=dt.date(2026, 11, 30))  # fmt: skip
    # By hand: HT 666,66 (706000) + 149,99 (706100); VAT 20 % of 666,66 = 133,332 → 133,33; 10 % of 99,99 =
    # 9,999 → 10,00; TTC 666,66 + 149,99 + 133,33 + 10,00 = 959,98.
    assert bill.total_ttc == D("959.98")
    assert await post_invoices(db_session, [bill.id]) == 1
    assert await post_invoices(db_session, [bill.id, bill.id]) == 0  # again: nothing more
    (entry,) = await entries(db_session)
    assert (entry.journal_code, entry.entry_date, entry.piece_ref, entry.total) == (
        "VT",
        dt.date(2026, 11, 30),
        "F2026-000042",
        95998,
    )
    assert lines_of(entry) == [
        ("411000", "C552100554", 95998, 0),
        ("706000", None, 0, 66666),
        ("706100", None, 0, 14999),
        ("445711", None, 0, 13333),
        ("445712", None, 0, 1000),
    ]
    assert entry.lines[0].aux_label == "Boulangerie Martin"
    assert sum(item.debit for item in entry.lines) == sum(item.credit for item in entry.lines)


async def test_a_credit_note_is_the_reverse_and_a_payment_goes_to_bq(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    client = await billing_client(db_session, entity, "Café des Sports")  # no SIREN: its id names its account
    bill = await invoice(db_session, entity, client, [line("Bilan", "1000.00")])
    note = await invoice(db_session, entity, client, [line("Remise", "125.55")], kind=InvoiceKind.CREDIT_NOTE,
                         credited=bill)  # fmt: skip
    assert await post_invoices(db_session, [bill.id, note.id]) == 2
    aux = aux_account(client.id, None)
    assert aux == "C" + client.id.hex[-10:].upper()
    posted = {entry.source_id: entry for entry in await entries(db_session)}
    # 125,55 HT, VAT 25,11 (25,110), TTC 150,66: the client's account credited, revenue and VAT debited.
    assert lines_of(posted[note.id]) == [
        ("411000", aux, 0, 15066),
        ("706000", None, 12555, 0),
        ("445711", None, 2511, 0),
    ]
    assert lines_of(posted[bill.id])[0] == ("411000", aux, 120000, 0)

    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    payment = await PaymentService(db_session).record(partner, entity.id, client_id=client.id, received_on=today(),
                                                      amount=D("1049.34"), reference="VIR CAFE")  # fmt: skip
    (bank,) = await entries(db_session, PostingKind.PAYMENT)
    assert (bank.journal_code, bank.entry_date, bank.piece_ref, bank.source_id) == (
        "BQ",
        today(),
        "VIR CAFE",
        payment.id,
    )
    assert lines_of(bank) == [("512000", None, 104934, 0), ("411000", aux, 0, 104934)]


async def test_the_books_export_as_a_fec_the_reader_accepts_with_the_same_totals(
    db_session: AsyncSession, tmp_path: Path
) -> None:
    entity = await billing_entity(db_session)
    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    clients = [await billing_client(db_session, entity, f"Client {n}", siren=None) for n in range(3)]
    invoices = []
    for number, client in enumerate(clients, start=1):
        invoices.append(await invoice(db_session, entity, client, [
            line("Tenue comptable", f"{100 * number}.10"), line("Conseil", "33.33", vat_rate="5.50"),
        ], number=f"F2026-{number:06d}", issue_date=dt.date(2026, 10, number)))  # fmt: skip
    note = await invoice(db_session, entity, clients[0], [line("Remise", "10.00")], kind=InvoiceKind.CREDIT_NOTE,
                         credited=invoices[0], number="AV2026-000001", issue_date=dt.date(2026, 10, 5))  # fmt: skip
    await post_invoices(db_session, [item.id for item in [*invoices, note]])
    paid_on = dt.date(2026, 11, 2)
    await PaymentService(db_session).record(partner, entity.id, client_id=clients[1].id, received_on=paid_on,
                                            amount=D("50.00"))  # fmt: skip
    expected_total = sum(entry.total for entry in await entries(db_session))

    rows = [
        row async for row in FeeLedger(db_session).export_rows(entity.id, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    ]
    name = fec.fec_filename(entity.siren or "", dt.date(2026, 12, 31))
    assert name == f"{entity.siren}FEC20261231.txt"
    path = tmp_path / name
    path.write_bytes(fec.write_chunk(rows, cash_basis=False, header=True))

    report = fec.check(path, filename=name)
    assert report.error_count == 0, report.issues
    assert report.warning_count == 0, report.issues
    assert (report.entry_count, report.journal_count) == (5, 2)
    assert report.debit_total == report.credit_total == expected_total
    assert report.siren == entity.siren
    with fec.FecFile.open(path, filename=name) as reader:
        read = [dict(zip(fec.ROW_FIELDS, row, strict=True)) for batch in reader.batches() for row in batch]
    numbers = {row["entry_number"] for row in read}
    assert numbers == {"VT-000001", "VT-000002", "VT-000003", "VT-000004", "BQ-000001"}
    by_entry: dict[str, int] = {}
    for row in read:
        by_entry[row["entry_number"]] = by_entry.get(row["entry_number"], 0) + row["debit"] - row["credit"]
    assert set(by_entry.values()) == {0}
    labels = {row["account_number"]: row["account_label"] for row in read}
    assert labels["411000"] == "Clients"
    assert labels["445713"] == "TVA collectée 5,5 %"
    assert labels["512000"] == "Banque"
