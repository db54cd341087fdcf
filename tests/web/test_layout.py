"""The firm-space layout, languages, security headers and the health check."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.roles import FirmRole
from tests.browsing import CSRF_FIELD, csrf_token, sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient


async def test_health_reports_database_and_broker(client: Client, settings: Any) -> None:
    response = await client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["dialect"] == ("sqlite" if settings.is_sqlite else "postgresql")
    assert body["broker"] == {"status": "ok", "kind": "stub" if settings.broker_is_embedded else "redis"}


async def test_pages_carry_security_headers_and_a_request_id(client: Client) -> None:
    response = await client.get("/connexion", headers={"X-Request-ID": "trace-12345678"})
    assert response.headers["X-Request-ID"] == "trace-12345678"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_htmx_is_vendored_and_carries_the_csrf_header(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    page = await client.get("/entreprises")
    assert '<script src="/static/vendor/htmx-2.0.11.min.js"' in page.text
    assert 'hx-headers=\'{"x-csrftoken": "' in page.text
    script = await client.get("/static/vendor/htmx-2.0.11.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text[:200]


async def test_layout_shows_name_and_roles(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, roles=(FirmRole.PARTNER, FirmRole.ADMIN), name="Marc Lefèvre")
    await sign_in(client, user.email, PASSWORD)
    page = await client.get("/utilisateurs")
    assert "Marc Lefèvre" in page.text
    assert '<span class="badge">Associé</span><span class="badge">Administrateur</span>' in page.text


async def test_english_is_available_and_remembered(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await sign_in(client, user.email, PASSWORD)
    token = await csrf_token(client, "/entreprises")
    switched = await client.post(
        "/compte/langue", data={"langue": "en", "retour": "/entreprises", "_csrf_token": token}, follow_redirects=False
    )
    assert switched.headers["location"] == "/entreprises"
    page = await client.get("/entreprises")
    for label in (">Companies</a>", ">Users</a>", ">Settings</a>", "Sign out", "Partner"):
        assert label in page.text
    stored = (await db_session.execute(select(User.locale).where(User.id == user.id))).scalar_one()
    assert stored == "en"


async def test_french_unless_english_is_chosen(client: httpx.AsyncClient) -> None:
    page = await client.get("/connexion", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Adresse e-mail" in page.text
    token = CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]
    await client.post("/langue", data={"langue": "en", "retour": "/connexion", "_csrf_token": token})
    assert "Email address" in (await client.get("/connexion")).text


async def test_every_page_is_served_as_html(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    user = await make_user(db_session, roles=(FirmRole.ADMIN,))
    assert (await client.get("/connexion")).headers["content-type"].startswith("text/html")
    refused = await sign_in(client, user.email, "mauvais-mot-de-passe")
    assert refused.headers["content-type"].startswith("text/html")
    await sign_in(client, user.email, PASSWORD)
    for path in (
        "/entreprises",
        "/utilisateurs",
        "/parametres",
        "/parametres/roles",
        "/parametres/journal",
        "/parametres/systeme",
        "/travaux",
        "/nulle-part",
    ):
        response = await client.get(path)
        assert response.headers["content-type"].startswith("text/html"), path


async def test_language_switch_never_redirects_off_site(client: httpx.AsyncClient) -> None:
    page = await client.get("/connexion")
    token = CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = await client.post(
            "/langue", data={"langue": "en", "retour": target, "_csrf_token": token}, follow_redirects=False
        )
        assert response.headers["location"] == "/", target
