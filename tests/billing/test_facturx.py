"""An invoice's files: its CII and UBL XML pass the EN 16931 XSD and schematron (run offline), a broken one is
refused by the rule it breaks, and its Factur-X PDF is a PDF/A-3 carrying factur-x.xml and every mention.

The amounts are chosen so that VAT rounded per rate differs from VAT rounded line by line; the expected figures
are written here by hand.
"""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from portal.billing import facturx, invoice_files
from portal.billing.amounts import Totals, VatBreakdown
from portal.billing.fee_models import Unit
from portal.settings import Settings
from tests.billing.invoice_samples import BUYER, CLIENT_SIREN, SELLER, SIREN, THREE_RATES, credit_note, document
from tests.billing.invoice_samples import french_vat_number as vat_of
from tests.pdfs import page_count, pdf_fonts, pdf_info, pdf_text, squeezed

D = Decimal
CII: facturx.Flavor = "factur-x"
UBL: facturx.Flavor = "ubl-2.1"

# Per rate (EN 16931): 20 %: 680.03 → 136.006 → 136.01 (line by line: 83.33 + 16.67 + 36.00 = 136.00);
# 10 %: 70.00 → 7.00 (line by line: 5.00 + 2.01 = 7.01); 5.5 %: 90.90 → 4.9995 → 5.00.
EXPECTED_VAT = {D("20.00"): (D("680.03"), D("136.01")), D("10.00"): (D("70.00"), D("7.00")),
                D("5.50"): (D("90.90"), D("5.00"))}  # fmt: skip
EXPECTED_HT, EXPECTED_VAT_TOTAL, EXPECTED_TTC = D("840.93"), D("148.01"), D("988.94")

pytestmark = pytest.mark.once  # see pyproject.toml: pure documents, no database or broker: the embedded run checks it


@pytest.mark.parametrize("flavor", [CII, UBL])
def test_a_three_rate_invoice_passes_the_xsd_and_the_en16931_schematron(flavor: facturx.Flavor) -> None:
    xml = facturx.cii_xml(document()) if flavor == CII else facturx.ubl_xml(document())

    facturx.check_xsd(xml, flavor)
    assert facturx.check_schematron(xml, flavor) == []
    text = xml.decode()
    assert "<ram:TypeCode>380</ram:TypeCode>" in text if flavor == CII else "<cbc:InvoiceTypeCode>380<" in text
    for rate, (base, vat) in EXPECTED_VAT.items():
        assert f">{base}<" in text
        assert f">{vat}<" in text
        assert f">{rate}<" in text
    assert f">{EXPECTED_TTC}<" in text
    assert f'schemeID="0002">{SIREN}<' in text
    assert f'schemeID="0002">{CLIENT_SIREN}<' in text
    assert vat_of(SIREN) in text
    assert "FR7630006000011234567890189" in text
    assert "Option pour le paiement de la taxe d'après les débits" in text
    assert "pénalités au taux annuel de 12,50 %" in text
    assert "40 €" in text


@pytest.mark.parametrize("flavor", [CII, UBL])
def test_a_credit_note_names_the_invoice_it_credits_and_passes_both_checks(flavor: facturx.Flavor) -> None:
    xml = facturx.cii_xml(credit_note()) if flavor == CII else facturx.ubl_xml(credit_note())

    facturx.check_xsd(xml, flavor)
    assert facturx.check_schematron(xml, flavor) == []
    text = xml.decode()
    if flavor == CII:
        assert "<ram:TypeCode>381</ram:TypeCode>" in text
        assert "<ram:IssuerAssignedID>F2026-000123</ram:IssuerAssignedID>" in text
    else:
        assert "<CreditNote " in text
        assert "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>" in text
        assert "<cbc:ID>F2026-000123</cbc:ID>" in text
    assert ">500.01<" in text  # 416.67 + 83.34, positive in a credit note


def test_a_credit_note_stored_with_negative_amounts_is_written_positive() -> None:
    negative = [(label, unit, -quantity, price, rate) for label, unit, quantity, price, rate in THREE_RATES[:2]]
    doc = dataclasses.replace(credit_note(), lines=document(negative).lines, totals=document(negative).totals)
    assert doc.totals.ttc == D("-600.01")

    xml = facturx.cii_xml(doc)

    assert facturx.check_schematron(xml, CII) == []
    assert ">600.01<" in xml.decode()
    assert "-" not in "".join(part.split("<")[0] for part in xml.decode().split(">")[1:] if part[:1].isdigit())


@pytest.mark.parametrize("flavor", [CII, UBL])
def test_totals_that_do_not_add_up_are_refused_by_the_rule_they_break(flavor: facturx.Flavor) -> None:
    right = document()
    wrong = dataclasses.replace(right, totals=dataclasses.replace(right.totals, ttc=right.totals.ttc + D("1.00")))
    xml = facturx.cii_xml(wrong) if flavor == CII else facturx.ubl_xml(wrong)

    facturx.check_xsd(xml, flavor)  # well-formed: only the business rules see it
    messages = facturx.check_schematron(xml, flavor)

    assert any(message.startswith("[BR-CO-15] ") for message in messages), messages


@pytest.mark.parametrize("flavor", [CII, UBL])
def test_a_seller_without_vat_number_is_refused_for_standard_rated_lines(flavor: facturx.Flavor) -> None:
    doc = dataclasses.replace(document(), seller=dataclasses.replace(SELLER, vat_number=None))
    xml = facturx.cii_xml(doc) if flavor == CII else facturx.ubl_xml(doc)

    messages = facturx.check_schematron(xml, flavor)

    assert any(message.startswith("[BR-S-02] ") for message in messages), messages


def test_a_vat_breakdown_that_is_not_its_base_times_its_rate_is_refused() -> None:
    right = document()
    first, *rest = right.totals.breakdown
    off = VatBreakdown(rate=first.rate, base=first.base, amount=first.amount + D("1.00"))
    off_totals = Totals(
        ht=right.totals.ht, vat=right.totals.vat + D("1.00"), ttc=right.totals.ttc + D("1.00"), breakdown=(off, *rest)
    )
    wrong = dataclasses.replace(right, totals=off_totals)

    messages = facturx.check_schematron(facturx.cii_xml(wrong), CII)

    assert any(message.startswith("[BR-S-09] ") for message in messages), messages


def test_the_xsd_refuses_an_element_it_does_not_know() -> None:
    xml = facturx.cii_xml(document()).replace(
        b"<rsm:ExchangedDocument>", b"<rsm:ExchangedDocument><ram:Inconnu>1</ram:Inconnu>", 1
    )

    with pytest.raises(facturx.DocumentRefused, match="Inconnu"):
        facturx.check_xsd(xml, CII)


def test_a_draft_has_no_file() -> None:
    with pytest.raises(facturx.DocumentRefused):
        facturx.cii_xml(document(number=None))
    with pytest.raises(facturx.DocumentRefused):
        facturx.render([document(number=None)])


def test_the_factur_x_pdf_carries_its_xml_and_every_mention(settings: Settings) -> None:
    (pdf,) = facturx.render([document()], settings)

    read = facturx.read_back(pdf)
    assert read["file_name"] == "factur-x.xml"
    assert (read["number"], read["type_code"]) == ("F2026-000123", "380")
    assert (read["total_ht"], read["total_vat"], read["total_ttc"]) == (EXPECTED_HT, EXPECTED_VAT_TOTAL, EXPECTED_TTC)
    assert {rate: (base, vat) for rate, base, vat in read["vat"]} == EXPECTED_VAT
    assert [line["total_ht"] for line in read["lines"]] == [
        D("416.67"),
        D("83.34"),
        D("180.02"),
        D("49.95"),
        D("20.05"),
        D("90.90"),
    ]
    assert (read["seller_siren"], read["buyer_siren"]) == (SIREN, CLIENT_SIREN)

    text = squeezed(pdf_text(pdf))
    for mention in (
        "Facture", "F2026-000123", "Date d'émission : 7 décembre 2026", "Période : du 01/11/2026 au 30/11/2026",
        "Échéance : 21 janvier 2027", "Bon de commande : BC-42",
        "Cabinet Lumière", "SAS au capital de 10 000 €", "SIRET 732 829 320 00074", "RCS Lyon 732 829 320",
        f"N° TVA intracommunautaire {vat_of(SIREN)}", "12 rue de la République", "69002 Lyon",
        "Boulangerie Dupont", "SIREN 552 008 443", f"N° TVA intracommunautaire {vat_of(CLIENT_SIREN)}",
        "3 place du Marché", "Nature des opérations : Prestations de services",
        "Tenue comptable mensuelle", "416,67 €", "1,5", "Heure", "180,02 €", "5,5 %", "Bulletin",
        "680,03 €", "136,01 €", "70,00 €", "7,00 €", "90,90 €", "5,00 €",
        "Total HT 840,93 €", "Total TVA 148,01 €", "Total TTC 988,94 €", "Net à payer 988,94 €",
        "Paiement à 45 jours par virement, au plus tard le 21 janvier 2027.",
        "Pas d'escompte pour paiement anticipé.", "pénalités au taux annuel de 12,50 %",
        "Indemnité forfaitaire pour frais de recouvrement due en cas de retard de paiement : 40 €",
        "IBAN FR7630006000011234567890189", "BIC AGRIFRPP",
        "Option pour le paiement de la taxe d'après les débits", "Page 1 / 1",
    ):  # fmt: skip
        assert mention in text, mention


def test_the_pdf_is_a_pdf_a_3_with_factur_x_xml_attached_as_its_data(settings: Settings) -> None:
    (pdf,) = facturx.render([document()], settings)

    reader = PdfReader(io.BytesIO(pdf))
    root = reader.root_object
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert "/OutputIntents" in root
    assert list(reader.attachments) == ["factur-x.xml"]
    (attached,) = [spec.get_object() for spec in root["/AF"]]
    assert (attached["/F"], attached["/AFRelationship"]) == ("factur-x.xml", "/Data")
    assert reader.attachments["factur-x.xml"][0] == facturx.cii_xml(document())


def test_a_batch_gives_each_invoice_its_own_pdf_with_its_own_pages(settings: Settings) -> None:
    long_one = document(THREE_RATES * 12, number="F2026-000125")  # 72 lines: more than one page
    docs = [document(number="F2026-000124"), long_one, credit_note()]

    pdfs = facturx.render(docs, settings)

    assert len(pdfs) == 3
    texts = [squeezed(pdf_text(pdf)) for pdf in pdfs]
    assert "F2026-000124" in texts[0]
    assert "F2026-000125" not in texts[0]
    assert page_count(pdfs[0]) == 1
    pages = page_count(pdfs[1])
    assert pages >= 2
    assert f"Page {pages} / {pages}" in texts[1]
    assert "Page 1 / 1" not in texts[1]
    # Twelve times the lines, VAT rounded per rate again: 20 %: 8 160.36 → 1 632.072 → 1 632.07; 10 %: 840.00 → 84.00;
    # 5.5 %: 1 090.80 → 59.994 → 59.99. HT 10 091.16 + VAT 1 776.06 = 11 867.22 (not 12 × 988.94 = 11 867.28).
    assert facturx.read_back(pdfs[1])["total_ttc"] == D("11867.22")
    assert "Avoir sur la facture n° F2026-000123 du 7 décembre 2026" in texts[2]
    assert "Net à payer" not in texts[2]
    assert facturx.read_back(pdfs[2])["preceding"] == ["F2026-000123"]
    assert [facturx.read_back(pdf)["number"] for pdf in pdfs] == ["F2026-000124", "F2026-000125", "AV2026-000004"]


def test_a_stored_pdf_reads_back_byte_for_byte(settings: Settings) -> None:
    content = b"%PDF-1.7 une facture"

    name = invoice_files.store(settings, content)

    assert invoice_files.read(settings, name) == content
    assert invoice_files.path(settings, name).is_relative_to(Path(settings.var_dir) / "invoices")
    assert invoice_files.path(settings, name).stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="storage name"):
        invoice_files.read(settings, "../secret_key")


LONG_LABEL = "Tenue comptable mensuelle, révision trimestrielle des comptes et assistance juridique annuelle"
ON_FORMS = {
    "invoice": document(),
    "credit note": credit_note(),
    "long label": document([(LONG_LABEL, Unit.FLAT, D("1"), D("1250.00"), D("20")), *THREE_RATES[:2]]),
    "exempt, no period": document(
        [("Formation", Unit.HOUR, D("2"), D("45.45"), D("0"))], purchase_order="", period_start=None,
        period_end=None, iban="", vat_on_debits=False,
    ),
    "note, long address": dataclasses.replace(
        document(note="Merci de votre confiance.\nRèglement par virement uniquement."),
        buyer=dataclasses.replace(BUYER, address="Zone industrielle des Quatre Chemins\nBâtiment B, porte 214"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", ON_FORMS)
def test_an_invoice_printed_on_its_form_reads_as_weasyprint_prints_it_whole(settings: Settings, name: str) -> None:
    doc = ON_FORMS[name]

    (on_form,) = facturx.on_forms([doc], [facturx.cii_xml(doc)], settings)
    (whole,) = facturx.render([doc], settings, forms=False)

    assert on_form is not None
    assert squeezed(pdf_text(on_form)) == squeezed(pdf_text(whole))
    assert page_count(on_form) == 1
    assert "(A4)" in pdf_info(on_form)
    fonts = pdf_fonts(on_form).splitlines()[2:]
    assert fonts
    assert all(line.split()[-5:-3] == ["yes", "yes"] for line in fonts), fonts  # embedded, subset
    read = facturx.read_back(on_form)
    assert (read["number"], read["total_ttc"]) == (doc.number, abs(doc.totals.ttc))


def test_a_long_label_wraps_within_its_column_on_the_form(settings: Settings) -> None:
    (pdf,) = facturx.render([ON_FORMS["long label"]], settings)

    text = pdf_text(pdf)
    first = next(line for line in text.splitlines() if "Tenue comptable mensuelle," in line)
    head = first.strip().split("   ")[0]  # the label's first line, before the row's other cells
    assert LONG_LABEL.startswith(head)
    assert head != LONG_LABEL
    assert "1 250,00 €" in squeezed(first)
    assert squeezed(LONG_LABEL.removeprefix(head)) in squeezed(text)


def test_a_client_named_outside_the_form_font_is_printed_whole_by_weasyprint(settings: Settings) -> None:
    doc = dataclasses.replace(document(), buyer=dataclasses.replace(BUYER, name="Ωmega Conseil"))

    (on_form,) = facturx.on_forms([doc], [facturx.cii_xml(doc)], settings)
    (pdf,) = facturx.render([doc], settings)

    assert on_form is None
    assert "Ωmega Conseil" in pdf_text(pdf)
    assert facturx.read_back(pdf)["total_ttc"] == EXPECTED_TTC
