"""The notification centre in Chromium: a collaborator submits a note, the approver's bell says so.

Julie (Employé of the firm's dossier) submits her expense note. Claire, a partner, sees the bell of
the top bar count one unread notification, opens the list, reads « Julie Bernard a soumis la note de
frais … », clicks it and lands on the note (where « Approuver » is); the notice is now read and the
bell counts nothing. On a desk (1440 px) and on a phone (390 px), the bell fits the top bar and
nothing is wider than the screen.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import DossierRole, FirmRole
from portal.expenses.services import today
from portal.firm.models import Firm
from portal.notifications.models import Notification
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
JULIE = ("julie.bernard@cabinet-durand.fr", "Julie Bernard")
FIRM_DOSSIER = "Cabinet Durand & Associés"
NOTE = "Déplacement chez Garage du Centre"


async def _seed(committed: async_sessionmaker[AsyncSession]) -> dict[str, uuid.UUID]:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name=FIRM_DOSSIER, is_firm_dossier=True)
        session.add(Firm(name=FIRM_DOSSIER, own_dossier_id=firm_dossier.id))
        partner = await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        julie = await make_user(session, email=JULIE[0], name=JULIE[1])
        await add_role(session, julie, firm_dossier, DossierRole.EMPLOYEE)
        note = await make_note(session, julie, firm_dossier, title=NOTE, day=today())
        return {"note": note.id, "partner": partner.id}


async def _sign_in(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _fits(page: Page) -> None:
    overflow = await page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
    box = await page.locator("#cloche").bounding_box()
    assert box is not None
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert 0 <= box["x"] <= box["x"] + box["width"] <= width, f"the bell sticks out of the top bar: {box}"


async def test_the_approver_is_notified_opens_the_notice_and_lands_on_the_note(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    ids = await _seed(committed)
    julie = await browser.new_page(locale="fr-FR", viewport={"width": 390, "height": 844})
    errors = watch_errors(julie)
    await _sign_in(julie, live_url, JULIE[0])
    await julie.goto(f"{live_url}/notes-de-frais/{ids['note']}")
    await julie.get_by_role("button", name="Soumettre").click()
    await expect(julie.get_by_role("status").first).to_be_visible()
    # Julie is not told of her own submission.
    await expect(julie.locator("#cloche .bell-count")).to_have_count(0)
    assert errors == []
    await julie.close()

    for width, height in ((1440, 900), (390, 844)):
        page = await browser.new_page(locale="fr-FR", viewport={"width": width, "height": height})
        errors = watch_errors(page)
        await _sign_in(page, live_url, PARTNER[0])
        bell = page.locator("#cloche")
        if width == 1440:  # the first time through, the notice is unread
            await expect(bell.locator(".bell-count")).to_have_text("1")
            await expect(bell).to_have_attribute("title", "1 notification non lue")
            await _fits(page)
            await page.screenshot(path=str(tmp_path / f"cloche-{width}.png"))
            await bell.click()
            await expect(page).to_have_url(f"{live_url}/notifications")
            await expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
            notice = page.locator(".notice-unread")
            await expect(notice).to_have_count(1)
            sentence = f"Julie Bernard a soumis la note de frais NDF-{today().year}-"
            await expect(notice).to_contain_text(sentence)
            await expect(notice).to_contain_text(f"({NOTE}) : elle attend votre validation.")
            await _fits(page)
            await notice.locator("button.notice-text").click()
            await expect(page).to_have_url(f"{live_url}/notes-de-frais/{ids['note']}")
            await expect(page.get_by_role("button", name="Approuver")).to_be_visible()
            await expect(bell.locator(".bell-count")).to_have_count(0)
        else:  # on the phone, later: read, and still listed
            await expect(bell.locator(".bell-count")).to_have_count(0)
            await _fits(page)
            await bell.click()
            await expect(page.locator(".notice")).to_have_count(1)
            await expect(page.locator(".notice-unread")).to_have_count(0)
            await _fits(page)
        assert errors == []
        await page.close()

    async with committed() as session:
        (notice,) = (await session.execute(select(Notification))).scalars().all()
        assert notice.recipient_id == ids["partner"]
        assert notice.read_at is not None
