"""Issue 4's story in Chromium: an invited collaborator, Comptable and Employé, files an expense note.

An admin invites a collaborator from Utilisateurs › Nouveau as Comptable on two client
dossiers and Employé of the firm's own dossier; the email arrives on a real SMTP server;
the person follows its link, chooses a password and is signed in; Mes dossiers lists their
two dossiers and no other; they file an expense note with a receipt and a mileage line and
submit it; a partner approves it and exports the note and its accounting entries.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import Browser, Download, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.firm.models import Firm
from portal.settings import FIRM_TIMEZONE
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.smtp import Inbox, link_token
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

ADMIN = ("marc.lefevre@cabinet-durand.fr", "Marc Lefèvre")
PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
INVITED = ("julie.bernard@cabinet-durand.fr", "Julie Bernard")
NEW_PASSWORD = "un-mot-de-passe-bien-long-2026"
FIRM_DOSSIER = "Cabinet Durand & Associés"
THEIRS = ("Boulangerie Martin", "Garage du Centre")
NOT_THEIRS = "Pharmacie des Halles"
WAIT = 20_000  # ms: a background job, through the outbox and the broker
# A real 1×1 PNG: the receipt's type is checked by its content.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f6c2b50000000049454e44ae426082"
)


async def _seed(committed: async_sessionmaker[AsyncSession]) -> dict[str, uuid.UUID]:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name=FIRM_DOSSIER, is_firm_dossier=True)
        session.add(Firm(name=FIRM_DOSSIER, own_dossier_id=firm_dossier.id, billing_entity_id=firm_dossier.id))
        ids = {FIRM_DOSSIER: firm_dossier.id}
        for name in (*THEIRS, NOT_THEIRS):
            dossier: Dossier = await make_dossier(session, name=name)
            ids[name] = dossier.id
        await make_user(session, roles=(FirmRole.ADMIN,), email=ADMIN[0], name=ADMIN[1])
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
    return ids


async def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _sign_out(page: Page, base: str) -> None:
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(f"{base}/connexion?deconnecte=1")


async def _pick(page: Page, field: str, query: str, name: str) -> None:
    """Search the dossier picker live and tick the dossier found, once the search has answered (as a
    person reads the results before ticking: the list shown before they arrive is about to be replaced)."""
    async with page.expect_response(lambda response: "/utilisateurs/dossiers" in response.url):
        await page.locator(f"#recherche-{field}").fill(query)
    option = page.locator(f"#choix-{field}").get_by_label(name)
    await expect(option).to_be_visible()
    await option.check()


def _today() -> str:
    """Lines dated today: never in the future, in the period Suivi shows, the year's first kilometres."""
    return dt.datetime.now(FIRM_TIMEZONE).date().isoformat()


def _rows(download_path: str) -> list[dict[str, str]]:
    text = Path(download_path).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def _amount(value: str) -> Decimal:
    return Decimal(value.replace("\u202f", "").replace(" ", "").replace(",", ".") or "0")


async def _download(page: Page, link_name: str) -> Download:
    async with page.expect_download() as info:
        await page.get_by_role("link", name=link_name).click()
    return await info.value


@dataclass
class Story:
    """The live portal, the page everyone drives in turn, the seeded dossiers and where screenshots go."""

    base: str
    page: Page
    ids: dict[str, uuid.UUID]
    shots: Path

    @property
    def menu(self) -> Locator:
        return self.page.get_by_role("navigation", name="Menu principal")

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


async def _invite(story: Story) -> None:
    """The admin invites Julie: Comptable on two client dossiers, Employé of the firm's dossier."""
    page = story.page
    await _sign_in(page, story.base, ADMIN[0], PASSWORD)
    await story.menu.get_by_role("link", name="Utilisateurs").click()
    await page.get_by_role("link", name="Nouveau").click()
    await expect(page.get_by_role("heading", name="Nouvel utilisateur")).to_be_visible()
    await page.get_by_label("Adresse e-mail").fill(INVITED[0])
    await page.get_by_label("Nom", exact=True).fill(INVITED[1])
    await page.get_by_label("Collaborateur du cabinet, Comptable des dossiers clients choisis ci-dessous").check()
    await _pick(page, "comptable", "boul", THEIRS[0])
    await _pick(page, "comptable", "garage", THEIRS[1])
    await expect(page.locator("#choix-comptable input:checked")).to_have_count(2)  # the first stays chosen
    await expect(page.get_by_label("Dossier du cabinet")).to_have_value(str(story.ids[FIRM_DOSSIER]))
    await page.get_by_label("Employé", exact=True).check()
    await story.shot("1-invitation")
    await page.get_by_role("button", name="Envoyer l'invitation").click()
    await expect(page.get_by_role("status").first).to_contain_text(INVITED[0])
    await page.goto(f"{story.base}/utilisateurs")
    row = page.locator("tr", has_text=INVITED[0])
    await expect(row).to_contain_text("Invitation envoyée", timeout=WAIT)
    for name in (*THEIRS, FIRM_DOSSIER):
        await expect(row).to_contain_text(name)
    await _sign_out(page, story.base)


async def _accept(story: Story, inbox: Inbox) -> None:
    """The email arrives on the SMTP server; its link is the way in, once."""
    page = story.page
    [message] = await inbox.wait_for(1)
    assert INVITED[0] in str(message["To"])
    token = link_token(message)
    await page.goto(f"{story.base}/invitation/{token}")
    await page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Enregistrer et me connecter").click()
    await expect(page.locator(".account-name")).to_have_text(INVITED[1])


async def _my_dossiers(story: Story) -> None:
    """Mes dossiers: the two dossiers, not the third, which does not exist for them."""
    page = story.page
    await story.menu.get_by_role("link", name="Mes dossiers").click()
    results = page.locator("#resultats")
    for name in THEIRS:
        await expect(results.get_by_role("link", name=name, exact=True)).to_be_visible()
    await expect(results).not_to_contain_text(NOT_THEIRS)
    await story.shot("2-mes-dossiers")
    response = await page.goto(f"{story.base}/entreprises/{story.ids[NOT_THEIRS]}")
    assert response is not None
    assert response.status == 404


async def _file_note(story: Story) -> None:
    """Julie files an expense note: a restaurant bill with its receipt, and a trip by car."""
    page = story.page
    await page.goto(f"{story.base}/entreprises")
    await story.menu.get_by_role("link", name="Notes de frais").click()
    await page.get_by_role("link", name="Nouvelle note de frais").click()
    await page.get_by_label("Titre").fill("Déplacement chez la Boulangerie Martin")
    await page.get_by_role("button", name="Créer la note").click()
    await expect(page.get_by_role("heading", name="Déplacement chez la Boulangerie Martin")).to_be_visible()

    await page.get_by_label("Date", exact=True).first.fill(_today())
    await page.get_by_label("Fournisseur", exact=True).fill("Brasserie des Terreaux")
    await page.get_by_label("Catégorie").select_option(label="Repas d'affaires")
    await page.get_by_label("Montant TTC (€)").fill("48,40")
    await page.get_by_label("TVA récupérable (€)").fill("4,40")
    await page.get_by_label("Justificatif").set_input_files(
        files=[{"name": "ticket.png", "mimeType": "image/png", "buffer": PNG}]
    )
    await page.get_by_role("button", name="Ajouter la dépense").click()
    lines = page.locator("table.expense-lines tbody")
    await expect(lines).to_contain_text("Brasserie des Terreaux")
    await expect(lines).to_contain_text("48,40")

    await page.get_by_text("Indemnités kilométriques", exact=True).click()
    await page.locator("#ik-date").fill(_today())
    await page.get_by_label("Puissance fiscale").select_option("5")
    await page.get_by_label("Kilomètres").fill("120")
    await page.get_by_label("Trajet et objet").fill("Lyon – Villeurbanne aller-retour, inventaire")
    await page.get_by_role("button", name="Ajouter le trajet").click()
    # 5 CV, first 120 km of the year: 120 × 0,636 € = 76,32 €.
    await expect(lines).to_contain_text("76,32")
    await expect(page.locator("tfoot")).to_contain_text("124,72")
    await story.shot("3-note")
    await page.get_by_role("button", name="Soumettre").click()
    await expect(page.locator(".badge", has_text="Soumise").first).to_be_visible()
    await _sign_out(page, story.base)


async def _approve_and_export(story: Story) -> None:
    """A partner views the receipt, approves the note, then exports its lines and its accounting entries."""
    page = story.page
    await _sign_in(page, story.base, PARTNER[0], PASSWORD)
    await story.menu.get_by_role("link", name="Notes de frais").click()
    await page.get_by_role("link", name="À valider").click()
    await page.locator("tr", has_text=INVITED[1]).get_by_role("link").first.click()
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="Ouvrir le justificatif").first.click()  # its thumbnail: the original
    receipt = await opened.value
    await receipt.wait_for_load_state()
    await receipt.close()
    await page.get_by_role("button", name="Approuver").click()
    await expect(page.locator(".badge", has_text="Approuvée").first).to_be_visible()
    await story.shot("4-approved")

    await story.menu.get_by_role("link", name="Notes de frais").click()
    await page.get_by_role("link", name="Suivi").click()
    await expect(page.locator("main")).to_contain_text(INVITED[1])
    lines = _rows(str(await (await _download(page, "Exporter les lignes (CSV)")).path()))
    assert [row["Fournisseur ou trajet"] for row in lines] == [
        "Brasserie des Terreaux",
        "Lyon – Villeurbanne aller-retour, inventaire",
    ]
    entries = _rows(str(await (await _download(page, "Exporter les écritures (CSV)")).path()))
    accounts = {row["CompteNum"] for row in entries}
    assert "44566" in accounts
    assert any(account.startswith("421") for account in accounts)
    assert any(account.startswith("625") for account in accounts)
    debit = sum(_amount(row["Debit"]) for row in entries)
    assert debit == sum(_amount(row["Credit"]) for row in entries) == Decimal("124.72")


async def test_an_invited_collaborator_files_an_expense_note_a_partner_approves_and_exports(
    live_url: str,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    tmp_path: Path,
) -> None:
    ids = await _seed(committed)
    page = await browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 900})
    errors = watch_errors(page)
    story = Story(base=live_url, page=page, ids=ids, shots=tmp_path)
    await _invite(story)
    await _accept(story, inbox)
    await _my_dossiers(story)
    await _file_note(story)
    await _approve_and_export(story)
    assert errors == []
