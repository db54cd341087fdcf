"""« Créer mes clients » counted for whoever reads it, the billing entity's own dossier, and a merge
that asks first, walked in Chromium at 1440 px and on a 390 px phone.

A partner granted the confidential holding creates the clients: the summary counts the holding
for her, as her client base does (the figures agree), and says that confidential dossiers one
may not open are not counted. The firm's own dossier says it is the billing entity (no client
promised « en arrière-plan »). On her phone she merges two look-alike clients: « Fusionner… »
leads to a page naming both, the kept one and the one that goes, and nothing is merged until
she confirms. An administrator not granted the holding reads the same run without it, and
without a hint of it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.billing.models import BillingClient
from portal.clients.models import Dossier, DossierAccess
from portal.firm.models import Firm
from portal.jobs.models import JobRun
from tests.factories.clients import valid_siren
from tests.factories.firm import make_user
from tests.stories.console import watch_errors
from tests.stories.pages import fact, no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser

FIRM_DOSSIER = "Cabinet Martin Expertise"
HOLDING = "Holding Zéphyrin"
PARTNER = ("claire.martin@cabinet-martin.fr", "Claire Martin")
ADMIN = ("alain.admin@cabinet-martin.fr", "Alain Admin")
PUBLIC = ("Boulangerie Dupont SARL", "Boulangerie Dupont", "Garage des Lilas")  # the second without SIREN
NOT_COUNTED = "Les dossiers confidentiels auxquels vous n'avez pas accès ne sont pas comptés ici."
WAIT = 20_000  # ms: a background job, through the outbox and the broker
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Walk:
    base: str
    page: Page
    shots: Path
    firm_dossier_id: uuid.UUID

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


async def _seed(committed: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    """The firm and its own dossier, three client dossiers, the holding granted to the partner only."""
    async with committed() as session, session.begin():
        partner = await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        await make_user(session, roles=(FirmRole.ADMIN,), email=ADMIN[0], name=ADMIN[1])
        firm_dossier = Dossier(name=FIRM_DOSSIER, siren=valid_siren(), is_firm_dossier=True)
        holding = Dossier(name=HOLDING, siren=valid_siren(), is_confidential=True)
        others = [Dossier(name=name, siren=None if name == "Boulangerie Dupont" else valid_siren()) for name in PUBLIC]
        session.add_all([firm_dossier, holding, *others])
        await session.flush()
        session.add(DossierAccess(dossier_id=holding.id, user_id=partner.id))
        # The billing entity is chosen in the walk: the hourly « Créer mes clients » has nothing to do before.
        session.add(Firm(name="Cabinet Martin", own_dossier_id=firm_dossier.id))
    return firm_dossier.id


async def _create_my_clients(walk: Walk) -> None:
    """The partner's summary counts the holding she sees, as her client base does."""
    page = walk.page
    await page.goto(f"{walk.base}/parametres")
    await page.get_by_label("Entité facturante").select_option(value=str(walk.firm_dossier_id))
    await (
        page.get_by_role("region", name="Lier la gestion interne au").get_by_role("button", name="Enregistrer").click()
    )
    await expect(page.get_by_role("status")).to_have_text("Entité facturante enregistrée.")
    callout = page.get_by_role("region", name="Ajoutez vos clients au dossier de votre cabinet")
    await callout.get_by_role("button", name="Créer mes clients").click()
    run = page.locator("#travail")
    await expect(run).to_have_attribute("data-status", "succeeded", timeout=WAIT)
    mine = str(len(PUBLIC) + 1)  # the three client dossiers and the holding, not the billing entity itself
    await expect(fact(run, "Dossiers examinés")).to_have_text(mine)
    await expect(fact(run, "Clients créés")).to_have_text(mine)
    await expect(fact(run, "Déjà présents")).to_have_text("0")
    await expect(run.locator("#travail-note")).to_have_text(NOT_COUNTED)
    await walk.shot("01-creer-mes-clients-associee")
    await page.reload()  # read again from Paramètres: the same figures
    await expect(fact(page.locator("#travail"), "Clients créés")).to_have_text(mine)

    await page.goto(f"{walk.base}/facturation/clients")
    await expect(page.locator(".result-count")).to_have_text(f"{mine} clients")
    await expect(page.get_by_role("cell", name=HOLDING, exact=True).first).to_be_visible()


async def _firm_dossier_is_the_billing_entity(walk: Walk) -> None:
    page = walk.page
    await page.goto(f"{walk.base}/entreprises/{walk.firm_dossier_id}?onglet=facturation")
    await expect(page.locator("#entite-facturante")).to_have_text(
        "Ce dossier est l'entité facturante du cabinet : c'est lui qui facture les clients de la base clients. "
        "Il n'a donc pas de client à son nom dans cette base."
    )
    await expect(page.get_by_text("créé en arrière-plan")).to_have_count(0)
    await walk.shot("02-dossier-du-cabinet")


async def _merge_after_confirming(walk: Walk) -> None:
    """On a phone: « Fusionner… », the page naming both clients, « Annuler » first, then the confirmation."""
    page = walk.page
    await page.set_viewport_size(PHONE)
    await page.goto(f"{walk.base}/facturation/doublons")
    pair = page.get_by_role("region", name="Doublon potentiel")
    await expect(pair).to_have_count(1)
    await pair.get_by_label("Boulangerie Dupont SARL").check()
    await no_sideways_scroll(walk.page)
    await walk.shot("03-doublons-390")
    await pair.get_by_role("button", name="Fusionner…").click()

    await expect(page.get_by_role("heading", name="Fusionner deux clients")).to_be_visible()
    question = page.get_by_role("heading", name="Fusionner « Boulangerie Dupont » dans « Boulangerie Dupont SARL » ?")
    await expect(question).to_be_visible()
    await expect(page.get_by_text("Cette fusion est irréversible.")).to_be_visible()
    await expect(fact(page.locator(".duplicate-pair > div").nth(0), "Client")).to_have_text("Boulangerie Dupont SARL")
    await expect(fact(page.locator(".duplicate-pair > div").nth(1), "Client")).to_have_text("Boulangerie Dupont")
    await no_sideways_scroll(walk.page)
    await walk.shot("04-confirmer-la-fusion-390")
    await page.get_by_role("link", name="Annuler").click()
    await expect(page).to_have_url(f"{walk.base}/facturation/doublons")
    await expect(page.get_by_role("region", name="Doublon potentiel")).to_have_count(1)  # nothing merged

    await page.set_viewport_size(DESKTOP)
    await pair.get_by_label("Boulangerie Dupont SARL").check()
    await pair.get_by_role("button", name="Fusionner…").click()
    await walk.shot("05-confirmer-la-fusion-1440")
    await page.get_by_role("button", name="Confirmer la fusion").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Clients fusionnés : Boulangerie Dupont SARL est conservé avec tous ses dossiers."
    )
    await expect(page.get_by_text("Aucun doublon potentiel à vérifier.")).to_be_visible()


async def _admin_reads_the_run_without_the_holding(walk: Walk, run_id: uuid.UUID) -> None:
    page = walk.page
    await sign_in(walk.page, walk.base, *ADMIN)
    await page.goto(f"{walk.base}/travaux/{run_id}")
    run = page.locator("#travail")
    public = str(len(PUBLIC))
    await expect(fact(run, "Dossiers examinés")).to_have_text(public)
    await expect(fact(run, "Clients créés")).to_have_text(public)
    await expect(run.locator("#travail-note")).to_have_text(NOT_COUNTED)  # said to everyone alike
    await expect(page.get_by_text(HOLDING)).to_have_count(0)
    await walk.shot("06-travail-administrateur")


async def test_the_client_base_summary_the_firm_dossier_and_a_confirmed_merge(
    live_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    firm_dossier_id = await _seed(committed)
    page = await browser.new_page(locale="fr-FR", viewport=DESKTOP)
    errors = watch_errors(page)
    walk = Walk(base=live_url, page=page, shots=tmp_path, firm_dossier_id=firm_dossier_id)
    await sign_in(walk.page, walk.base, *PARTNER)
    await _create_my_clients(walk)
    await _firm_dossier_is_the_billing_entity(walk)
    await _merge_after_confirming(walk)
    async with committed() as session:
        asked = select(JobRun.id).where(
            JobRun.actor_name == "billing.create_clients", JobRun.created_by_id.is_not(None)
        )
        run_id = (await session.execute(asked)).scalar_one()  # the partner's (the scheduler runs one of its own)
        clients = await session.scalar(select(func.count()).select_from(BillingClient))
    assert clients == len(PUBLIC)  # four created, one merged away
    await _admin_reads_the_run_without_the_holding(walk, run_id)
    assert errors == []
