"""Issue 6's story in Chromium: a restaurant's till, mapped, synced, and its entries on the dossier.

A partner connects Zelty to the dossier of Restaurant Le Cèdre with the API key the local
sandbox shows (read from its page in a second tab, as a person copying it would), waits for
the portal to identify the account, completes the accounting mapping (a payment method the
defaults do not know, a journal per register; a wrong account number first, refused whole),
chooses where the sync starts, runs it and watches it, then reads the entries and the
balance, and checks them against what the sandbox sold. A second, shorter story connects
Boulangerie Martin through Lightspeed's OAuth consent page.

The sandbox and the portal agree on the date: a fixed Tuesday, the sandbox's clock and the
portal's ``sync.today`` (patched here, in this process's workers too).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.firm.models import Firm
from portal.integrations.commerce import sync
from portal.integrations.commerce.client import CommerceClient
from portal.jobs.runtime import Runtime
from portal.sandbox.commerce import CommerceState, reset_state
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from tests.browsing import loopback_listener, serving
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
RESTAURANT = "Restaurant Le Cèdre"
BAKERY = "Boulangerie Martin"
TODAY = dt.date(2025, 4, 15)  # a Tuesday, 15:00 at the sandbox: the days before are closed, today is open
START = TODAY - dt.timedelta(days=3)  # from Saturday: Saturday, Sunday, Monday (the restaurant is shut), today
LYDIA_ACCOUNT = "467100"
WAIT = 60_000  # ms: background jobs, through the outbox and the broker, reading the sandbox over HTTP


@dataclass(frozen=True)
class Live:
    base: str
    settings: Settings
    commerce: CommerceState


@pytest.fixture
async def portal(
    committed: async_sessionmaker[AsyncSession], settings: Settings, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Live]:
    """The portal on loopback with its commerce sandbox on ``TODAY``, the test workers pointed at it."""
    commerce = reset_state(today=TODAY)
    monkeypatch.setattr(sync, "today", lambda: TODAY)
    async with loopback_listener() as (listener, base):
        live = settings.with_overrides(
            sandbox=True, base_url=base, commerce_api_url=f"{base}/sandbox/commerce/api",
            commerce_oauth_url=f"{base}/sandbox/commerce/oauth", commerce_client_id=SANDBOX_CLIENT_ID,
            commerce_client_secret=SANDBOX_CLIENT_SECRET,
        )  # fmt: skip
        monkeypatch.setattr(jobs, "settings", live)
        app = create_app(live, background=True, embedded_worker=False, migrate_on_start=False)
        async with serving(app, listener):
            yield Live(base, live, commerce)
    reset_state()


@dataclass
class Story:
    base: str
    page: Page
    shots: Path

    async def shot(self, name: str, page: Page | None = None) -> None:
        await (page or self.page).screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


async def _seed(committed: async_sessionmaker[AsyncSession]) -> dict[str, uuid.UUID]:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name="Cabinet Durand & Associés", is_firm_dossier=True)
        session.add(Firm(name="Cabinet Durand & Associés", own_dossier_id=firm_dossier.id))
        restaurant: Dossier = await make_dossier(session, name=RESTAURANT)
        bakery: Dossier = await make_dossier(session, name=BAKERY)
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
    return {"restaurant": restaurant.id, "bakery": bakery.id}


async def _sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER[0])
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _open_source(story: Story, dossier_id: uuid.UUID, source: str) -> None:
    """The dossier's Connexions page, its catalogue of tills and shops, and ``source``'s « Connecter »."""
    page = story.page
    await page.goto(f"{story.base}/entreprises/{dossier_id}")
    await page.get_by_role("link", name="Connexions").first.click()
    await expect(page.get_by_role("heading", name="Connexions")).to_be_visible()
    catalogue = page.get_by_role("region", name="Caisses et e-commerce")
    await expect(catalogue).to_be_visible()
    card = catalogue.get_by_role("article").filter(has=page.get_by_role("heading", name=source, exact=True))
    await expect(card).to_contain_text("Non connecté")
    await card.get_by_role("link", name="Connecter").click()
    await expect(page.get_by_role("heading", name=f"Logiciel de caisse · {source}")).to_be_visible()


def _amount(text: str) -> Decimal:
    """A French amount as the page shows it (``1 234,50 €``, narrow spaces and all); an empty cell is 0."""
    cleaned = re.sub(r"[^0-9,\-−]", "", text).replace("−", "-").replace(",", ".")
    return Decimal(cleaned or 0)


async def _column(rows: Locator, index: int) -> list[Decimal]:
    return [_amount(text) for text in await rows.locator(f"td:nth-child({index})").all_inner_texts()]


async def test_a_till_mapped_synced_and_its_entries_on_the_dossier(
    portal: Live,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    ids = await _seed(committed)
    context = await browser.new_context(locale="fr-FR")  # one person's browser: a second tab for the sandbox
    page = await context.new_page()
    errors = watch_errors(page)
    story = Story(portal.base, page, tmp_path)
    await _sign_in(page, portal.base)
    await _connect_with_the_key(story, ids["restaurant"])
    await _map(story)
    await _sync(story)
    await _entries(story, portal)
    await context.close()
    assert errors == []


async def _connect_with_the_key(story: Story, dossier_id: uuid.UUID) -> None:
    """The key copied from the sandbox's page in another tab, pasted; the account identified by a worker."""
    page = story.page
    await _open_source(story, dossier_id, "Zelty")
    await story.shot("01-zelty-non-connecte")
    sandbox = await page.context.new_page()
    await sandbox.goto(f"{story.base}/sandbox/commerce/")
    await expect(sandbox.get_by_role("heading", name="Caisses et e-commerce, bac à sable local")).to_be_visible()
    await expect(sandbox.get_by_text("15/04/2025")).to_be_visible()
    row = sandbox.get_by_role("row").filter(has_text=RESTAURANT)
    await expect(row).to_contain_text("Clé d'API à coller dans le portail")
    await story.shot("02-bac-a-sable-cles", sandbox)
    key = (await row.locator(".secret").inner_text()).strip()
    assert len(key) >= 16, key
    await sandbox.close()

    await page.get_by_label("Clé d'API Zelty").fill(key)
    await page.get_by_role("button", name="Connecter", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Zelty est connecté")).to_be_visible()
    await expect(page.locator("#connexion")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#compte-source")).to_have_text(RESTAURANT, timeout=WAIT)  # htmx polling
    await expect(page.get_by_text(key)).to_have_count(0)  # never shown again, but for its last characters
    await story.shot("03-zelty-connecte")


async def _map(story: Story) -> None:
    """Lydia, which no default knows; a journal per register; a wrong account refused, nothing saved."""
    page = story.page
    await page.get_by_role("link", name="Mapping comptable").click()
    await expect(page.get_by_role("heading", name="Mapping comptable")).to_be_visible()
    todo = page.get_by_role("region", name="À compléter")
    await expect(todo).to_contain_text("Lydia", timeout=WAIT)
    await expect(todo).to_contain_text("compte d'attente")
    await story.shot("04-mapping-a-completer")

    salle, bar = page.get_by_label("Caisse « Salle »"), page.get_by_label("Caisse « Bar »")
    lydia = page.get_by_label("Lydia", exact=True)
    await expect(salle).not_to_have_value("SAL")
    await salle.fill("SAL")
    await bar.fill("BAR")
    await lydia.fill("70A")
    await page.get_by_role("button", name="Enregistrer le mapping").click()
    await expect(page.locator("#erreurs-mapping")).to_have_text(
        "Le mapping n'a pas été enregistré : corrigez les champs signalés."
    )
    await expect(lydia).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#erreur-payment\\.lydia")).to_have_text(
        "Numéro de compte invalide : des chiffres uniquement (ex. 706000)."
    )
    await expect(salle).to_have_value("SAL")  # what was typed stays on the screen, to be corrected
    await expect(page.get_by_role("region", name="À compléter")).to_contain_text("Lydia")
    await story.shot("05-mapping-refuse")

    await lydia.fill(LYDIA_ACCOUNT)
    await page.get_by_role("button", name="Enregistrer le mapping").click()
    await expect(page.get_by_role("status").filter(has_text="Mapping enregistré.")).to_be_visible()
    await expect(page.locator("#mapping-complet")).to_have_text("Le mapping est complet.")
    await expect(page.get_by_role("region", name="À compléter")).to_have_count(0)
    await expect(salle).to_have_value("SAL")
    await expect(bar).to_have_value("BAR")
    await expect(lydia).to_have_value(LYDIA_ACCOUNT)
    await story.shot("06-mapping-complet")


async def _sync(story: Story) -> None:
    """From Saturday to today: the closed days final, today provisional."""
    page = story.page
    await page.get_by_role("link", name="← Zelty").click()
    await page.get_by_label("Synchroniser à partir du").fill(START.strftime("%d/%m/%Y"))
    since = page.locator("form").filter(has=page.get_by_label("Synchroniser à partir du"))
    await since.get_by_role("button", name="Enregistrer", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Synchronisation enregistrée.")).to_be_visible()
    await expect(page.get_by_label("Synchroniser à partir du")).to_have_value("12/04/2025")
    await page.get_by_role("button", name="Synchroniser maintenant").click()
    await expect(page.get_by_role("status").filter(has_text="Synchronisation demandée")).to_be_visible()
    running = page.get_by_role("region", name="En cours")
    await expect(running).to_contain_text("Synchronisation des ventes")
    await story.shot("07-synchronisation-en-cours")

    days = page.locator("#journees tr[data-jour]")
    await expect(days).to_have_count(4, timeout=WAIT)
    await expect(running).to_have_count(0, timeout=WAIT)
    for offset in (3, 2, 1):
        day = page.locator(f"#journees tr[data-jour='{(TODAY - dt.timedelta(days=offset)).isoformat()}']")
        await expect(day).to_contain_text("Clôturée")
    today = page.locator(f"#journees tr[data-jour='{TODAY.isoformat()}']")
    await expect(today).to_contain_text("Journée ouverte (provisoire)")
    await expect(today.locator("td").first).to_have_text("15/04/2025")
    saturday = page.locator(f"#journees tr[data-jour='{START.isoformat()}']")
    assert int(re.sub(r"\D", "", await saturday.locator("td").nth(3).inner_text())) > 50
    await expect(page.locator("#dernieres-synchros li").first).to_contain_text("Terminé")
    await story.shot("08-journees-synchronisees")


async def _entries(story: Story, portal: Live) -> None:
    """Sales and payments in SAL and BAR, balanced; Lydia's takings on 467100, as the sandbox sold them."""
    page = story.page
    await page.get_by_role("link", name="Voir les écritures").click()
    await expect(page.get_by_role("heading", name="Écritures de Zelty")).to_be_visible()
    journal = page.get_by_label("Journal")
    await expect(journal.locator("option")).to_have_text(["Tous", "BAR", "SAL"])
    debit, credit = (await page.locator("#totaux").inner_text()).split("/")
    assert _amount(debit) == _amount(credit) > 0

    await journal.select_option("SAL")
    await page.get_by_role("button", name="Afficher").click()
    sale = page.locator("#ecritures tbody.entry[data-type='order']").filter(has_text="Vente ticket").first
    await expect(sale).to_contain_text("SAL")
    accounts = [text.split()[0] for text in await sale.locator("td:nth-child(4)").all_inner_texts()]
    assert accounts[0].startswith("411"), accounts
    assert any(account.startswith("706") for account in accounts), accounts
    assert any(account.startswith("4457") for account in accounts), accounts
    lines = sale.locator("tr")
    assert sum(await _column(lines, 6)) == sum(await _column(lines, 7)) > 0
    payment = page.locator("#ecritures tbody.entry[data-type='payment']").first
    await expect(payment).to_contain_text("Règlement")
    await expect(payment.locator("tr").first.locator("td").nth(1)).to_have_text("SAL")
    await story.shot("09-ecritures-sal")

    await journal.select_option("BAR")
    await page.get_by_role("button", name="Afficher").click()
    await expect(page.locator("#ecritures tbody.entry").first.locator("td").nth(1)).to_have_text("BAR")
    await expect(page.locator("#ecritures tbody.entry[data-type='order']").first).to_contain_text("Vente ticket")
    await expect(page.locator("#ecritures tbody.entry[data-provisoire='oui']").first).to_contain_text("provisoire")

    await journal.select_option("")
    await page.get_by_role("button", name="Afficher").click()
    await page.get_by_role("navigation", name="Vues").get_by_role("link", name="Balance").click()
    rows = page.locator("#balance tbody tr[data-compte]")
    await expect(rows.first).to_be_visible()
    total_debit, total_credit = sum(await _column(rows, 2)), sum(await _column(rows, 3))
    assert total_debit == total_credit > 0, (total_debit, total_credit)
    lydia = page.locator(f"#balance tr[data-compte='{LYDIA_ACCOUNT}']")
    await expect(lydia).to_be_visible()
    sold = await _lydia_takings(portal)
    assert sold > 0, "the sandbox's Lydia payments of those days"
    assert _amount(await lydia.locator("td").nth(3).inner_text()) == sold
    await story.shot("10-balance")


async def _lydia_takings(portal: Live) -> Decimal:
    """What Le Cèdre took through Lydia from ``START`` to today (net of refunds and till differences),
    read from the sandbox with the portal's own client."""
    account = portal.commerce.account("zelty-le-cedre")
    total = Decimal(0)
    credentials = {"api_key": account.api_key}
    async with CommerceClient(portal.settings, source=account.source, credentials=credentials) as client:
        for day in sync.days_between(START, TODAY):
            async for orders in client.orders(account.id, day, day):
                for order in orders:
                    total += sum(
                        (p.total + p.tip for p in order.payments if p.completed and p.method_id == "lydia"),
                        Decimal(0),
                    )
            closure = await client.closure(account.id, day)
            for item in closure.closures if closure.closed else ():
                total += sum((p.difference for p in item.payments if p.method_id == "lydia"), Decimal(0))
    return total


async def test_a_bakery_connected_through_lightspeed_consent_page(
    portal: Live,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    ids = await _seed(committed)
    page = await browser.new_page(locale="fr-FR")
    errors = watch_errors(page)
    story = Story(portal.base, page, tmp_path)
    await _sign_in(page, portal.base)
    await _open_source(story, ids["bakery"], "Lightspeed")
    await page.get_by_role("button", name="Se connecter à Lightspeed").click()
    await expect(page.get_by_role("heading", name=re.compile("^Autoriser Portail Cabinet"))).to_be_visible()
    await expect(page.get_by_text("Les clôtures de caisse")).to_be_visible()
    await page.get_by_label(BAKERY).check()
    await story.shot("01-consentement-lightspeed")
    await page.get_by_role("button", name="Autoriser").click()
    await expect(page).to_have_url(f"{portal.base}/entreprises/{ids['bakery']}/connexions/sources/lightspeed")
    await expect(page.get_by_role("status").filter(has_text="Lightspeed est connecté")).to_be_visible()
    await expect(page.locator("#compte-source")).to_have_text(BAKERY, timeout=WAIT)
    await expect(page.locator("#connexion")).to_contain_text("Connexion OAuth")
    await story.shot("02-lightspeed-connecte")
    assert errors == []
