"""Paging and sorting, the rules every list follows: the page and its size read leniently from the URL, a page
past the end shown as the last one (and said), the page numbers linked, a sort key outside the list's own the
default order."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.models import Dossier
from portal.db.paging import PAGE_SIZE, PAGE_SIZES, Page, Paging, Sort, paginate
from tests.factories.clients import make_dossier


def test_the_page_and_its_size_are_read_leniently() -> None:
    assert Paging.read("3", "100") == Paging(page=3, size=100)
    assert Paging.read(None, None) == Paging(page=1, size=PAGE_SIZE)
    assert Paging.read("abc", "33") == Paging(page=1, size=PAGE_SIZE)  # not a number; not a size offered
    assert Paging.read("-2", "0") == Paging(page=1, size=PAGE_SIZE)
    assert Paging.read(" 2 ", "1000000") == Paging(page=2, size=PAGE_SIZE)
    assert Paging.read("2", "", default_size=100) == Paging(page=2, size=100)
    assert Paging.from_query({"page": "4", "taille": "25"}) == Paging(page=4, size=25)
    assert set(PAGE_SIZES) == {25, 50, 100, 200}


def test_a_page_past_the_end_is_the_last_one_and_remembers_what_was_asked() -> None:
    last = Page.of([], 120, Paging(page=9, size=50))
    assert (last.page, last.pages, last.asked) == (3, 3, 9)
    assert (last.first_row, last.last_row) == (101, 120)
    asked = Page.of([], 120, Paging(page=2, size=50))
    assert (asked.page, asked.asked) == (2, None)
    empty = Page.of([], 0, Paging(page=5))
    assert (empty.page, empty.pages, empty.asked, empty.first_row, empty.last_row) == (1, 1, 5, 0, 0)


def test_the_page_numbers_shown_around_the_current_one() -> None:
    def window(page: int, pages: int) -> list[int | None]:
        return Page.of([], pages * 10, Paging(page=page, size=10)).window()

    assert Page.of([], 30, Paging(page=1, size=25)).window() == [1, 2]
    assert window(1, 10) == [1, 2, 3, None, 10]
    assert window(5, 10) == [1, 2, 3, 4, 5, 6, 7, None, 10]  # 2 is shown rather than an ellipsis for one page
    assert window(10, 10) == [1, None, 8, 9, 10]
    assert window(6, 12) == [1, None, 4, 5, 6, 7, 8, None, 12]


def test_a_sort_key_the_list_does_not_offer_gives_its_default_order() -> None:
    default = Sort("nom")
    keys = ("nom", "email")
    assert Sort.read("-email", keys, default) == Sort("email", descending=True)
    assert Sort.read("email", keys, default).value == "email"
    assert Sort.read("mot_de_passe", keys, default) is default
    assert Sort.read("-", keys, default) is default
    assert Sort.read(None, keys, default) is default
    assert Sort.read("--nom", keys, default) is default


async def test_paginate_counts_in_sql_and_clamps_past_the_end(db_session: AsyncSession) -> None:
    names = [f"Paging {number:03d}" for number in range(1, 31)]
    for name in names:
        await make_dossier(db_session, name=name)
    statement = select(Dossier).where(Dossier.name.like("Paging %")).order_by(Dossier.name)
    second = await paginate(db_session, statement, Paging(page=2, size=25))
    assert second.total == 30
    assert [dossier.name for dossier in second.items] == names[25:]
    beyond = await paginate(db_session, statement, Paging(page=7, size=25))
    assert (beyond.page, beyond.asked) == (2, 7)
    assert [dossier.name for dossier in beyond.items] == names[25:]
    columns = await paginate(db_session, select(Dossier.name, Dossier.id).where(Dossier.name.like("Paging %"))
                             .order_by(Dossier.name), Paging(page=1, size=25))  # fmt: skip
    assert [row.name for row in columns.items] == names[:25]
