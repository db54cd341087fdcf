"""A till's API key mistyped, then right, then revoked at the source, walked in Chromium at 1440 px
and on a 390 px phone.

A partner pastes a wrong Zelty key on Restaurant Le Cèdre: Zelty (the local sandbox, through the
portal's own client) refuses it at once, and the form says « Clé refusée par Zelty » with the end
of what was pasted; nothing else happens: no « Zelty est connecté », no connection row, no job in
Travaux, no email to the dossier's Comptable. The right key connects. Only when that key, which
worked, is revoked at Zelty does the connection read « Autorisation expirée ou révoquée » and the
Comptable get the email; Travaux shows that run as « Échec », never « Terminé 0 % ».
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import DossierMembership
from portal.auth.roles import DossierRole, FirmRole
from portal.firm.models import Firm
from portal.integrations.models import Connection
from portal.jobs.models import JobRun, JobStatus
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user
from tests.stories import test_connect_and_sync_a_till as till_story
from tests.stories.console import watch_errors
from tests.stories.pages import no_sideways_scroll, sign_in
from tests.stories.test_connect_and_sync_a_till import Live

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
COMPTABLE = ("julie.bernard@cabinet-durand.fr", "Julie Bernard")
RESTAURANT = "Restaurant Le Cèdre"
CEDRE = "zelty-le-cedre"
WAIT = 60_000  # ms: background jobs, through the outbox and the broker, reading the sandbox over HTTP
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


# The portal on loopback with its commerce sandbox on the till story's Tuesday, the test workers pointed at it.
portal = till_story.portal


async def _seed(committed: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name="Cabinet Durand & Associés", is_firm_dossier=True)
        session.add(Firm(name="Cabinet Durand & Associés", own_dossier_id=firm_dossier.id))
        restaurant = await make_dossier(session, name=RESTAURANT)
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        comptable = await make_user(session, roles=(FirmRole.COLLABORATOR,), email=COMPTABLE[0], name=COMPTABLE[1])
        session.add(DossierMembership(dossier_id=restaurant.id, user_id=comptable.id, role=DossierRole.ACCOUNTANT))
    return restaurant.id


async def _count(committed: async_sessionmaker[AsyncSession], model: type, *where: Any) -> int:
    async with committed() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _told(committed: async_sessionmaker[AsyncSession]) -> list[JobRun]:
    """The email runs of the notices a lost authorisation writes (one a person), once they have sent them."""
    notify = JobRun.actor_name == "notifications.send_email"
    deadline = asyncio.get_running_loop().time() + WAIT / 1000
    while asyncio.get_running_loop().time() < deadline:
        async with committed() as session:
            runs = list((await session.execute(select(JobRun).where(notify))).scalars())
        if len(runs) >= 2 and all(run.status.is_final for run in runs):
            return runs
        await asyncio.sleep(0.2)
    raise AssertionError("no email about the lost authorisation")


async def _mistyped(page: Page, portal: Live, source_page: str, typo: str, shots: Path) -> None:
    """A mistyped key: refused by Zelty on the form, nothing else."""
    await page.goto(source_page)
    await page.get_by_label("Clé d'API Zelty").fill(typo)
    await page.get_by_role("button", name="Connecter", exact=True).click()
    refusal = page.locator("#erreur-cle")
    await expect(refusal).to_contain_text(
        f"Clé refusée par Zelty : la clé se terminant par « …{typo[-4:]} » n'est pas reconnue."
    )
    await expect(page.get_by_label("Clé d'API Zelty")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Clé d'API Zelty")).to_have_value("")  # the secret is not sent back
    await expect(page.locator("#connexion")).to_have_attribute("data-state", "none")
    await expect(page.get_by_text("Zelty est connecté")).to_have_count(0)
    await page.screenshot(path=str(shots / "01-cle-refusee-1440.png"), full_page=True)
    await page.set_viewport_size(PHONE)
    await no_sideways_scroll(page)
    await page.screenshot(path=str(shots / "02-cle-refusee-390.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def _revoked_later(page: Page, portal: Live, source_page: str, shots: Path) -> None:
    """Revoked at Zelty after it worked: now, and only now, the authorisation is lost and people told."""
    portal.commerce.revoke_key(CEDRE)
    await page.goto(f"{source_page}/mapping")
    await page.get_by_role("button", name="Relire les caisses, moyens de paiement et taux").click()
    asked = page.get_by_role("status").filter(has_text="Lecture des données de référence demandée.")
    await expect(asked).to_be_visible()
    row = page.locator("tbody tr").filter(has_text="Lecture du compte et des données de référence").first
    deadline = asyncio.get_running_loop().time() + WAIT / 1000
    await page.goto(f"{portal.base}/travaux")
    while await row.locator(".status-running, .status-queued").count() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.3)  # Travaux does not refresh itself: read it again
        await page.reload()
    await expect(row.locator(".status")).to_have_text("Échec")
    await expect(row.locator("td").last).to_have_text("")  # no « 0 % » for work that ended
    await page.screenshot(path=str(shots / "03-travaux-echec-1440.png"), full_page=True)
    await row.get_by_role("link").first.click()
    run = page.locator("#travail")
    await expect(run).to_have_attribute("data-status", "failed")
    await expect(run).to_contain_text("La source n'accepte plus l'autorisation de ce dossier : reconnectez-la.")
    await expect(run.locator("progress")).to_have_count(0)
    await page.set_viewport_size(PHONE)
    await no_sideways_scroll(page)
    await page.screenshot(path=str(shots / "04-travail-echec-390.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    await page.goto(source_page)
    await expect(page.locator("#connexion")).to_have_attribute("data-state", "authorization_lost")
    await expect(page.locator("#connexion")).to_contain_text("Autorisation expirée ou révoquée")


async def test_a_mistyped_key_is_refused_on_the_form_and_only_a_lost_grant_raises_the_alarm(
    portal: Live, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    dossier_id = await _seed(committed)
    page = await browser.new_page(locale="fr-FR", viewport=DESKTOP)
    errors = watch_errors(page)
    await sign_in(page, portal.base, *PARTNER)
    source_page = f"{portal.base}/entreprises/{dossier_id}/connexions/sources/zelty"
    key = portal.commerce.account(CEDRE).api_key
    assert key is not None

    await _mistyped(page, portal, source_page, key[:-4] + "x7q2", tmp_path)
    await asyncio.sleep(2)  # what used to come seconds later: a lost authorisation, emails, a failed job
    await page.goto(source_page)
    await expect(page.locator("#connexion")).to_have_attribute("data-state", "none")
    await expect(page.get_by_text("Autorisation expirée ou révoquée")).to_have_count(0)
    assert (await _count(committed, Connection), await _count(committed, JobRun, JobRun.dossier_id == dossier_id)) == (
        0,
        0,
    )
    await page.goto(f"{portal.base}/travaux")
    await expect(page.get_by_text("Lecture du compte et des données de référence")).to_have_count(0)

    # The right key: connected, the account read by a worker.
    await page.goto(source_page)
    await page.get_by_label("Clé d'API Zelty").fill(key)
    await page.get_by_role("button", name="Connecter", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Zelty est connecté")).to_be_visible()
    await expect(page.locator("#compte-source")).to_have_text(RESTAURANT, timeout=WAIT)

    await _revoked_later(page, portal, source_page, tmp_path)
    told = await _told(committed)
    # the Comptable, and the partner who connected it: one notice and one email each
    assert [run.status for run in told] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED], [run.error for run in told]
    assert errors == []
