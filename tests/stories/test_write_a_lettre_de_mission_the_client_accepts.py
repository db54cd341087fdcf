"""A partner writes a lettre de mission for a client, sends it; the client reads the link in the email, opens it in
a browser of their own and accepts it; the letter shows *Acceptée*. The fees pages pass the layout checks at
1440 px and on a 390 px phone."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.billing.client_base import ensure_clients
from portal.billing.fee_models import Service
from portal.clients.models import Dossier
from portal.firm.models import Firm
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user
from tests.smtp import Inbox, link_token
from tests.stories.console import watch_errors
from tests.stories.signing_in import sign_in_page
from tests.stories.walking import Walk

pytestmark = pytest.mark.browser

FIRM = "Cabinet Durand & Associés"
PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
CLIENT = "Boulangerie Martin"
CONTACT = ("Sophie Martin", "sophie.martin@boulangerie-martin.fr")
WIDTHS = ((1440, 900), (390, 844))
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"http://[^\s\"<>]+/lettre-de-mission/([A-Za-z0-9_-]+)")
WAIT = 20_000  # ms: the email goes through the outbox, the broker and a worker


async def _seed(committed: async_sessionmaker[AsyncSession]) -> None:
    async with committed() as session, session.begin():
        entity = await make_dossier(session, name=FIRM, is_firm_dossier=True, city="Lyon")
        session.add(Firm(name=FIRM, own_dossier_id=entity.id, billing_entity_id=entity.id))
        await make_dossier(session, name=CLIENT, legal_form="SARL", city="Villeurbanne")
        await make_dossier(session, name="Garage du Centre")
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        session.add_all([
            Service(entity_id=entity.id, label="Tenue comptable", unit_price=350),
            Service(entity_id=entity.id, label="Révision et bilan", unit_price=1800),
        ])  # fmt: skip
        await session.flush()
        await ensure_clients(session, entity.id, Dossier.id.is_not(None))


async def _write(page: Page, base: str, walk: Walk) -> str:
    """The editor: the client, the contact, two missions from the catalogue (one monthly, one yearly)."""
    await page.goto(f"{base}/facturation/lettres-de-mission")
    await page.get_by_role("link", name="Écrire une lettre de mission").click()
    await page.locator("#client").select_option(label=await _client_label(page))
    await page.get_by_label("Contact (nom)").fill(CONTACT[0])
    await page.get_by_label("E-mail du contact").fill(CONTACT[1])
    await page.get_by_label("Révision annuelle (%)").fill("2,5")
    async with page.expect_response(lambda response: response.request.method == "POST"):
        await page.locator("#service-0").select_option(label="Tenue comptable")
    await expect(page.locator("#libelle-0")).to_have_value("Tenue comptable")
    await expect(page.locator("#prix-0")).to_have_value("350")
    async with page.expect_response(lambda response: response.request.method == "POST"):
        await page.locator("#service-1").select_option(label="Révision et bilan")
    await expect(page.locator("#prix-1")).to_have_value("1800")
    await page.locator("#rythme-1").select_option(label="Annuelle")
    async with page.expect_response(lambda response: response.request.method == "POST"):
        await page.get_by_role("button", name="Actualiser les honoraires").click()
    # 350 × 12 + 1 800 = 6 000 € HT a year.
    await expect(page.locator("#honoraires-annuels")).to_have_text("6\u202f000,00\xa0€")
    await walk.check("editeur")
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await expect(page.locator("#statut-lettre")).to_have_text("Brouillon")
    reference = (await page.locator("h1").inner_text()).rsplit(" ", 1)[-1]
    await walk.check("lettre-brouillon")
    await page.get_by_role("button", name="Envoyer au client").click()
    await expect(page.get_by_role("status").or_(page.locator(".flash-success"))).to_contain_text(CONTACT[1])
    await expect(page.locator("#statut-lettre")).to_have_text("Envoyée")
    return reference


async def _client_label(page: Page) -> str:
    options = await page.locator("#client option").all_inner_texts()
    return next(option for option in options if option.startswith(CLIENT))


async def _accept(browser: Browser, base: str, token: str, reference: str) -> None:
    """The client, on their phone, in a browser that never signed in."""
    context = await browser.new_context(locale="fr-FR", viewport=PHONE)
    page = await context.new_page()
    errors = watch_errors(page)
    await page.goto(f"{base}/lettre-de-mission/{token}")
    await expect(page.get_by_role("heading", name=f"Lettre de mission {reference}")).to_be_visible()
    await expect(page.get_by_text("Honoraires annuels HT")).to_be_visible()
    walk = Walk(page=page, base=base, routes=[], widths=WIDTHS)
    await walk.check("lien-client")
    await page.get_by_label("Nom et prénom").fill(CONTACT[0])
    await page.get_by_role("button", name="J'accepte la lettre de mission").click()
    await expect(page.locator("#lettre-acceptee")).to_contain_text(f"par {CONTACT[0]}")
    await page.goto(f"{base}/lettre-de-mission/{token}")
    await expect(page.get_by_role("button", name="J'accepte la lettre de mission")).to_have_count(0)
    assert walk.problems == {}, walk.problems
    assert errors == []
    await context.close()


async def test_a_partner_writes_a_lettre_de_mission_the_client_accepts(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], inbox: Inbox, tmp_path: Path
) -> None:
    await _seed(committed)
    context = await browser.new_context(locale="fr-FR", viewport=DESKTOP)
    page = await context.new_page()
    errors = watch_errors(page)
    walk = Walk(page=page, base=live_url, routes=[], widths=WIDTHS, shots=tmp_path, label=str(uuid.uuid4())[:8])
    await sign_in_page(page, live_url, PARTNER[0])
    reference = await _write(page, live_url, walk)

    [message] = await inbox.wait_for(1, timeout=WAIT / 1000)
    assert CONTACT[1] in str(message["To"])
    assert [part.get_content_type() for part in message.iter_attachments()] == ["application/pdf"]
    token = link_token(message, LINK)
    await _accept(browser, live_url, token, reference)

    await page.reload()
    await expect(page.locator("#statut-lettre")).to_have_text("Acceptée")
    await expect(page.locator(".letter-accepted")).to_contain_text(f"par {CONTACT[0]}")
    for address, name in (
        ("/facturation/lettres-de-mission", "lettres"),
        ("/facturation/catalogue", "catalogue"),
        ("/facturation/parametres", "parametres"),
        ("/facturation/renouvellements", "renouvellements"),
        ("/facturation/non-factures", "non-factures"),
        ("/facturation/non-factures?vue=missions", "non-factures-missions"),
    ):
        await page.goto(live_url + address)
        await walk.check(name)
    await page.goto(f"{live_url}/facturation/lettres-de-mission?statut=accepted")
    await expect(page.get_by_role("cell", name="Acceptée")).to_have_count(1)
    assert walk.problems == {}, walk.problems
    assert errors == []
