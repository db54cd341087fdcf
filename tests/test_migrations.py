"""Migrations: they build the schema the models describe, and a failing one leaves nothing behind."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from portal.db import migrate
from portal.db.engine import make_engine
from portal.domains import metadata
from portal.settings import ROOT, Settings
from tests import database


async def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": migrate.compare_type}), metadata
                )
            )
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def _version(url: str) -> str | None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()


def test_models_and_migrations_do_not_drift(settings: Settings) -> None:
    # The session database was emptied and upgraded to head by the test set-up.
    assert asyncio.run(_diff(settings.database_url)) == []


def test_upgrade_downgrade_upgrade_on_an_empty_database(settings: Settings) -> None:
    url = database.scratch_url(settings.database_url, "roundtrip")
    migrate.upgrade(url)
    assert {"user_account", "dossier", "job_run", "outbox_message", "audit_event"} <= asyncio.run(_tables(url))
    migrate.downgrade(url, "base")
    assert asyncio.run(_tables(url)) <= {"alembic_version"}
    migrate.upgrade(url)
    assert asyncio.run(_diff(url)) == []


FAILING_REVISION = '''
"""a revision that fails half-way"""
import sqlalchemy as sa
from alembic import op

revision = "ffffffffffff"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("SELECT * FROM table_that_does_not_exist")


def downgrade() -> None:
    op.drop_table("half_done")
'''


def test_a_failing_migration_is_rolled_back_whole(settings: Settings, tmp_path: Path) -> None:
    url = database.scratch_url(settings.database_url, "failing")
    migrate.upgrade(url)
    head = asyncio.run(_version(url))
    scripts = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "zz_failing.py").write_text(FAILING_REVISION.format(head=head), encoding="utf-8")
    config = migrate.alembic_config(url)
    config.set_main_option("script_location", str(scripts))
    with pytest.raises(Exception, match="table_that_does_not_exist"):
        command.upgrade(config, "head")
    assert "half_done" not in asyncio.run(_tables(url))
    assert asyncio.run(_version(url)) == head
