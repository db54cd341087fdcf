"""A partner uploads a FEC that is not the dossier's, in Chromium: the portal asks before importing (another
number in the file's name, another closing date). Cancelled, nothing is imported and the file is gone; imported
anyway, its fiscal year then blocks the right file (the years overlap) until *Supprimer l'exercice*, after a page
naming the year and its entries, removes it; the right file then imports. Real files of tests/data, as they are
(the right file is uploaded under the dossier's own FEC name).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.firm.models import Firm
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.samples import FEC_SAMPLES
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
SIREN = "552100554"
WRONG = FEC_SAMPLES / "neolegal-fec-reader" / "0000000001FEC20220831.txt"  # 2021-09-01 → 2022-08-31
RIGHT = FEC_SAMPLES / "neolegal-fec-reader" / "111111111FEC20221231.TXT"  # the calendar year 2022
WAIT = 30_000  # ms: the import runs on the test workers, through the outbox and the broker


async def _seed(committed: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name="Cabinet Durand & Associés", is_firm_dossier=True)
        session.add(Firm(name="Cabinet Durand & Associés", own_dossier_id=firm_dossier.id))
        bakery = await make_dossier(session, name="Boulangerie Martin", siren=SIREN)
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
    return bakery.id


async def _choose(page: Page, name: str, path: Path) -> None:
    content = await anyio.Path(path).read_bytes()
    await page.get_by_label("Fichier des écritures comptables").set_input_files(
        {"name": name, "mimeType": "text/plain", "buffer": content}
    )
    await page.get_by_role("button", name="Importer le fichier").click()


async def test_a_wrong_fec_is_asked_about_then_its_year_is_deleted_for_the_right_one(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    dossier_id = await _seed(committed)
    page = await browser.new_page(locale="fr-FR")
    errors = watch_errors(page)
    await page.goto(f"{live_url}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER[0])
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{live_url}/")
    connexions = f"{live_url}/entreprises/{dossier_id}/connexions"
    years = page.locator("#exercices-importes")

    # The wrong file: asked about, then cancelled.
    await page.goto(connexions)
    await _choose(page, WRONG.name, WRONG)
    question = page.get_by_role("heading", name="Ce fichier est-il bien celui de Boulangerie Martin ?")
    await expect(question).to_be_visible()
    doubts = page.locator("#verification .doubts li")
    await expect(doubts).to_have_count(2)
    await expect(doubts.nth(0)).to_contain_text("porte le numéro 0000000001, qui n'est pas le SIREN du dossier")
    await expect(doubts.nth(1)).to_contain_text("se clôt le 31/08/2022, alors que le dossier clôture ses exercices")
    await page.screenshot(path=str(tmp_path / "verification.png"), full_page=True)
    await page.get_by_role("button", name="Annuler l'import").click()
    await expect(page.get_by_role("status").filter(has_text="Import annulé")).to_be_visible()
    await expect(page.locator("#liste-imports tr[data-import]").first).to_have_attribute("data-status", "cancelled")
    await expect(years).to_contain_text("Aucun exercice importé pour le moment.")

    # Imported anyway: its year is in, and it blocks the right file.
    await _choose(page, WRONG.name, WRONG)
    await page.get_by_role("button", name="Importer quand même").click()
    await expect(page.get_by_role("status").filter(has_text="l'import a commencé")).to_be_visible()
    await expect(years.locator("tr[data-exercice='2022-08-31']")).to_be_visible(timeout=WAIT)
    await _choose(page, f"{SIREN}FEC20221231.TXT", RIGHT)  # the dossier's own name: no question asked
    await expect(page.get_by_role("status").filter(has_text="l'import a commencé")).to_be_visible()
    await expect(page.locator("#liste-imports tr[data-import]").first).to_have_attribute(
        "data-status", "refused", timeout=WAIT
    )

    # Supprimer l'exercice: a page naming the year and its entries, then it is gone.
    await years.locator("tr[data-exercice='2022-08-31']").get_by_role("link", name="Supprimer l'exercice").click()
    await expect(page.get_by_role("heading", name="Supprimer l'exercice du 01/09/2021 au 31/08/2022")).to_be_visible()
    await expect(page.locator("#suppression-exercice")).to_contain_text("2 033 écritures")
    await page.screenshot(path=str(tmp_path / "suppression.png"), full_page=True)
    await page.get_by_role("button", name="Supprimer l'exercice").click()
    await expect(page.get_by_role("status").filter(has_text="est supprimé, avec ses 2 033 écritures")).to_be_visible()
    await expect(years).to_contain_text("Aucun exercice importé pour le moment.")

    # The right file now goes in.
    await _choose(page, f"{SIREN}FEC20221231.TXT", RIGHT)
    await expect(years.locator("tr[data-exercice='2022-12-31']")).to_be_visible(timeout=WAIT)
    await expect(years).to_contain_text("01/01/2022 – 31/12/2022")
    assert errors == []
