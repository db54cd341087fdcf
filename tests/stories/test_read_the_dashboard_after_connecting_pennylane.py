"""The seed's story in Chromium: connect Pennylane, import two fiscal years, read the Tableau de bord.

A partner connects Pennylane from the dossier's Connexions page through the local sandbox,
imports 2023 and 2024, opens *Tableau de bord* and reads 2024's chiffre d'affaires beside
2023's (the amounts summed here from the sandbox's own FEC), opens how it is computed, and
reads the same page on a 390 px phone without the page scrolling sideways.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.demo import fictional_siren
from portal.firm.models import Firm
from portal.jobs.runtime import Runtime
from portal.sandbox.pennylane.data import fec_text
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from tests.browsing import loopback_listener, serving
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
BAKERY_ID = 48211  # Boulangerie Martin in the sandbox
WAIT = 30_000  # ms: background jobs, through the outbox and the broker
NNBSP, NBSP = "\u202f", "\u00a0"


@pytest.fixture
async def portal_url(
    committed: async_sessionmaker[AsyncSession], settings: Settings, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """The portal on loopback with its Pennylane sandbox, the outbox relay and the test workers pointed at it."""
    async with loopback_listener() as (listener, base):
        live = settings.with_overrides(
            sandbox=True, base_url=base, pennylane_oauth_url=f"{base}/sandbox/pennylane/oauth",
            pennylane_api_url=f"{base}/sandbox/pennylane/api/external/v2", pennylane_client_id=SANDBOX_CLIENT_ID,
            pennylane_client_secret=SANDBOX_CLIENT_SECRET, pennylane_poll_seconds=0.05,
        )  # fmt: skip
        monkeypatch.setattr(jobs, "settings", live)
        app = create_app(live, background=True, embedded_worker=False, migrate_on_start=False)
        async with serving(app, listener):
            yield base


def revenue(year: int) -> Decimal:
    """The year's chiffre d'affaires summed from the sandbox's FEC: credit − debit of 70…, à-nouveaux aside."""
    text = fec_text(BAKERY_ID, dt.date(year, 1, 1), dt.date(year, 12, 31), today=dt.date(year + 1, 6, 30))
    amount = Decimal(0)
    for line in text.splitlines()[1:]:
        fields = line.split("\t")
        if fields[4].startswith("70") and fields[0] not in {"AN", "ANO", "RAN", "OUV"}:
            amount += Decimal(fields[12].replace(",", ".")) - Decimal(fields[11].replace(",", "."))
    return amount


def euros(value: Decimal, *, signed: bool = False) -> str:
    sign = "−" if value < 0 else "+" if signed and value > 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    return f"{sign}{int(whole):,}".replace(",", NNBSP) + f",{cents}{NBSP}€"


async def _seed(committed: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name="Cabinet Durand & Associés", is_firm_dossier=True)
        session.add(Firm(name="Cabinet Durand & Associés", own_dossier_id=firm_dossier.id))
        bakery = await make_dossier(session, name="Boulangerie Martin", siren=fictional_siren("81234567"))
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
    return bakery.id


async def _sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER[0])
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _connect_and_import(page: Page, base: str, dossier_id: uuid.UUID) -> None:
    await page.goto(f"{base}/entreprises/{dossier_id}")
    await page.get_by_role("link", name="Connexions").first.click()
    await page.get_by_role("button", name="Connecter Pennylane").click()
    await page.get_by_label("Boulangerie Martin").check()
    await page.get_by_role("button", name="Autoriser").click()
    await expect(page.get_by_role("heading", name="Sélectionnez les exercices à importer")).to_be_visible()
    years = page.locator("#exercices-pennylane")
    await expect(years).to_have_attribute("data-waiting", "non", timeout=WAIT)
    boxes = years.get_by_role("checkbox")
    for index in range(await boxes.count()):
        await boxes.nth(index).uncheck()
    await years.get_by_label("Exercice du 01/01/2024 au 31/12/2024").check()
    await years.get_by_label("Exercice du 01/01/2023 au 31/12/2023").check()
    await page.get_by_role("button", name="Importer les exercices sélectionnés").click()
    await expect(page.locator("#liste-imports tr[data-status='succeeded']")).to_have_count(2, timeout=WAIT)


async def _no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = await page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page scrolls sideways: {width} > {viewport}"


async def test_read_the_dashboard_after_connecting_pennylane(
    portal_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    dossier_id = await _seed(committed)
    page = await browser.new_page(locale="fr-FR", viewport={"width": 1440, "height": 900})
    errors = watch_errors(page)
    await _sign_in(page, portal_url)
    await _connect_and_import(page, portal_url, dossier_id)

    await page.get_by_role("link", name="Tableau de bord").first.click()
    await expect(page.get_by_role("heading", name="Tableau de bord", exact=True)).to_be_visible()
    n, n1 = revenue(2024), revenue(2023)
    assert n > 0
    assert n1 > 0
    revenue_card = page.locator("#kpi-chiffre_affaires")
    await expect(revenue_card.locator("[data-value]")).to_have_text(euros(n))
    await expect(revenue_card.locator("[data-previous]")).to_contain_text(euros(n1))
    await expect(revenue_card.locator("[data-difference]")).to_contain_text(euros(n - n1, signed=True))
    for group in ("Rentabilité", "Activité", "Trésorerie", "Soldes intermédiaires de gestion"):
        await expect(page.get_by_role("heading", name=group, exact=True, level=2)).to_be_visible()
    await expect(page.locator("#synchronisation")).to_contain_text("Pennylane")
    await expect(page.locator("#synchronisation")).to_contain_text("Chaque jour à 06:00")
    await expect(page.locator("figure.chart svg")).to_have_count(4)
    await page.locator("figure.chart").first.get_by_text("Voir les données").click()
    await expect(page.locator("figure.chart").first.locator("table")).to_be_visible()
    await page.screenshot(path=str(tmp_path / "tableau-de-bord-1440.png"), full_page=True)
    await _no_sideways_scroll(page)

    await revenue_card.get_by_role("link", name="Chiffre d'affaires").click()
    await expect(page.locator("#valeur")).to_contain_text(euros(n))
    await expect(page.locator("tr[data-account^='70']").first).to_be_visible()
    await page.go_back()

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(revenue_card.locator("[data-value]")).to_have_text(euros(n))
    await _no_sideways_scroll(page)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    # KPI cards in one column: each as wide as the grid.
    boxes = [await revenue_card.bounding_box(), await page.locator("#kpi-marge_brute").bounding_box()]
    assert boxes[0] is not None
    assert boxes[1] is not None
    assert boxes[1]["y"] > boxes[0]["y"]
    assert abs(boxes[1]["x"] - boxes[0]["x"]) < 1
    chart = await page.locator("figure.chart svg").first.bounding_box()
    assert chart is not None
    assert chart["width"] <= 390
    await page.screenshot(path=str(tmp_path / "tableau-de-bord-390.png"), full_page=True)
    assert errors == []
