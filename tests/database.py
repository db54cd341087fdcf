"""Creating, emptying and migrating test databases on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import pathlib

from sqlalchemy import delete, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from portal.db import migrate
from portal.domains import metadata


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


async def _ensure_postgres_database(url: str, *, recreate_schema: bool) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        await admin.dispose()
    if recreate_schema:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()


def reset(url: str) -> None:
    """Leave ``url`` as an empty database migrated to head."""
    if _is_postgres(url):
        asyncio.run(_ensure_postgres_database(url, recreate_schema=True))
    migrate.upgrade(url)


def scratch_url(url: str, suffix: str) -> str:
    """A second, empty database beside ``url`` (same server, or same folder for SQLite)."""
    parsed = make_url(url)
    if _is_postgres(url):
        scratch = parsed.set(database=f"{parsed.database}_{suffix}")
        rendered = scratch.render_as_string(hide_password=False)
        asyncio.run(_ensure_postgres_database(rendered, recreate_schema=True))
        return rendered
    path = f"{parsed.database}.{suffix}"
    for extra in ("", "-wal", "-shm"):
        pathlib.Path(path + extra).unlink(missing_ok=True)
    return parsed.set(database=path).render_as_string(hide_password=False)


async def empty_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
