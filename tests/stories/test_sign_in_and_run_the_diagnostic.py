"""The real pages in Chromium: sign in, find the firm space, run a background job and watch it finish."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from tests.factories.firm import PASSWORD, make_user
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser


async def test_admin_signs_in_and_runs_the_diagnostic(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with committed() as session, session.begin():
        await make_user(session, roles=(FirmRole.ADMIN,), email="marc@cabinet-test.fr", name="Marc Lefèvre")
    page = await browser.new_page(locale="fr-FR")
    errors = watch_errors(page)  # the deliberate 401 of the wrong password is not a script error
    not_found: list[str] = []
    page.on("response", lambda response: not_found.append(response.url) if response.status == 404 else None)

    await page.goto(f"{live_url}/entreprises")
    await expect(page).to_have_url(f"{live_url}/connexion?suivant=/entreprises")
    await expect(page.get_by_role("heading", name="Connexion à l'espace cabinet")).to_be_visible()

    await page.get_by_label("Adresse e-mail").fill("marc@cabinet-test.fr")
    await page.get_by_label("Mot de passe").fill("pas-le-bon")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("alert")).to_have_text("Adresse e-mail ou mot de passe incorrect.")

    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{live_url}/entreprises")
    await expect(page.get_by_role("heading", name="Entreprises")).to_be_visible()
    menu = page.get_by_role("navigation", name="Menu principal")
    for item in ("Entreprises", "Utilisateurs", "Paramètres"):
        await expect(menu.get_by_role("link", name=item)).to_be_visible()
    await expect(page.locator(".account-name")).to_have_text("Marc Lefèvre")
    await expect(page.locator(".account-roles")).to_have_text("Administrateur")

    await menu.get_by_role("link", name="Paramètres").click()
    await expect(page.get_by_role("heading", name="Informations générales")).to_be_visible()
    await page.get_by_role("link", name="Système").click()
    await page.get_by_role("button", name="Lancer le diagnostic").click()  # htmx POST, CSRF in the header
    panel = page.locator("#travail")
    await expect(panel).to_have_attribute("data-status", "succeeded", timeout=20_000)
    await expect(panel.locator("progress")).to_have_count(0)  # finished: its summary, not a bar
    await expect(panel).to_contain_text("Terminé")
    await expect(panel).to_contain_text("Membres du cabinet")
    await page.screenshot(path=str(tmp_path / "diagnostic.png"), full_page=True)

    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(f"{live_url}/connexion?deconnecte=1")
    await expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")
    await page.goto(f"{live_url}/parametres")
    await expect(page).to_have_url(f"{live_url}/connexion?suivant=/parametres")
    assert errors == []
    assert not_found == []
