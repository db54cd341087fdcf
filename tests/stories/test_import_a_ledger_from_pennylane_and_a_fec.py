"""Issue 5's story in Chromium: a dossier's sources and ledger.

A partner connects Pennylane from the dossier's Connexions page through the local
sandbox (its consent page, OAuth with PKCE), chooses two fiscal years and imports them,
watching the steps; then uploads a sample FEC to another dossier and reads its entries;
then uploads a broken FEC and reads the line-numbered report of why nothing was imported.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.demo import fictional_siren
from portal.firm.models import Firm
from portal.jobs.runtime import Runtime
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from tests.browsing import loopback_listener, serving
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.samples import FEC_SAMPLES
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
DATA = FEC_SAMPLES
SAMPLE = DATA / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
WAIT = 30_000  # ms: background jobs, through the outbox and the broker


@pytest.fixture
async def portal_url(
    committed: async_sessionmaker[AsyncSession], settings: Settings, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """The portal on loopback with its Pennylane sandbox, the outbox relay and the test workers pointed at it."""
    async with loopback_listener() as (listener, base):
        live = settings.with_overrides(
            sandbox=True, base_url=base, pennylane_oauth_url=f"{base}/sandbox/pennylane/oauth",
            pennylane_api_url=f"{base}/sandbox/pennylane/api/external/v2", pennylane_client_id=SANDBOX_CLIENT_ID,
            pennylane_client_secret=SANDBOX_CLIENT_SECRET, pennylane_poll_seconds=0.05,
        )  # fmt: skip
        monkeypatch.setattr(jobs, "settings", live)
        app = create_app(live, background=True, embedded_worker=False, migrate_on_start=False)
        async with serving(app, listener):
            yield base


@dataclass
class Story:
    base: str
    page: Page
    shots: Path

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


async def _seed(committed: async_sessionmaker[AsyncSession]) -> dict[str, uuid.UUID]:
    async with committed() as session, session.begin():
        firm_dossier = await make_dossier(session, name="Cabinet Durand & Associés", is_firm_dossier=True)
        session.add(Firm(name="Cabinet Durand & Associés", own_dossier_id=firm_dossier.id))
        bakery: Dossier = await make_dossier(session, name="Boulangerie Martin", siren=fictional_siren("81234567"))
        farm: Dossier = await make_dossier(session, name="Exploitation du Val", closing_day=31, closing_month=8)
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
    return {"bakery": bakery.id, "farm": farm.id}


async def _sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER[0])
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{base}/")


async def _open_connexions(story: Story, dossier_id: uuid.UUID) -> None:
    page = story.page
    await page.goto(f"{story.base}/entreprises/{dossier_id}")
    await page.get_by_role("link", name="Connexions").first.click()
    await expect(page.get_by_role("heading", name="Connexions")).to_be_visible()


async def _upload(story: Story, path: Path) -> None:
    """The sample's name carries another number than the dossier's SIREN: the portal asks, the partner imports."""
    page = story.page
    await page.get_by_label("Fichier des écritures comptables").set_input_files(str(path))
    await page.get_by_role("button", name="Importer le fichier").click()
    await expect(page.locator("#verification")).to_contain_text("qui n'est pas le SIREN du dossier")
    await page.get_by_role("button", name="Importer quand même").click()
    await expect(page.get_by_role("status").filter(has_text="l'import a commencé")).to_be_visible()


async def test_pennylane_fec_upload_and_the_report_of_a_broken_file(
    portal_url: str,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    ids = await _seed(committed)
    page = await browser.new_page(locale="fr-FR")
    errors = watch_errors(page)
    story = Story(portal_url, page, tmp_path)
    await _sign_in(page, portal_url)
    await _pennylane(story, ids["bakery"])
    await _sample(story, ids["farm"])
    await _broken(story, ids["farm"], tmp_path)
    assert errors == []


async def _pennylane(story: Story, dossier_id: uuid.UUID) -> None:
    """Pennylane through the sandbox: consent, two fiscal years, the import's steps, the entries."""
    page = story.page
    await _open_connexions(story, dossier_id)
    await page.get_by_role("button", name="Connecter Pennylane").click()
    await expect(page.get_by_text("Export du FEC")).to_be_visible()
    await expect(page.get_by_text("Lecture des exercices")).to_be_visible()
    await page.get_by_label("Boulangerie Martin").check()
    await story.shot("consentement")
    await page.get_by_role("button", name="Autoriser").click()
    await expect(page.get_by_role("heading", name="Sélectionnez les exercices à importer")).to_be_visible()
    years = page.locator("#exercices-pennylane")
    await expect(years).to_have_attribute("data-waiting", "non", timeout=WAIT)
    boxes = years.get_by_role("checkbox")
    for index in range(await boxes.count()):
        await boxes.nth(index).uncheck()
    await years.get_by_label("Exercice du 01/01/2024 au 31/12/2024").check()
    await years.get_by_label("Exercice du 01/01/2023 au 31/12/2023").check()
    await story.shot("exercices")
    await page.get_by_role("button", name="Importer les exercices sélectionnés").click()
    await expect(page.get_by_role("heading", name="Connexions")).to_be_visible()
    imported = page.locator("#exercices-importes")
    await expect(imported.locator("tr[data-exercice]")).to_have_count(2, timeout=WAIT)
    await expect(imported).to_contain_text("01/01/2023 – 31/12/2023")
    await expect(imported).to_contain_text("01/01/2024 – 31/12/2024")
    await expect(page.locator("#liste-imports tr[data-status='succeeded']")).to_have_count(2)
    await story.shot("pennylane-importe")
    await imported.locator("tr[data-exercice='2024-12-31']").get_by_role("link", name="Voir les écritures").click()
    await expect(page.get_by_role("heading", name="Comptabilité")).to_be_visible()
    await expect(page.locator("#ecritures tbody.entry").first).to_be_visible()


async def _sample(story: Story, dossier_id: uuid.UUID) -> None:
    """A sample FEC, uploaded, and its entries."""
    page = story.page
    await _open_connexions(story, dossier_id)
    await _upload(story, SAMPLE)
    row = page.locator("#liste-imports tr[data-import]").first
    await expect(row).to_have_attribute("data-status", "succeeded", timeout=WAIT)
    await expect(page.locator("#exercices-importes")).to_contain_text("01/09/2021 – 31/08/2022")
    await page.get_by_role("link", name="Voir les écritures").first.click()
    await expect(page.locator(".result-count")).to_contain_text("2 033")
    await page.get_by_label("Journal").select_option("ANO")
    await page.get_by_role("button", name="Afficher").click()
    await expect(page.locator("#ecritures tbody.entry").first).to_contain_text("ANO")
    await story.shot("ecritures")


async def _broken(story: Story, dossier_id: uuid.UUID, folder: Path) -> None:
    """A broken FEC: refused, with the line numbers of what is wrong; the ledger keeps the good import."""
    page = story.page
    lines = SAMPLE.read_bytes().split(b"\n")
    fields = lines[6].split(b"\t")
    fields[11] = b"1.234,00"  # a thousands separator, on the file's line 7
    lines[6] = b"\t".join(fields)
    broken = folder / SAMPLE.name
    broken.write_bytes(b"\n".join(lines))
    await _open_connexions(story, dossier_id)
    await _upload(story, broken)
    row = page.locator("#liste-imports tr[data-import]").first
    await expect(row).to_have_attribute("data-status", "refused", timeout=WAIT)
    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Rapport de contrôle")).to_be_visible()
    await expect(page.locator(".report-summary")).to_contain_text("rien n'a été importé")
    issue = page.locator("#anomalies tr.issue-error").first
    await expect(issue.locator("td.num")).to_have_text("7")
    await story.shot("rapport")
    await _open_connexions(story, dossier_id)
    await expect(page.locator("#exercices-importes tr[data-exercice]")).to_have_count(1)
