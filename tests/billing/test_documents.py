"""``documents_of``: what an invoice's PDF and XML say, read from the database for many invoices at once."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal.billing.documents import documents_of
from portal.billing.fee_models import BillingSettings, InvoiceKind, Unit
from tests.factories.clients import make_dossier
from tests.factories.invoices import make_client, make_invoice

D = Decimal
SIREN = "732829320"
CLIENT_SIREN = "552008443"


def french_vat_number(siren: str) -> str:
    """The intra-EU VAT number of a French SIREN: FR, the key (12 + 3 × (SIREN mod 97)) mod 97, the SIREN."""
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


async def entity_with_settings(session: AsyncSession) -> Any:
    entity = await make_dossier(
        session, name="Cabinet Lumière", siren=SIREN, nic="00074", legal_form="SAS", is_firm_dossier=True,
        address="12 rue de la République\nBâtiment B", postal_code="69002", city="Lyon",
    )  # fmt: skip
    session.add(
        BillingSettings(
            entity_id=entity.id,
            share_capital="10 000 €",
            trade_registry="RCS Lyon 732 829 320",
            email="facturation@lumiere.fr",
            iban="FR7630006000011234567890189",
            bic="AGRIFRPP",
            payment_terms_days=45,
            late_penalty_rate=D("12.50"),
            vat_on_debits=True,
        )
    )
    await session.flush()
    return entity


async def test_an_invoice_and_its_credit_note_read_as_printed(db_session: AsyncSession) -> None:
    entity = await entity_with_settings(db_session)
    client = await make_client(db_session, entity, name="Boulangerie Dupont", siren=CLIENT_SIREN)
    invoice = await make_invoice(
        db_session, entity, client,
        [("Tenue comptable", Unit.FLAT, D("1"), D("416.67"), D("20")),
         ("Bulletins de paie", Unit.PAYSLIP, D("3"), D("16.65"), D("10"))],
        client_address="3 place du Marché", client_postal_code="69003", client_city="Lyon",
        period_start=dt.date(2026, 11, 1), period_end=dt.date(2026, 11, 30), purchase_order="BC-42",
    )  # fmt: skip
    credit = await make_invoice(
        db_session, entity, client, [("Tenue comptable", Unit.FLAT, D("1"), D("416.67"), D("20"))],
        kind=InvoiceKind.CREDIT_NOTE, credited=invoice, issue_date=dt.date(2026, 12, 15),
    )  # fmt: skip

    missing = uuid.uuid4()
    read_credit, read_invoice = await documents_of(db_session, [credit.id, missing, invoice.id, credit.id])

    assert read_invoice.id == invoice.id
    assert read_invoice.number == invoice.number
    assert read_invoice.kind is InvoiceKind.INVOICE
    assert (read_invoice.period_start, read_invoice.period_end) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert read_invoice.purchase_order == "BC-42"
    seller = read_invoice.seller
    assert (seller.name, seller.siren, seller.siret, seller.legal_form) == (
        "Cabinet Lumière",
        SIREN,
        SIREN + "00074",
        "SAS",
    )
    assert seller.vat_number == french_vat_number(SIREN)
    assert seller.address_lines == ("12 rue de la République", "Bâtiment B")
    assert (seller.share_capital, seller.trade_registry) == ("10 000 €", "RCS Lyon 732 829 320")
    buyer = read_invoice.buyer
    assert (buyer.name, buyer.siren) == ("Boulangerie Dupont", CLIENT_SIREN)
    assert buyer.vat_number == french_vat_number(CLIENT_SIREN)
    assert (buyer.address, buyer.postal_code, buyer.city) == ("3 place du Marché", "69003", "Lyon")
    assert [(line.label, line.quantity, line.unit_price, line.total_ht) for line in read_invoice.lines] == [
        ("Tenue comptable", D("1"), D("416.67"), D("416.67")),
        ("Bulletins de paie", D("3"), D("16.65"), D("49.95")),
    ]
    # 416.67 × 20 % = 83.334 → 83.33; 49.95 × 10 % = 4.995 → 5.00 (half up)
    assert (read_invoice.totals.ht, read_invoice.totals.vat, read_invoice.totals.ttc) == (
        D("466.62"),
        D("88.33"),
        D("554.95"),
    )
    assert (read_invoice.payment_terms_days, read_invoice.late_penalty_rate) == (45, D("12.50"))
    assert read_invoice.vat_on_debits is True
    assert (read_invoice.iban, read_invoice.bic) == ("FR7630006000011234567890189", "AGRIFRPP")
    assert read_invoice.recovery_indemnity == D("40.00")

    assert read_credit.kind is InvoiceKind.CREDIT_NOTE
    assert (read_credit.credited_number, read_credit.credited_date) == (invoice.number, invoice.issue_date)
    assert read_credit.totals.ttc == D("500.00")


async def test_an_entity_without_billing_settings_gets_the_default_terms(db_session: AsyncSession) -> None:
    entity = await make_dossier(db_session, name="Cabinet Sans Réglages", is_firm_dossier=True)
    client = await make_client(db_session, entity, name="Garage du Centre", siren=None)
    invoice = await make_invoice(db_session, entity, client, [("Conseil", Unit.HOUR, D("2"), D("90"), D("20"))])

    (document,) = await documents_of(db_session, [invoice.id])

    assert (document.payment_terms_days, document.late_penalty_rate, document.iban) == (30, D("10.00"), "")
    assert document.buyer.siren is None
    assert document.totals.ttc == D("216.00")


async def test_a_batch_of_invoices_is_read_in_two_statements(db_session: AsyncSession, engine: AsyncEngine) -> None:
    entity = await entity_with_settings(db_session)
    client = await make_client(db_session, entity, name="Boulangerie Dupont", siren=CLIENT_SIREN)
    ids = [
        (await make_invoice(db_session, entity, client, [("Tenue", Unit.FLAT, D(index + 1), D("10.00"), D("20"))])).id
        for index in range(120)
    ]
    db_session.expunge_all()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        documents = await documents_of(db_session, ids)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)

    assert len(statements) == 2
    assert [document.id for document in documents] == ids
    assert [document.totals.ht for document in documents] == [D(f"{10 * (index + 1)}.00") for index in range(120)]
