"""An administrator invites someone, takes back a choice, and reads the email on /dev/courriels, in Chromium.

On Utilisateurs › Nouveau the administrator types the address and the name, picks a client
dossier for « Utilisateur client », changes their mind (« Aucun »: nothing typed is lost) and
makes the person Employé of the firm's dossier; Administrateur is offered, Associé is not (not
theirs to give). The invitation lists that role and that dossier. On the development mail page
the email keeps its own styles (its button is blue) and the browser reports no Content Security
Policy violation: the email is framed from a route with a policy of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.firm.models import Firm
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.runtime import Runtime
from portal.settings import Settings
from tests.browsing import loopback_listener, serving
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user
from tests.stories.signing_in import sign_in_page
from tests.waiting import wait_for_run

pytestmark = pytest.mark.browser

FIRM = "Cabinet Durand & Associés"
CLIENT = "Boulangerie Martin"
ADMIN = "admin@cabinet-durand.fr"
INVITED = ("ines.moreau@cabinet-durand.fr", "Inès Moreau")
BUTTON_BLUE = "rgb(36, 71, 184)"  # #2447b8, the invitation's button, an inline style of the email


async def _seed(committed: async_sessionmaker[AsyncSession]) -> None:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name=FIRM, is_firm_dossier=True)
        session.add(Firm(name=FIRM, own_dossier_id=dossier.id, billing_entity_id=dossier.id))
        await make_dossier(session, name=CLIENT)
        await make_user(session, roles=(FirmRole.ADMIN,), email=ADMIN, name="Marc Lefèvre")
        await make_user(session, roles=(FirmRole.PARTNER,), name="Claire Durand")


async def _invite_after_a_change_of_mind(page: Page, base: str, shots: Path) -> None:
    await sign_in_page(page, base, ADMIN)
    await page.goto(f"{base}/utilisateurs/nouveau")
    await page.get_by_label("Adresse e-mail").fill(INVITED[0])
    await page.get_by_label("Nom", exact=True).fill(INVITED[1])
    role = page.get_by_label("Rôle dans le cabinet")
    await expect(role.locator("option")).to_have_text(["Aucun autre rôle", "Administrateur"])

    # « Utilisateur client » chosen, then taken back: the radio « Aucun », the rest of the form kept.
    client_choices = page.locator("#choix-client")
    none = client_choices.get_by_label("Aucun : pas d'utilisateur client")
    await expect(none).to_be_checked()
    await client_choices.get_by_label(CLIENT).check()
    await expect(client_choices.get_by_label(CLIENT)).to_be_checked()
    await none.check()
    await expect(client_choices.get_by_label(CLIENT)).not_to_be_checked()
    await expect(page.get_by_label("Adresse e-mail")).to_have_value(INVITED[0])
    await expect(page.get_by_label("Nom", exact=True)).to_have_value(INVITED[1])
    await page.get_by_label("Employé", exact=True).check()
    await _shots(page, shots, "nouvel-utilisateur")
    await page.get_by_role("button", name="Envoyer l'invitation").click()
    await expect(page.get_by_role("status").first).to_contain_text(INVITED[0])


async def _read_the_email(page: Page, base: str, shots: Path) -> None:
    """On the development mail page, styled by its own inline styles, its link masked."""
    await page.goto(f"{base}/dev/courriels")
    await page.get_by_role("link", name=re.compile("vous invite sur son portail|Invitation au Portail Cabinet")).click()
    frame = page.frame_locator("iframe.mail-html")
    button = frame.get_by_role("link", name="Choisir mon mot de passe")
    await expect(button).to_be_visible()
    await expect(button).to_have_css("background-color", BUTTON_BLUE)
    body = frame.locator("body")
    await expect(body).to_contain_text("Employé : " + FIRM)
    await expect(body).not_to_contain_text(CLIENT)
    await expect(body).to_contain_text("/invitation/***")  # the link is masked on this page
    await _shots(page, shots, "courriel")
    await page.reload()
    await expect(button).to_have_css("background-color", BUTTON_BLUE)


async def _shots(page: Page, folder: Path, name: str) -> None:
    for width, height in ((1440, 900), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1440, "height": 900})


async def test_an_administrator_undoes_a_choice_invites_and_reads_the_styled_email_without_csp_errors(
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    jobs: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    await _seed(committed)
    outbox = f"file://{tmp_path / 'courriels'}"
    monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(smtp_url=outbox, dev_mail_page=True))
    app = create_app(
        settings.with_overrides(smtp_url=outbox, dev_mail_page=True),
        background=True, embedded_worker=False, migrate_on_start=False,
    )  # fmt: skip
    page = await browser.new_page(locale="fr-FR", viewport={"width": 1440, "height": 900})
    console: list[ConsoleMessage] = []

    def heard(message: ConsoleMessage) -> None:
        console.append(message)

    page.on("console", heard)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    async with loopback_listener() as (listener, base), serving(app, listener):
        await _invite_after_a_change_of_mind(page, base, tmp_path)
        async with committed() as session:
            sending = select(JobRun.id).where(JobRun.actor_name == "firm.send_invitation")
            run_id = (await session.execute(sending)).scalar_one()
        assert (await wait_for_run(committed, run_id)).status == JobStatus.SUCCEEDED
        await _read_the_email(page, base, tmp_path)

    policy = [message.text for message in console if "Content Security Policy" in message.text]
    assert policy == []
    assert [message.text for message in console if message.type == "error"] == []
    assert errors == []
