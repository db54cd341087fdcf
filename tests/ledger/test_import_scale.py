"""A large FEC import on PostgreSQL keeps a linear plan, whatever the table's statistics say.

The import derives entries, journals and accounts right after loading its lines with
``COPY``; the statistics PostgreSQL plans with are those of before the load (autovacuum
has not seen the new rows yet). Here autovacuum is off for the line table, a small
import runs and is analysed (what autovacuum would have done), then 300,000 lines go
into another dossier: with plans taken from the stale statistics (one row per version)
the entries were derived by scanning the whole version once per entry, for hours; with
a right plan it is a matter of seconds, and the bound below leaves minutes of slack.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.fec import generate
from portal.clients.models import Dossier
from portal.ledger.files import ImportFiles
from portal.ledger.importer import run_import
from portal.ledger.models import Entry, FiscalYear, ImportStatus, LedgerSource, Line, VersionState
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.factories.clients import make_dossier
from tests.samples import FEC_SAMPLES

pytestmark = pytest.mark.skipif(
    not os.environ.get("PORTAL_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="PostgreSQL only: the plans under test are PostgreSQL's (SQLite has no COPY and no statistics to go stale)",
)

Maker = async_sessionmaker[AsyncSession]
SMALL = FEC_SAMPLES / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
LARGE_LINES = 300_000
# Seconds: a right plan imports the large file in well under a minute even on a busy machine;
# the plan from stale statistics does not finish in an hour.
BOUND = 300


async def _import(maker: Maker, settings: Settings, dossier: Dossier, path: Path) -> uuid.UUID:
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    with path.open("rb") as handle:
        name, size = files.save(handle)
    async with maker() as session, session.begin():
        record = await LedgerService(session).request_import(
            None, dossier, source=LedgerSource.COMMAND, filename=path.name, storage_name=name, size_bytes=size,
            enqueue_job=False,
        )  # fmt: skip
    outcome = await run_import(maker, files.root, record.id)
    assert outcome.status is ImportStatus.SUCCEEDED, outcome.report and outcome.report.to_dict()
    assert outcome.fiscal_year_id is not None
    files.discard(name)
    return outcome.fiscal_year_id


async def _autovacuum(maker: Maker, *, enabled: bool) -> None:
    async with maker() as session, session.begin():
        setting = "RESET (autovacuum_enabled)" if enabled else "SET (autovacuum_enabled = false)"
        await session.execute(text(f"ALTER TABLE {Line.__tablename__} {setting}"))


async def test_a_large_import_after_a_small_one_keeps_a_linear_plan(
    committed: Maker, settings: Settings, tmp_path: Path
) -> None:
    large = await asyncio.to_thread(generate, tmp_path / "123456789FEC20241231.txt", LARGE_LINES)
    async with committed() as session, session.begin():
        small_dossier = await make_dossier(session, name="Petit Dossier Analysé", closing_day=31, closing_month=8)
        large_dossier = await make_dossier(session, name="Grand Dossier Chargé", closing_day=31, closing_month=12)
    await _autovacuum(committed, enabled=False)
    try:
        await _import(committed, settings, small_dossier, SMALL)
        async with committed() as session, session.begin():
            # What autovacuum did after the small import, and will not do again during the large one.
            await session.execute(text(f"ANALYZE {Line.__tablename__}"))
            await session.execute(text(f"ANALYZE {Entry.__tablename__}"))
        async with asyncio.timeout(BOUND):
            fiscal_year_id = await _import(committed, settings, large_dossier, large)
    finally:
        await _autovacuum(committed, enabled=True)
    async with committed() as session:
        version = await session.get(FiscalYear, fiscal_year_id)
        assert version is not None
        assert (version.state, version.line_count) == (VersionState.ACTIVE, LARGE_LINES)
        lines = await session.scalar(select(func.count()).where(Line.fiscal_year_id == fiscal_year_id))
        entries = await session.scalar(select(func.count()).where(Entry.fiscal_year_id == fiscal_year_id))
    assert lines == LARGE_LINES
    assert entries == version.entry_count > LARGE_LINES // 6
