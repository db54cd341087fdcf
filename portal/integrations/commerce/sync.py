"""Synchronising a source account, day by day, into posted entries.

Which days: from the connection's start date (the start of the current fiscal year unless
the person chose another) to the end of the period asked (today for "Synchroniser
maintenant" and the first history, yesterday for the daily 06:00 run, the end of last
month for the monthly one), leaving out the days already final. So a missed morning, a
failed run or a worker that died is caught up by the next run, and a closed day is never
fetched twice.

A POS day is final once the source closes it (its closure says ``closed``); an e-commerce
day once it is older than yesterday (an order of the last hours may still be paid or
cancelled). A final day is written page by page, each page in its own transaction; an open
day is rewritten whole in one transaction at each sync, as provisional entries.

In *Z de caisse* mode (the connection's ``summarise_days``, read at each run: days already
final keep the way they were posted) a day, final or open, is read whole and written in one
transaction, each journal's records summed into one entry (``store.Batch.summarise``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from portal.integrations.commerce import store
from portal.integrations.commerce.entries import DraftEntry
from portal.integrations.commerce.models import DayState
from portal.integrations.commerce.posting import Poster, Unmapped
from portal.integrations.commerce.records import Closure
from portal.integrations.commerce.sources import Source
from portal.settings import FIRM_TIMEZONE


def today() -> dt.date:
    """The firm's today (Paris): what "yesterday" and "open day" are measured from."""
    return dt.datetime.now(FIRM_TIMEZONE).date()


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def period_end(mode: str, now: dt.date) -> dt.date:
    """The last day a run of ``mode`` covers."""
    if mode == "daily":
        return now - dt.timedelta(days=1)
    if mode == "monthly":
        return now.replace(day=1) - dt.timedelta(days=1)
    return now  # manual, history


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(FIRM_TIMEZONE).date()


@dataclass
class DayResult:
    day: dt.date
    state: DayState
    records: int = 0
    new_entries: int = 0
    message: str | None = None


@dataclass
class Target:
    """Where a run writes: the dossier and the source account, and the run for traceability."""

    dossier_id: uuid.UUID
    source_key: str
    run_id: uuid.UUID | None = None


WriteBatch = Callable[[store.Batch], Awaitable[int]]


async def sync_day(
    reader: Any,
    poster: Poster,
    *,
    source: Source,
    consumer_id: str,
    day: dt.date,
    target: Target,
    now: dt.date,
    write: WriteBatch,
    summarise: bool = False,
) -> DayResult:
    """Fetch, post and write one day; ``write(batch)`` runs one transaction.

    ``summarise``: the day as one Z de caisse per journal (read whole, one transaction).
    """
    if source.is_pos:
        closure = await reader.closure(consumer_id, day)
        final = closure.closed
        pages = _pos_pages(reader, poster, consumer_id, day, closure)
    else:
        final = day < now - dt.timedelta(days=1)
        pages = _web_pages(reader, poster, consumer_id, day)
    result = DayResult(day=day, state=DayState.CLOSED if final else DayState.OPEN)
    if not final or summarise:
        # An open day is small (today, yesterday) and rewritten whole; a summarised day is one entry per
        # journal: post everything, then one transaction.
        drafts: list[DraftEntry] = []
        try:
            async for count, page in pages:
                result.records += count
                drafts.extend(page)
        except Unmapped as gap:
            return _blocked(result, gap)
        batch = _batch(target, day, drafts, final=final, poster=poster, replace=True)
        if summarise:
            batch = replace(batch, summarise=poster.summary)
        result.new_entries = await write(batch)
        return result
    first = True
    try:
        async for count, page in pages:
            result.records += count
            result.new_entries += await write(_batch(target, day, page, final=True, poster=poster, replace=first))
            first = False
    except Unmapped as gap:
        return _blocked(result, gap)
    if first:  # a closed day with no record at all: still clear any provisional entries
        await write(_batch(target, day, [], final=True, poster=poster, replace=True))
    return result


def _blocked(result: DayResult, gap: Unmapped) -> DayResult:
    result.state = DayState.BLOCKED
    result.message = " ; ".join(item.message for item in gap.items)[:1000]
    return result


def _batch(
    target: Target, day: dt.date, drafts: list[DraftEntry], *, final: bool, poster: Poster, replace: bool
) -> store.Batch:
    customers = dict(poster.customers_seen)
    poster.customers_seen.clear()
    return store.Batch(dossier_id=target.dossier_id, source_key=target.source_key, day=day, drafts=drafts,
                       final=final, run_id=target.run_id, customers=customers, replace_provisional=replace)  # fmt: skip


async def _pos_pages(
    reader: Any, poster: Poster, consumer_id: str, day: dt.date, closure: Closure
) -> AsyncIterator[tuple[int, list[DraftEntry]]]:
    async for orders in reader.orders(consumer_id, day, day):
        drafts: list[DraftEntry] = []
        for order in orders:
            drafts.extend(poster.order(order, day))
        yield len(orders), drafts
    if closure.closed:
        drafts = [entry for entry in (poster.closure(item, day) for item in closure.closures) if entry is not None]
        yield 0, drafts


async def _web_pages(
    reader: Any, poster: Poster, consumer_id: str, day: dt.date
) -> AsyncIterator[tuple[int, list[DraftEntry]]]:
    async for orders in reader.web_orders(consumer_id, day, day):
        drafts: list[DraftEntry] = []
        for order in orders:
            drafts.extend(poster.web_order(order, day))
        yield len(orders), drafts
    async for refunds in reader.web_refunds(consumer_id, day, day):
        drafts = []
        for refund in refunds:
            drafts.extend(poster.web_refund(refund, day))
        yield len(refunds), drafts
