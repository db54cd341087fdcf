"""Passwords and sessions in Chromium: a forgotten password replaced from the emailed link, then a
password changed from Mon compte while another browser is signed in, and a session ended from there.

Julie forgets her password: *Mot de passe oublié ?* on the sign-in page, her address, the email
arrives on a real SMTP server, its link lets her choose a new password (the strength meter
guides her, the policy refuses ``aaaaaaaaaaaa``) and signs her in; her old password no longer
works. Then, signed in on her desk computer and on her phone, she sees both in *Mes sessions*,
ends the phone's session (the phone is sent to the sign-in page), signs the phone in again and
changes her password on the computer: the phone is signed out once more, the computer is not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from tests.factories.firm import PASSWORD, make_user
from tests.smtp import Inbox, reset_token
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

JULIE = ("julie.bernard@cabinet-durand.fr", "Julie Bernard")
RESET_PASSWORD = "trois-hiboux-sur-la-corniche"
CHANGED_PASSWORD = "le-phare-clignote-deux-fois"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)
WAIT = 20_000  # ms: the email goes through the outbox, the broker and a worker


async def _sign_in(page: Page, base: str, password: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(JULIE[0])
    await page.get_by_label("Mot de passe", exact=True).fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _signed_out(page: Page, base: str) -> None:
    """The page's next request lands on the sign-in page."""
    await page.reload()
    await expect(page).to_have_url(f"{base}/connexion?suivant=/compte")


async def _forget(desk: Page, base: str, inbox: Inbox, shots: Path) -> None:
    """Mot de passe oublié ?, from the sign-in page to the emailed link, to a new password and back in."""
    await desk.goto(f"{base}/connexion")
    await desk.get_by_role("link", name="Mot de passe oublié ?").click()
    await expect(desk.get_by_role("heading", name="Mot de passe oublié")).to_be_visible()
    await desk.get_by_label("Adresse e-mail").fill(JULIE[0])
    await desk.get_by_role("button", name="Recevoir un lien").click()
    await expect(desk.get_by_role("status")).to_have_text(
        "Si un compte existe pour cette adresse, un e-mail vient d'être envoyé."
    )
    [message] = await inbox.wait_for(1, timeout=WAIT / 1000)
    await desk.goto(f"{base}/mot-de-passe/{reset_token(message)}")
    await expect(desk.get_by_role("heading", name="Choisissez un nouveau mot de passe")).to_be_visible()
    new = desk.get_by_label("Nouveau mot de passe", exact=True)
    await new.fill("aaaaaaaaaaaa")
    meter = desk.locator("#force-mot-de-passe")
    await expect(meter).to_have_text("Robustesse : Faible")
    await desk.get_by_label("Confirmation du nouveau mot de passe").fill("aaaaaaaaaaaa")
    await desk.get_by_role("button", name="Enregistrer et me connecter").click()
    await expect(desk.locator("#erreur-password")).to_contain_text("trop facile à deviner")
    await new.fill(RESET_PASSWORD)
    await expect(meter).to_have_text("Robustesse : Fort")
    await desk.get_by_label("Confirmation du nouveau mot de passe").fill(RESET_PASSWORD)
    await desk.screenshot(path=str(shots / "1-nouveau-mot-de-passe.png"), full_page=True)
    await desk.get_by_role("button", name="Enregistrer et me connecter").click()
    await expect(desk).to_have_url(f"{base}/")
    await expect(desk.get_by_role("status").first).to_contain_text("Votre nouveau mot de passe est enregistré")
    # The old password is gone; the new one signs her in.
    await desk.get_by_role("button", name="Se déconnecter").click()
    await desk.get_by_label("Adresse e-mail").fill(JULIE[0])
    await desk.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    await desk.get_by_role("button", name="Se connecter").click()
    await expect(desk.get_by_role("alert")).to_have_text("Adresse e-mail ou mot de passe incorrect.")
    await _sign_in(desk, base, RESET_PASSWORD)


async def _end_the_phone_session(desk: Page, phone: Page, base: str, shots: Path) -> None:
    """Mes sessions on the desk lists the phone; Terminer signs the phone out."""
    await _sign_in(phone, base, RESET_PASSWORD)
    await phone.goto(f"{base}/compte")
    await expect(phone.get_by_role("heading", name="Mes sessions")).to_be_visible()
    await phone.screenshot(path=str(shots / "2-mes-sessions-390.png"), full_page=True)
    await desk.get_by_role("link", name=JULIE[1]).click()
    await expect(desk).to_have_url(f"{base}/compte")
    sessions = desk.locator("#sessions tbody tr")
    await expect(sessions).to_have_count(2)
    await expect(sessions.first).to_contain_text("cette session")
    await expect(sessions.nth(1)).to_contain_text("Safari sur iOS")
    await desk.screenshot(path=str(shots / "3-mes-sessions-1440.png"), full_page=True)
    await sessions.nth(1).get_by_role("button", name="Terminer").click()
    await expect(desk.get_by_role("status").first).to_have_text("La session est terminée.")
    await expect(sessions).to_have_count(1)
    await _signed_out(phone, base)


async def _change(desk: Page, phone: Page, base: str) -> None:
    """Changer mon mot de passe on the desk: the phone is signed out, the desk is not."""
    await _sign_in(phone, base, RESET_PASSWORD)
    await phone.goto(f"{base}/compte")
    await desk.reload()
    sessions = desk.locator("#sessions tbody tr")
    await expect(sessions).to_have_count(2)
    await desk.get_by_label("Mot de passe actuel").fill(RESET_PASSWORD)
    await desk.get_by_label("Nouveau mot de passe", exact=True).fill(CHANGED_PASSWORD)
    await desk.get_by_label("Confirmation du nouveau mot de passe").fill(CHANGED_PASSWORD)
    await desk.get_by_role("button", name="Changer mon mot de passe").click()
    await expect(desk).to_have_url(f"{base}/compte")
    await expect(desk.get_by_role("status").first).to_have_text(
        "Votre mot de passe est modifié ; vos autres sessions sont fermées."
    )
    await expect(sessions).to_have_count(1)
    await _signed_out(phone, base)
    await _sign_in(phone, base, CHANGED_PASSWORD)


async def test_a_forgotten_password_then_a_changed_one_and_a_session_ended(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], inbox: Inbox, tmp_path: Path
) -> None:
    async with committed() as session, session.begin():
        await make_user(session, roles=(FirmRole.COLLABORATOR,), email=JULIE[0], name=JULIE[1])
    desk_context = await browser.new_context(locale="fr-FR", viewport={"width": 1440, "height": 900})
    desk = await desk_context.new_page()
    errors = watch_errors(desk)
    await _forget(desk, live_url, inbox, tmp_path)

    phone_context = await browser.new_context(
        locale="fr-FR", viewport={"width": 390, "height": 844}, user_agent=PHONE, is_mobile=True
    )
    phone = await phone_context.new_page()
    phone_errors = watch_errors(phone)
    await _end_the_phone_session(desk, phone, live_url, tmp_path)
    await _change(desk, phone, live_url)

    notices = await inbox.wait_for(3, timeout=WAIT / 1000)  # the reset's notice, then the change's
    assert [notice["Subject"] for notice in notices[1:]] == ["Votre mot de passe du Portail Cabinet a été modifié"] * 2
    assert errors == []
    assert phone_errors == []
    await phone_context.close()
    await desk_context.close()
