"""Mon compte: the signed-in person's own page, reached from their name in the top bar."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.roles import FirmRole
from tests.browsing import sign_in
from tests.factories.firm import PASSWORD, make_user


async def test_a_person_opens_their_account_from_their_name(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await make_user(db_session, roles=(FirmRole.COLLABORATOR,), email="lea@cabinet-test.fr", name="Léa Martin")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    home = await client.get("/entreprises")
    assert 'href="/compte"' in home.text
    page = await client.get("/compte")
    assert page.status_code == 200
    assert "Mon compte" in page.text
    assert "lea@cabinet-test.fr" in page.text
    assert "Léa Martin" in page.text
    assert "Collaborateur" in page.text


async def test_the_account_page_needs_a_signed_in_person(client: httpx.AsyncClient) -> None:
    response = await client.get("/compte", follow_redirects=False)
    assert response.status_code in {302, 303}
    assert response.headers["location"].startswith("/connexion")
