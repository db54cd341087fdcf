"""A partner sets a dossier's objective and budget, then reads réel vs budget, in Chromium at 1440 and 390 px.

The shop of ``tests/dashboard/books.py`` is imported for 2024 and 2025 (January to June) through the
real import. On its Objectifs page the partner sets a chiffre d'affaires objective and sees the
progress; on its Prévisionnel page, pre-fills the budget from N-1 + 5 %, changes January's chiffre
d'affaires and saves, then reads January's variance in « Réel vs budget ». On a phone the grid scrolls
inside its box, its first column staying in view, and the page itself never scrolls sideways.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.settings import Settings
from tests.dashboard.books import current_months, import_year, previous_months
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

EMAIL = "claire.durand@cabinet-durand.fr"


@dataclass(frozen=True)
class Seeded:
    dossier_id: uuid.UUID
    current_id: uuid.UUID


@pytest.fixture
async def seeded(committed: async_sessionmaker[AsyncSession], settings: Settings) -> Seeded:
    """The partner, and the shop with 2024 and 2025 imported through the real import."""
    async with committed() as session, session.begin():
        await make_user(session, roles=(FirmRole.PARTNER,), email=EMAIL, name="Claire Durand")
        dossier = await make_dossier(session, name="Épicerie du Marché")
    await import_year(committed, settings, dossier.id, year=2024, months=previous_months())
    current = await import_year(committed, settings, dossier.id, year=2025, months=current_months())
    return Seeded(dossier.id, current.id)


async def _no_sideways_scroll(page: Page) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


@pytest.mark.parametrize("width", [1440, 390])
async def test_a_partner_sets_an_objective_and_a_budget_and_reads_real_vs_budget(
    live_url: str, browser: Browser, seeded: Seeded, tmp_path: Path, width: int
) -> None:
    page = await browser.new_page(locale="fr-FR", viewport={"width": width, "height": 900})
    errors = watch_errors(page)
    await page.goto(f"{live_url}/connexion")
    await page.get_by_label("Adresse e-mail").fill(EMAIL)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{live_url}/")
    await _objective(page, live_url, seeded)
    await _no_sideways_scroll(page)
    await page.screenshot(path=str(tmp_path / f"objectifs-{width}.png"), full_page=True)
    await _budget(page)
    await _real_vs_budget(page, width)
    await page.screenshot(path=str(tmp_path / f"previsionnel-{width}.png"), full_page=True)
    assert errors == []


async def _objective(page: Page, base: str, seeded: Seeded) -> None:
    """Objectifs: the chiffre d'affaires' target (after a wrong value elsewhere), and how far the year has come."""
    await page.goto(f"{base}/entreprises/{seeded.dossier_id}/tableau-de-bord/objectifs")
    await expect(page.get_by_role("heading", name="Objectifs")).to_be_visible()
    await expect(page.locator("#exercice")).to_have_value(str(seeded.current_id))
    await page.get_by_label("Chiffre d'affaires", exact=True).fill("150 000")
    await page.get_by_label("Taux de marge brute").fill("abc")
    await page.get_by_role("button", name="Enregistrer les objectifs").click()
    await expect(page.locator("#erreur-taux_marge_brute")).to_contain_text("Valeur invalide")
    await expect(page.get_by_label("Chiffre d'affaires", exact=True)).to_have_value("150 000")
    await page.get_by_label("Taux de marge brute").fill("")
    await page.get_by_role("button", name="Enregistrer les objectifs").click()
    await expect(page.get_by_role("status")).to_contain_text("Objectifs enregistrés.")
    revenue = page.locator("tr[data-kpi='chiffre_affaires']")
    await expect(revenue).to_contain_text("Objectif non atteint")
    await expect(revenue).to_contain_text("52,4 %")  # 78 600 of 150 000


async def _budget(page: Page) -> None:
    """Prévisionnel: from N-1 + 5 %, then January's chiffre d'affaires changed by hand."""
    await page.get_by_role("link", name="Prévisionnel").click()
    await expect(page.get_by_role("heading", name="Prévisionnel")).to_be_visible()
    await page.get_by_label("Taux de croissance (%)").fill("5")
    await page.get_by_role("button", name="Pré-remplir").click()
    await expect(page.get_by_role("status")).to_contain_text("Prévisionnel pré-rempli")
    january = page.locator("[name='chiffre_affaires.2025-01']")
    await expect(january).to_have_value("11025,11")  # 10 500,10 × 1,05, rounded half up
    total = page.locator("#grille-budget tr[data-poste='chiffre_affaires'] [data-total]")
    prefilled = await total.inner_text()
    await january.fill("12 000")
    await expect(total).not_to_have_text(prefilled)  # the totals follow what is typed
    typed_total = await total.inner_text()
    await page.get_by_role("button", name="Enregistrer le prévisionnel").click()
    await expect(page.get_by_role("status")).to_contain_text("Prévisionnel enregistré.")
    await expect(january).to_have_value("12000")
    await expect(total).to_have_text(typed_total)  # as the server adds it up


async def _real_vs_budget(page: Page, width: int) -> None:
    """January's 11 600 against 12 000, unfavourable, said in words; on a phone the grid scrolls in its box."""
    comparison = page.locator("#comparaison tbody[data-poste='chiffre_affaires']")
    gap = comparison.locator("tr[data-ligne='ecart'] td").nth(2)  # after « À date » and « Année »
    await expect(gap).to_contain_text("400,00")
    await expect(gap).to_contain_text("défavorable")
    await expect(page.locator("#reel-vs-budget")).to_contain_text("juin 2025")
    await _no_sideways_scroll(page)
    grid = page.locator("#grille-budget")
    sticky = await grid.locator("tbody th").first.evaluate("cell => getComputedStyle(cell).position")
    assert sticky == "sticky"
    if width == 390:
        box = page.locator(".budget-wrap").first
        assert await box.evaluate("box => box.scrollWidth > box.clientWidth")
        await box.evaluate("box => { box.scrollLeft = 600; }")
        label = await grid.locator("tbody th").first.bounding_box()
        frame = await box.bounding_box()
        assert label is not None
        assert frame is not None
        assert label["x"] <= frame["x"] + 2  # still at the box's left edge after scrolling
