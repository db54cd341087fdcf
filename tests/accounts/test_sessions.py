"""Which sessions are stored: only those that hold something (the database on PostgreSQL,
files on SQLite)."""

from __future__ import annotations

import anyio
import httpx
from litestar import Litestar
from litestar.stores.file import FileStore
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal.accounts.models import WebSession
from tests.browsing import csrf_token, sign_in
from tests.factories.firm import PASSWORD, make_user

SESSION_COOKIE = "portal_session"


async def stored_sessions(app: Litestar, engine: AsyncEngine) -> int:
    """How many sessions the app's store holds (committed rows, or files)."""
    store = app.stores.get("sessions")
    if isinstance(store, FileStore):
        return len([path async for path in anyio.Path(store.path).iterdir() if await path.is_file()])
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(WebSession)) or 0)


def sets_session_cookie(response: httpx.Response) -> bool:
    return any(k == "set-cookie" and SESSION_COOKIE in v for k, v in response.headers.multi_items())


async def test_anonymous_visits_store_no_session(client: httpx.AsyncClient, app: Litestar, engine: AsyncEngine) -> None:
    before = await stored_sessions(app, engine)
    for _ in range(10):
        health = await client.get("/healthz")
        page = await client.get("/connexion")
        assert health.status_code == 200
        assert page.status_code == 200
        assert not sets_session_cookie(health)
        assert not sets_session_cookie(page)
        client.cookies.clear()  # each visit as a new visitor
    assert await stored_sessions(app, engine) == before


async def test_sign_in_stores_one_session_and_sign_out_removes_it(
    client: httpx.AsyncClient, app: Litestar, engine: AsyncEngine, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    before = await stored_sessions(app, engine)
    assert (await client.get("/connexion")).status_code == 200  # the sign-in page itself stores nothing
    assert await stored_sessions(app, engine) == before
    signed_in = await sign_in(client, user.email, PASSWORD)
    assert signed_in.status_code == 303
    assert sets_session_cookie(signed_in)
    assert await stored_sessions(app, engine) == before + 1
    assert (await client.get("/entreprises")).status_code == 200
    assert await stored_sessions(app, engine) == before + 1
    token = await csrf_token(client, "/entreprises")
    signed_out = await client.post("/deconnexion", data={"_csrf_token": token}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert await stored_sessions(app, engine) == before
    expired = next(v for k, v in signed_out.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert expired.startswith(f"{SESSION_COOKIE}=null")
    assert (await client.get("/connexion?deconnecte=1")).status_code == 200
    assert await stored_sessions(app, engine) == before
