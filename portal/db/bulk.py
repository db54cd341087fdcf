"""Loading many rows at once, at the speed of each database's own bulk path.

PostgreSQL gets ``COPY`` (asyncpg's ``copy_records_to_table``); SQLite gets one prepared
``INSERT`` run over the batch (``executemany``). Both run on the session's own
connection, inside its transaction, so a batch commits or rolls back with the rest.
Rows are plain tuples in ``columns`` order; the caller converts nothing but UUIDs,
which this module renders the way each dialect stores them.

After a bulk load, ``analyze`` lets PostgreSQL's planner see the rows just written
before anything is derived from them.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Explicit adapters (Python's implicit date adapter is deprecated): the same text SQLAlchemy's
# SQLite Date type writes and reads, and decimals as exact text (NUMERIC affinity keeps the value).
sqlite3.register_adapter(dt.date, dt.date.isoformat)
sqlite3.register_adapter(Decimal, str)


def uuid_value(session: AsyncSession, value: uuid.UUID) -> Any:
    """``value`` as the dialect stores a GUID column: 16 bytes on SQLite, a native uuid elsewhere."""
    return value.bytes if session.get_bind().dialect.name == "sqlite" else value


async def copy_rows(session: AsyncSession, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` into ``table`` on the session's connection (in its transaction)."""
    if not rows:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if connection.dialect.name == "postgresql":
        await driver.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    placeholders = ", ".join("?" for _ in columns)
    await driver.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)  # noqa: S608 - names are the caller's constants


async def analyze(session: AsyncSession, table: str) -> None:
    """Refresh PostgreSQL's statistics of ``table`` (a sample of it: seconds at most, even for millions of rows).

    Right after a load the planner still counts the rows of before it (autovacuum analyses
    later, or never under a steady load): a version just copied in is estimated at one row,
    and a join over it is planned as a loop that scans the whole version once per row.
    SQLite plans from its indexes, not from row estimates: nothing to do there.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"ANALYZE {table}"))
