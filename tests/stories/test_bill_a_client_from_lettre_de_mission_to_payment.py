"""The firm's billing cycle through its pages: a partner writes a lettre de mission, the client accepts it through
the emailed link on a phone; the month's recurring run drafts the invoice, the partner validates it and emails it
(the SMTP server receives the Factur-X PDF); a payment by transfer settles it (*Payée*); the billing entity's
Comptabilité shows the sale and the payment in the portal's VT and BQ journals; the client without an accepted letter
shows in *Dossiers non facturés*. The pages pass the layout checks at 1440 px and on a 390 px phone."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.billing.client_base import ensure_clients
from portal.billing.facturx import read_back
from portal.billing.fee_models import Service
from portal.clients.models import Dossier
from portal.firm.models import Firm
from tests.factories.billing import client_of
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user
from tests.smtp import Inbox, link_token
from tests.stories.console import watch_errors
from tests.stories.signing_in import sign_in_page
from tests.stories.walking import Walk

pytestmark = pytest.mark.browser

FIRM = "Cabinet Durand & Associés"
PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
CLIENT_A = ("Boulangerie Martin", "Sophie Martin", "compta@boulangerie-martin.fr")
CLIENT_B = ("Garage du Centre", "Marc Petit", "factures@garage-du-centre.fr")
# The phone last: a check ends at its last width, and the partner goes on at their desk.
WIDTHS = ((390, 844), (1440, 900))
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"http://[^\s\"<>]+/lettre-de-mission/([A-Za-z0-9_-]+)")
WAIT = 30_000  # ms: the drafts, the PDF and the emails go through the outbox, the broker and a worker
PRICE_HT = Decimal(350)
VAT_RATE = Decimal("0.20")
# By hand: 350 € HT at 20 %: 70 € of VAT, 420 € TTC.
VAT = PRICE_HT * VAT_RATE
TTC = PRICE_HT + VAT


async def _seed(committed: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    """The firm, its billing entity (its id returned), a partner, two client dossiers with their billing contacts, a
    catalogue."""
    async with committed() as session, session.begin():
        entity = await make_dossier(
            session, name=FIRM, is_firm_dossier=True, legal_form="SAS", address="12 rue de la République",
            postal_code="69002", city="Lyon",
        )  # fmt: skip
        session.add(Firm(name=FIRM, own_dossier_id=entity.id, billing_entity_id=entity.id))
        dossiers = []
        for name, _contact, _email in (CLIENT_A, CLIENT_B):
            dossiers.append(
                await make_dossier(
                    session, name=name, legal_form="SARL", address="3 place du Marché", postal_code="69100",
                    city="Villeurbanne",
                )
            )  # fmt: skip
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        session.add_all([
            Service(entity_id=entity.id, label="Tenue comptable", unit_price=PRICE_HT),
            Service(entity_id=entity.id, label="Révision et bilan", unit_price=1800),
        ])  # fmt: skip
        await session.flush()
        await ensure_clients(session, entity.id, Dossier.id.in_([dossier.id for dossier in dossiers]))
        for dossier, (_name, contact, email) in zip(dossiers, (CLIENT_A, CLIENT_B), strict=True):
            client = await client_of(session, dossier)
            client.billing_contact, client.billing_email = contact, email
        return entity.id


def euros(text: str) -> str:
    """A cell's text with its spaces (narrow, non-breaking) made plain: ``420,00 €``."""
    return re.sub(r"[\s\u202f\u00a0]+", " ", text).strip()


async def _no_sideways_scroll(page: Page) -> None:
    """At 1440 px, the page never scrolls sideways."""
    await page.set_viewport_size(DESKTOP)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


async def _write_letter(page: Page, base: str, walk: Walk) -> str:
    """Lettres de mission › new: client A, one monthly mission « Tenue comptable » at 350 € HT and 20 %."""
    await page.goto(f"{base}/facturation/lettres-de-mission")
    await page.get_by_role("link", name="Écrire une lettre de mission").click()
    options = await page.locator("#client option").all_inner_texts()
    await page.locator("#client").select_option(label=next(o for o in options if o.startswith(CLIENT_A[0])))
    async with page.expect_response(lambda response: response.request.method == "POST"):
        await page.locator("#service-0").select_option(label="Tenue comptable")
    await expect(page.locator("#libelle-0")).to_have_value("Tenue comptable")
    await expect(page.locator("#prix-0")).to_have_value("350")
    await page.locator("#tva-0").select_option(label="20\u00a0%")
    await page.locator("#rythme-0").select_option(label="Mensuelle")
    async with page.expect_response(lambda response: response.request.method == "POST"):
        await page.get_by_role("button", name="Actualiser les honoraires").click()
    # 350 € a month: 4 200 € HT a year.
    await expect(page.locator("#honoraires-annuels")).to_have_text("4\u202f200,00\xa0€")
    await walk.check("editeur")
    await _no_sideways_scroll(page)
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await expect(page.locator("#statut-lettre")).to_have_text("Brouillon")
    reference = (await page.locator("h1").inner_text()).rsplit(" ", 1)[-1]
    await page.get_by_role("button", name="Envoyer au client").click()
    await expect(page.locator("#statut-lettre")).to_have_text("Envoyée")
    return reference


async def _accept(browser: Browser, base: str, token: str, reference: str) -> None:
    """Client A's contact, on a phone, in a browser that never signed in."""
    context = await browser.new_context(locale="fr-FR", viewport=PHONE)
    page = await context.new_page()
    errors = watch_errors(page)
    await page.goto(f"{base}/lettre-de-mission/{token}")
    await expect(page.get_by_role("heading", name=f"Lettre de mission {reference}")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.get_by_label("Nom et prénom").fill(CLIENT_A[1])
    await page.get_by_role("button", name="J'accepte la lettre de mission").click()
    await expect(page.locator("#lettre-acceptee")).to_contain_text(f"par {CLIENT_A[1]}")
    assert errors == []
    await context.close()


async def _run_the_month(page: Page, base: str, walk: Walk, year: int) -> str:
    """Facturation récurrente: the month's drafts, one for client A, validated; returns the invoice's number."""
    await page.goto(f"{base}/facturation/lettres-de-mission")
    await _tab(page, "Facturation récurrente")
    await expect(page.get_by_label("Mois à facturer")).to_have_value(dt.datetime.now(dt.UTC).strftime("%Y-%m"))
    await walk.check("recurrente")
    await _no_sideways_scroll(page)
    await page.get_by_role("button", name="Préparer les brouillons du mois").click()
    await expect(page).to_have_url(re.compile(r"/facturation/recurrente/[0-9a-f-]{36}$"))
    run_address = page.url
    # The page follows the run until its drafts are written, then shows them.
    await expect(page.locator("#travail .status")).to_have_text("Terminé", timeout=WAIT)
    await expect(_fact(page, "Brouillons à revoir")).to_have_text("1", timeout=WAIT)
    await expect(page.locator("#lot-statut")).to_have_text("Brouillons à revoir")
    await expect(_fact(page, "Total HT des brouillons")).to_have_text("350,00\xa0€")
    await expect(_fact(page, "Total TTC des brouillons")).to_have_text("420,00\xa0€")
    await walk.check("lot-brouillons")
    await _no_sideways_scroll(page)

    await page.get_by_role("link", name="Revoir les factures de cette facturation").click()
    rows = page.locator("table.invoices tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(CLIENT_A[0])
    await expect(rows.first).to_contain_text("Brouillon")
    await expect(rows.first.locator("td.num").nth(1)).to_have_text("420,00\xa0€")
    await page.go_back()
    await expect(page).to_have_url(run_address)
    await page.get_by_role("button", name="Valider le brouillon").click()
    number = f"F{year}-000001"
    await expect(page.locator(".flash-success")).to_have_text(f"Facture validée : {number}.")
    await expect(_fact(page, "Factures validées")).to_have_text("1")
    await expect(page.locator("#lot-statut")).to_have_text("Validée")
    await expect(page.get_by_role("button", name=re.compile("^Valider"))).to_have_count(0)
    return number


async def _tab(page: Page, name: str) -> None:
    await (
        page.get_by_role("navigation", name="Facturation", exact=True)
        .get_by_role("link", name=name, exact=True)
        .click()
    )


def _state(page: Page) -> Locator:
    """The invoice's state beside its title."""
    return page.locator(".page-header .badge")


def _fact(page: Page, term: str) -> Locator:
    """The value beside ``term`` in the page's facts."""
    return page.locator(f"dl.facts dt:text-is('{term}') + dd")


async def _send(page: Page, number: str, inbox: Inbox, walk: Walk) -> EmailMessage:
    """The invoice's page: « Envoyer par e-mail »; the SMTP server receives it with its Factur-X PDF."""
    await page.get_by_role("link", name="Revoir les factures de cette facturation").click()
    await page.get_by_role("link", name=number, exact=True).click()
    await expect(page.locator("h1")).to_contain_text(f"{number} · {CLIENT_A[0]}")
    await expect(_state(page)).to_have_text("Validée")
    await walk.check("facture")
    await _no_sideways_scroll(page)
    before = len(inbox.messages)
    await page.get_by_role("button", name="Envoyer par e-mail").click()
    await expect(page.locator(".flash-success")).to_contain_text(CLIENT_A[2])
    messages = await inbox.wait_for(before + 1, timeout=WAIT / 1000)
    [message] = [item for item in messages[before:] if CLIENT_A[2] in str(item["To"])]
    # The worker notes the sending once the server took the message: the page says so at the next reload.
    sent = _fact(page, "Envoyée le")
    for _attempt in range(WAIT // 500):
        await page.reload()
        if await sent.count():
            break
        await page.wait_for_timeout(500)
    await expect(sent).to_contain_text(CLIENT_A[2])
    await expect(page.get_by_role("button", name="Renvoyer par e-mail")).to_be_visible()
    return message


def _check_pdf(message: EmailMessage, number: str) -> None:
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{number}.pdf"
    pdf = attachment.get_content()
    assert isinstance(pdf, bytes)
    assert pdf.startswith(b"%PDF")
    embedded = read_back(pdf)
    assert embedded["file_name"] == "factur-x.xml"
    assert embedded["number"] == number
    assert embedded["total_ht"] == PRICE_HT
    assert embedded["total_vat"] == VAT
    assert embedded["total_ttc"] == TTC == Decimal("420.00")


async def _record_payment(page: Page, number: str, walk: Walk) -> None:
    """Encaissements: 420,00 € by transfer from client A, all of it on the invoice; the invoice then reads Payée."""
    await page.get_by_role("link", name="← Factures").click()
    await _tab(page, "Encaissements")
    await page.get_by_role("link", name="Enregistrer un encaissement").click()
    options = await page.locator("#choix-client option").all_inner_texts()
    await page.get_by_label("Client").select_option(label=next(o for o in options if o.startswith(CLIENT_A[0])))
    await page.get_by_role("button", name="Afficher ses factures").click()
    await expect(page.locator("#repartition")).to_contain_text(number)
    await page.get_by_label("Montant reçu (€)").fill("420,00")
    await page.get_by_label("Mode de paiement").select_option(label="Virement")
    await page.get_by_label("Référence (libellé du virement, n° de chèque)").fill(f"VIR {CLIENT_A[0]} {number}")
    await page.get_by_label(f"Montant affecté à {number}").fill("420,00")
    await walk.check("encaissement")
    await _no_sideways_scroll(page)
    await page.get_by_role("button", name="Enregistrer l'encaissement").click()
    await expect(page.locator(".flash-success")).to_contain_text("Encaissement de 420,00\xa0€ enregistré.")
    row = page.locator("#encaissements tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(CLIENT_A[0])
    await expect(row).to_contain_text("Virement")
    await expect(row).to_contain_text(number)
    await walk.check("encaissements")
    await _no_sideways_scroll(page)

    await _tab(page, "Factures")
    await page.get_by_role("link", name=number, exact=True).click()
    await expect(_state(page)).to_have_text("Payée")
    await expect(_fact(page, "Reste dû")).to_have_text("0,00\xa0€")


async def _entries(page: Page, code: str) -> list[list[tuple[str, str, str]]]:
    """The entries the portal's journal ``code`` shows: per entry, its lines as (account, debit, credit)."""
    await page.locator("#journaux-de-facturation").get_by_role("link", name=code, exact=True).click()
    await expect(page.locator("#journal-facturation-titre")).to_contain_text(code)
    found = []
    for entry in await page.locator("#ecritures-facturation tbody.entry").all():
        lines = []
        for row in await entry.locator("tr").all():
            cells = row.locator("td")
            lines.append((
                (await cells.nth(2).locator(".mono").first.inner_text()).strip(),
                euros(await cells.nth(4).inner_text()),
                euros(await cells.nth(5).inner_text()),
            ))  # fmt: skip
        found.append(lines)
    return found


async def _books(page: Page, base: str, entity_id: uuid.UUID, number: str, walk: Walk) -> None:
    """The billing entity's dossier › Comptabilité: VT with the invoice, BQ with its payment."""
    await page.goto(f"{base}/entreprises/{entity_id}")
    await page.get_by_role("link", name="Comptabilité", exact=True).first.click()
    journals = page.locator("#journaux-de-facturation tbody tr")
    await expect(journals).to_have_count(2)
    await expect(page.locator('tr[data-journal="facturation:VT"]')).to_contain_text("420,00\xa0€")
    await expect(page.locator('tr[data-journal="facturation:BQ"]')).to_contain_text("420,00\xa0€")
    await walk.check("comptabilite")
    await _no_sideways_scroll(page)

    [sale] = await _entries(page, "VT")
    await expect(page.locator("#ecritures-facturation tbody.entry")).to_have_attribute("data-piece", number)
    by_account = {account: (debit, credit) for account, debit, credit in sale}
    assert len(by_account) == len(sale) == 3, sale
    assert by_account["411000"] == ("420,00 €", "")
    assert by_account["706000"] == ("", "350,00 €")
    [vat] = [account for account in by_account if account.startswith("44571")]
    assert by_account[vat] == ("", "70,00 €")
    await walk.check("journal-vt")

    [payment] = await _entries(page, "BQ")
    assert sorted(payment) == [("411000", "", "420,00 €"), ("512000", "420,00 €", "")], payment
    await walk.check("journal-bq")
    await _no_sideways_scroll(page)


async def _unbilled(page: Page, base: str, walk: Walk) -> None:
    """Dossiers non facturés: client B, active, no accepted letter; client A is billed."""
    await page.goto(f"{base}/facturation/lettres-de-mission")
    await _tab(page, "Dossiers non facturés")
    rows = page.locator("table tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(CLIENT_B[0])
    await expect(rows.first.get_by_role("link", name=f"Écrire la lettre de mission {CLIENT_B[0]}")).to_be_visible()
    await expect(page.get_by_role("main")).not_to_contain_text(CLIENT_A[0])
    await walk.check("non-factures")
    await _no_sideways_scroll(page)


async def test_bill_a_client_from_lettre_de_mission_to_payment(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], inbox: Inbox, tmp_path: Path
) -> None:
    entity_id = await _seed(committed)
    year = dt.datetime.now(dt.UTC).year
    context = await browser.new_context(locale="fr-FR", viewport=DESKTOP)
    page = await context.new_page()
    errors = watch_errors(page)
    walk = Walk(page=page, base=live_url, routes=[], widths=WIDTHS, shots=tmp_path, label=str(uuid.uuid4())[:8])
    await sign_in_page(page, live_url, PARTNER[0])

    # 1. The lettre de mission, accepted by the client on a phone through the emailed link.
    reference = await _write_letter(page, live_url, walk)
    [letter] = await inbox.wait_for(1, timeout=WAIT / 1000)
    assert CLIENT_A[2] in str(letter["To"])
    await _accept(browser, live_url, link_token(letter, LINK), reference)
    await page.reload()
    await expect(page.locator("#statut-lettre")).to_have_text("Acceptée")

    # 2. The month's run drafts the invoice; validated, it takes the year's first number.
    number = await _run_the_month(page, live_url, walk, year)

    # 3. Emailed with its Factur-X PDF.
    message = await _send(page, number, inbox, walk)
    _check_pdf(message, number)

    # 4. Paid by transfer.
    await _record_payment(page, number, walk)

    # 5. The firm's books.
    await _books(page, live_url, entity_id, number, walk)

    # 6. The client without an accepted letter.
    await _unbilled(page, live_url, walk)

    assert walk.problems == {}, walk.problems
    assert errors == []
