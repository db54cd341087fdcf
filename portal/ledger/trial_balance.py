"""Balances as an accountant reads them: per account (générale) or per auxiliary account (auxiliaire), debit,
credit, and the solde on the side it falls (Solde débiteur / Solde créditeur), with a total row.

Every figure is computed by the database: a balance is one grouped statement whose rows carry
``debit``, ``credit``, ``debit_balance`` and ``credit_balance`` columns, and its total row sums that same
statement (``totals``), so the total of a paged balance covers every row, not only the page shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement


@dataclass(frozen=True)
class BalanceRow:
    """One account (or auxiliary account) of a balance; amounts in cents."""

    account: str
    label: str
    debit: int
    credit: int
    debit_balance: int
    credit_balance: int
    aux_account: str | None = None
    aux_label: str | None = None

    @classmethod
    def of(cls, row: Any) -> BalanceRow:
        values = row._mapping  # noqa: SLF001 - a Row's public mapping view (SQLAlchemy names it so)
        return cls(
            account=values["account"], label=values["label"] or "", debit=int(values["debit"]),
            credit=int(values["credit"]), debit_balance=int(values["debit_balance"]),
            credit_balance=int(values["credit_balance"]), aux_account=values.get("aux_account"),
            aux_label=values.get("aux_label"),
        )  # fmt: skip


@dataclass(frozen=True)
class BalanceTotals:
    """The total row: every row's debit, credit and soldes summed (in cents)."""

    rows: int
    debit: int
    credit: int
    debit_balance: int
    credit_balance: int


def sides(debit: Any, credit: Any) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The solde of ``debit − credit`` on its side: (Solde débiteur, Solde créditeur), the other one 0."""
    net = debit - credit
    zero = literal(0)
    return (
        case((net > 0, net), else_=zero).label("debit_balance"),
        case((net < 0, -net), else_=zero).label("credit_balance"),
    )


def balance_columns(debit: Any, credit: Any) -> list[ColumnElement[Any]]:
    """``debit``, ``credit`` and their soldes, labelled as a balance's statement carries them."""
    return [debit.label("debit"), credit.label("credit"), *sides(debit, credit)]


async def totals(session: AsyncSession, rows: Select[*tuple[Any, ...]]) -> BalanceTotals:
    """The total row of the balance ``rows`` selects, summed by the database over all its rows."""
    every = rows.order_by(None).limit(None).offset(None).subquery()
    statement = select(
        func.count(),
        func.coalesce(func.sum(every.c.debit), 0),
        func.coalesce(func.sum(every.c.credit), 0),
        func.coalesce(func.sum(every.c.debit_balance), 0),
        func.coalesce(func.sum(every.c.credit_balance), 0),
    )
    count, debit, credit, debit_balance, credit_balance = (await session.execute(statement)).one()
    return BalanceTotals(int(count), int(debit), int(credit), int(debit_balance), int(credit_balance))
