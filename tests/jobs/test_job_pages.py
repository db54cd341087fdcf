"""Starting a job from a page and following it live, as the person who started it."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.app import create_app
from portal.auth.roles import DossierRole, FirmRole
from portal.settings import Settings
from tests.browsing import csrf_token, serve_in_process, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user


async def test_diagnostic_runs_in_the_background_with_live_progress(
    committed: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with committed() as session, session.begin():
        admin = await make_user(session, roles=(FirmRole.ADMIN,))
        other = await make_user(session, roles=(FirmRole.PARTNER,))
        # A client user of a confidential dossier the administrator is not granted: counted by nobody.
        secret = await make_dossier(session, name="Holding Discrète", is_confidential=True)
        hidden = User(email="dirigeant@discret.fr", name="Dirigeant Discret", roles=[])
        session.add(hidden)
        await session.flush()
        await add_role(session, hidden, secret, DossierRole.CLIENT_USER)
    app = create_app(settings, background=True, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client:
        await sign_in(client, admin.email, PASSWORD)
        token = await csrf_token(client, "/parametres/systeme")
        started = await client.post(
            "/parametres/systeme/diagnostic", data={"_csrf_token": token}, follow_redirects=False
        )
        assert started.status_code == 303
        location = started.headers["location"]
        assert re.fullmatch(r"/travaux/[0-9a-f-]{36}", location)

        page = await client.get(location)
        assert "Diagnostic du système" in page.text
        status: str | None = None
        for _ in range(200):
            fragment = await client.get(location, headers={"HX-Request": "true"})
            assert "<html" not in fragment.text  # htmx gets the partial only
            status = re.search(r'data-status="(\w+)"', fragment.text).group(1)  # type: ignore[union-attr]
            if status in {"succeeded", "failed"}:
                break
            assert 'hx-trigger="every 1s"' in fragment.text  # still polling while unfinished
            await asyncio.sleep(0.05)
        assert status == "succeeded"
        counted = re.search(r"<dt>Membres du cabinet</dt><dd>(\d+)</dd>", fragment.text)
        assert counted is not None, fragment.text
        assert counted.group(1) == "2"  # the administrator and the partner, never the hidden client user
        assert 'hx-trigger="every 1s"' not in fragment.text
        run_path = location

    async with serve_in_process(app) as client:
        await sign_in(client, other.email, PASSWORD)
        assert (await client.get(run_path)).status_code == 404
