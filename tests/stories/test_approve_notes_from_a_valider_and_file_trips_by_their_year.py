"""Expense notes in Chromium: the approver lands on À valider, and trips take the barème of their year.

A partner signs in while two colleagues' notes wait (and their own, which is not theirs to
approve): the menu shows 2 beside Notes de frais, which opens À valider with 2 in its tab,
each note with its period and the time it was submitted. The note shows its receipt as a
thumbnail; approving it says when, to the minute; Suivi shows its entry in the NDF journal,
balanced. An employee adds trips of 2024, 2025 and this year: each is paid by the barème of
its year (the 2025 one for 2026, until the next is published), named on the line, and the
amounts are those of the domain notes' table computed here. Every page at 1440 and 390 px.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import DossierRole, FirmRole
from portal.firm.models import Firm
from portal.settings import FIRM_TIMEZONE
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note
from tests.factories.firm import add_role, make_user
from tests.stories.console import watch_errors
from tests.stories.signing_in import sign_in_page

pytestmark = pytest.mark.browser

FIRM = "Cabinet Durand & Associés"
PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
JULIE = ("julie.bernard@cabinet-durand.fr", "Julie Bernard")
THOMAS = ("thomas.petit@cabinet-durand.fr", "Thomas Petit")
WIDTHS = ((1440, 900), (390, 844))
# The barème's first band for 5 CV (domain notes §8): up to 5,000 km a year, d × 0.636.
FIVE_CV_FIRST_BAND = Decimal("0.636")


async def _seed(committed: async_sessionmaker[AsyncSession]) -> None:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name=FIRM, is_firm_dossier=True)
        session.add(Firm(name=FIRM, own_dossier_id=dossier.id, billing_entity_id=dossier.id))
        partner = await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        julie = await make_user(session, email=JULIE[0], name=JULIE[1])
        thomas = await make_user(session, email=THOMAS[0], name=THOMAS[1])
        for person in (partner, julie, thomas):
            await add_role(session, person, dossier, DossierRole.EMPLOYEE)
        day = dt.datetime.now(FIRM_TIMEZONE).date().replace(day=1)
        await make_note(session, julie, dossier, title="Frais de Julie", day=day, submit=True)
        await make_note(session, thomas, dossier, title="Frais de Thomas", day=day, submit=True)
        await make_note(session, partner, dossier, title="Frais de Claire", day=day, submit=True)


async def _shots(page: Page, folder: Path, name: str, *, check_width: bool = True) -> None:
    """The page at both widths, with no sideways scroll on the phone (``check_width``: a draft's entry forms are
    laid out by the shared form styles, not checked here)."""
    for width, height in WIDTHS:
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0 or not check_width, f"{name} scrolls sideways at {width} px"
    await page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})


# Resolves once the image has arrived or failed (then its natural width is 0).
LOADED = """image => image.complete || new Promise(done => {
    image.addEventListener("load", done, {once: true});
    image.addEventListener("error", done, {once: true});
})"""


def _expected(km: int) -> str:
    """A first trip of its year at 5 CV, as the barème gives it, in French."""
    amount = (FIVE_CV_FIRST_BAND * km).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{amount:.2f}".replace(".", ",")


async def _approve_from_a_valider(page: Page, base: str, shots: Path) -> None:
    """The partner signs in: 2 notes wait for them (their own is not theirs to approve)."""
    menu = page.get_by_role("navigation", name="Menu principal")
    await sign_in_page(page, base, PARTNER[0])
    entry = menu.get_by_role("link", name="Notes de frais")
    await expect(entry.locator(".nav-count")).to_have_text("2")
    await expect(entry).to_contain_text("2 notes attendent votre validation")
    await entry.click()
    await expect(page).to_have_url(f"{base}/notes-de-frais/a-valider")
    tab = page.get_by_role("navigation", name="Notes de frais").get_by_role("link", name="À valider")
    await expect(tab).to_have_attribute("aria-current", "page")
    await expect(tab.locator(".tab-count")).to_have_text("2")
    table = page.locator("main table")
    await expect(table.locator("tbody tr")).to_have_count(2)
    await expect(table).not_to_contain_text("Frais de Claire")
    await expect(table.locator("thead")).to_contain_text("Période")
    first_day = dt.datetime.now(FIRM_TIMEZONE).date().replace(day=1).strftime("%d/%m/%Y")
    await expect(table.locator("tbody tr").first).to_contain_text(first_day)
    await _shots(page, shots, "a-valider")

    # Julie's note: its receipt as a thumbnail, then approved to the minute.
    await table.get_by_role("row", name=re.compile(JULIE[1])).get_by_role("link").first.click()
    thumbnail = page.locator(".receipt-thumb img").first
    await expect(thumbnail).to_be_visible()
    await thumbnail.evaluate(LOADED)  # the page is shown before its images arrive
    assert await thumbnail.evaluate("image => image.naturalWidth") > 0, "the receipt's thumbnail is not an image"
    await _shots(page, shots, "note-soumise")
    await page.get_by_role("button", name="Approuver").click()
    await expect(page.locator(".badge", has_text="Approuvée").first).to_be_visible()
    approved = page.locator("dl.facts dd", has_text=PARTNER[1])
    await expect(approved).to_have_text(re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2} · Claire Durand$"))
    await expect(entry.locator(".nav-count")).to_have_text("1")

    # Suivi: the entry of the approved note, in the NDF journal, balanced.
    await page.goto(f"{base}/notes-de-frais/suivi")
    entries = page.locator("#ecritures table")
    await expect(entries).to_contain_text("NDF")
    await expect(entries).to_contain_text("421 Personnel - rémunérations dues")
    await expect(entries.locator(".entry-total")).to_contain_text("Équilibrée")
    await expect(entries.locator("tfoot")).to_contain_text("débit = crédit")
    await _shots(page, shots, "suivi")


async def _file_trips_of_three_years(page: Page, base: str, shots: Path) -> None:
    """Julie, an Employé who approves nothing, files trips of three years on a new note."""
    menu = page.get_by_role("navigation", name="Menu principal")
    await page.context.clear_cookies()
    await sign_in_page(page, base, JULIE[0])
    await expect(menu.locator(".nav-count")).to_have_count(0)
    await menu.get_by_role("link", name="Notes de frais").click()
    await expect(page).to_have_url(f"{base}/notes-de-frais")
    await page.get_by_role("link", name="Nouvelle note de frais").click()
    await page.get_by_label("Titre").fill("Trajets chez les clients")
    await page.get_by_role("button", name="Créer la note").click()
    today = dt.datetime.now(FIRM_TIMEZONE).date()
    await page.locator("summary", has_text="Indemnités kilométriques").click()
    help_text = page.locator("#bareme-applique")
    await expect(help_text).to_be_visible()
    if today.year > 2025:
        await expect(help_text).to_contain_text(
            f"Trajets de {today.year} : barème kilométrique 2025, le dernier publié, en vigueur jusqu'à la "
            f"publication du barème {today.year}."
        )
    this_year = "Barème 2025, 5 CV" if today.year == 2025 else f"Barème 2025 (en vigueur en {today.year}), 5 CV"
    trips = (
        (dt.date(2024, 9, 12), 40, "Barème 2024, 5 CV"),
        (dt.date(2025, 6, 10), 120, "Barème 2025, 5 CV"),
        (today, 30, this_year),
    )
    for day, km, bareme in trips:
        if not await page.locator("#ik-date").is_visible():
            await page.locator("summary", has_text="Indemnités kilométriques").click()
        await page.locator("#ik-date").fill(day.isoformat())
        await page.get_by_label("Puissance fiscale").select_option("5")
        await page.get_by_label("Kilomètres").fill(str(km))
        await expect(page.locator("#apercu-ik")).to_contain_text(f"Montant : {_expected(km)}")
        await expect(page.locator("#apercu-ik")).to_contain_text(bareme)
        await page.get_by_label("Trajet et objet").fill(f"Visite client, {km} km")
        await page.get_by_role("button", name="Ajouter le trajet").click()
        row = page.locator("table.expense-lines tbody tr", has_text=f"Visite client, {km} km")
        await expect(row).to_contain_text(bareme)
        await expect(row).to_contain_text(_expected(km))
        await expect(row).to_contain_text("premier trajet déclaré cette année")
    await _shots(page, shots, "note-trajets", check_width=False)


async def test_an_approver_lands_on_a_valider_and_trips_take_the_bareme_of_their_year(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _seed(committed)
    page = await browser.new_page(locale="fr-FR", viewport={"width": 1440, "height": 900})
    errors = watch_errors(page)
    await _approve_from_a_valider(page, live_url, tmp_path)
    await _file_trips_of_three_years(page, live_url, tmp_path)
    assert errors == []
