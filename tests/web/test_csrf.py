"""CSRF tokens are bound to the session they were issued in."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.browsing import csrf_token, sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
CSRF_COOKIE = "csrftoken"


async def test_a_csrf_token_taken_from_one_session_is_refused_in_another(
    client: Client, db_session: AsyncSession
) -> None:
    first, second = await make_user(db_session), await make_user(db_session)
    assert (await sign_in(client, first.email, PASSWORD)).status_code == 303
    stolen_token = await csrf_token(client, "/entreprises")
    stolen_cookie = client.cookies[CSRF_COOKIE]

    client.cookies.clear()  # another browser
    assert (await sign_in(client, second.email, PASSWORD)).status_code == 303
    await csrf_token(client, "/entreprises")
    client.cookies.delete(CSRF_COOKIE)
    client.cookies.set(CSRF_COOKIE, stolen_cookie)  # the pair planted in this browser
    refused = await client.post("/compte/langue", data={"langue": "en", "_csrf_token": stolen_token})
    assert refused.status_code == 403
    assert "Formulaire expiré" in refused.text
    refused = await client.post("/deconnexion", headers={"x-csrftoken": stolen_token}, follow_redirects=False)
    assert refused.status_code == 403

    # The page issues this session's own token again; with it the same form goes through.
    client.cookies.delete(CSRF_COOKIE)
    own_token = await csrf_token(client, "/entreprises")
    accepted = await client.post("/deconnexion", data={"_csrf_token": own_token}, follow_redirects=False)
    assert accepted.status_code == 303


async def test_a_token_from_before_sign_in_is_replaced_after_it(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    anonymous_token = await csrf_token(client)
    response = await client.post(
        "/connexion",
        data={"email": user.email, "password": PASSWORD, "_csrf_token": anonymous_token},
        follow_redirects=True,
    )
    assert response.status_code == 200  # followed to the first page, which issued a token for the new session
    refused = await client.post("/deconnexion", data={"_csrf_token": anonymous_token}, follow_redirects=False)
    assert refused.status_code == 403
    token = await csrf_token(client, "/entreprises")
    assert token != anonymous_token
    assert (await client.post("/deconnexion", data={"_csrf_token": token}, follow_redirects=False)).status_code == 303
