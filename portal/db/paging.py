"""One page of a query's rows, with the count of all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

T = TypeVar("T")

PAGE_SIZE = 50
"""Rows per page of every list of the portal."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


async def paginate(
    session: AsyncSession | async_scoped_session[AsyncSession],
    statement: Select[Any],
    *,
    page: int,
    page_size: int = PAGE_SIZE,
    count: Select[Any] | None = None,
) -> Page[Any]:
    """Count the rows ``statement`` selects and load page ``page`` (from 1, at most the last) of them, in its order.

    ``count``, when given, counts the same rows a cheaper way (it must select one integer).
    """
    if count is None:
        count = select(func.count()).select_from(statement.order_by(None).subquery())
    total = int((await session.execute(count)).scalar_one())
    # A page past the end (a bookmark, rows that went away) shows the last one.
    page = min(max(1, page), Page(items=[], total=total, page=1, page_size=page_size).pages)
    rows = await session.execute(statement.offset((page - 1) * page_size).limit(page_size))
    return Page(items=list(rows.scalars()), total=total, page=page, page_size=page_size)
