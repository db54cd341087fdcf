"""Signing in through the sign-in page, in the browser, as a person does."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.factories.firm import PASSWORD


async def sign_in_page(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    """Type the address and the password on /connexion and land on Accueil."""
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")
