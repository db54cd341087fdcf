"""Importing a FEC file into a dossier's ledger: all or nothing, never doubled.

The steps are those a person watches on the Connexions page:

1. *Analyse des fichiers*: the file is read once, as a stream, and validated as it goes;
   its lines are loaded batch after batch (``COPY`` / ``executemany``) into a new
   **staging** version of the fiscal year, which no page reads.
2. *Configuration de la base de données*: journals, accounts (with their totals) and
   entries are derived from the loaded lines in a few set-based ``INSERT … SELECT``.
3. *Création des données comptables*: one short transaction retires the version the
   import replaces, activates the new one and requests the old one's deletion
   (``portal.ledger.cleanup``), which this run then does itself unless it dies first.

A file with errors is refused whole: its staging version is deleted and the report,
with line numbers, is kept with the import; the ledger is as it was. A crash or a retry
finds the import unfinished, deletes what a previous attempt left in staging and starts
again; a finished import is never redone (a retry of a succeeded one only finishes deleting
what it replaced). Two imports of the same fiscal year at once leave exactly one active
version: the swap holds the dossier's row lock (PostgreSQL) or the database's write lock
(SQLite), and a unique partial index backs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import and_, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.recorder import record
from portal.clients.locks import lock_dossier
from portal.clients.models import Dossier
from portal.db.bulk import analyze, copy_rows, uuid_value
from portal.i18n import N_
from portal.ledger import belonging, fec
from portal.ledger.aggregates import refresh_year_figures, write_accounts, write_balances
from portal.ledger.cleanup import delete_version, discard_staging, purge, purge_versions
from portal.ledger.models import (
    Account,
    Entry,
    FiscalYear,
    ImportStatus,
    Journal,
    LedgerImport,
    Line,
    VersionState,
)

log = logging.getLogger(__name__)

STEP_ANALYSE = N_("Analyse des fichiers")
STEP_DATABASE = N_("Configuration de la base de données")
STEP_ENTRIES = N_("Création des données comptables")
STEP_DONE = N_("Terminé")
# Lines read and checked per batch (small batches stay in the processor's caches) and written per
# transaction; progress is recorded every PROGRESS_EVERY lines, not for every batch.
BATCH_SIZE = 2_000
WRITE_ROWS = 20_000
PROGRESS_EVERY = 100_000
# The columns of ``ledger_line`` in the order of ``fec.ROW_FIELDS``, after the fiscal year.
LINE_COLUMNS = ("fiscal_year_id", *fec.ROW_FIELDS)

OVERLAP = N_(
    "Cet exercice (du %(start)s au %(end)s) chevauche l'exercice du %(other_start)s au %(other_end)s déjà importé "
    "pour ce dossier : importez le même exercice (même date de clôture) pour le remplacer."
)
OUTSIDE = N_("Lignes datées hors de l'exercice du %(start)s au %(end)s : %(count)s.")
NO_PERIOD = N_("Impossible de déterminer l'exercice : le fichier ne contient aucune écriture datée.")
FILE_MISSING = N_("Le fichier à importer n'est plus disponible : importez-le de nouveau.")

Progress = Callable[[int, int | None, str], Awaitable[None]]
Sessions = Callable[[], AsyncSession]


@dataclass(frozen=True)
class Outcome:
    status: ImportStatus
    fiscal_year_id: uuid.UUID | None = None
    replaced: bool = False
    report: fec.Report | None = None


async def _nothing(_done: int, _total: int | None, _step: str) -> None:
    return None


def count_lines(path: Path) -> int:
    """Data lines in the file (for progress), counted on raw bytes: fast, no decoding. Blocking."""
    newlines = returns = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            newlines += chunk.count(b"\n")
            returns += chunk.count(b"\r")
    breaks = newlines or returns
    return max(0, breaks)  # the header's break balances a missing final one, near enough for progress


def _fiscal_period(report: fec.Report, record: LedgerImport, dossier: Dossier) -> tuple[dt.date, dt.date] | None:
    """The fiscal year the file is for: as asked, else the closing date in its name, else the dossier's closing."""
    if record.period_start and record.period_end:
        return record.period_start, record.period_end
    end = record.period_end or report.closing_date
    if end is None:
        if report.first_date is None:
            return None
        end = _next_closing(report.first_date, dossier.closing_day, dossier.closing_month)
    start = record.period_start or _year_before(end)
    if report.first_date is not None and report.first_date < start and not record.period_start:
        start = report.first_date  # a first fiscal year longer than twelve months
    return start, end


def _next_closing(after: dt.date, day: int, month: int) -> dt.date:
    for year in (after.year, after.year + 1):
        candidate = _clamped(year, month, day)
        if candidate >= after:
            return candidate
    return _clamped(after.year + 1, month, day)


def _clamped(year: int, month: int, day: int) -> dt.date:
    while True:
        try:
            return dt.date(year, month, day)
        except ValueError:
            day -= 1


def _year_before(end: dt.date) -> dt.date:
    return _clamped(end.year - 1, end.month, end.day) + dt.timedelta(days=1)


async def _set_import(sessions: Sessions, import_id: uuid.UUID, **values: Any) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(LedgerImport).where(LedgerImport.id == import_id).values(**values))


async def run_import(
    sessions: Sessions, files_dir: Path, import_id: uuid.UUID, progress: Progress = _nothing
) -> Outcome:
    """Import the file of ``import_id`` (see the module's docstring). Idempotent; raises only on failures
    worth retrying (database, disk); a bad file ends ``refused`` with its report."""
    prepared = await _prepare(sessions, files_dir, import_id, progress)
    if isinstance(prepared, Outcome):
        return prepared
    record, dossier, path = prepared

    async def step(done: int, total: int | None, name: str) -> None:
        await _set_import(sessions, import_id, step=name, progress_done=done, progress_total=total)
        await progress(done, total, name)

    await _set_import(sessions, import_id, status=ImportStatus.RUNNING)
    try:
        reader = fec.FecFile.open(path, filename=record.filename)
    except fec.FecFormatError as refused:
        report = fec.check(path, filename=record.filename)  # the same error, as a report
        await _refuse(sessions, import_id, report)
        log.info("import %s refused: %s", import_id, refused.code)
        return Outcome(status=ImportStatus.REFUSED, report=report)
    with reader:
        fiscal_year_id = await _stage(sessions, record)
        loaded = await _load_lines(sessions, reader, fiscal_year_id, path, step)
        report = reader.report

    period = _fiscal_period(report, record, dossier) if report.ok else None
    if report.ok and period is None:
        report = _with_error(report, "no_period", NO_PERIOD)
    if not report.ok or period is None:
        await delete_version(sessions, fiscal_year_id)
        await _refuse(sessions, import_id, report)
        return Outcome(status=ImportStatus.REFUSED, report=report)

    start, end = period
    for issue in belonging.mismatches(dossier, record.filename, end):  # what the upload asked about, kept
        report = _with_warning(report, issue.code, issue.message, **issue.params)
    await step(loaded, loaded, STEP_DATABASE)
    version = Version(dossier_id=record.dossier_id, import_id=record.id, fiscal_year_id=fiscal_year_id,
                      start=start, end=end)  # fmt: skip
    outside = await _derive(sessions, version, report, loaded)
    if outside:
        report = _with_warning(report, "outside_fiscal_year", OUTSIDE, count=str(outside),
                               start=f"{start:%d/%m/%Y}", end=f"{end:%d/%m/%Y}")  # fmt: skip
    await step(loaded, loaded, STEP_ENTRIES)
    swapped = await _activate(sessions, version, report)
    if swapped is None:
        return Outcome(status=ImportStatus.REFUSED, report=report)
    for retired_id in swapped:
        await delete_version(sessions, retired_id)
    await step(loaded, loaded, STEP_DONE)
    return Outcome(status=ImportStatus.SUCCEEDED, fiscal_year_id=fiscal_year_id, replaced=bool(swapped), report=report)


async def _prepare(
    sessions: Sessions, files_dir: Path, import_id: uuid.UUID, progress: Progress
) -> tuple[LedgerImport, Dossier, Path] | Outcome:
    """The import, its dossier and its file, unless there is nothing (more) to do.

    A retry of an import that succeeded (its attempt died after activating) deletes what the
    import replaced, as the job requested on activation also does, and reports it done.
    """
    async with sessions() as session:
        record = await session.get(LedgerImport, import_id)
        dossier = await session.get(Dossier, record.dossier_id) if record is not None else None
    if record is None or dossier is None:
        return Outcome(status=ImportStatus.FAILED)
    if record.status is ImportStatus.TO_CONFIRM:  # nothing is imported before the person confirms
        return Outcome(status=record.status)
    if record.status is ImportStatus.SUCCEEDED:
        await purge_versions(sessions, record.dossier_id)
        await progress(record.progress_done, record.progress_total, STEP_DONE)
    if record.status.is_final:
        return Outcome(status=record.status, replaced=record.replaced)
    await discard_staging(sessions, import_id)
    path = files_dir / record.storage_name if record.storage_name else None
    if path is None or not path.is_file():
        await _set_import(
            sessions, import_id, status=ImportStatus.FAILED, error=FILE_MISSING, finished_at=dt.datetime.now(dt.UTC)
        )
        return Outcome(status=ImportStatus.FAILED)
    return record, dossier, path


def _many(batches: Iterator[list[tuple[Any, ...]]]) -> list[tuple[Any, ...]] | None:
    """The next few batches of checked lines (a few thousand), or None at the end. Runs in a thread."""
    rows: list[tuple[Any, ...]] = []
    for batch in batches:
        rows.extend(batch)
        if len(rows) >= WRITE_ROWS // 2:
            break
    return rows or None


async def _write(sessions: Sessions, fiscal_year_id: uuid.UUID, rows: list[tuple[Any, ...]], loaded: int) -> int:
    """Write ``rows`` into the staging version in one transaction; the lines loaded so far."""
    if rows:
        async with sessions() as session, session.begin():
            key = uuid_value(session, fiscal_year_id)
            await copy_rows(session, Line.__tablename__, LINE_COLUMNS, [(key, *row) for row in rows])
    return loaded + len(rows)


async def _stage(sessions: Sessions, record: LedgerImport) -> uuid.UUID:
    """A new, invisible version of the fiscal year for the lines to land in."""
    async with sessions() as session, session.begin():
        version = FiscalYear(
            dossier_id=record.dossier_id,
            # Placeholders until the file has been read; staging versions are never shown.
            start_date=record.period_start or dt.date(1900, 1, 1),
            end_date=record.period_end or dt.date(1900, 1, 1),
            state=VersionState.STAGING,
            source=record.source,
            import_id=record.id,
        )
        session.add(version)
        await session.flush()
        return version.id


async def _load_lines(
    sessions: Sessions,
    reader: fec.FecFile,
    fiscal_year_id: uuid.UUID,
    path: Path,
    step: Callable[[int, int | None, str], Awaitable[None]],
) -> int:
    """Stream the file's lines into the staging version, batch by batch; returns how many."""
    total = await anyio.to_thread.run_sync(count_lines, path)
    await step(0, total, STEP_ANALYSE)
    loaded = 0
    # Reading and checking the next batch (in a thread) overlaps with writing this one.
    loop = asyncio.get_running_loop()
    batches = reader.batches(BATCH_SIZE)
    pending = loop.run_in_executor(None, _many, batches)
    rows: list[tuple[Any, ...]] = []
    reported = 0
    try:
        while (batch := await pending) is not None:
            pending = loop.run_in_executor(None, _many, batches)
            rows.extend(batch)
            if len(rows) < WRITE_ROWS:
                continue
            loaded = await _write(sessions, fiscal_year_id, rows, loaded)
            rows = []
            if loaded - reported >= PROGRESS_EVERY:
                reported = loaded
                await step(loaded, max(total, loaded), STEP_ANALYSE)
        loaded = await _write(sessions, fiscal_year_id, rows, loaded)
        await step(loaded, max(total, loaded), STEP_ANALYSE)
    finally:
        with contextlib.suppress(Exception):  # never close the file under a read still running
            await pending
    return loaded


def _with_error(report: fec.Report, code: str, message: str, **params: str) -> fec.Report:
    report.issues.append(fec.Issue(fec.Severity.ERROR, code, message, params, None, None))
    report.error_count += 1
    return report


def _with_warning(report: fec.Report, code: str, message: str, **params: str) -> fec.Report:
    report.issues.append(fec.Issue(fec.Severity.WARNING, code, message, params, None, None))
    report.warning_count += 1
    return report


async def _refuse(sessions: Sessions, import_id: uuid.UUID, report: fec.Report) -> None:
    await _set_import(
        sessions, import_id, status=ImportStatus.REFUSED, report=report.to_dict(), step=None,
        finished_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip


@dataclass(frozen=True)
class Version:
    """The staging version an import wrote, and the fiscal year it is for."""

    dossier_id: uuid.UUID
    import_id: uuid.UUID
    fiscal_year_id: uuid.UUID
    start: dt.date
    end: dt.date


async def _derive(sessions: Sessions, version: Version, report: fec.Report, lines: int) -> int:
    """Entries, journals, balances and accounts of the version, from its lines, in passes over them (entries;
    balances per account, month and journal; VAT lines), joins on the entries' first lines, and the accounts
    summed from the balances; returns how many lines are dated outside the year."""
    fiscal_year_id, start, end = version.fiscal_year_id, version.start, version.end
    of_version = Line.fiscal_year_id == fiscal_year_id
    entries = (
        select(
            Line.journal_code.label("journal_code"), Line.entry_number.label("number"),
            func.min(Line.entry_date).label("entry_date"), func.min(Line.piece_ref).label("piece_ref"),
            func.min(Line.line_no).label("first_line_no"), func.count().label("line_count"),
            func.sum(Line.debit).label("debit_total"), func.sum(Line.credit).label("credit_total"),
        ).where(of_version).group_by(Line.journal_code, Line.entry_number)
    ).subquery("entries")  # fmt: skip
    first = Line.__table__.alias("first_line")
    async with sessions() as session, session.begin():
        # The lines were just copied in: without fresh statistics the version is estimated at one row,
        # and the join below becomes a scan of the whole version per entry (hours for 300,000 lines).
        await analyze(session, Line.__tablename__)
    async with sessions() as session, session.begin():
        key = literal(fiscal_year_id, Entry.fiscal_year_id.type)
        await session.execute(
            insert(Entry).from_select(
                ["fiscal_year_id", "journal_code", "number", "entry_date", "label", "piece_ref", "first_line_no",
                 "line_count", "debit_total", "credit_total"],
                select(
                    key, entries.c.journal_code, entries.c.number, entries.c.entry_date,
                    func.coalesce(first.c.label, ""), entries.c.piece_ref, entries.c.first_line_no,
                    entries.c.line_count, entries.c.debit_total, entries.c.credit_total,
                ).join(first, and_(first.c.fiscal_year_id == key, first.c.line_no == entries.c.first_line_no)),
            )
        )  # fmt: skip
        of_entries = Entry.fiscal_year_id == fiscal_year_id
        await session.execute(
            insert(Journal).from_select(
                ["fiscal_year_id", "code", "label", "entry_count"],
                select(
                    Entry.fiscal_year_id, Entry.journal_code, func.coalesce(func.max(first.c.journal_label), ""),
                    func.count(),
                )
                .join(first, and_(first.c.fiscal_year_id == Entry.fiscal_year_id,
                                  first.c.line_no == Entry.first_line_no))
                .where(of_entries).group_by(Entry.fiscal_year_id, Entry.journal_code),
            )
        )  # fmt: skip
        # The balances per account, month and journal, then the accounts' totals from them.
        await write_balances(session, fiscal_year_id)
        await write_accounts(session, fiscal_year_id)
        # Every line of an entry has the entry's date (the check refuses an entry that mixes dates).
        outside, journals, accounts, entry_count = (
            await session.execute(
                select(
                    select(func.coalesce(func.sum(Entry.line_count), 0))
                    .where(of_entries, or_(Entry.entry_date < start, Entry.entry_date > end)).scalar_subquery(),
                    select(func.count()).select_from(Journal).where(Journal.fiscal_year_id == fiscal_year_id)
                    .scalar_subquery(),
                    select(func.count()).select_from(Account).where(Account.fiscal_year_id == fiscal_year_id)
                    .scalar_subquery(),
                    select(func.count()).select_from(Entry).where(of_entries).scalar_subquery(),
                )
            )
        ).one()  # fmt: skip
        await session.execute(
            update(FiscalYear)
            .where(FiscalYear.id == fiscal_year_id)
            .values(
                start_date=start, end_date=end, line_count=lines, debit_total=report.debit_total,
                credit_total=report.credit_total, journal_count=journals, account_count=accounts,
                entry_count=entry_count, cash_basis=None if report.variant == "BIC" else report.variant,
            )
        )  # fmt: skip
    return int(outside)


async def _activate(sessions: Sessions, version: Version, report: fec.Report) -> list[uuid.UUID] | None:
    """Retire the active version of the same fiscal year and activate the new one, in one transaction.

    Returns the retired versions (to delete), or None when the new one overlaps another
    fiscal year already imported (then nothing changed and the import is refused).
    """
    dossier_id, import_id, fiscal_year_id = version.dossier_id, version.import_id, version.fiscal_year_id
    start, end = version.start, version.end
    async with sessions() as session, session.begin():
        await lock_dossier(session, dossier_id)
        active = FiscalYear.state == VersionState.ACTIVE
        same = list(
            (
                await session.execute(
                    select(FiscalYear.id).where(FiscalYear.dossier_id == dossier_id, active, FiscalYear.end_date == end)
                )
            ).scalars()
        )
        other = (
            await session.execute(
                select(FiscalYear).where(
                    FiscalYear.dossier_id == dossier_id,
                    active,
                    FiscalYear.end_date != end,
                    and_(FiscalYear.start_date <= end, FiscalYear.end_date >= start),
                )
            )
        ).scalar()
        if other is not None:
            refused = _with_error(
                report, "overlap", OVERLAP, start=f"{start:%d/%m/%Y}", end=f"{end:%d/%m/%Y}",
                other_start=f"{other.start_date:%d/%m/%Y}", other_end=f"{other.end_date:%d/%m/%Y}",
            )  # fmt: skip
            await session.execute(
                update(LedgerImport)
                .where(LedgerImport.id == import_id)
                .values(status=ImportStatus.REFUSED, report=refused.to_dict(), step=None,
                        finished_at=dt.datetime.now(dt.UTC))
            )  # fmt: skip
        else:
            now = dt.datetime.now(dt.UTC)
            if same:
                await session.execute(
                    update(FiscalYear).where(FiscalYear.id.in_(same)).values(state=VersionState.RETIRED)
                )
            await session.execute(
                update(FiscalYear)
                .where(FiscalYear.id == fiscal_year_id)
                .values(state=VersionState.ACTIVE, activated_at=now)
            )
            await session.execute(
                update(LedgerImport)
                .where(LedgerImport.id == import_id)
                .values(status=ImportStatus.SUCCEEDED, report=report.to_dict(), replaced=bool(same),
                        step=STEP_DONE, finished_at=now)
            )  # fmt: skip
            # Every active year's figures, this one's and the next year's (whose opening it may be) included.
            await refresh_year_figures(session, dossier_id)
            if same:  # deleted by that job even if this process dies now; this run deletes them first
                await purge.options(dossier_id=dossier_id).enqueue(session, dossier=str(dossier_id))
            record(
                session, "ledger.fiscal_year_imported", object_type="ledger_fiscal_year",
                object_id=str(fiscal_year_id), dossier_id=dossier_id, start=start, end=end,
                lines=report.line_count, replaced=bool(same), import_id=str(import_id),
            )  # fmt: skip
    if other is not None:
        await delete_version(sessions, fiscal_year_id)
        return None
    return same
