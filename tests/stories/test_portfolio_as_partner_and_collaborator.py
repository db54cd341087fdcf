"""Portefeuille in Chromium, at 1440 and 390 px: a partner sorts, filters, searches and exports the
figures of the firm's dossiers; a collaborator sees those of the dossier they are Comptable of.

A confidential dossier granted to nobody of them shows to neither, nor in the export.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import DossierRole, FirmRole
from portal.firm.models import Firm
from portal.settings import Settings
from tests.dashboard.ledgers import Year, import_fec
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.stories.console import watch_errors
from tests.stories.walking import open_menu

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-test.fr", "Claire Durand")
COLLABORATOR = ("julie.bernard@cabinet-test.fr", "Julie Bernard")
MONTHLY = 1_000_000  # 10 000,00 € of sales a month


async def _seed(committed: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name="Cabinet Durand & Associés", is_firm_dossier=True)
        session.add(Firm(name="Cabinet Durand & Associés", own_dossier_id=firm_dossier.id))
        bakery = await make_dossier(session, name="Boulangerie Martin")
        garage = await make_dossier(session, name="Garage du Centre")
        secret = await make_dossier(session, name="Holding Zéphyr", is_confidential=True)
        await make_dossier(session, name="Pharmacie sans exercice")
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        collaborator = await make_user(session, roles=(FirmRole.COLLABORATOR,), email=COLLABORATOR[0],
                                       name=COLLABORATOR[1])  # fmt: skip
        await add_role(session, collaborator, bakery, DossierRole.ACCOUNTANT)
    purchases = [MONTHLY // 2] * 12
    years = {
        bakery: [Year(2023, [MONTHLY] * 12, purchases, collected=12 * MONTHLY, paid=3_000_000),
                 Year(2024, [MONTHLY * 2] * 12, purchases, collected=24 * MONTHLY, paid=3_000_000)],
        # It pays out more than it collects: cash below zero.
        garage: [Year(2024, [MONTHLY * 3] * 12, purchases, collected=36 * MONTHLY, paid=60_000_000)],
        secret: [Year(2024, [MONTHLY * 9] * 12, purchases)],
    }  # fmt: skip
    for dossier, fiscal_years in years.items():
        for year in fiscal_years:
            async with committed() as session:
                await import_fec(session, committed, settings, dossier, year)


async def _sign_in(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _names(page: Page) -> list[str]:
    return [name.strip() for name in await page.locator("#resultats tbody th a").all_inner_texts()]


async def _fits(page: Page) -> None:
    """The page never scrolls sideways; the table, wider than a phone, scrolls inside its box."""
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", [1440, 390])
async def test_a_partner_then_a_collaborator_read_the_portfolio(  # noqa: PLR0915, PLR0917 - one story, pytest fixtures
    live_url: str,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
    width: int,
) -> None:
    await _seed(committed, settings)
    context = await browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    errors = watch_errors(page)

    await _sign_in(page, live_url, PARTNER[0])
    menu = page.get_by_role("navigation", name="Menu principal")
    await open_menu(page)
    await menu.get_by_role("link", name="Portefeuille").click()
    await expect(page.get_by_role("heading", name="Portefeuille")).to_be_visible()
    await expect(page.locator(".result-count")).to_have_text("2 dossiers")
    assert await _names(page) == ["Boulangerie Martin", "Garage du Centre"]
    bakery = page.locator("#resultats tbody tr", has_text="Boulangerie Martin")
    await expect(bakery).to_contain_text("+100,0 %")  # sales doubled on 2023
    await _fits(page)
    if width == 390:
        wrap = page.locator("#resultats .table-wrap")
        assert await wrap.evaluate("box => box.scrollWidth > box.clientWidth")
        # The name reads on a line or two, not one letter a line in a squeezed column.
        name = await bakery.locator("th").first.bounding_box()
        assert name is not None
        assert name["width"] >= 120, name
        assert name["height"] < 80, name
    await page.screenshot(path=str(tmp_path / f"portefeuille-{width}.png"), full_page=True)

    # Sorted by revenue: ascending, then descending; the address follows.
    await page.locator("#resultats thead").get_by_role("link", name="CA", exact=True).click()
    await expect(page).to_have_url(f"{live_url}/portefeuille?tri=ca&page=1")
    assert await _names(page) == ["Boulangerie Martin", "Garage du Centre"]
    await page.locator("#resultats thead").get_by_role("link", name="CA ↑").click()
    await expect(page).to_have_url(f"{live_url}/portefeuille?tri=-ca&page=1")
    assert await _names(page) == ["Garage du Centre", "Boulangerie Martin"]

    # « Trésorerie négative »: the garage alone, and the export follows the list.
    await page.get_by_label("Trésorerie négative").check()
    await expect(page.locator(".result-count")).to_have_text("1 dossier trouvé")
    assert await _names(page) == ["Garage du Centre"]
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Exporter").click()
    download = await download_info.value
    assert download.suggested_filename == "portefeuille.csv"
    rows = list(csv.reader(io.StringIO((await download.path()).read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows[1:]] == ["Garage du Centre"]
    assert rows[1][4] == "360000,00"  # CA in euros, decimal comma
    await page.get_by_label("Trésorerie négative").uncheck()
    await expect(page.locator(".result-count")).to_have_text("2 dossiers")

    # A search by name, live.
    await page.get_by_placeholder("Rechercher une entreprise").fill("boul")
    await expect(page.locator(".result-count")).to_have_text("1 dossier trouvé")
    await expect(page).to_have_url(f"{live_url}/portefeuille?q=boul&tri=nom&page=1")
    assert await _names(page) == ["Boulangerie Martin"]
    await _fits(page)
    await page.get_by_placeholder("Rechercher une entreprise").fill("zéphyr")
    await expect(page.locator(".empty")).to_have_text("Aucune entreprise ne correspond à « zéphyr ».")
    await open_menu(page)
    await page.get_by_role("button", name="Se déconnecter").click()

    # The collaborator: the dossier they are Comptable of, nothing else.
    await _sign_in(page, live_url, COLLABORATOR[0])
    await open_menu(page)
    await page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Portefeuille").click()
    await expect(page.locator(".result-count")).to_have_text("1 dossier")
    assert await _names(page) == ["Boulangerie Martin"]
    await _fits(page)
    await page.screenshot(path=str(tmp_path / f"portefeuille-comptable-{width}.png"), full_page=True)
    assert errors == []
    await context.close()
