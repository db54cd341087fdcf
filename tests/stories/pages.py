"""What the browser stories do on many pages: sign in as a person, read a fact, check the page's width."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

from tests.factories.firm import PASSWORD


async def sign_in(page: Page, base: str, email: str, name: str) -> None:
    """The sign-in page, as the person types it; done when their name shows in the top bar."""
    await page.context.clear_cookies()
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.locator(".account-name")).to_have_text(name)


def fact(scope: Locator, term: str) -> Locator:
    """The value next to ``term`` in a ``<dl class="facts">``."""
    return scope.locator("dt", has_text=term).locator("xpath=following-sibling::dd[1]")


async def no_sideways_scroll(page: Page) -> None:
    """The page is no wider than the window (a phone never scrolls sideways)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert page.viewport_size is not None
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide"
