"""Writing posted entries: set-based, one transaction per batch, each record exactly once.

A batch is written under a lock on its (dossier, source account): PostgreSQL's
transaction-level advisory lock, SQLite's single writer (``BEGIN IMMEDIATE``). Under it
the batch reads which of its day's records are already posted and bulk-loads only the
others (``COPY`` on PostgreSQL, ``executemany`` on SQLite). The unique key (dossier,
source account, kind, record id) backs the lock: should two writers ever race, the
second one's batch fails whole and its job retries, finding everything posted.

An open day's entries are provisional: each sync of the day deletes them and writes the
day afresh in one transaction, so an order changed or cancelled at the source is
reflected. Once the source closes the day, its entries are written final and never
touched again; a final day is never fetched again.

In *Z de caisse* mode (``Batch.summarise``) a day comes as one batch; under the lock the
records already posted alone or already counted in a summary are set aside, and the others
of each journal become ONE entry: the day's Z (``<day>/<journal>``, unique like any record),
or, when the journal's day already has its Z (a day read again after its Z was written, a
ticket that came late), a complementary Z (``<day>/<journal>/<n>``) of the newcomers only.
Each record a summary counts is written to ``commerce_summary_item``, whose primary key is
the record's own: a record is counted once, in one summary, and a per-ticket batch leaves
out what a summary counts. So switching mode between two runs, even in the middle of a day,
neither doubles nor loses a sale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from portal.db.bulk import copy_rows, uuid_value
from portal.integrations.commerce.entries import SUMMARIES, SUMMARISED, DraftEntry, EntryKind, cents
from portal.integrations.commerce.models import (
    CommerceCustomer,
    CommerceDay,
    CommerceEntry,
    CommerceSummaryItem,
    DayState,
)
from portal.integrations.commerce.posting import UnbalancedEntryError

ENTRY_COLUMNS = (
    "id", "dossier_id", "source_key", "kind", "record_id", "business_date", "entry_date", "journal_code",
    "label", "piece_ref", "currency", "total", "final", "run_id",
)  # fmt: skip
LINE_COLUMNS = ("entry_id", "line_no", "account", "aux_account", "label", "debit", "credit")
SUMMARY_ITEM_COLUMNS = ("dossier_id", "source_key", "kind", "record_id", "entry_id")
POSTED_CHUNK = 5_000  # record ids per query: well under SQLite's and asyncpg's limits on bound parameters


class Summarise(Protocol):
    """How a journal's day becomes one entry (``Poster.summary``)."""

    def __call__(
        self, drafts: Sequence[DraftEntry], *, day: dt.date, journal: str, kind: EntryKind, record_id: str, number: int
    ) -> DraftEntry | None: ...


@dataclass(frozen=True)
class Batch:
    """What one transaction writes for a day of a source account."""

    dossier_id: uuid.UUID
    source_key: str
    day: dt.date
    drafts: Sequence[DraftEntry]
    final: bool  # the day is closed at the source: these entries are final
    run_id: uuid.UUID | None = None
    customers: dict[str, str] | None = None  # auxiliary account → label, created when missing
    # The first batch of a day synced again: its provisional entries go first.
    replace_provisional: bool = False
    # Z de caisse: the day's records summed into one entry per journal (the whole day in this batch).
    summarise: Summarise | None = None


async def lock(session: AsyncSession, dossier_id: uuid.UUID, source_key: str) -> None:
    """Serialise writers of one source account of one dossier until the transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the transaction already holds the database's only write lock
    digest = hashlib.blake2b(f"{dossier_id}:{source_key}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def final_days(session: AsyncSession, dossier_id: uuid.UUID, source_key: str) -> set[dt.date]:
    statement = select(CommerceDay.business_date).where(
        CommerceDay.dossier_id == dossier_id,
        CommerceDay.source_key == source_key,
        CommerceDay.state == DayState.CLOSED,
    )
    return set((await session.execute(statement)).scalars())


async def _day_is_final(session: AsyncSession, dossier_id: uuid.UUID, source_key: str, day: dt.date) -> bool:
    statement = select(CommerceDay.state).where(
        CommerceDay.dossier_id == dossier_id, CommerceDay.source_key == source_key, CommerceDay.business_date == day
    )
    return (await session.execute(statement)).scalar_one_or_none() is DayState.CLOSED


async def delete_provisional(session: AsyncSession, dossier_id: uuid.UUID, source_key: str, day: dt.date) -> int:
    """Remove a day's provisional entries (their lines and summary items go with them)."""
    provisional = select(CommerceEntry.id).where(
        CommerceEntry.dossier_id == dossier_id,
        CommerceEntry.source_key == source_key,
        CommerceEntry.business_date == day,
        CommerceEntry.final.is_(False),
    )
    await session.execute(
        delete(CommerceSummaryItem)
        .where(CommerceSummaryItem.entry_id.in_(provisional))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(CommerceEntry)
        .where(
            CommerceEntry.dossier_id == dossier_id,
            CommerceEntry.source_key == source_key,
            CommerceEntry.business_date == day,
            CommerceEntry.final.is_(False),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def write(session: AsyncSession, batch: Batch) -> int:
    """Post ``batch`` in the caller's transaction; return how many entries were new.

    Records already posted are left as they are. ``batch.replace_provisional`` first removes
    the day's provisional entries (the first batch of a day being synced again). A day
    already final is left alone entirely.
    """
    await lock(session, batch.dossier_id, batch.source_key)
    if await _day_is_final(session, batch.dossier_id, batch.source_key, batch.day):
        return 0
    if batch.replace_provisional:
        await delete_provisional(session, batch.dossier_id, batch.source_key, batch.day)
    posted = await _posted_keys(session, batch)
    if batch.summarise is not None or await _has_summary(session, batch):
        posted |= await _summarised_keys(session, batch)
    drafts: list[DraftEntry] = []
    seen: set[tuple[str, str]] = set()
    for draft in batch.drafts:
        key = (draft.kind.value, draft.record_id)
        if key in posted or key in seen:
            continue
        seen.add(key)
        drafts.append(draft)
    rows = _Rows(session, batch)
    if batch.summarise is None:
        for draft in drafts:
            rows.add(draft)
    else:
        await _summaries(session, batch, batch.summarise, drafts, rows)
    await copy_rows(session, "commerce_entry", ENTRY_COLUMNS, rows.entries)
    await copy_rows(session, "commerce_entry_line", LINE_COLUMNS, rows.lines)
    await copy_rows(session, "commerce_summary_item", SUMMARY_ITEM_COLUMNS, rows.items)
    if batch.customers:
        await add_customers(session, batch.dossier_id, batch.source_key, batch.customers.items())
    return len(rows.entries)


class _Rows:
    """The rows a batch writes: entries, their lines, and the records each summary counts."""

    def __init__(self, session: AsyncSession, batch: Batch) -> None:
        self.session, self.batch = session, batch
        self.dossier = uuid_value(session, batch.dossier_id)
        self.run = uuid_value(session, batch.run_id) if batch.run_id else None
        self.entries: list[tuple[object, ...]] = []
        self.lines: list[tuple[object, ...]] = []
        self.items: list[tuple[object, ...]] = []

    def add(self, draft: DraftEntry, counts: Sequence[DraftEntry] = ()) -> None:
        if not draft.balanced:
            msg = f"{draft.kind} {draft.record_id}: {draft.debit} ≠ {draft.credit}"
            raise UnbalancedEntryError(msg)
        entry_id = uuid_value(self.session, uuid7())
        self.entries.append((
            entry_id, self.dossier, self.batch.source_key, draft.kind.value, draft.record_id, draft.business_date,
            draft.entry_date, draft.journal, draft.label[:300], draft.piece_ref[:120], draft.currency,
            cents(draft.debit), self.batch.final, self.run,
        ))  # fmt: skip
        self.lines.extend(
            (entry_id, number, line.account, line.aux_account, line.label[:300], cents(line.debit), cents(line.credit))
            for number, line in enumerate(draft.lines, start=1)
        )
        self.items.extend(
            (self.dossier, self.batch.source_key, counted.kind.value, counted.record_id, entry_id) for counted in counts
        )


async def _summaries(
    session: AsyncSession, batch: Batch, summarise: Summarise, drafts: list[DraftEntry], rows: _Rows
) -> None:
    """The day's Z of each journal (or a complementary Z when it has one), and the entries of their own."""
    by_journal: dict[str, list[DraftEntry]] = {}
    for draft in drafts:
        if draft.kind in SUMMARISED:
            by_journal.setdefault(draft.journal, []).append(draft)
        else:
            rows.add(draft)  # a register's closing: its cash differences, an entry of its own
    if not by_journal:
        return
    existing = await session.execute(
        select(CommerceEntry.journal_code, func.count())
        .where(
            CommerceEntry.dossier_id == batch.dossier_id,
            CommerceEntry.source_key == batch.source_key,
            CommerceEntry.business_date == batch.day,
            CommerceEntry.kind.in_([kind.value for kind in SUMMARIES]),
        )
        .group_by(CommerceEntry.journal_code)
    )
    done = {journal: int(count) for journal, count in existing}
    for journal, group in sorted(by_journal.items()):
        number = done.get(journal, 0) + 1
        kind = EntryKind.SUMMARY if number == 1 else EntryKind.SUMMARY_MORE
        record_id = f"{batch.day.isoformat()}/{journal}" + (f"/{number}" if number > 1 else "")
        summary = summarise(group, day=batch.day, journal=journal, kind=kind, record_id=record_id, number=number)
        if summary is not None:
            rows.add(summary, group)


async def _has_summary(session: AsyncSession, batch: Batch) -> bool:
    """Whether the batch's day has a summary already (its records are then left out of a per-ticket batch)."""
    statement = select(CommerceEntry.id).where(
        CommerceEntry.dossier_id == batch.dossier_id,
        CommerceEntry.source_key == batch.source_key,
        CommerceEntry.business_date == batch.day,
        CommerceEntry.kind.in_([kind.value for kind in SUMMARIES]),
    )
    return (await session.execute(statement.limit(1))).first() is not None


async def _summarised_keys(session: AsyncSession, batch: Batch) -> set[tuple[str, str]]:
    """Which of the batch's records a summary counts already: (kind, record id)."""
    ids = sorted({draft.record_id for draft in batch.drafts})
    found: set[tuple[str, str]] = set()
    for start in range(0, len(ids), POSTED_CHUNK):
        statement = select(CommerceSummaryItem.kind, CommerceSummaryItem.record_id).where(
            CommerceSummaryItem.dossier_id == batch.dossier_id,
            CommerceSummaryItem.source_key == batch.source_key,
            CommerceSummaryItem.record_id.in_(ids[start : start + POSTED_CHUNK]),
        )
        found.update((kind, record_id) for kind, record_id in await session.execute(statement))
    return found


async def _posted_keys(session: AsyncSession, batch: Batch) -> set[tuple[str, str]]:
    """Which of the batch's records are posted on its day already: (kind, record id).

    Only the batch's own records are asked for (by the unique key's columns): the next page of
    a day of 5,000 tickets does not read back the 8,000 entries its first pages wrote.
    """
    kinds = sorted({draft.kind.value for draft in batch.drafts})
    ids = sorted({draft.record_id for draft in batch.drafts})
    posted: set[tuple[str, str]] = set()
    for start in range(0, len(ids), POSTED_CHUNK):
        statement = select(CommerceEntry.kind, CommerceEntry.record_id).where(
            CommerceEntry.dossier_id == batch.dossier_id,
            CommerceEntry.source_key == batch.source_key,
            CommerceEntry.business_date == batch.day,
            CommerceEntry.kind.in_(kinds),
            CommerceEntry.record_id.in_(ids[start : start + POSTED_CHUNK]),
        )
        posted.update((kind, record_id) for kind, record_id in await session.execute(statement))
    return posted


async def add_customers(
    session: AsyncSession, dossier_id: uuid.UUID, source_key: str, customers: Iterable[tuple[str, str]]
) -> None:
    """Create the auxiliary accounts not there yet (a concurrent creation is not an error)."""
    rows = [
        {"dossier_id": dossier_id, "source_key": source_key, "aux_account": aux, "label": label[:200]}
        for aux, label in customers
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(CommerceCustomer).values(rows).on_conflict_do_nothing())


async def mark_day(
    session: AsyncSession,
    *,
    dossier_id: uuid.UUID,
    source_key: str,
    day: dt.date,
    state: DayState,
    records: int,
    message: str | None = None,
) -> None:
    """Record how far a day went; a closed (final) day never goes back."""
    entries = await session.scalar(
        select(func.count())
        .select_from(CommerceEntry)
        .where(
            CommerceEntry.dossier_id == dossier_id,
            CommerceEntry.source_key == source_key,
            CommerceEntry.business_date == day,
        )
    )
    row = await session.get(CommerceDay, (dossier_id, source_key, day))
    now = dt.datetime.now(dt.UTC)
    if row is None:
        row = CommerceDay(dossier_id=dossier_id, source_key=source_key, business_date=day, state=state,
                          records=records, entries=int(entries or 0), message=message, synced_at=now)  # fmt: skip
        session.add(row)
    elif row.state is not DayState.CLOSED:
        row.state, row.records, row.entries, row.message, row.synced_at = (
            state,
            records,
            int(entries or 0),
            message,
            now,
        )
    await session.flush()
