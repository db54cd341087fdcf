"""A day of an account as the API serves it now: the generated day seen through the clock.

The generator knows nothing of time; this module does. Days before the account's history
and after today have nothing. Past days are served whole, and counted from their plan
without being generated. Today is open: only what was paid (a ticket) or placed (a web
order) by now is there, and its closing is not made yet. A web order shows its refund
once the refund is made. Days a test changed (``Overlay``) are rebuilt from their tickets
with the changes, uncached: tests only.

Pages run across days in order (creation time, then id, within a day): a page is cut out
of the few days it overlaps, and its JSON is the tickets' cached JSON joined, not encoded
again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from portal.sandbox.commerce.catalogue import Account
from portal.sandbox.commerce.generate import (
    MAX_REFUND_DELAY,
    Json,
    PosDay,
    pos_day,
    pos_day_of,
    pos_plan,
    pos_setup,
    pos_tickets,
    refunds_made,
    web_day,
    web_plan,
)
from portal.sandbox.commerce.state import CommerceState

Counter = Callable[[dt.date], int]
Slicer = Callable[[dt.date, int, int], list[bytes]]


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def page(days: Sequence[dt.date], count: Counter, cut: Slicer, number: int, size: int) -> bytes:
    """Page ``number`` (from 1) of ``size`` items across ``days``: ``{items, total, page, size}``."""
    counts = [count(day) for day in days]
    start, stop = (number - 1) * size, number * size
    items: list[bytes] = []
    offset = 0
    for day, counted in zip(days, counts, strict=True):
        if counted and offset + counted > start and offset < stop:
            items += cut(day, max(0, start - offset), min(counted, stop - offset))
        offset += counted
        if offset >= stop:
            break
    return b"".join(
        (b'{"items":[', b",".join(items), b'],"total":%d,"page":%d,"size":%d}' % (sum(counts), number, size))
    )


def _in_history(state: CommerceState, account: Account, day: dt.date) -> bool:
    return state.first_day(account) <= day <= state.today


# --- POS ---


def pos_view(state: CommerceState, account: Account, day: dt.date) -> tuple[PosDay, int | None]:
    """The day's tickets, and the second until which they count (None: the whole day)."""
    overlay = state.overlays.get((account.id, day))
    if overlay is None:
        view = pos_day(account, day)
    else:
        tickets = [overlay.modified.get(ticket.order["id"], ticket) for ticket in pos_tickets(account, day)]
        tickets += overlay.added
        tickets.sort(key=lambda ticket: (ticket.opened, ticket.order["id"]))
        if overlay.closed_at is not None:
            tickets = [ticket for ticket in tickets if ticket.closed <= overlay.closed_at]
        view = pos_day_of(account, day, tickets)
    return view, (None if state.is_closed(account, day) else state.now_second())


def pos_count(state: CommerceState, account: Account, day: dt.date, location_id: str | None) -> int:
    if not _in_history(state, account, day):
        return 0
    if day < state.today and (account.id, day) not in state.overlays:
        counts = pos_plan(account, day)
        if location_id is None:
            return sum(counts)
        registers = pos_setup(account).profile.registers
        return next(count for register, count in zip(registers, counts, strict=True) if register.id == location_id)
    view, cutoff = pos_view(state, account, day)
    return len(view.indexes(location_id, cutoff))


def pos_slice(
    state: CommerceState, account: Account, day: dt.date, start: int, stop: int, *, location_id: str | None
) -> list[bytes]:
    view, cutoff = pos_view(state, account, day)
    if location_id is None and cutoff is None:
        return list(view.encoded[start:stop])
    return [view.encoded[index] for index in view.indexes(location_id, cutoff)[start:stop]]


def pos_closure(state: CommerceState, account: Account, day: dt.date, location_id: str | None) -> Json:
    """``{date, status, closures}``: an open day (today, or later) has no closing yet."""
    closed = state.is_closed(account, day)
    closures: list[Json] = []
    if closed and _in_history(state, account, day):
        view, _ = pos_view(state, account, day)
        closures = [c for c in view.closures if location_id is None or c["location_id"] == location_id]
    return {"date": day.isoformat(), "status": "closed" if closed else "open", "closures": closures}


# --- E-commerce ---


def web_count(state: CommerceState, account: Account, day: dt.date) -> int:
    if not _in_history(state, account, day):
        return 0
    if day < state.today:
        return web_plan(account, day).count
    cutoff = state.now_second()
    return sum(1 for second in web_day(account, day).seconds if second <= cutoff)


def web_slice(state: CommerceState, account: Account, day: dt.date, start: int, stop: int) -> list[bytes]:
    view = web_day(account, day)
    today, now = state.today, state.now_second()
    served = []
    for index in range(start, stop):
        refunded = view.refunded.get(index)
        visible = refunded is not None and (refunded[1].day, refunded[1].second) <= (today, now)
        served.append(view.served(index, visible))
    return served


def _landing_origins(state: CommerceState, account: Account, day: dt.date) -> list[dt.date]:
    first = max(state.first_day(account), day - dt.timedelta(days=MAX_REFUND_DELAY))
    return days_between(first, day - dt.timedelta(days=1)) if first < day else []


def refund_count(state: CommerceState, account: Account, day: dt.date) -> int:
    if not _in_history(state, account, day):
        return 0
    cutoff = state.now_second() if day == state.today else None
    return sum(
        1
        for origin in _landing_origins(state, account, day)
        for planned in web_plan(account, origin).refunds
        if planned.day == day and (cutoff is None or planned.second <= cutoff)
    )


def refund_slice(state: CommerceState, account: Account, day: dt.date, start: int, stop: int) -> list[bytes]:
    first = state.first_day(account)
    cutoff = state.now_second() if day == state.today else None
    made = [
        landing.encoded
        for landing in refunds_made(account, day)
        if landing.origin >= first and (cutoff is None or landing.second <= cutoff)
    ]
    return made[start:stop]
