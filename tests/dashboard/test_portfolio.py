"""Portefeuille: the figures of each dossier's latest fiscal year from its imported FECs, sorted, filtered,
paged and exported, for each person as the permission model lets them see it."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier, DossierAccess
from portal.dashboard.models import Objective
from portal.dashboard.portfolio import Column, Filter, PortfolioService, Sort
from portal.db.paging import Paging
from portal.ledger.aggregates import refresh_year_figures
from portal.ledger.models import ImportStatus, LedgerImport
from portal.settings import Settings
from tests.auth import test_confidentiality as confidentiality
from tests.browsing import sign_in
from tests.dashboard.ledgers import Year, import_fec
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient
MONTH = 1_000_000  # 10 000,00 €
ROW = re.compile(r'<tr data-dossier="([0-9a-f-]+)">(.*?)</tr>', re.DOTALL)
NAME = re.compile(r'<th scope="row"><a href="[^"]*">([^<]*)</a>')


@dataclass
class Book:
    """A dossier and its fiscal years, oldest first."""

    dossier: Dossier
    years: list[Year]
    objective: Decimal | None = None

    @property
    def name(self) -> str:
        return self.dossier.name

    @property
    def latest(self) -> Year:
        return self.years[-1]

    @property
    def before(self) -> Year | None:
        return self.years[-2] if len(self.years) > 1 else None

    # What the list shows, worked out from the lines of the files (never read back from the portal).
    def expected(self) -> dict[Column, Any]:
        latest, before = self.latest, self.before
        change = None
        if before is not None and before.revenue:
            change = (Decimal(latest.revenue - before.revenue) * 100 / abs(before.revenue)).quantize(Decimal("0.1"))
        progress = None
        if self.objective:
            progress = (Decimal(latest.revenue) / 100 / self.objective * 100).quantize(Decimal("0.1"))
        return {
            Column.NAME: self.name,
            Column.CLOSING: latest.closing,
            Column.REVENUE: latest.revenue,
            Column.CHANGE: change,
            Column.GROSS_MARGIN: latest.rate(latest.gross_margin),
            Column.OPERATING_MARGIN: latest.rate(latest.operating_result),
            Column.CASH: latest.net_cash,
            Column.DSO: latest.dso(before),
            Column.OBJECTIVE: progress,
        }


@dataclass
class World:
    books: dict[str, Book]
    partner: User
    granted: User
    admin: User
    comptable: User
    outsider: User
    empty: Dossier

    def names(self, *keys: str) -> list[str]:
        return [self.books[key].name for key in keys]


async def build(session: AsyncSession, maker: async_sessionmaker[AsyncSession], settings: Settings) -> World:
    rent = [200_000] * 12
    books = {
        "bakery": Book(
            await make_dossier(session, name="Boulangerie Martin"),
            [
                Year(2023, [MONTH] * 12, [400_000] * 12, rent, collected=12_000_000, paid=5_000_000,
                     opening_cash=2_000_000, opening_receivables=1_500_000),
                Year(2024, [MONTH + 200_000] * 12, [500_000] * 12, rent, collected=16_000_000, paid=8_000_000),
            ],
            objective=Decimal("160000.00"),
        ),
        # One year only, and it pays out more than it collects: cash below zero, customers slow to pay.
        "garage": Book(
            await make_dossier(session, name="Garage du Centre"),
            [Year(2024, [800_000] * 12, [300_000] * 12, collected=5_000_000, paid=9_000_000)],
        ),
        # Sales falling, every customer paid.
        "cellar": Book(
            await make_dossier(session, name="Cave Saint-Jean"),
            [
                Year(2023, [2_000_000] * 12, [900_000] * 12, collected=28_800_000, paid=10_800_000),
                Year(2024, [1_500_000] * 12, [900_000] * 12, rent, collected=21_600_000, paid=13_200_000),
            ],
        ),
        # Confidential: seen by the partner it is granted to and its Comptable, nobody else.
        "secret": Book(
            await make_dossier(session, name="Holding Zéphyrin", is_confidential=True),
            [Year(2024, [5_000_000] * 12, collected=1_000_000, paid=3_000_000)],
        ),
    }  # fmt: skip
    empty = await make_dossier(session, name="Pharmacie sans exercice")
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Paule Associée")
    granted = await make_user(session, roles=(FirmRole.PARTNER,), name="Agathe Habilitée")
    session.add(DossierAccess(dossier_id=books["secret"].dossier.id, user_id=granted.id, granted_by_id=granted.id))
    admin = await make_user(session, roles=(FirmRole.ADMIN,), name="Camille Administratrice")
    comptable = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Denis Comptable")
    await add_role(session, comptable, books["bakery"].dossier, DossierRole.ACCOUNTANT)
    await add_role(session, comptable, books["secret"].dossier, DossierRole.ACCOUNTANT)
    outsider = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Eric Extérieur")
    for book in books.values():
        for year in book.years:
            await import_fec(session, maker, settings, book.dossier, year)
        if book.objective is not None:
            session.add(Objective(dossier_id=book.dossier.id, end_date=book.latest.closing, key="chiffre_affaires",
                                  target=book.objective))  # fmt: skip
    await session.flush()
    return World(books, partner, granted, admin, comptable, outsider, empty)


@pytest.fixture
async def world(db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings) -> World:
    return await build(db_session, session_maker, settings)


def principal(user: User) -> Principal:
    return Principal.build(user_id=user.id, email=user.email, name=user.name, locale="fr", roles=user.firm_roles)


async def as_user(client: Client, user: User) -> None:
    client.cookies.clear()
    assert (await sign_in(client, user.email, PASSWORD)).status_code in {302, 303}


def listed(page: str) -> list[str]:
    """The dossiers' names on a list page, in order."""
    return [html.unescape(name) for name in NAME.findall(page)]


def count_on(page: str) -> int:
    match = re.search(r'class="result-count">(\d+) dossier', page)
    assert match, "no count on the page"
    return int(match.group(1))


def export_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def _sort_key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def expected_order(books: list[Book], column: Column, *, descending: bool) -> list[str]:
    """Blanks last either way, ties in name order (Python's sort is stable, ``reverse`` included)."""
    by_name = sorted(books, key=lambda book: book.name.casefold())
    present = [book for book in by_name if book.expected()[column] is not None]
    blank = [book for book in by_name if book.expected()[column] is None]
    present.sort(key=lambda book: _sort_key(book.expected()[column]), reverse=descending)
    return [book.name for book in present + blank]


# --- the figures ----------------------------------------------------------------------------------


async def test_each_row_holds_the_figures_worked_out_from_its_fec_lines(world: World, db_session: AsyncSession) -> None:
    result = await PortfolioService(db_session).page(principal(world.granted))
    rows = {row.name: row for row in result.items}
    assert set(rows) == {book.name for book in world.books.values()}  # not the dossier without a fiscal year
    assert result.total == 4
    for book in world.books.values():
        row, expected = rows[book.name], book.expected()
        assert row.end_date == expected[Column.CLOSING]
        assert row.start_date == dt.date(book.latest.year, 1, 1)
        assert row.revenue == expected[Column.REVENUE], book.name
        assert row.previous_revenue == (book.before.revenue if book.before else None)
        assert row.change == expected[Column.CHANGE], book.name
        assert row.gross_margin_rate == expected[Column.GROSS_MARGIN], book.name
        assert row.operating_margin_rate == expected[Column.OPERATING_MARGIN], book.name
        assert row.net_cash == expected[Column.CASH], book.name
        assert row.dso_days == expected[Column.DSO], book.name
        assert row.progress == expected[Column.OBJECTIVE], book.name
    imports = (
        await db_session.execute(
            select(LedgerImport.dossier_id, LedgerImport.finished_at).where(
                LedgerImport.status == ImportStatus.SUCCEEDED
            )
        )
    ).all()
    for book in world.books.values():
        latest = max(finished for dossier_id, finished in imports if dossier_id == book.dossier.id)
        assert rows[book.name].last_sync == latest
    # Worked out by hand once, so that a wrong helper would not hide a wrong figure.
    bakery = rows["Boulangerie Martin"]
    assert bakery.revenue == 14_400_000
    assert bakery.change == Decimal("20.0")
    assert bakery.gross_margin_rate == Decimal("58.3")  # (144 000 − 60 000) ÷ 144 000
    assert bakery.operating_margin_rate == Decimal("41.7")  # (84 000 − 24 000) ÷ 144 000
    assert bakery.net_cash == 8_000_000
    assert bakery.progress == Decimal("90.0")  # 144 000 ÷ 160 000
    garage = rows["Garage du Centre"]
    assert garage.net_cash == -4_000_000
    assert garage.dso_days == Decimal("101.9")  # (0 + 65 200) ÷ 2 ÷ 115 200 × 360


async def test_the_page_shows_them_in_french(client: Client, world: World) -> None:
    await as_user(client, world.partner)
    page = (await client.get("/portefeuille")).text
    assert count_on(page) == 3
    bakery = next(row for dossier_id, row in ROW.findall(page) if dossier_id == str(world.books["bakery"].dossier.id))
    text = html.unescape(re.sub(r"<[^>]+>", " ", bakery)).replace("\u202f", " ").replace("\xa0", " ")
    for shown in ("31/12/2024", "144 000,00 €", "+20,0 %", "58,3 %", "41,7 %", "80 000,00 €", "90,0 %"):
        assert shown in text, (shown, text)
    assert f'href="/entreprises/{world.books["bakery"].dossier.id}/tableau-de-bord"' in bakery
    assert "Pharmacie sans exercice" not in page


# --- sorting, filters, search, pages ----------------------------------------------------------------


async def test_every_column_sorts_both_ways_blanks_last_ties_by_name(client: Client, world: World) -> None:
    await as_user(client, world.granted)
    books = list(world.books.values())
    for column in Column:
        if column is Column.LAST_SYNC:
            continue  # checked below against the imports' own times
        for descending in (False, True):
            tri = ("-" if descending else "") + column.value
            page = (await client.get(f"/portefeuille?tri={tri}")).text
            assert listed(page) == expected_order(books, column, descending=descending), tri
    # The imports ran in the order of the books: the last one's import is the latest.
    ascending = listed((await client.get("/portefeuille?tri=synchro")).text)
    assert ascending == [book.name for book in books]
    assert listed((await client.get("/portefeuille?tri=-synchro")).text) == ascending[::-1]
    # Anything else in the address sorts by name.
    assert listed((await client.get("/portefeuille?tri=n-importe-quoi")).text) == sorted(
        (book.name for book in books), key=str.casefold
    )


async def test_filters_and_search_narrow_the_list_and_its_count(client: Client, world: World) -> None:
    await as_user(client, world.granted)

    async def names(query: str) -> tuple[int, list[str]]:
        page = (await client.get(f"/portefeuille?{query}")).text
        return count_on(page), listed(page)

    assert await names("filtre=tresorerie-negative") == (2, world.names("garage", "secret"))
    assert await names("filtre=ca-en-baisse") == (1, world.names("cellar"))
    assert await names("filtre=dso-60") == (2, world.names("garage", "secret"))
    assert await names("filtre=tresorerie-negative&filtre=ca-en-baisse") == (0, [])
    assert await names("filtre=inconnu") == (4, sorted(world.names(*world.books), key=str.casefold))
    assert await names("q=boul") == (1, world.names("bakery"))
    assert await names("q=" + quote("zéph")) == (1, world.names("secret"))
    siren = world.books["garage"].dossier.siren
    assert siren is not None
    assert await names(f"q={siren}") == (1, world.names("garage"))
    assert await names("q=pharmacie") == (0, [])  # known, but without a fiscal year
    assert await names("q=garage&filtre=dso-60&tri=-ca") == (1, world.names("garage"))


async def test_pages_of_the_list(world: World, db_session: AsyncSession, client: Client) -> None:
    service = PortfolioService(db_session)
    seen = []
    for number in (1, 2):
        page = await service.page(
            principal(world.granted), sort=Sort(Column.REVENUE), paging=Paging(page=number, size=3)
        )
        assert (page.total, page.pages, page.page) == (4, 2, number)
        seen += [row.name for row in page.items]
    assert seen == expected_order(list(world.books.values()), Column.REVENUE, descending=False)
    past = await service.page(principal(world.granted), paging=Paging(page=9, size=3))
    assert (past.page, past.asked) == (2, 9)
    assert len(past.items) == 1
    await as_user(client, world.partner)
    assert count_on((await client.get("/portefeuille?page=0")).text) == 3  # read leniently: the first page
    assert count_on((await client.get("/portefeuille?page=40")).text) == 3


async def test_a_live_search_answers_the_list_alone_and_keeps_the_address(client: Client, world: World) -> None:
    await as_user(client, world.partner)
    headers = {"HX-Request": "true", "HX-Target": "resultats"}
    response = await client.get("/portefeuille?q=garage&filtre=dso-60&tri=-ca", headers=headers)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert listed(response.text) == world.names("garage")
    assert response.headers["HX-Push-Url"] == "/portefeuille?q=garage&filtre=dso-60&tri=-ca&page=1"
    # The export link follows what is shown.
    assert 'href="/portefeuille/export.csv?q=garage&amp;filtre=dso-60&amp;tri=-ca"' in response.text
    assert 'hx-swap-oob="true"' in response.text


# --- who sees what ------------------------------------------------------------------------------------


async def test_who_sees_which_dossiers(client: Client, world: World) -> None:
    everything = sorted(world.names(*world.books), key=str.casefold)
    but_secret = [name for name in everything if name != world.books["secret"].name]
    for user, expected in (
        (world.partner, but_secret),
        (world.admin, but_secret),
        (world.granted, everything),
        (world.comptable, sorted(world.names("bakery", "secret"), key=str.casefold)),
    ):
        await as_user(client, user)
        page = (await client.get("/portefeuille")).text
        assert (count_on(page), listed(page)) == (len(expected), expected), user.name
        assert 'href="/portefeuille"' in page  # in the main menu
        for query in ("q=" + quote("zéphyrin"), "filtre=tresorerie-negative", "tri=-ca"):
            shown = (await client.get(f"/portefeuille?{query}")).text
            assert ("Zéphyrin" in html.unescape(shown)) is (world.books["secret"].name in expected), (user, query)
        exported = export_rows(await client.get("/portefeuille/export.csv"))
        assert [row[0] for row in exported[1:]] == expected
    await as_user(client, world.outsider)
    assert (await client.get("/portefeuille")).status_code == 403
    assert (await client.get("/portefeuille/export.csv")).status_code == 403
    assert 'href="/portefeuille"' not in (await client.get("/entreprises")).text


# --- the export ----------------------------------------------------------------------------------------


async def test_the_export_has_the_rows_filters_and_order_of_the_list_with_decimal_commas(
    client: Client,
    world: World,
    db_session: AsyncSession,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    odd = await make_dossier(db_session, name='=HYPERLINK("http://exemple.invalid","Ouvrir")')
    await import_fec(db_session, session_maker, settings, odd, Year(2024, [10_000]))
    await as_user(client, world.granted)
    rows = export_rows(await client.get("/portefeuille/export.csv?tri=-ca"))
    assert rows[0] == ["Dossier", "SIREN", "Début d'exercice", "Clôture", "CA (€)", "CA N-1 (€)", "Variation N-1 (%)",
                       "Marge brute (%)", "Marge d'exploitation (%)", "Trésorerie nette (€)", "DSO (jours)",
                       "Objectif CA (%)", "Dernière synchro"]  # fmt: skip
    page = (await client.get("/portefeuille?tri=-ca")).text
    assert [row[0] for row in rows[1:]] == [name if not name.startswith("=") else "'" + name for name in listed(page)]
    bakery = next(row for row in rows if row[0] == "Boulangerie Martin")
    assert bakery[1:12] == [world.books["bakery"].dossier.siren, "01/01/2024", "31/12/2024", "144000,00",
                            "120000,00", "20,0", "58,3", "41,7", "80000,00", "54,0", "90,0"]  # fmt: skip
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", bakery[12])
    garage = next(row for row in rows if row[0] == "Garage du Centre")
    assert garage[5:8] == ["", "", "62,5"]  # no year before: no variation
    assert garage[9:11] == ["-40000,00", "101,9"]  # a negative amount stays a number
    assert rows[-1][0] == '\'=HYPERLINK("http://exemple.invalid","Ouvrir")'  # never run as a formula
    assert rows[-1][4] == "100,00"
    filtered = export_rows(await client.get("/portefeuille/export.csv?filtre=ca-en-baisse"))
    assert [row[0] for row in filtered[1:]] == world.names("cellar")
    searched = export_rows(await client.get("/portefeuille/export.csv?q=" + quote("zéph")))
    assert [row[0] for row in searched[1:]] == world.names("secret")


# --- the confidentiality crawl ------------------------------------------------------------------------


async def test_the_crawl_finds_the_hidden_dossier_nowhere_in_the_portfolio(
    app: Litestar, client: Client, db_session: AsyncSession
) -> None:
    """The leak test's world, its two ledgers with their figures: Portefeuille, its searches, sorts, filters,
    pages, export and every link from them show the confidential dossier to nobody it is not granted to (the
    rest of the portal is the leak test's own crawl)."""
    world = await confidentiality.build_world(db_session)
    for dossier in (world.secret, world.twin):
        await refresh_year_figures(db_session, dossier.id)
    await db_session.flush()
    served = {route.path for route in app.routes}
    seeds = [
        f"/portefeuille{query}" for query in confidentiality.search_queries()
    ] + [f"/portefeuille?tri={column.value}" for column in Column] + [
        f"/portefeuille?filtre={item.value}" for item in Filter
    ] + ["/portefeuille/export.csv", "/portefeuille/export.csv?q=" + quote("Zéph")]  # fmt: skip
    secrets = confidentiality.name_and_siren_tokens() | confidentiality.id_tokens(world)

    def allowed(url: str, status: int) -> bool:
        # The Tableau de bord is another page's; until it is served its link answers 404 to everyone.
        if "/tableau-de-bord" in url and "/entreprises/{dossier_id:uuid}/tableau-de-bord" not in served:
            return status == 404
        return status in {200, *confidentiality.REDIRECTS}

    for user in (world.ungranted, world.admin):
        await confidentiality.as_user(client, user)
        pages = await confidentiality.crawl(client, seeds, within="/portefeuille")
        for url, response in pages.items():
            assert confidentiality.leaks(response.text, secrets, requested=url) == [], (user.name, url)
            assert allowed(url, response.status_code), (url, response.status_code)
        assert count_on(pages["/portefeuille"].text) == 1  # the twin alone
        assert listed(pages["/portefeuille"].text) == [confidentiality.TWIN_NAME]
        assert count_on(pages["/portefeuille?q=" + quote("Zéph")].text) == 1
        assert len(export_rows(pages["/portefeuille/export.csv"])) == 2  # the header, the twin
        for url in (f"/portefeuille{query}" for query in confidentiality.search_queries()):
            hx = await client.get(url, headers=confidentiality.HX)
            assert confidentiality.leaks(hx.text, secrets, requested=url) == [], url

    # The control: the partner it is granted to sees it on the same pages.
    await confidentiality.as_user(client, world.granted)
    pages = await confidentiality.crawl(client, seeds, within="/portefeuille")
    assert count_on(pages["/portefeuille"].text) == 2
    assert confidentiality.SECRET_NAME in html.unescape(pages["/portefeuille?q=" + quote("Zéph")].text)
    assert confidentiality.SECRET_NAME in pages["/portefeuille/export.csv"].text
    assert all(allowed(url, response.status_code) for url, response in pages.items())
