"""Every page, in Chromium, on a desk (1440×900) and on a phone (390×844), for each kind of person.

On the demo's data (its firm, dossiers, people, Julie's expense note, the restaurant's lost till and two
imported fiscal years), a partner, an administrator, a collaborator and a collaborator who has just
accepted their invitation each walk every page reachable from the menu, the tabs and the pages' links
(one page of each route). On each page, at both widths: the page never scrolls sideways, nothing lies over
another element's controls, the tabs hold on one line, amounts are right-aligned, and the browser reports
no script error (tests/stories/walking.py). Then what a phone needs: the menu behind its button, the
dossier's side panel beside the list (or above it on a phone) covering nothing, a note's lines as cards
whose amounts show, an expense line added with its receipt taken from the camera.

``PORTAL_SHOTS=/some/folder`` saves a screenshot of every page at both widths there.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar import Litestar
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import demo
from portal.accounts.models import User
from portal.accounts.services import load_principal
from portal.auth.roles import DossierRole
from portal.clients.models import Dossier
from portal.firm.invitations import Grant, InvitationService
from portal.jobs.models import JobRun
from portal.settings import Settings
from tests.routes import handlers
from tests.smtp import Inbox, link_token
from tests.stories.console import watch_errors
from tests.stories.walking import Walk, open_menu, route_patterns
from tests.waiting import wait_for_run

pytestmark = [pytest.mark.browser, pytest.mark.once]

DESK, PHONE = (1440, 900), (390, 844)
NEWCOMER = ("nina.roux@cabinet-durand.fr", "Nina Roux")
NEW_PASSWORD = "trois-pommes-sous-le-pont-2026"
# A real 1×1 PNG: the receipt's type is checked by its content.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f6c2b50000000049454e44ae426082"
)
# The pages each person must have reached (by route): a walk that stopped early fails here.
MUST_REACH = {
    "associe": {
        "/",
        "/entreprises",
        "/entreprises/{dossier_id:uuid}",
        "/entreprises/{dossier_id:uuid}/connexions",
        "/entreprises/{dossier_id:uuid}/comptabilite",
        "/entreprises/{dossier_id:uuid}/tableau-de-bord",
        "/notes-de-frais/a-valider",
        "/notes-de-frais/{note_id:uuid}",
        "/portefeuille",
        "/facturation/clients",
        "/utilisateurs",
        "/parametres/journal",
        "/travaux",
        "/compte",
    },
    "admin": {"/", "/entreprises", "/utilisateurs", "/utilisateurs/{user_id:uuid}", "/parametres/systeme", "/compte"},
    "julie.bernard": {"/", "/entreprises/mes-dossiers", "/notes-de-frais", "/notes-de-frais/{note_id:uuid}"},
    "nina.roux": {"/", "/entreprises/mes-dossiers", "/notes-de-frais", "/compte"},
}


@dataclass
class Demo:
    base: str
    password: str
    routes: list
    shots: Path | None
    restaurant: uuid.UUID


@pytest.fixture
def routes(_shared_app: Litestar) -> list:
    """The app's GET routes: the walk visits one page of each."""
    return route_patterns(path for path, handler in handlers(_shared_app) if "GET" in handler.http_methods)


async def _seed(committed: async_sessionmaker[AsyncSession], settings: Settings, inbox: Inbox) -> tuple[str, str]:
    """The demo's data, and Nina invited by the partner (Comptable of the bakery, Employée of the firm)."""
    async with committed() as session, session.begin():
        login = await demo.seed(session, settings)
        assert login is not None
    assert await demo.seed_ledger(settings)
    async with committed() as session, session.begin():
        partner = (await session.execute(select(User).where(User.email == demo.PEOPLE[0][0]))).scalar_one()
        principal = await load_principal(session, partner.id, 0)
        assert principal is not None
        dossiers = {dossier.name: dossier for dossier in (await session.execute(select(Dossier))).scalars()}
        grants = [
            Grant(dossiers["Boulangerie Martin"].id, DossierRole.ACCOUNTANT),
            Grant(dossiers[demo.FIRM_NAME].id, DossierRole.EMPLOYEE),
        ]
        await InvitationService(session=session).invite(principal, email=NEWCOMER[0], name=NEWCOMER[1], grants=grants)
    # Nina's invitation, among the demo's emails (the holding's client user's, the notifications'): sent by a job.
    count = 1
    while not inbox.to(NEWCOMER[0]):
        await inbox.wait_for(count)
        count += 1
    [message] = inbox.to(NEWCOMER[0])
    # The demo's PDF report printed and every job done: no page is still polling for progress while walked.
    async with committed() as session:
        runs = (await session.execute(select(JobRun.id))).scalars().all()
    for run_id in runs:
        await wait_for_run(committed, run_id, timeout=180)
    return login.password, link_token(message)


async def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _walk(page: Page, run: Demo, label: str) -> None:
    walk = Walk(page, run.base, run.routes, (DESK, PHONE), run.shots, label)
    await walk.run(["/"])
    missing = MUST_REACH[label] - walk.seen
    assert not missing, f"{label} never reached {sorted(missing)}"
    await _side_panel(walk, run)
    assert walk.problems == {}, "\n".join(f"{page} : {problems}" for page, problems in walk.problems.items())


async def _side_panel(walk: Walk, run: Demo) -> None:
    """Entreprises with a dossier's panel open: beside the list on a desk, above it on a phone; it covers
    neither Exporter/Nouveau nor the person's menu, and its tabs hold on one line (the walk's checks)."""
    page = walk.page
    await page.set_viewport_size({"width": DESK[0], "height": DESK[1]})
    await page.goto(f"{run.base}/entreprises")
    row = page.locator(f'tr[data-dossier="{run.restaurant}"]')
    if not await row.count():
        return  # a person who does not see the restaurant
    await row.hover()
    await row.get_by_role("link", name="Gérer le dossier client").click()
    panel = page.get_by_role("complementary", name="Dossier client")
    await expect(panel.get_by_role("heading", name="Restaurant Le Cèdre")).to_be_focused()
    list_box = await page.locator("#resultats").bounding_box()
    panel_box = await panel.bounding_box()
    assert list_box
    assert panel_box
    assert list_box["x"] + list_box["width"] <= panel_box["x"]  # side by side
    await walk.check("/entreprises (volet)")
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    panel_box, list_box = await panel.bounding_box(), await page.locator("#resultats").bounding_box()
    assert panel_box
    assert list_box
    assert panel_box["y"] + panel_box["height"] <= list_box["y"]  # above the list
    await panel.get_by_role("link", name="Fermer le volet").click()
    await expect(panel.get_by_role("heading")).to_have_count(0)


async def _phone_menu(page: Page, base: str) -> None:
    """At 390 px the top bar is one line with a menu button; the menu unfolds and folds again."""
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    await page.goto(f"{base}/")
    header = await page.locator("header.topbar").bounding_box()
    assert header is not None
    assert header["height"] <= 64, header
    button = page.get_by_role("button", name="Menu")
    await expect(button).to_have_attribute("aria-expanded", "false")
    menu = page.get_by_role("navigation", name="Menu principal")
    await expect(menu).to_be_hidden()
    await button.click()
    await expect(button).to_have_attribute("aria-expanded", "true")
    await expect(menu.get_by_role("link", name="Entreprises")).to_be_visible()
    await expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(button).to_have_attribute("aria-expanded", "false")
    await expect(button).to_be_focused()
    await expect(menu).to_be_hidden()
    await page.set_viewport_size({"width": DESK[0], "height": DESK[1]})
    await expect(button).to_be_hidden()
    await expect(menu.get_by_role("link", name="Entreprises")).to_be_visible()


async def _file_a_line_from_a_phone(page: Page, base: str) -> None:
    """Nina files a note at 390 px: the form in one column, the receipt from the camera, the line's amounts."""
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    await open_menu(page)
    await page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Notes de frais").click()
    await page.get_by_role("link", name="Nouvelle note de frais").click()
    await page.get_by_label("Titre").fill("Déplacement chez Boulangerie Martin")
    await page.get_by_role("button", name="Créer la note").click()
    await expect(page.get_by_role("heading", name="Déplacement chez Boulangerie Martin")).to_be_visible()
    form = page.locator("details.add-line").filter(has_text="Ajouter une dépense")
    fields = ["Date", "Fournisseur", "Catégorie", "Montant TTC (€)", "TVA récupérable (€)"]
    boxes = [await form.get_by_label(name, exact=True).bounding_box() for name in fields]
    assert all(box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0] for box in boxes), boxes
    tops = [box["y"] for box in boxes if box]
    assert tops == sorted(set(tops)), "the fields are not in one column"
    await form.get_by_label("Date", exact=True).fill("2026-03-02")
    await form.get_by_label("Fournisseur", exact=True).fill("Brasserie des Halles")
    await form.get_by_label("Catégorie", exact=True).select_option(label="Repas d'affaires")
    await form.get_by_label("Montant TTC (€)").fill("42,50")
    await form.get_by_label("TVA récupérable (€)").fill("3,86")
    receipt = form.get_by_label("Justificatif", exact=True)
    async with page.expect_file_chooser() as chosen:
        await form.get_by_role("button", name="Prendre une photo").click()
    chooser = await chosen.value
    # Opened on the camera: accept="image/*" capture, then the usual choice again (a PDF stays possible).
    assert await receipt.evaluate("input => [input.accept, input.hasAttribute('capture')]") == ["image/*", True]
    await chooser.set_files({"name": "ticket.png", "mimeType": "image/png", "buffer": PNG})
    assert await receipt.evaluate("input => [input.accept, input.hasAttribute('capture')]") == [
        "image/jpeg,image/png,image/webp,application/pdf",
        False,
    ]
    await form.get_by_role("button", name="Ajouter la dépense").click()
    line = page.locator("table.expense-lines tbody tr", has_text="Brasserie des Halles")
    amount = line.locator("td", has_text="42,50 €")
    await expect(amount).to_be_visible()
    box = await amount.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE[0], "the line's amount is off the screen"
    await expect(amount).to_have_attribute("data-label", "Montant TTC")


# On SQLite, an aiosqlite connection of the in-process server is sometimes collected unclosed while the
# browser walks (a request the browser abandons as it navigates away); PostgreSQL shows nothing. Until it is
# found, this walk does not fail on that warning; every other warning still fails it.
@pytest.mark.filterwarnings("ignore:.*Connection.*:pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_every_page_holds_on_a_desk_and_a_phone(  # noqa: PLR0917 - pytest fixtures
    live_url: str,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    settings: Settings,
    inbox: Inbox,
    routes: list,
) -> None:
    password, token = await _seed(committed, settings, inbox)
    async with committed() as session:
        restaurant = (
            await session.execute(select(Dossier.id).where(Dossier.name == "Restaurant Le Cèdre"))
        ).scalar_one()
    shots = Path(os.environ["PORTAL_SHOTS"]) if os.environ.get("PORTAL_SHOTS") else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    run = Demo(live_url, password, routes, shots, restaurant)
    people = [email for email, _name, _roles in demo.PEOPLE[:3]]
    contexts: list[BrowserContext] = []
    try:
        for email in people:
            context = await browser.new_context(locale="fr-FR", viewport={"width": DESK[0], "height": DESK[1]})
            contexts.append(context)
            page = await context.new_page()
            errors = watch_errors(page)
            await _sign_in(page, live_url, email, password)
            if email == people[0]:
                await _phone_menu(page, live_url)
            await _walk(page, run, email.split("@")[0])
            assert errors == [], f"{email}: {errors}"
        # Nina follows her invitation's link, chooses her password, and walks the portal as it is to her.
        context = await browser.new_context(locale="fr-FR", viewport={"width": PHONE[0], "height": PHONE[1]})
        contexts.append(context)
        page = await context.new_page()
        errors = watch_errors(page)
        await page.goto(f"{live_url}/invitation/{token}")
        await page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
        await page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Enregistrer et me connecter").click()
        await expect(page).to_have_url(f"{live_url}/")
        await _file_a_line_from_a_phone(page, live_url)
        await _walk(page, run, "nina.roux")
        assert errors == [], f"{NEWCOMER[0]}: {errors}"
    finally:
        for context in contexts:
            await context.close()
