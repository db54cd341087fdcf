"""Factur-X invoices: how long one takes to print, per invoice, in batches of 1, 20 and 100 (target 20 a second).

Invoices of a firm's usual shape (the tests' ``invoice_samples``: six lines at three VAT rates, a service period,
the SEPA details) built in memory, then ``facturx.render`` as a billing run calls it: the batch laid out by
WeasyPrint as one document, cut per invoice, each CII XML written, checked against its XSD and embedded
(PDF/A-3). The first batch of the process also loads the fonts and is left out. The XML alone, and its offline
schematron check, are timed apart.
"""

from __future__ import annotations

import time

from benchmarks.environment import bench_settings
from portal.billing import facturx
from portal.billing.documents import InvoiceDocument
from portal.settings import Settings
from tests.billing.invoice_samples import document

TARGET_PER_SECOND = 20
BATCHES = (1, 20, 100)


def sample(index: int) -> InvoiceDocument:
    return document(number=f"F2026-{index:06d}")


def run(settings: Settings | None = None) -> None:
    settings = settings or bench_settings()
    print("invoices (Factur-X PDF/A-3, EN 16931; per invoice)")
    facturx.render([sample(0)], settings)  # fonts, templates
    for size in BATCHES:
        docs = [sample(index) for index in range(1, size + 1)]
        started = time.perf_counter()
        pdfs = facturx.render(docs, settings)
        each = (time.perf_counter() - started) / size
        kilobytes = sum(map(len, pdfs)) // size // 1024
        verdict = "met" if 1 / each >= TARGET_PER_SECOND else "MISSED"
        print(f"  batch of {size:>3}: {each * 1000:6.1f} ms an invoice, {1 / each:5.1f} a second"
              f" (target {TARGET_PER_SECOND}: {verdict}); each PDF about {kilobytes} KB")  # fmt: skip
    doc = sample(1)
    facturx.check_schematron(facturx.cii_xml(doc), "factur-x")  # compiles the stylesheet once
    started = time.perf_counter()
    for _ in range(20):
        xml = facturx.cii_xml(doc)
        facturx.check_xsd(xml, "factur-x")
        assert facturx.check_schematron(xml, "factur-x") == []
    print(f"  CII XML + XSD + schematron: {(time.perf_counter() - started) / 20 * 1000:.1f} ms an invoice")
