"""The real pages in Chromium: turn on two-factor authentication from Mon compte, sign in with a code the
test computes as the person's app would, then with a recovery code, which works once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from tests.factories.firm import PASSWORD, make_user
from tests.stories.console import watch_errors
from tests.stories.walking import open_menu

pytestmark = pytest.mark.browser
EMAIL = "claire@cabinet-test.fr"


def code_of(secret: str, *, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * steps_ahead))


async def password_step(page: Page, live_url: str) -> None:
    await page.goto(f"{live_url}/connexion")
    await page.get_by_label("Adresse e-mail").fill(EMAIL)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{live_url}/connexion/code")
    await expect(page.get_by_role("heading", name="Double authentification")).to_be_visible()


async def sign_out(page: Page, live_url: str) -> None:
    await open_menu(page)
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(f"{live_url}/connexion?deconnecte=1")


async def enrol(page: Page, live_url: str, screenshot: Path) -> tuple[str, list[str]]:
    """From Mon compte: the QR code and the key, a wrong code, the right one; the secret and the recovery codes."""
    section = page.locator("#double-authentification")
    await section.get_by_role("button", name="Activer la double authentification").click()
    await expect(page).to_have_url(f"{live_url}/compte/double-authentification")
    qr = page.locator("svg.qr-code")
    await expect(qr).to_be_visible()
    box = await qr.bounding_box()
    assert box is not None
    assert box["width"] >= 150  # drawn, and large enough to scan
    secret = (await page.locator("#cle-secrete").inner_text()).replace(" ", "")
    assert len(secret) == 32
    await page.screenshot(path=str(screenshot), full_page=True)

    await page.get_by_label("Code à 6 chiffres").fill("000000")
    await page.get_by_role("button", name="Confirmer et activer").click()
    await expect(page.get_by_role("alert")).to_contain_text("Code incorrect")
    await page.get_by_label("Code à 6 chiffres").fill(code_of(secret))
    await page.get_by_role("button", name="Confirmer et activer").click()
    await expect(page.get_by_role("heading", name="Codes de secours")).to_be_visible()
    codes = [code.strip() for code in await page.locator("#codes-de-secours li").all_inner_texts()]
    assert len(codes) == 10
    await page.get_by_role("link", name="J'ai conservé mes codes").click()
    await expect(section).to_contain_text("Activée")
    await expect(page.locator("#codes-restants")).to_have_text("10 codes de secours restants")
    return secret, codes


@pytest.mark.parametrize("width", [1440, 390])
async def test_a_partner_enrols_and_signs_in_with_a_code_then_a_recovery_code(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path, width: int
) -> None:
    async with committed() as session, session.begin():
        await make_user(session, roles=(FirmRole.PARTNER,), email=EMAIL, name="Claire Durand")
    page = await browser.new_page(locale="fr-FR", viewport={"width": width, "height": 900})
    errors = watch_errors(page)  # the deliberate 401 of a code used twice is not a script error

    await page.goto(f"{live_url}/connexion")
    await page.get_by_label("Adresse e-mail").fill(EMAIL)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{live_url}/")
    await open_menu(page)
    await page.locator(".account-name").click()
    await expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
    section = page.locator("#double-authentification")
    await expect(section).to_contain_text("Désactivée")

    secret, codes = await enrol(page, live_url, tmp_path / f"enrolment-{width}.png")
    await sign_out(page, live_url)

    # The password, then the next code from the app.
    code = code_of(secret, steps_ahead=1)
    await password_step(page, live_url)
    await page.get_by_label("Code", exact=True).fill(code)
    await page.get_by_role("button", name="Vérifier").click()
    await expect(page).to_have_url(f"{live_url}/")
    await expect(page.locator(".account-name")).to_have_text("Claire Durand")
    await sign_out(page, live_url)

    # The same code again is refused.
    await password_step(page, live_url)
    await page.get_by_label("Code", exact=True).fill(code)
    await page.get_by_role("button", name="Vérifier").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Ce code a déjà été utilisé : attendez le suivant dans votre application."
    )

    # A recovery code instead: it works once.
    await page.get_by_label("Code", exact=True).fill(codes[0])
    await page.get_by_role("button", name="Vérifier").click()
    await expect(page).to_have_url(f"{live_url}/")
    await expect(page.get_by_role("status").first).to_contain_text("il vous en reste 9")
    await sign_out(page, live_url)
    await password_step(page, live_url)
    await page.get_by_label("Code", exact=True).fill(codes[0])
    await page.get_by_role("button", name="Vérifier").click()
    await expect(page.get_by_role("alert")).to_have_text("Code incorrect.")
    await expect(page).to_have_url(f"{live_url}/connexion/code")
    assert errors == []
