"""Invoices as their documents say them, for the tests of their files and the invoices benchmark: six lines at
three VAT rates whose VAT rounded per rate differs from VAT rounded line by line, and a credit note."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from portal.billing.amounts import line_total, totals
from portal.billing.documents import DocumentLine, InvoiceDocument, Party
from portal.billing.fee_models import InvoiceKind, Unit

D = Decimal
SIREN = "732829320"
CLIENT_SIREN = "552008443"

THREE_RATES = [
    ("Tenue comptable mensuelle", Unit.FLAT, D("1"), D("416.67"), D("20")),
    ("Révision des comptes", Unit.FLAT, D("1"), D("83.34"), D("20")),
    ("Conseil", Unit.HOUR, D("1.5"), D("120.01"), D("20")),
    ("Bulletins de paie", Unit.PAYSLIP, D("3"), D("16.65"), D("10")),
    ("Bulletin de sortie", Unit.PAYSLIP, D("1"), D("20.05"), D("10")),
    ("Formation", Unit.HOUR, D("2"), D("45.45"), D("5.5")),
]


def french_vat_number(siren: str) -> str:
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


SELLER = Party(
    name="Cabinet Lumière", siren=SIREN, nic="00074", vat_number=french_vat_number(SIREN), legal_form="SAS",
    share_capital="10 000 €", trade_registry="RCS Lyon 732 829 320", address="12 rue de la République",
    postal_code="69002", city="Lyon", email="facturation@lumiere.fr",
)  # fmt: skip
BUYER = Party(
    name="Boulangerie Dupont", siren=CLIENT_SIREN, vat_number=french_vat_number(CLIENT_SIREN),
    address="3 place du Marché", postal_code="69003", city="Lyon",
)  # fmt: skip


def document(
    lines: list[tuple[str, Unit, Decimal, Decimal, Decimal]] = THREE_RATES,
    *,
    number: str | None = "F2026-000123",
    kind: InvoiceKind = InvoiceKind.INVOICE,
    **values: object,
) -> InvoiceDocument:
    rows = tuple(
        DocumentLine(position, label, unit, quantity, price, rate, line_total(quantity, price))
        for position, (label, unit, quantity, price, rate) in enumerate(lines, start=1)
    )
    fields: dict[str, object] = {
        "id": uuid.uuid4(), "kind": kind, "number": number, "issue_date": dt.date(2026, 12, 7),
        "due_date": dt.date(2027, 1, 21), "period_start": dt.date(2026, 11, 1), "period_end": dt.date(2026, 11, 30),
        "seller": SELLER, "buyer": BUYER, "lines": rows, "totals": totals(rows), "payment_terms_days": 45,
        "late_penalty_rate": D("12.50"), "vat_on_debits": True, "iban": "FR7630006000011234567890189",
        "bic": "AGRIFRPP", "purchase_order": "BC-42",
    }  # fmt: skip
    fields.update(values)
    return InvoiceDocument(**fields)  # type: ignore[arg-type]


def credit_note() -> InvoiceDocument:
    return document(
        THREE_RATES[:2], number="AV2026-000004", kind=InvoiceKind.CREDIT_NOTE, issue_date=dt.date(2026, 12, 15),
        due_date=dt.date(2026, 12, 15), credited_number="F2026-000123", credited_date=dt.date(2026, 12, 7),
    )  # fmt: skip
