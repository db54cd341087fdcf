"""Every response tells the server's own time on it, in a ``Server-Timing`` header."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.web.timing import server_time_ms
from tests.browsing import sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient


async def test_public_and_signed_in_pages_carry_the_server_time(client: Client, db_session: AsyncSession) -> None:
    public = await client.get("/connexion")
    assert public.status_code == 200
    assert public.headers["Server-Timing"].startswith("app;dur=")
    duration = server_time_ms(public.headers["Server-Timing"])
    assert duration is not None
    assert duration > 0

    user = await make_user(db_session)
    signed = await sign_in(client, user.email, PASSWORD)
    assert signed.status_code in {302, 303}
    assert (server_time_ms(signed.headers.get("Server-Timing")) or 0) > 0
    page = await client.get("/entreprises")
    assert page.status_code == 200
    duration = server_time_ms(page.headers.get("Server-Timing"))
    assert duration is not None
    assert duration > 0
