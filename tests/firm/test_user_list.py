"""Utilisateurs as a list: sorted by name, address, date added or last sign-in, both ways, paged; a sort key it
does not offer gives the name order; the column headers link to each order and say which one is shown."""

from __future__ import annotations

import datetime as dt
import html

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.roles import FirmRole
from portal.db.paging import Paging, Sort
from portal.firm.services import USER_SORTS, USERS_ORDER, UserService
from tests.browsing import sign_in
from tests.factories.expenses import principal_of
from tests.factories.firm import PASSWORD, make_user


async def _people(db_session: AsyncSession) -> list[str]:
    names = ["Zoé Marchand", "adèle Bonnet", "Bruno Caron", "Yann Leroy"]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for number, name in enumerate(names):
        user = await make_user(db_session, name=name, email=f"{name.split()[1].lower()}@liste.fr")
        user.last_login_at = base + dt.timedelta(days=len(names) - number) if number != 2 else None
    await db_session.flush()
    return names


async def _shown(db_session: AsyncSession, sort: Sort) -> list[str]:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    page = await UserService(session=db_session).visible_page(await principal_of(db_session, admin), query="liste.fr",
                                                              paging=Paging(size=25), sort=sort)  # fmt: skip
    return [row.user.name for row in page.items]


async def test_people_sort_by_each_offered_column_both_ways(db_session: AsyncSession) -> None:
    await _people(db_session)
    by_name = ["adèle Bonnet", "Bruno Caron", "Yann Leroy", "Zoé Marchand"]  # case ignored
    assert await _shown(db_session, USERS_ORDER) == by_name
    assert await _shown(db_session, Sort("nom", descending=True)) == by_name[::-1]
    assert await _shown(db_session, Sort("email")) == ["adèle Bonnet", "Bruno Caron", "Yann Leroy", "Zoé Marchand"]
    # Last sign-in: most recent first when descending, never signed in last either way.
    assert await _shown(db_session, Sort("connexion", descending=True)) == [
        "Zoé Marchand", "adèle Bonnet", "Yann Leroy", "Bruno Caron",
    ]  # fmt: skip
    assert await _shown(db_session, Sort("connexion")) == ["Yann Leroy", "adèle Bonnet", "Zoé Marchand", "Bruno Caron"]
    assert await _shown(db_session, Sort.read("password_hash", USER_SORTS, USERS_ORDER)) == by_name


async def test_people_page_past_the_end_shows_the_last_page(db_session: AsyncSession) -> None:
    await _people(db_session)
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    service = UserService(session=db_session)
    page = await service.visible_page(await principal_of(db_session, admin), query="liste.fr",
                                      paging=Paging(page=8, size=25))  # fmt: skip
    assert (page.page, page.asked, page.total, len(page.items)) == (1, 8, 4, 4)


async def test_the_headers_sort_and_keep_the_search(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    await _people(db_session)
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await sign_in(client, admin.email, PASSWORD)
    page = html.unescape((await client.get("/utilisateurs", params={"q": "liste.fr", "tri": "-nom"})).text)
    assert '<th scope="col" aria-sort="descending"><a href="/utilisateurs?q=liste.fr&tri=nom">' in page
    assert 'href="/utilisateurs?q=liste.fr&tri=email"' in page
    assert page.index("Zoé Marchand") < page.index("Yann Leroy") < page.index("Bruno Caron")
    unknown = (await client.get("/utilisateurs", params={"tri": "mot_de_passe"})).text
    assert '<th scope="col" aria-sort="ascending"><a href="/utilisateurs?tri=-nom">' in unknown
