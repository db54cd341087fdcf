"""Seed 003, "Activer la gestion interne", walked in Chromium by a partner.

Paramètres › Informations générales: choose the entité facturante, then "Créer mes clients"
and watch the job finish; Facturation lists every dossier's client with its SIREN; a dossier
created with Nouveau (SIRET typed with spaces, after a wrong SIREN) gets its client in the
background; the firm's dossier is made confidential from the side panel of Entreprises, and
another partner no longer finds it anywhere.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stdnum import luhn

from portal.auth.roles import FirmRole
from portal.clients.identifiers import format_siren, format_siret
from portal.clients.models import Dossier
from portal.firm.models import Firm
from tests.factories.clients import valid_siren
from tests.factories.firm import PASSWORD, make_user
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

FIRM_DOSSIER = "Cabinet Martin Expertise"
NEW_DOSSIER = "Menuiserie Rousseau"
WALKER = ("claire.martin@cabinet-martin.fr", "Claire Martin")
OTHER_PARTNER = ("paul.bernard@cabinet-martin.fr", "Paul Bernard")
WIDTH = 1280
WAIT = 20_000  # ms: a background job, through the outbox and the broker


@dataclass
class Walk:
    """The live portal, the page the partner drives, the seeded data and where screenshots go."""

    base: str
    page: Page
    shots: Path
    firm_dossier_id: uuid.UUID
    sirens: dict[str, str | None]  # dossier name → SIREN, for every seeded dossier

    @property
    def menu(self) -> Locator:
        return self.page.get_by_role("navigation", name="Menu principal")

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


async def _seed(committed: async_sessionmaker[AsyncSession]) -> tuple[uuid.UUID, dict[str, str | None]]:
    """The firm with its own dossier, four client dossiers (one without SIREN), two partners."""
    sirens: dict[str, str | None] = {
        FIRM_DOSSIER: valid_siren(),
        "Boulangerie Dupont SARL": valid_siren(),
        "Garage des Lilas": valid_siren(),
        "Pharmacie du Centre": valid_siren(),
        # No SIREN, and the name of a client with one once the legal form is ignored: a possible duplicate.
        "Boulangerie Dupont": None,
    }
    async with committed() as session, session.begin():
        dossiers = {
            name: Dossier(name=name, siren=siren, is_firm_dossier=name == FIRM_DOSSIER, city="Lyon")
            for name, siren in sirens.items()
        }
        session.add_all(dossiers.values())
        await session.flush()
        session.add(Firm(name="Cabinet Martin", own_dossier_id=dossiers[FIRM_DOSSIER].id))
        for email, name in (WALKER, OTHER_PARTNER):
            await make_user(session, roles=(FirmRole.PARTNER,), email=email, name=name)
    return dossiers[FIRM_DOSSIER].id, sirens


def _watch_errors(page: Page) -> list[str]:
    return watch_errors(page)  # the deliberate 422 and 404 answers are not script errors


async def _sign_in(walk: Walk, who: tuple[str, str]) -> None:
    email, name = who
    await walk.page.goto(f"{walk.base}/connexion")
    await walk.page.get_by_label("Adresse e-mail").fill(email)
    await walk.page.get_by_label("Mot de passe").fill(PASSWORD)
    await walk.page.get_by_role("button", name="Se connecter").click()
    await expect(walk.page.locator(".account-name")).to_have_text(name)


def _fact(scope: Locator, term: str) -> Locator:
    """The value next to ``term`` in a ``<dl class="facts">``."""
    return scope.locator("dt", has_text=term).locator("xpath=following-sibling::dd[1]")


def _client_row(page: Page, name: str) -> Locator:
    return page.locator("table tbody tr").filter(has=page.get_by_role("cell", name=name, exact=True))


async def _reload_until_visible(page: Page, target: Locator) -> None:
    """Reload until ``target`` shows: a page does not refresh itself when a background job ends."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT / 1000
    while await target.count() == 0 and loop.time() < deadline:
        await asyncio.sleep(0.3)
        await page.reload()
    await expect(target).to_be_visible()


async def _link_billing_entity_and_create_clients(walk: Walk) -> None:
    """Paramètres › Informations générales: the entité facturante, then the encart's "Créer mes clients"."""
    page = walk.page
    await walk.menu.get_by_role("link", name="Paramètres").click()
    await expect(page).to_have_url(f"{walk.base}/parametres")
    await expect(page.get_by_role("link", name="Informations générales")).to_have_attribute("aria-current", "page")
    callout = page.get_by_role("region", name="Ajoutez vos clients au dossier de votre cabinet")
    await expect(callout).to_have_count(0)  # no encart before an entity is chosen
    entity = page.get_by_label("Entité facturante")
    await expect(entity).to_have_value("")
    await entity.select_option(label=f"{FIRM_DOSSIER} ({format_siren(walk.sirens[FIRM_DOSSIER])})")
    # Paramètres has several sections with their own Enregistrer: this one is the internal management's.
    await (
        page.get_by_role("region", name="Lier la gestion interne au").get_by_role("button", name="Enregistrer").click()
    )
    await expect(page.get_by_role("status")).to_have_text("Entité facturante enregistrée.")
    await expect(entity).to_have_value(str(walk.firm_dossier_id))
    await expect(callout).to_be_visible()
    await walk.shot("01-entite-facturante")

    await callout.get_by_role("button", name="Créer mes clients").click()  # htmx; the run then polls itself
    run = page.locator("#travail")
    await expect(run).to_be_visible()
    await expect(run).to_have_attribute("data-status", "succeeded", timeout=WAIT)
    await expect(run).to_contain_text("Terminé")
    everyone = str(len(walk.sirens) - 1)  # every dossier but the billing entity's own: it does not bill itself
    await expect(run.locator("progress")).to_have_count(0)  # a finished run shows its summary, not a bar
    await expect(_fact(run, "Dossiers examinés")).to_have_text(everyone)
    await expect(_fact(run, "Clients créés")).to_have_text(everyone)
    await expect(_fact(run, "Déjà présents")).to_have_text("0")
    await expect(_fact(run, "Doublons potentiels à vérifier")).to_have_text("1")
    await walk.shot("02-creer-mes-clients")


async def _check_client_base(walk: Walk) -> None:
    """Facturation: every dossier's client with its SIREN; the possible duplicate waits for review."""
    page = walk.page
    await walk.menu.get_by_role("link", name="Facturation").click()
    await expect(page).to_have_url(f"{walk.base}/facturation/clients")
    await expect(page.get_by_text(f"Entité facturante : {FIRM_DOSSIER}")).to_be_visible()
    await expect(page.locator(".result-count")).to_have_text(f"{len(walk.sirens) - 1} clients")
    await expect(_client_row(page, FIRM_DOSSIER)).to_have_count(0)  # the billing entity is not its own client
    for name, siren in walk.sirens.items():
        if name == FIRM_DOSSIER:
            continue
        row = _client_row(page, name)
        await expect(row).to_have_count(1)
        await expect(row.locator("td").nth(1)).to_have_text(format_siren(siren) if siren else "—")
        await expect(row.get_by_role("link", name=name, exact=True)).to_be_visible()  # the linked dossier
    duplicates = page.get_by_role("link", name="Doublons potentiels")
    await expect(duplicates.locator(".badge")).to_have_text("1")
    await walk.shot("03-base-clients")
    await duplicates.click()
    pair = page.get_by_role("region", name="Doublon potentiel")
    await expect(pair).to_have_count(1)
    await expect(pair.locator(".duplicate-choice").filter(has_text="Boulangerie Dupont SARL")).to_contain_text(
        format_siren(walk.sirens["Boulangerie Dupont SARL"])
    )
    await expect(pair.locator(".duplicate-choice").filter(has_text="sans SIREN")).to_contain_text("Boulangerie Dupont")


async def _create_dossier(walk: Walk) -> str:
    """Entreprises › Nouveau: a SIREN with a wrong key first, then the SIRET typed with spaces."""
    page = walk.page
    await walk.menu.get_by_role("link", name="Entreprises").click()
    await page.get_by_role("link", name="Nouveau").click()
    await expect(page.get_by_role("heading", name="Nouveau dossier")).to_be_visible()
    siren = valid_siren()
    wrong_siren = siren[:8] + str((int(siren[8]) + 1) % 10)  # one digit off: the Luhn key no longer matches
    nic = "0001" + luhn.calc_check_digit(siren + "0001")
    await page.get_by_label("Nom de l'entreprise").fill(NEW_DOSSIER)
    identifier = page.get_by_label("SIREN ou SIRET")
    await identifier.fill(format_siren(wrong_siren))
    await page.get_by_role("button", name="Créer le dossier").click()
    await expect(page.get_by_role("alert").filter(has_text="SIREN invalide")).to_have_text(
        "SIREN invalide : la clé de contrôle ne correspond pas."
    )
    await expect(identifier).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Nom de l'entreprise")).to_have_value(NEW_DOSSIER)  # what was typed is kept
    await expect(identifier).to_have_value(format_siren(wrong_siren))
    await walk.shot("04-siren-invalide")

    typed_siret = format_siret(siren, nic)  # "123 456 789 00012"
    assert typed_siret.count(" ") == 3
    await identifier.fill(typed_siret)
    await page.get_by_role("button", name="Créer le dossier").click()
    await expect(page.get_by_role("status")).to_have_text(f"Dossier créé : {NEW_DOSSIER}.")
    await expect(page.get_by_role("heading", name=NEW_DOSSIER)).to_be_visible()
    await expect(_fact(page.locator("main"), "SIREN")).to_have_text(format_siren(siren))
    await expect(_fact(page.locator("main"), "SIRET")).to_have_text(typed_siret)

    # Its client appears in Facturation by itself: a job requested through the outbox.
    await walk.menu.get_by_role("link", name="Facturation").click()
    client = _client_row(page, NEW_DOSSIER)
    await _reload_until_visible(page, client)
    await expect(client.locator("td").nth(1)).to_have_text(format_siren(siren))
    await expect(page.locator(".result-count")).to_have_text(f"{len(walk.sirens)} clients")
    await walk.shot("05-nouveau-client")
    return siren


async def _make_firm_dossier_confidential(walk: Walk) -> None:
    """Rendre un dossier confidentiel: search, point at the row, "Gérer le dossier client", the side panel."""
    page = walk.page
    await walk.menu.get_by_role("link", name="Entreprises").click()
    await expect(page.locator(".result-count")).to_have_text(f"{len(walk.sirens) + 1} dossiers")
    await page.get_by_label("Rechercher une entreprise").fill("Cabinet Martin")
    results = page.locator("#resultats")
    await expect(results.locator(".result-count")).to_have_text("1 dossier trouvé")  # narrowed by htmx
    rows = results.locator("tbody tr")
    await expect(rows).to_have_count(1)
    row = rows.first
    await expect(row.get_by_role("link", name=FIRM_DOSSIER)).to_be_visible()
    await expect(row).not_to_contain_text("Confidentiel")
    manage = row.get_by_role("link", name="Gérer le dossier client")
    await expect(manage).to_have_css("opacity", "0")  # the button shows when the row is pointed at
    await row.hover()
    await expect(row).to_have_css("background-color", "rgb(238, 240, 244)")  # the row greys a little
    await expect(manage).to_have_css("opacity", "1")
    await walk.shot("06-survol")

    await manage.click()
    drawer = page.get_by_role("complementary", name="Dossier client")
    title = drawer.get_by_role("heading", name=FIRM_DOSSIER)
    await expect(title).to_be_visible()
    await expect(title).to_be_focused()
    box = await drawer.bounding_box()
    assert box is not None
    assert box["x"] > WIDTH / 2  # on the right
    await expect(row).to_have_class("row-open")
    # The tab reloads the panel (htmx): wait for the new one before ticking anything in it.
    await drawer.locator(".drawer-panel").evaluate("panel => panel.setAttribute('data-avant', '')")
    await drawer.get_by_role("link", name="Infos entreprise").click()
    await expect(drawer.locator(".drawer-panel[data-avant]")).to_have_count(0)
    await expect(drawer.get_by_role("link", name="Infos entreprise")).to_have_attribute("aria-current", "page")
    box_of_confidentiality = drawer.get_by_role("group", name="Confidentialité")
    confidential = box_of_confidentiality.get_by_role("checkbox", name="Entreprise confidentielle")
    await expect(confidential).not_to_be_checked()
    await confidential.check()
    await drawer.get_by_role("button", name="Appliquer les changements").click()
    await expect(drawer.get_by_role("status")).to_have_text("Changements appliqués : le dossier est confidentiel.")
    await expect(drawer.get_by_role("checkbox", name="Entreprise confidentielle")).to_be_checked()
    # The list behind the panel says so at once, and the open dossier's row stays marked.
    await expect(row.locator(".badge", has_text="Confidentiel")).to_be_visible()
    await expect(row).to_have_class("row-open")
    await expect(results.locator(".result-count")).to_have_text("1 dossier trouvé")
    await walk.shot("07-confidentiel")
    await drawer.get_by_role("link", name="Fermer le volet").click()
    await expect(drawer.get_by_role("heading")).to_have_count(0)


async def _other_partner_finds_nothing(walk: Walk) -> None:
    """Another partner, not on the access list: not in Entreprises, not by search, 404, not in Facturation."""
    page = walk.page
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(f"{walk.base}/connexion?deconnecte=1")
    await _sign_in(walk, OTHER_PARTNER)
    await walk.menu.get_by_role("link", name="Entreprises").click()
    await expect(page.locator(".result-count")).to_have_text(f"{len(walk.sirens)} dossiers")  # one hidden, one new
    await expect(page.get_by_role("link", name=NEW_DOSSIER)).to_be_visible()
    await expect(page.get_by_text(FIRM_DOSSIER)).to_have_count(0)
    await page.get_by_label("Rechercher une entreprise").fill("Cabinet Martin")
    results = page.locator("#resultats")
    await expect(results.locator(".empty")).to_have_text("Aucune entreprise ne correspond à « Cabinet Martin ».")
    await expect(results.locator(".result-count")).to_have_text("0 dossier trouvé")
    siren = walk.sirens[FIRM_DOSSIER] or ""
    await page.get_by_label("Rechercher une entreprise").fill(siren)  # by SIREN neither
    await expect(results.locator(".empty")).to_have_text(f"Aucune entreprise ne correspond à « {siren} ».")
    await expect(page.get_by_text(FIRM_DOSSIER)).to_have_count(0)
    await walk.shot("08-autre-associe")

    response = await page.goto(f"{walk.base}/entreprises/{walk.firm_dossier_id}")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
    await expect(page.get_by_text(FIRM_DOSSIER)).to_have_count(0)

    await walk.menu.get_by_role("link", name="Facturation").click()
    await expect(page.get_by_text("Entité facturante : dossier confidentiel")).to_be_visible()
    await expect(_client_row(page, "Garage des Lilas")).to_have_count(1)
    await expect(page.locator(".result-count")).to_have_text(f"{len(walk.sirens)} clients")
    await expect(page.get_by_text(FIRM_DOSSIER)).to_have_count(0)


async def test_partner_activates_internal_management_and_hides_the_firm_dossier(
    live_url: str,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    firm_dossier_id, sirens = await _seed(committed)
    page = await browser.new_page(locale="fr-FR", viewport={"width": WIDTH, "height": 900})
    errors = _watch_errors(page)
    walk = Walk(base=live_url, page=page, shots=tmp_path, firm_dossier_id=firm_dossier_id, sirens=sirens)
    await _sign_in(walk, WALKER)

    await _link_billing_entity_and_create_clients(walk)
    await _check_client_base(walk)
    await _create_dossier(walk)
    await _make_firm_dossier_confidential(walk)
    await _other_partner_finds_nothing(walk)
    assert errors == []
