"""Factur-X invoices: how long one takes to print, per invoice, in batches of 1, 20 and 100 (target 20 a second).

Invoices of a firm's usual shape (the tests' ``invoice_samples``: six lines at three VAT rates, a service period,
the SEPA details) built in memory, then ``facturx.render`` as a billing run calls it: each CII XML written and
checked against its XSD, each invoice printed on its form (laid out by WeasyPrint once per shape of invoice, the
invoice's texts written in) with its XML embedded (PDF/A-3). The first batch of the process also loads the fonts
and lays out the form, and is left out.

Then a billing run's mix, from a cold start (no form laid out yet): 500 invoices of one to six lines at one to
three rates, with and without a purchase order, some credit notes, a few long labels, and in each hundred one
client whose name is not in the form's font and one invoice of two pages (both printed entirely by WeasyPrint);
its rate is the figure of the target (``invoices per second per process``, and ``ratio pdf_speed``: that rate
over 20). Then the first 100 of the mix printed entirely by WeasyPrint, as before the forms, for comparison. The
XML alone, and its offline schematron check (not run when printing), are timed apart. One process, one thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from decimal import Decimal

from benchmarks.environment import bench_settings
from portal.billing import facturx
from portal.billing.documents import InvoiceDocument
from portal.billing.fee_models import InvoiceKind, Unit
from portal.settings import Settings
from portal.web import pdf_fill
from tests.billing.invoice_samples import BUYER, THREE_RATES, document

TARGET_PER_SECOND = 20
BATCHES = (1, 20, 100)
MIX = 500
LONG_LABEL = "Tenue comptable mensuelle, révision trimestrielle des comptes et assistance juridique annuelle"


def sample(index: int) -> InvoiceDocument:
    return document(number=f"F2026-{index:06d}")


def mixed(index: int) -> InvoiceDocument:
    """The ``index``-th invoice of a billing run's mix (deterministic)."""
    lines = THREE_RATES[index % 3 : index % 3 + 1 + index % 6] or THREE_RATES[:1]
    if index % 17 == 5:
        lines = [(LONG_LABEL, Unit.FLAT, Decimal(1), Decimal("1250.00"), Decimal(20)), *lines]
    if index % 100 == 50:
        lines = THREE_RATES * 4  # two pages
    values: dict[str, object] = {"purchase_order": "" if index % 4 else f"BC-{index}"}
    if index % 10 == 9:
        values.update(kind=InvoiceKind.CREDIT_NOTE, credited_number=f"F2026-{index - 1:06d}",
                      credited_date=dt.date(2026, 12, 7))  # fmt: skip
    doc = document(lines, number=f"F2026-{index:06d}", **values)
    if index % 100 == 33:
        doc = dataclasses.replace(doc, buyer=dataclasses.replace(BUYER, name="Ωmega Conseil"))
    return doc


def _timed(docs: list[InvoiceDocument], settings: Settings, *, forms: bool = True) -> tuple[float, int]:
    """Seconds an invoice, and the average size of a PDF in KB."""
    started = time.perf_counter()
    pdfs = facturx.render(docs, settings, forms=forms)
    return (time.perf_counter() - started) / len(docs), sum(map(len, pdfs)) // len(docs) // 1024


def run(settings: Settings | None = None) -> None:
    settings = settings or bench_settings()
    load = os.getloadavg()[0]
    print(f"invoices (Factur-X PDF/A-3, EN 16931; per invoice; load average {load:.2f} on {os.cpu_count()} cores)")
    facturx.render([sample(0)], settings)  # fonts, templates, the XSD, the form
    for size in BATCHES:
        each, kilobytes = _timed([sample(index) for index in range(1, size + 1)], settings)
        print(f"  batch of {size:>3} (one shape): {each * 1000:6.1f} ms an invoice, {1 / each:6.1f} a second;"
              f" each PDF about {kilobytes} KB")  # fmt: skip
    pdf_fill.forget_forms()
    docs = [mixed(index) for index in range(1, MIX + 1)]
    each, kilobytes = _timed(docs, settings)
    print(f"  a billing run's mix of {MIX}, forms laid out from cold: {each * 1000:6.1f} ms an invoice;"
          f" each PDF about {kilobytes} KB")  # fmt: skip
    whole, whole_kilobytes = _timed(docs[:100], settings, forms=False)
    print(f"  its first 100 printed entirely by WeasyPrint: {whole * 1000:6.1f} ms an invoice;"
          f" each PDF about {whole_kilobytes} KB")  # fmt: skip
    doc = sample(1)
    facturx.check_schematron(facturx.cii_xml(doc), "factur-x")  # compiles the stylesheet once
    started = time.perf_counter()
    for _ in range(20):
        xml = facturx.cii_xml(doc)
        facturx.check_xsd(xml, "factur-x")
        assert facturx.check_schematron(xml, "factur-x") == []
    print(f"  CII XML + XSD + schematron (not run when printing): {(time.perf_counter() - started) / 20 * 1000:.1f} ms")
    rate = 1 / each
    print(f"invoices per second per process: {rate:.1f} (target {TARGET_PER_SECOND})")
    print(f"ratio pdf_speed: {rate / TARGET_PER_SECOND:.2f}× (target 1.00×)")
