"""The real pages in Chromium: « Se connecter avec le fournisseur de démonstration », from the sign-in page
through the local OpenID provider's consent page to the firm space; an address the firm does not know
is refused on the sign-in page, and nothing is created for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.jobs.runtime import Runtime
from portal.sandbox.oidc import reset_state
from portal.settings import Settings
from portal.sso import openid
from portal.sso.models import SsoIdentity
from tests.browsing import loopback_listener, serving
from tests.factories.firm import make_user
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser
BUTTON = "Se connecter avec le fournisseur de démonstration"


@pytest.fixture
async def portal_url(
    committed: async_sessionmaker[AsyncSession], settings: Settings, jobs: Runtime
) -> AsyncIterator[str]:
    """The portal on loopback with the sandbox on: its OpenID provider is the sign-in page's."""
    openid.forget()
    reset_state()
    async with loopback_listener() as (listener, base):
        live = settings.with_overrides(sandbox=True, base_url=base, oidc_issuer=f"{base}/sandbox/oidc",
                                       oidc_client_id="portail-cabinet-sandbox",
                                       oidc_client_secret="sandbox-secret-not-for-production")  # fmt: skip
        app = create_app(live, background=True, embedded_worker=False, migrate_on_start=False)
        async with serving(app, listener):
            yield base


async def test_a_partner_signs_in_through_the_openid_sandbox(
    portal_url: str, browser: Browser, committed: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with committed() as session, session.begin():
        await make_user(session, roles=(FirmRole.PARTNER,), email="claire@cabinet-test.fr", name="Claire Durand")
    page = await browser.new_page(locale="fr-FR", viewport={"width": 390, "height": 844})
    errors = watch_errors(page)

    # Someone the firm does not know: the provider vouches for them, the portal says no.
    await page.goto(f"{portal_url}/entreprises")
    await expect(page).to_have_url(f"{portal_url}/connexion?suivant=/entreprises")
    await page.screenshot(path=str(tmp_path / "sign-in-390.png"), full_page=True)
    await page.get_by_role("link", name=BUTTON).click()
    await expect(page.get_by_role("heading", name="Se connecter à Portail Cabinet")).to_be_visible()
    await page.get_by_label("Adresse e-mail", exact=True).fill("inconnu@exemple.fr")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("alert")).to_contain_text(
        "Aucun compte du cabinet n'est associé à cette adresse e-mail."
    )
    await expect(page.get_by_role("heading", name="Connexion à l'espace cabinet")).to_be_visible()

    # The partner: through the provider's page, straight to where she was going.
    await page.set_viewport_size({"width": 1440, "height": 900})
    await page.goto(f"{portal_url}/entreprises")
    await page.get_by_role("link", name=BUTTON).click()
    await page.get_by_label("Adresse e-mail", exact=True).fill("claire@cabinet-test.fr")
    await page.get_by_label("Nom", exact=True).fill("Claire Durand")
    await page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{portal_url}/entreprises")
    await expect(page.get_by_role("heading", name="Entreprises")).to_be_visible()
    await expect(page.locator(".account-name")).to_have_text("Claire Durand")
    await page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)

    async with committed() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1
        links = list((await session.execute(select(SsoIdentity))).scalars())
        assert [link.email for link in links] == ["claire@cabinet-test.fr"]
    assert errors == []
