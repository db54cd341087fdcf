"""Reading a dossier's ledger and asking for imports, as the person asking is allowed to."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import Select, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.recorder import record as audit
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.clients.locks import lock_dossier
from portal.clients.models import Dossier
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.ledger import aggregates, fec, removal
from portal.ledger import figures as formulas
from portal.ledger.models import (
    Account,
    Entry,
    FiscalYear,
    ImportStatus,
    Journal,
    LedgerImport,
    LedgerSource,
    Line,
    VersionState,
    YearFigures,
)
from portal.ledger.tasks import import_fec
from portal.ledger.trial_balance import BalanceRow, BalanceTotals, balance_columns, totals

RECENT_IMPORTS = 20


@dataclass(frozen=True)
class EntryFilter:
    journal: str = ""
    account: str = ""
    query: str = ""


@dataclass(frozen=True)
class DeletedYear:
    """What « Supprimer l'exercice » removed (the row itself is gone)."""

    id: uuid.UUID
    start: dt.date
    end: dt.date
    entries: int
    lines: int
    source: LedgerSource


@dataclass(frozen=True)
class EntryWithLines:
    entry: Entry
    lines: list[Line]


class LedgerService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- fiscal years -----------------------------------------------------------------

    async def fiscal_years(self, principal: Principal, dossier_id: uuid.UUID) -> list[FiscalYear]:
        """The dossier's active fiscal years, latest first."""
        statement = restrict(select(FiscalYear), principal, Permission.LEDGER_READ, FiscalYear).where(
            FiscalYear.dossier_id == dossier_id, FiscalYear.state == VersionState.ACTIVE
        )
        return list((await self.session.execute(statement.order_by(FiscalYear.end_date.desc()))).scalars())

    async def get_fiscal_year(
        self, principal: Principal, fiscal_year_id: uuid.UUID, permission: Permission = Permission.LEDGER_READ
    ) -> FiscalYear:
        """An active fiscal year, or 404 (missing, replaced, or its dossier not the person's to see)."""
        statement = restrict(select(FiscalYear), principal, permission, FiscalYear).where(
            FiscalYear.id == fiscal_year_id, FiscalYear.state == VersionState.ACTIVE
        )
        fiscal_year = (await self.session.execute(statement)).scalar_one_or_none()
        if fiscal_year is None:
            raise NotFoundException
        return fiscal_year

    async def year_of(
        self, principal: Principal, dossier: Dossier, fiscal_year_id: uuid.UUID, permission: Permission
    ) -> FiscalYear:
        """An active fiscal year of ``dossier``, or 404 (another dossier's id included)."""
        year = await self.get_fiscal_year(principal, fiscal_year_id, permission)
        if year.dossier_id != dossier.id:
            raise NotFoundException
        return year

    async def journals(self, fiscal_year: FiscalYear) -> list[Journal]:
        statement = select(Journal).where(Journal.fiscal_year_id == fiscal_year.id).order_by(Journal.code)
        return list((await self.session.execute(statement)).scalars())

    async def accounts(self, fiscal_year: FiscalYear) -> list[Account]:
        statement = select(Account).where(Account.fiscal_year_id == fiscal_year.id).order_by(Account.number)
        return list((await self.session.execute(statement)).scalars())

    async def general_balance(self, fiscal_year: FiscalYear) -> tuple[list[BalanceRow], BalanceTotals]:
        """The balance générale: every account (CompteNum, CompteLib) with its debit, credit and solde on its side,
        and the total row, all summed by the database."""
        statement = (
            select(
                Account.number.label("account"), Account.label.label("label"),
                *balance_columns(Account.debit_total, Account.credit_total),
            )
            .where(Account.fiscal_year_id == fiscal_year.id)
            .order_by(Account.number)
        )  # fmt: skip
        rows = [BalanceRow.of(row) for row in await self.session.execute(statement)]
        return rows, await totals(self.session, statement)

    async def auxiliary_balance(
        self, fiscal_year: FiscalYear, paging: Paging = FIRST_PAGE
    ) -> tuple[Page[BalanceRow], BalanceTotals]:
        """The balance auxiliaire: per auxiliary account (CompAuxNum, CompAuxLib) under its account, one page of
        them, and the total row over all of them; grouped and summed by the database from the lines."""
        statement = (
            select(
                Line.account_number.label("account"), func.max(Line.account_label).label("label"),
                Line.aux_account_number.label("aux_account"), func.max(Line.aux_account_label).label("aux_label"),
                *balance_columns(func.sum(Line.debit), func.sum(Line.credit)),
            )
            .where(Line.fiscal_year_id == fiscal_year.id, Line.aux_account_number.is_not(None),
                   Line.aux_account_number != "")
            .group_by(Line.account_number, Line.aux_account_number)
            .order_by(Line.account_number, Line.aux_account_number)
        )  # fmt: skip
        shown = await paginate(self.session, statement, paging)
        return replace(shown, items=[BalanceRow.of(row) for row in shown.items]), await totals(self.session, statement)

    async def entries_page(
        self, fiscal_year: FiscalYear, filters: EntryFilter, paging: Paging = FIRST_PAGE
    ) -> Page[EntryWithLines]:
        """One page of the fiscal year's entries in date order, each with its lines."""
        statement: Select[Any] = select(Entry).where(Entry.fiscal_year_id == fiscal_year.id)
        if filters.journal:
            statement = statement.where(Entry.journal_code == filters.journal)
        matching_lines = []
        if filters.account:
            matching_lines.append(Line.account_number.startswith(filters.account, autoescape=True))
        if filters.query:
            words = f"%{filters.query.strip()}%"
            matching_lines.append(or_(Line.label.ilike(words), Line.piece_ref.ilike(words)))
        if matching_lines:
            keys = select(Line.journal_code, Line.entry_number).where(
                Line.fiscal_year_id == fiscal_year.id, *matching_lines
            )
            statement = statement.where(tuple_(Entry.journal_code, Entry.number).in_(keys))
        statement = statement.order_by(Entry.entry_date, Entry.first_line_no)
        result = await paginate(self.session, statement, paging)
        entries: list[Entry] = result.items
        lines: dict[tuple[str, str], list[Line]] = {}
        if entries:
            rows = await self.session.execute(
                select(Line)
                .where(
                    Line.fiscal_year_id == fiscal_year.id,
                    tuple_(Line.journal_code, Line.entry_number).in_([(e.journal_code, e.number) for e in entries]),
                )
                .order_by(Line.line_no)
            )
            for line in rows.scalars():
                lines.setdefault((line.journal_code, line.entry_number), []).append(line)
        items = [EntryWithLines(entry, lines.get((entry.journal_code, entry.number), [])) for entry in entries]
        return Page.of(items, result.total, paging)

    async def export_rows(self, fiscal_year: FiscalYear, *, chunk: int = 5_000) -> AsyncIterator[tuple[Any, ...]]:
        """The version's lines as FEC rows (``fec.ROW_FIELDS`` order), streamed in file order."""
        columns = [getattr(Line, name) for name in fec.ROW_FIELDS]
        statement = (
            select(*columns)
            .where(Line.fiscal_year_id == fiscal_year.id)
            .order_by(Line.line_no)
            .execution_options(yield_per=chunk)
        )
        result = await self.session.stream(statement)
        async for row in result:
            yield tuple(row)

    # --- figures ----------------------------------------------------------------------

    async def previous_year(self, fiscal_year: FiscalYear) -> FiscalYear | None:
        """The active year before this one (ending the day before it starts, else the latest ending before)."""
        return aggregates.previous_of(await aggregates.active_years(self.session, fiscal_year.dossier_id), fiscal_year)

    async def following_year(self, fiscal_year: FiscalYear) -> FiscalYear | None:
        """The active year whose N-1 this one is (it loses its comparisons when this one goes)."""
        years = await aggregates.active_years(self.session, fiscal_year.dossier_id)
        for other in years:
            before = aggregates.previous_of(years, other)
            if before is not None and before.id == fiscal_year.id:
                return other
        return None

    async def figures(self, fiscal_year: FiscalYear) -> formulas.Figures:
        """The year's figures: as stored with it, or computed from its balances when not stored yet."""
        stored = await self.session.get(YearFigures, fiscal_year.id)
        if stored is not None:
            return aggregates.from_stored(stored)
        return await aggregates.compute_figures(self.session, fiscal_year)

    async def explain(self, fiscal_year: FiscalYear, key: str) -> tuple[formulas.Term, ...]:
        """How one figure of the year is computed, account by account (KeyError for an unknown key)."""
        if key not in formulas.BY_KEY and key not in formulas.PARTS:
            raise KeyError(key)
        previous = await self.previous_year(fiscal_year)
        rows = await aggregates.load_balances(self.session, fiscal_year.id)
        before = await aggregates.load_balances(self.session, previous.id) if previous is not None else None
        return formulas.explain(key, rows, previous=before)

    async def account_labels(self, fiscal_year: FiscalYear) -> dict[str, str]:
        statement = select(Account.number, Account.label).where(Account.fiscal_year_id == fiscal_year.id)
        return {row.number: row.label for row in await self.session.execute(statement)}

    # --- imports ----------------------------------------------------------------------

    async def recent_imports(self, principal: Principal, dossier_id: uuid.UUID) -> list[LedgerImport]:
        statement = restrict(select(LedgerImport), principal, Permission.LEDGER_READ, LedgerImport).where(
            LedgerImport.dossier_id == dossier_id
        )
        statement = statement.order_by(LedgerImport.created_at.desc()).limit(RECENT_IMPORTS)
        return list((await self.session.execute(statement)).scalars())

    async def get_import(self, principal: Principal, dossier_id: uuid.UUID, import_id: uuid.UUID) -> LedgerImport:
        statement = restrict(select(LedgerImport), principal, Permission.LEDGER_READ, LedgerImport).where(
            LedgerImport.id == import_id, LedgerImport.dossier_id == dossier_id
        )
        record = (await self.session.execute(statement)).scalar_one_or_none()
        if record is None:
            raise NotFoundException
        return record

    async def fiscal_year_of(self, record: LedgerImport) -> FiscalYear | None:
        """The active version this import produced, if it is still the current one."""
        statement = select(FiscalYear).where(FiscalYear.import_id == record.id, FiscalYear.state == VersionState.ACTIVE)
        fiscal_year: FiscalYear | None = (await self.session.execute(statement)).scalar_one_or_none()
        return fiscal_year

    async def request_import(
        self,
        principal: Principal | None,
        dossier: Dossier,
        *,
        source: LedgerSource,
        filename: str,
        storage_name: str,
        size_bytes: int,
        period_start: dt.date | None = None,
        period_end: dt.date | None = None,
        connection_id: uuid.UUID | None = None,
        enqueue_job: bool = True,
        to_confirm: list[fec.Issue] | None = None,
    ) -> LedgerImport:
        """Record the import of a stored file and ask a worker for it, in the caller's transaction.

        With ``to_confirm`` (why the file may not be the dossier's), the import waits for the person
        (``confirm_import`` or ``cancel_import``) with those warnings as its report; nothing is imported.
        """
        record = LedgerImport(
            dossier_id=dossier.id, source=source, filename=filename, storage_name=storage_name,
            size_bytes=size_bytes, period_start=period_start, period_end=period_end, connection_id=connection_id,
            created_by_id=principal.user_id if principal else None, status=ImportStatus.QUEUED,
        )  # fmt: skip
        if to_confirm:
            record.status = ImportStatus.TO_CONFIRM
            record.report = fec.Report(issues=list(to_confirm), warning_count=len(to_confirm)).to_dict()
        self.session.add(record)
        await self.session.flush()
        if enqueue_job and not to_confirm:
            await self._enqueue(record)
        return record

    async def _enqueue(self, record: LedgerImport) -> None:
        run = await import_fec.options(created_by_id=record.created_by_id, dossier_id=record.dossier_id).enqueue(
            self.session, import_id=str(record.id)
        )
        record.job_run_id = run.id
        await self.session.flush()

    async def _leave_confirmation(self, record: LedgerImport, status: ImportStatus, **values: Any) -> bool:
        """Move an import waiting for confirmation to ``status``; False when it no longer waits (done already)."""
        changed = await self.session.execute(
            update(LedgerImport)
            .where(LedgerImport.id == record.id, LedgerImport.status == ImportStatus.TO_CONFIRM)
            .values(status=status, **values)
            .returning(LedgerImport.id)
            .execution_options(synchronize_session=False)
        )
        if changed.scalar() is None:
            return False
        await self.session.refresh(record)
        return True

    async def confirm_import(self, record: LedgerImport) -> bool:
        """« Importer quand même »: the waiting import goes to a worker. False when it was not waiting."""
        if not await self._leave_confirmation(record, ImportStatus.QUEUED, report=None):
            return False
        await self._enqueue(record)
        audit(self.session, "ledger.import_confirmed", object_type="ledger_import", object_id=str(record.id),
              dossier_id=record.dossier_id, filename=record.filename)  # fmt: skip
        return True

    async def cancel_import(self, record: LedgerImport) -> str | None:
        """« Annuler »: the waiting import ends cancelled; the stored file's name, for the caller to remove
        (None when it was not waiting)."""
        storage_name = record.storage_name
        finished = dt.datetime.now(dt.UTC)
        if not await self._leave_confirmation(record, ImportStatus.CANCELLED, storage_name=None, finished_at=finished):
            return None
        audit(self.session, "ledger.import_cancelled", object_type="ledger_import", object_id=str(record.id),
              dossier_id=record.dossier_id, filename=record.filename)  # fmt: skip
        return storage_name

    # --- deleting a fiscal year ---------------------------------------------------------

    async def delete_fiscal_year(
        self, principal: Principal, dossier: Dossier, fiscal_year_id: uuid.UUID
    ) -> DeletedYear:
        """« Supprimer l'exercice », in the caller's transaction: the year, its entries and all derived from it.

        Under the dossier's lock (an import's activation waits, and sees the year gone), set-based
        (``removal.delete_year``), then every remaining year's figures recomputed (the next year loses its
        N-1), and audited. 404 when the year is not (or no longer) an active year of the dossier the person
        may delete from.
        """
        await lock_dossier(self.session, dossier.id)
        year = await self.year_of(principal, dossier, fiscal_year_id, Permission.LEDGER_DELETE)
        await self.session.refresh(year)
        if year.state is not VersionState.ACTIVE:
            raise NotFoundException
        deleted = DeletedYear(year.id, year.start_date, year.end_date, year.entry_count, year.line_count, year.source)
        await removal.delete_year(self.session, year.id)
        await aggregates.refresh_year_figures(self.session, dossier.id)
        audit(self.session, "ledger.fiscal_year_deleted", object_type="ledger_fiscal_year",
              object_id=str(deleted.id), dossier_id=dossier.id, start=deleted.start, end=deleted.end,
              entries=deleted.entries, lines=deleted.lines, source=deleted.source.value)  # fmt: skip
        return deleted
