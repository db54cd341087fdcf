"""« Générer des rapports PDF professionnels », in Chromium, on a desk (1440 px) and on a phone (390 px).

A partner opens a dossier's Rapports page (N and N-1 imported from FEC files), asks for the
report of N with a comment and a recipient, watches it get ready, downloads it; its first page,
drawn by ``pdftoppm``, is an image with something on it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.firm.models import Firm
from portal.jobs.models import JobStatus
from portal.ledger.files import ImportFiles
from portal.ledger.models import LedgerSource
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.dashboard.sample_ledger import CURRENT, PREVIOUS
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.pdfs import first_page_png, is_blank, pdf_text, squeezed
from tests.stories.console import watch_errors
from tests.waiting import wait_for_run

pytestmark = pytest.mark.browser

PARTNER = ("claire.durand@cabinet-durand.fr", "Claire Durand")
SIREN = "552008443"
WAIT = 30_000  # ms: the job, through the outbox and the broker


async def _seed(committed: async_sessionmaker[AsyncSession], settings: Settings, folder: Path) -> uuid.UUID:
    async with committed() as session, session.begin():
        session.add(Firm(name="Cabinet Durand & Associés"))
        dossier: Dossier = await make_dossier(session, name="Boulangerie Éclair SARL", siren=SIREN)
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER[0], name=PARTNER[1])
        accountant = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Julie Bernard")
        await add_role(session, accountant, dossier, DossierRole.ACCOUNTANT)
    # Both files imported by the workers, as an upload is (the portal's outbox relay sends the jobs).
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    for sample in (PREVIOUS, CURRENT):
        with sample.write(folder, SIREN).open("rb") as handle:
            name, size = files.save(handle)
        async with committed() as session, session.begin():
            record = await LedgerService(session).request_import(
                None, dossier, source=LedgerSource.UPLOAD, filename=sample.filename(SIREN), storage_name=name,
                size_bytes=size,
            )  # fmt: skip
        run = await wait_for_run(committed, record.job_run_id, timeout=60)  # type: ignore[arg-type]
        assert run.status is JobStatus.SUCCEEDED, run.error
    return dossier.id


@pytest.mark.parametrize("width", [1440, 390])
async def test_generate_a_pdf_report_and_download_it(  # noqa: PLR0917 - fixtures
    live_url: str,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
    width: int,
) -> None:
    dossier_id = await _seed(committed, settings, tmp_path)  # the portal is up: its relay sends the imports
    context = await browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    errors = watch_errors(page)
    await page.goto(f"{live_url}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER[0])
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{live_url}/")

    await page.goto(f"{live_url}/entreprises/{dossier_id}/tableau-de-bord/rapports")
    await expect(page.get_by_role("heading", name="Rapports", exact=True)).to_be_visible()
    await expect(page.get_by_text("Aucun rapport pour le moment.")).to_be_visible()
    await page.get_by_label("Exercice").select_option(label="01/01/2025 – 31/12/2025")
    await page.get_by_label("Titre").fill("Rapport de gestion 2025")
    await page.get_by_label("Commentaire de l'expert-comptable").fill("Une année de croissance.")
    await page.get_by_label("Julie Bernard").check()
    await page.screenshot(path=str(tmp_path / f"formulaire-{width}.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    await page.get_by_role("button", name="Générer le rapport").click()

    row = page.locator("#liste-rapports tr[data-report]").first
    await expect(row).to_contain_text("Rapport de gestion 2025")
    await expect(row.locator(".status")).to_have_text("Prêt", timeout=WAIT)  # the list polls until then
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    await page.screenshot(path=str(tmp_path / f"pret-{width}.png"), full_page=True)
    async with page.expect_download() as waiting:
        await row.get_by_role("link", name="Télécharger").click()
    download = await waiting.value
    assert download.suggested_filename.startswith("Rapport-Boulangerie-Eclair-SARL-")
    saved = tmp_path / "rapport.pdf"
    await download.save_as(saved)
    assert "Boulangerie Éclair SARL" in squeezed(pdf_text(saved.read_bytes()))

    png = first_page_png(saved, tmp_path / "page-1.png")
    assert png.is_file()
    assert png.stat().st_size > 0
    assert not is_blank(png)
    assert errors == []
    await context.close()
