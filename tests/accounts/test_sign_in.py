"""Signing in and out, as a person does it through the sign-in page."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.jobs.runtime import Runtime
from portal.settings import Settings
from tests.browsing import CSRF_FIELD, csrf_token, serve_in_process, sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
SESSION_COOKIE = "portal_session"


async def test_sign_in_page_is_in_french(client: Client) -> None:
    page = await client.get("/connexion")
    assert page.status_code == 200
    assert "Connexion à l&#39;espace cabinet" in page.text or "Connexion à l'espace cabinet" in page.text
    assert "Adresse e-mail" in page.text
    assert "Mot de passe" in page.text


async def test_anonymous_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = await client.get("/entreprises?page=2", follow_redirects=False)
    assert response.status_code in {302, 303}
    assert response.headers["location"] == "/connexion?suivant=/entreprises%3Fpage%3D2"


async def test_htmx_request_without_session_gets_a_client_redirect(client: Client) -> None:
    response = await client.get("/entreprises", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/connexion")


async def test_partner_signs_in_and_sees_the_firm_space(client: Client, db_session: AsyncSession) -> None:
    await make_user(db_session, roles=(FirmRole.PARTNER,), email="claire@cabinet-test.fr", name="Claire Durand")
    response = await sign_in(client, "Claire@Cabinet-Test.fr ", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = await client.get("/entreprises")
    assert page.status_code == 200
    assert "Claire Durand" in page.text
    assert "Associé" in page.text
    for item in ("Entreprises", "Utilisateurs", "Paramètres"):
        assert f">{item}</a>" in page.text


async def test_sign_in_returns_to_the_page_asked_for(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    token = await csrf_token(client)
    response = await client.post(
        "/connexion",
        data={"email": user.email, "password": PASSWORD, "suivant": "/travaux", "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/travaux"


async def test_sign_in_never_redirects_off_site(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    token = await csrf_token(client)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client.cookies.clear()
        token = await csrf_token(client)
        response = await client.post(
            "/connexion",
            data={"email": user.email, "password": PASSWORD, "suivant": target, "_csrf_token": token},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", target


async def test_wrong_password_is_refused_with_a_clear_message(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    response = await sign_in(client, user.email, "pas-le-bon-mot-de-passe")
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in response.text
    assert user.email in response.text  # the email is kept in the form
    after = await client.get("/entreprises", follow_redirects=False)
    assert after.headers["location"].startswith("/connexion")


async def test_unknown_email_gets_the_same_answer(client: Client) -> None:
    response = await sign_in(client, "personne@inconnue.fr", PASSWORD)
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in response.text


async def test_deactivated_person_cannot_sign_in(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    user.is_active = False
    await db_session.flush()
    response = await sign_in(client, user.email, PASSWORD)
    assert response.status_code == 401


async def test_repeated_failures_lock_the_account_for_a_while(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    for _ in range(5):
        assert (await sign_in(client, user.email, "mauvais-mot-de-passe")).status_code == 401
    locked = await sign_in(client, user.email, PASSWORD)
    assert locked.status_code == 429
    assert "Trop de tentatives de connexion" in locked.text
    other = await make_user(db_session)
    assert (await sign_in(client, other.email, PASSWORD)).status_code == 303


async def test_post_without_csrf_token_is_refused(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    await client.get("/connexion")
    response = await client.post("/connexion", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "Formulaire expiré" in response.text
    assert (await client.get("/entreprises", follow_redirects=False)).status_code in {302, 303}


async def test_htmx_style_header_token_is_accepted(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    assert (await sign_in(client, user.email, PASSWORD)).status_code == 303
    refused = await client.post("/deconnexion", follow_redirects=False)
    assert refused.status_code == 403
    token = await csrf_token(client, "/entreprises")
    accepted = await client.post("/deconnexion", headers={"x-csrftoken": token}, follow_redirects=False)
    assert accepted.status_code == 303


async def test_session_id_changes_at_sign_in(client: Client, db_session: AsyncSession, app: Any) -> None:
    user = await make_user(db_session)
    store = app.stores.get("sessions")
    planted = "a" * 64
    await store.set(planted, b'{"planted": true}', expires_in=600)
    client.cookies.set(SESSION_COOKIE, planted)
    response = await sign_in(client, user.email, PASSWORD)
    assert response.status_code == 303
    new_id = response.cookies.get(SESSION_COOKIE)
    assert new_id
    assert new_id != planted
    assert await store.get(planted) is None


async def test_session_cookie_flags(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    response = await sign_in(client, user.email, PASSWORD)
    header = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "HttpOnly" in header
    assert "SameSite=lax" in header


async def test_sign_out_ends_the_session(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    response = await sign_in(client, user.email, PASSWORD)
    session_id = response.cookies[SESSION_COOKIE]
    token = await csrf_token(client, "/entreprises")
    signed_out = await client.post("/deconnexion", data={"_csrf_token": token}, follow_redirects=False)
    assert signed_out.headers["location"] == "/connexion?deconnecte=1"
    assert "Vous êtes déconnecté." in (await client.get("/connexion?deconnecte=1")).text
    client.cookies.set(SESSION_COOKIE, session_id)  # replaying the old cookie does not sign back in
    assert (await client.get("/entreprises", follow_redirects=False)).status_code in {302, 303}


async def test_bumping_the_epoch_ends_every_session_of_the_person(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    assert (await client.get("/entreprises")).status_code == 200
    await db_session.execute(update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1))
    assert (await client.get("/entreprises", follow_redirects=False)).status_code in {302, 303}
    # The dead session is forgotten: the sign-in page shows its form, no redirect loop.
    assert (await client.get("/connexion", follow_redirects=False)).status_code == 200


async def test_https_deployment_uses_secure_host_only_cookies(
    settings: Settings, session_maker: async_sessionmaker[AsyncSession], db_session: AsyncSession, jobs: Runtime
) -> None:
    user = await make_user(db_session)
    https = settings.with_overrides(base_url="https://portail.example.fr")
    app = create_app(
        https, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )
    async with serve_in_process(app) as client:
        page = await client.get("/connexion")
        csrf_cookie = next(v for k, v in page.headers.multi_items() if k == "set-cookie" and "csrftoken" in v)
        assert csrf_cookie.startswith("__Host-csrftoken=")
        assert "Secure" in csrf_cookie
        # httpx does not send Secure cookies over http; pass the token cookie by hand.
        token = CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]
        cookie_value = csrf_cookie.split(";", 1)[0].split("=", 1)[1]
        response = await client.post(
            "/connexion",
            data={"email": user.email, "password": PASSWORD, "_csrf_token": token},
            headers={"cookie": f"__Host-csrftoken={cookie_value}"},
        )
        session_cookie = next(
            v for k, v in response.headers.multi_items() if k == "set-cookie" and "portal_session" in v
        )
        assert session_cookie.startswith("__Host-portal_session=")
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie


async def test_signed_in_person_skips_the_sign_in_page(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    response = await client.get("/connexion?suivant=/travaux", follow_redirects=False)
    assert response.status_code in {302, 303}
    assert response.headers["location"] == "/travaux"
