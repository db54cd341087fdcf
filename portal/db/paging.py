"""Paging and sorting of every list of the portal: one page of a query's rows, with the count of all of them.

A list reads what it shows from a ``Paging`` (the page asked for and its size, one of ``PAGE_SIZES``) and,
when its columns sort, a ``Sort`` read from the URL against the keys the list allows (anything else gives
its default order). ``paginate`` counts the rows in SQL and loads one page of them; a list that builds its
rows another way counts them itself and makes its ``Page`` with ``Page.of``, so every list clamps a page
past the end the same way: it shows the last one and says so (``Page.asked``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")

PAGE_SIZE = 50
"""Rows per page of every list of the portal, unless the person chooses another size."""

PAGE_SIZES = (25, 50, 100, 200)
"""The page sizes a person may choose (``taille`` in the URL)."""

WINDOW = 2
"""Page numbers shown either side of the current one (the first and the last are always shown)."""


def _positive(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


@dataclass(frozen=True)
class Paging:
    """The page a person asks for (from 1) and how many rows it holds."""

    page: int = 1
    size: int = PAGE_SIZE

    @classmethod
    def read(cls, page: object = None, size: object = None, *, default_size: int = PAGE_SIZE) -> Paging:
        """From the URL's ``page`` and ``taille``: anything unreadable is the first page, a size not offered the
        default one."""
        chosen = _positive(size)
        return cls(page=_positive(page) or 1, size=chosen if chosen in PAGE_SIZES else default_size)

    @classmethod
    def from_query(cls, query: Mapping[str, Any], *, default_size: int = PAGE_SIZE) -> Paging:
        return cls.read(query.get("page"), query.get("taille"), default_size=default_size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


FIRST_PAGE = Paging()


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    asked: int | None = None
    """The page asked for when it was past the end (this is then the last one), else None."""

    @classmethod
    def of(cls, items: list[T], total: int, paging: Paging) -> Page[T]:
        """The page of ``items`` for ``paging`` once its page is clamped (``last_page``)."""
        page = last_page(paging, total)
        return cls(items=items, total=total, page=page, page_size=paging.size,
                   asked=paging.page if page != paging.page else None)  # fmt: skip

    @property
    def pages(self) -> int:
        return pages_of(self.total, self.page_size)

    @property
    def first_row(self) -> int:
        return min(self.total, (self.page - 1) * self.page_size + 1)

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.page_size)

    def window(self) -> list[int | None]:
        """The page numbers to link: the first, the last and ``WINDOW`` around this one; None for a gap."""
        shown = sorted({1, self.pages, *range(max(1, self.page - WINDOW), min(self.pages, self.page + WINDOW) + 1)})
        numbers: list[int | None] = []
        previous = 0
        for number in shown:
            skipped = range(previous + 1, number)
            if len(skipped) == 1:  # one page between: its number, not an ellipsis
                numbers.append(skipped[0])
            elif previous and skipped:
                numbers.append(None)
            numbers.append(number)
            previous = number
        return numbers


def pages_of(total: int, size: int) -> int:
    return max(1, -(-total // size))


def last_page(paging: Paging, total: int) -> int:
    """The page to show: the one asked for, or the last one when it is past the end (a bookmark, rows gone)."""
    return min(paging.page, pages_of(total, paging.size))


async def paginate(
    session: AsyncSession | async_scoped_session[AsyncSession],
    statement: Select[Any],
    paging: Paging = FIRST_PAGE,
    *,
    count: Select[Any] | None = None,
) -> Page[Any]:
    """Count the rows ``statement`` selects and load the page ``paging`` asks for (at most the last), in its order.

    ``count``, when given, counts the same rows a cheaper way (it must select one integer).
    """
    if count is None:
        count = select(func.count()).select_from(statement.order_by(None).subquery())
    total = int((await session.execute(count)).scalar_one())
    page = last_page(paging, total)
    rows = await session.execute(statement.offset((page - 1) * paging.size).limit(paging.size))
    # One entity or column: its values; several columns: the rows.
    items = list(rows.scalars()) if len(statement.column_descriptions) == 1 else list(rows.all())
    return Page.of(items, total, paging)


@dataclass(frozen=True)
class Sort:
    """The order of a list: one of the keys it allows, ascending or descending (``tri=nom`` / ``tri=-nom``)."""

    key: str
    descending: bool = False

    @classmethod
    def read(cls, value: object, keys: Collection[str], default: Sort) -> Sort:
        """``value`` from the URL if it names an allowed key, else ``default``."""
        text = str(value or "").strip()
        key = text.removeprefix("-")
        if key not in keys:
            return default
        return cls(key=key, descending=text.startswith("-"))

    @property
    def value(self) -> str:
        return ("-" if self.descending else "") + self.key

    def order(self, column: Any) -> ColumnElement[Any]:
        """``column`` in this direction, blanks last either way."""
        ordered: ColumnElement[Any] = (column.desc() if self.descending else column.asc()).nulls_last()
        return ordered
