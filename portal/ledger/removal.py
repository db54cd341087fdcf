"""Removing one fiscal year and everything that hangs on it, set-based, in the caller's transaction.

What hangs on it is read from the schema, not listed by hand: every table with a foreign key to
``ledger_fiscal_year`` (lines, entries, journals, accounts, balances, stored figures, and any table a later
feature adds) loses its rows of the year by one ``DELETE … WHERE`` when its key says ``ON DELETE CASCADE``,
or has the key cleared by one ``UPDATE`` when it says ``SET NULL`` (a PDF report keeps its file and its
closing date). A key that says neither is a new table that has not said what becomes of its rows: the
removal refuses rather than guess.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Column, Table, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.ledger.models import FiscalYear


def dependents() -> list[tuple[Table, Column[Any], str]]:
    """(table, column, ON DELETE rule) of every foreign key to a fiscal year."""
    years = FiscalYear.__table__
    return [
        (table, key.parent, (key.ondelete or "").upper())
        for table in FiscalYear.metadata.sorted_tables
        for key in table.foreign_keys
        if key.column.table is years
    ]


async def delete_year(session: AsyncSession, fiscal_year_id: uuid.UUID) -> None:
    """Delete the fiscal year (any version) and what hangs on it: one statement per dependent table."""
    for table, column, rule in dependents():
        if rule == "CASCADE":
            await session.execute(delete(table).where(column == fiscal_year_id))
        elif rule == "SET NULL":
            await session.execute(update(table).where(column == fiscal_year_id).values({column.name: None}))
        else:
            raise RuntimeError(f"{table.name}.{column.name} does not say what becomes of it when its year goes")
    await session.execute(
        delete(FiscalYear).where(FiscalYear.id == fiscal_year_id).execution_options(synchronize_session=False)
    )
