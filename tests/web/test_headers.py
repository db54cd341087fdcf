"""Every response carries the security headers, error pages and Litestar's own answers included;
HSTS over HTTPS; nothing a signed-in person sees is kept by a cache."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar, get
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.auth.guards import PUBLIC
from portal.auth.roles import FirmRole
from portal.jobs.runtime import Runtime
from portal.settings import Settings
from tests.browsing import csrf_token, serve_in_process, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
HSTS = "max-age=63072000; includeSubDomains"


def assert_secured(response: httpx.Response) -> None:
    headers = response.headers
    assert "default-src 'self'" in headers.get("content-security-policy", ""), (response.status_code, headers)
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in {"same-origin", "no-referrer"}


@get("/essai/panne", opt=PUBLIC, sync_to_thread=False)
def broken() -> str:
    message = "a bug"
    raise RuntimeError(message)


def _app(settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> Litestar:
    app = create_app(
        settings, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )
    app.register(broken)
    return app


@pytest.fixture
async def client_500(
    settings: Settings, session_maker: async_sessionmaker[AsyncSession], jobs: Runtime
) -> AsyncIterator[Client]:
    async with serve_in_process(_app(settings, session_maker)) as client:
        yield client


async def test_error_responses_carry_the_security_headers(client_500: Client, db_session: AsyncSession) -> None:
    client = client_500
    answers = {
        404: await client.get("/nulle-part"),  # Litestar's own, before any route is found
        405: await client.get("/deconnexion"),  # a route that only takes POST
        403: await client.post("/connexion", data={"email": "a@b.fr", "password": "x"}),  # no CSRF token
        413: await client.post(
            "/connexion",
            content=b"email=" + b"a" * (3 * 1024 * 1024),
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        401: await client.get("/entreprises", headers={"HX-Request": "true"}),
        500: await client.get("/essai/panne"),
    }
    user = await make_user(db_session)
    for _ in range(5):
        await sign_in(client, user.email, "mauvais-mot-de-passe")
    answers[429] = await sign_in(client, user.email, "mauvais-mot-de-passe")
    token = await csrf_token(client)
    answers[422] = await client.post("/connexion", data={"email": "a" * 400, "password": "x", "_csrf_token": token})
    for status, response in answers.items():
        assert response.status_code == status, (status, response.status_code)
        assert_secured(response)
        assert "strict-transport-security" not in response.headers  # served over http


async def test_signed_in_answers_are_never_stored_by_a_cache(client: Client, db_session: AsyncSession) -> None:
    sign_in_page = await client.get("/connexion")
    assert sign_in_page.headers["cache-control"] == "no-store"
    style = await client.get("/static/css/portal.css")
    assert style.status_code == 200
    assert "no-store" not in style.headers.get("cache-control", "")

    hidden = await make_dossier(db_session, name="Holding Discrète", is_confidential=True)
    user = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await sign_in(client, user.email, PASSWORD)
    for path, status in (
        ("/entreprises", 200),
        ("/entreprises?q=hold", 200),
        (f"/entreprises/{hidden.id}", 404),
        ("/nulle-part", 404),
        ("/entreprises/export.csv", 200),
    ):
        response = await client.get(path)
        assert response.status_code == status, path
        assert response.headers["cache-control"] == "no-store", path
        assert_secured(response)
    partial = await client.get("/entreprises?q=hold", headers={"HX-Request": "true"})
    assert partial.headers["cache-control"] == "no-store"


async def test_https_deployment_sends_hsts_on_every_response(
    settings: Settings, session_maker: async_sessionmaker[AsyncSession], jobs: Runtime
) -> None:
    https = settings.with_overrides(base_url="https://portail.example.fr")
    async with serve_in_process(_app(https, session_maker)) as client:
        for response in (
            await client.get("/connexion"),
            await client.get("/nulle-part"),
            await client.get("/deconnexion"),
            await client.get("/essai/panne"),
        ):
            assert response.headers["strict-transport-security"] == HSTS
            assert_secured(response)
