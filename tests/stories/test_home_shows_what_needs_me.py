"""Accueil in Chromium: after signing in, a partner sees what waits for them, and each link leads to its fix.

Julie's expense note waits for approval; the restaurant's till (Zelty) lost its authorisation. The
partner lands on Accueil, sees both, follows the note's link to the note (where « Approuver » is), then
the connection's to the source's page (where « Connecter » is), on a desk (1440 px) and on a phone
(390 px), with nothing wider than the screen. Once both are dealt with, Accueil says all is up to date.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import DossierRole, FirmRole
from portal.expenses.services import today
from portal.firm.models import Firm
from portal.integrations.commerce import tasks as commerce_tasks
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.stories.console import watch_errors
from tests.stories.walking import open_menu

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
FIRM_DOSSIER = "Cabinet Durand & Associés"
RESTAURANT = "Restaurant Le Cèdre"
NOTE = "Inventaire chez Boulangerie Martin"


async def _seed(committed: async_sessionmaker[AsyncSession]) -> dict[str, uuid.UUID]:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name=FIRM_DOSSIER, is_firm_dossier=True)
        session.add(Firm(name=FIRM_DOSSIER, own_dossier_id=firm_dossier.id))
        restaurant = await make_dossier(session, name=RESTAURANT)
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        julie = await make_user(session, name="Julie Bernard")
        await add_role(session, julie, firm_dossier, DossierRole.EMPLOYEE)
        note = await make_note(session, julie, firm_dossier, title=NOTE, day=today(), submit=True)
        till = Connection(
            dossier_id=restaurant.id, provider=Provider.ZELTY, auth_method=AuthMethod.API_KEY,
            status=ConnectionStatus.AUTHORIZATION_LOST, last_error=commerce_tasks.LOST,
            connected_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40),
        )  # fmt: skip
        session.add(till)
        await session.flush()
        return {"note": note.id, "restaurant": restaurant.id, "till": till.id}


async def _no_sideways_scroll(page: Page) -> None:
    overflow = await page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


async def _walk(page: Page, base: str, ids: dict[str, uuid.UUID], shots: Path, width: int) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER[0])
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")
    await expect(page.get_by_role("heading", name="Ce qui m'attend")).to_be_visible()
    await expect(page.locator(".main-nav a").first).to_have_text("Accueil")
    await expect(page.locator('.main-nav a[aria-current="page"]')).to_have_text("Accueil")

    notes = page.locator("#attente-notes-to-approve")
    await expect(notes.get_by_role("heading")).to_have_text("1 note de frais à valider")
    await expect(notes).to_contain_text("Julie Bernard")
    connections = page.locator("#attente-connections")
    await expect(connections.get_by_role("heading")).to_have_text("1 connexion expirée ou en erreur")
    await expect(connections).to_contain_text("Autorisation expirée ou révoquée : reconnectez la source.")
    await _no_sideways_scroll(page)
    await page.screenshot(path=str(shots / f"accueil-{width}.png"), full_page=True)

    # The note's link leads to the note, where the partner approves it.
    await notes.get_by_role("link", name=f"· {NOTE}").click()
    await expect(page).to_have_url(f"{base}/notes-de-frais/{ids['note']}")
    await expect(page.get_by_role("button", name="Approuver")).to_be_visible()
    await _no_sideways_scroll(page)

    # Back on Accueil, the connection's link leads to the till's page, where it is connected again.
    await open_menu(page)
    await page.locator(".main-nav").get_by_role("link", name="Accueil").click()
    await page.locator("#attente-connections").get_by_role("link", name=f"{RESTAURANT} · Zelty").click()
    await expect(page).to_have_url(f"{base}/entreprises/{ids['restaurant']}/connexions/sources/zelty")
    await expect(page.get_by_text("Zelty n'accepte plus l'autorisation de ce dossier")).to_be_visible()
    await expect(page.get_by_role("button", name="Connecter", exact=True)).to_be_visible()
    await _no_sideways_scroll(page)
    await open_menu(page)
    await page.get_by_role("button", name="Se déconnecter").click()


async def test_accueil_shows_a_note_to_approve_and_a_failed_connection_each_leading_to_its_fix(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    ids = await _seed(committed)
    for width, height in ((1440, 900), (390, 844)):
        page = await browser.new_page(locale="fr-FR", viewport={"width": width, "height": height})
        errors = watch_errors(page)
        await _walk(page, live_url, ids, tmp_path, width)
        assert errors == []
        await page.close()

    # The partner approves the note; the till is given up (disconnected): nothing waits any more.
    page = await browser.new_page(locale="fr-FR", viewport={"width": 390, "height": 844})
    await page.goto(f"{live_url}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER[0])
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.locator("#attente-notes-to-approve").get_by_role("link", name=f"· {NOTE}").click()
    await page.get_by_role("button", name="Approuver").click()
    await expect(page.get_by_role("status").first).to_be_visible()
    async with committed() as session, session.begin():
        till = await session.get(Connection, ids["till"])
        assert till is not None
        till.status = ConnectionStatus.DISCONNECTED
    await page.goto(f"{live_url}/")
    await expect(page.get_by_text("Tout est à jour : rien ne vous attend.")).to_be_visible()
    await _no_sideways_scroll(page)
