"""Suivi: expense totals by month and by employee, the lines export and the accounting export.

Everything here reads through the approvers' restriction: a billing manager sees their
dossier's notes, a partner every dossier's but those hidden from them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.expenses.accounting import EntryLine, NoteForBooks, entry_lines
from portal.expenses.models import ExpenseLine, ExpenseNote, NoteStatus
from portal.expenses.schemas import Period
from portal.i18n import N_
from portal.settings import FIRM_TIMEZONE

ZERO = Decimal("0.00")


class Tracked(StrEnum):
    """Which notes Suivi counts (``statut`` in the URL)."""

    ALL = "toutes"
    SUBMITTED = "soumises"
    APPROVED = "approuvees"
    PAID = "payees"

    @property
    def statuses(self) -> tuple[NoteStatus, ...]:
        return {
            Tracked.ALL: (NoteStatus.SUBMITTED, NoteStatus.APPROVED, NoteStatus.PAID),
            Tracked.SUBMITTED: (NoteStatus.SUBMITTED,),
            Tracked.APPROVED: (NoteStatus.APPROVED,),
            Tracked.PAID: (NoteStatus.PAID,),
        }[self]

    @property
    def label(self) -> str:
        return {
            Tracked.ALL: N_("Soumises, approuvées et payées"),
            Tracked.SUBMITTED: N_("Soumises (à valider)"),
            Tracked.APPROVED: N_("Approuvées (à payer)"),
            Tracked.PAID: N_("Payées"),
        }[self]

    @classmethod
    def parse(cls, value: str) -> Tracked:
        try:
            return cls(value)
        except ValueError:
            return cls.ALL


@dataclass(frozen=True)
class Total:
    lines: int = 0
    ttc: Decimal = ZERO
    vat: Decimal = ZERO

    def __add__(self, other: Total) -> Total:
        return Total(self.lines + other.lines, self.ttc + other.ttc, self.vat + other.vat)

    @property
    def ht(self) -> Decimal:
        return self.ttc - self.vat


@dataclass(frozen=True)
class TotalRow:
    month: dt.date
    employee_id: uuid.UUID
    employee_name: str
    total: Total


@dataclass
class Totals:
    """Rows by (month, employee), with the sums by month, by employee and overall."""

    rows: list[TotalRow] = field(default_factory=list)
    by_month: dict[dt.date, Total] = field(default_factory=dict)
    by_employee: dict[uuid.UUID, tuple[str, Total]] = field(default_factory=dict)
    overall: Total = field(default_factory=Total)


"""Notes whose entries Suivi shows on one page."""


@dataclass(frozen=True)
class Entry:
    """One note's entry in the NDF journal: its lines, debits equal to credits."""

    note_id: uuid.UUID
    reference: str
    lines: list[EntryLine]

    @property
    def debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit

    @property
    def date(self) -> dt.date:
        return self.lines[0].entry_date


@dataclass(frozen=True)
class EntryPage:
    """A page of the period's entries, and the totals of every entry of the period."""

    entries: list[Entry]
    notes: Page[ExpenseNote]
    debit: Decimal
    credit: Decimal

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit


class ExpenseReportService:
    """Reads for approvers: totals, the lines of a period and the entries of approved notes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _approvable(self, statement: Any, principal: Principal) -> Any:
        return restrict(statement, principal, Permission.EXPENSES_APPROVE, ExpenseNote)

    async def totals(self, principal: Principal, period: Period, tracked: Tracked = Tracked.ALL) -> Totals:
        """Sums of the lines dated in ``period``, by month of the expense and by employee."""
        year = extract("year", ExpenseLine.expense_date)
        month = extract("month", ExpenseLine.expense_date)
        statement = self._approvable(
            select(
                year,
                month,
                User.id,
                User.name,
                func.count(ExpenseLine.id),
                func.sum(ExpenseLine.amount_ttc),
                func.sum(ExpenseLine.vat_amount),
            )
            .select_from(ExpenseLine)
            .join(ExpenseNote, ExpenseNote.id == ExpenseLine.note_id)
            .join(User, User.id == ExpenseNote.author_id)
            .where(
                ExpenseLine.expense_date >= period.start,
                ExpenseLine.expense_date <= period.end,
                ExpenseNote.status.in_(tracked.statuses),
            )
            .group_by(year, month, User.id, User.name)
            .order_by(year, month, User.name),
            principal,
        )
        totals = Totals()
        for row_year, row_month, user_id, name, count, ttc, vat in await self.session.execute(statement):
            total = Total(int(count), _money(ttc), _money(vat))
            first_day = dt.date(int(row_year), int(row_month), 1)
            totals.rows.append(TotalRow(first_day, user_id, name, total))
            totals.by_month[first_day] = totals.by_month.get(first_day, Total()) + total
            _name, so_far = totals.by_employee.get(user_id, (name, Total()))
            totals.by_employee[user_id] = (name, so_far + total)
            totals.overall += total
        return totals

    async def lines(
        self, principal: Principal, period: Period, tracked: Tracked = Tracked.ALL, *, chunk: int = 500
    ) -> AsyncIterator[tuple[ExpenseLine, ExpenseNote]]:
        """Every line dated in ``period`` of the notes counted, with its note, streamed in date order."""
        statement = self._approvable(
            select(ExpenseLine, ExpenseNote)
            .join(ExpenseNote, ExpenseNote.id == ExpenseLine.note_id)
            .where(
                ExpenseLine.expense_date >= period.start,
                ExpenseLine.expense_date <= period.end,
                ExpenseNote.status.in_(tracked.statuses),
            )
            .order_by(ExpenseLine.expense_date, ExpenseNote.year, ExpenseNote.sequence, ExpenseLine.id)
            .execution_options(yield_per=chunk),
            principal,
        )
        result = await self.session.stream(statement)
        async for line, note in result:
            yield line, note

    def _booked(self, principal: Principal, period: Period) -> Any:
        """The notes approved (paid ones included) on a day of ``period`` that the person approves, in book order."""
        return self._approvable(
            select(ExpenseNote)
            .where(
                ExpenseNote.status.in_((NoteStatus.APPROVED, NoteStatus.PAID)),
                ExpenseNote.accounting_date >= period.start,
                ExpenseNote.accounting_date <= period.end,
            )
            .order_by(ExpenseNote.accounting_date, ExpenseNote.year, ExpenseNote.sequence),
            principal,
        )

    async def entry_page(self, principal: Principal, period: Period, paging: Paging = FIRST_PAGE) -> EntryPage:
        """The entries of a page of the period's approved notes, with the totals of the whole period."""
        notes = await paginate(self.session, self._booked(principal, period), paging)
        entries = [Entry(note.id, note.reference, entry_lines(for_books(note))) for note in notes.items]
        debit = credit = ZERO
        async for line in self.entries(principal, period):
            debit += line.debit
            credit += line.credit
        return EntryPage(entries=entries, notes=notes, debit=debit, credit=credit)

    async def entries(self, principal: Principal, period: Period, *, chunk: int = 200) -> AsyncIterator[EntryLine]:
        """The entry lines of every note approved (paid ones included) on a day of ``period``."""
        statement = self._booked(principal, period).execution_options(yield_per=chunk)
        result = await self.session.stream_scalars(statement)
        async for note in result:
            for line in entry_lines(for_books(note)):
                yield line


def for_books(note: ExpenseNote) -> NoteForBooks:
    """An approved note as its accounting entry needs it."""
    if note.accounting_date is None or note.payable_account is None:
        raise ValueError(f"{note.reference} is not approved")
    submitted = note.submitted_at.astimezone(FIRM_TIMEZONE).date() if note.submitted_at else note.accounting_date
    return NoteForBooks(
        reference=note.reference,
        title=note.title,
        accounting_date=note.accounting_date,
        piece_date=submitted,
        payable_account=note.payable_account,
        employee_id=note.author_id,
        employee_name=note.author.name,
        lines=tuple(note.lines),
    )


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))
