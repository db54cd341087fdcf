"""A throw-away database and settings for a benchmark run.

``PORTAL_BENCH_DATABASE_URL`` / ``PORTAL_BENCH_BROKER_URL`` point a run at PostgreSQL / Redis
(the database is emptied first: its schema dropped and migrated again); by default a SQLite
file in a temporary folder and the embedded broker.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import tempfile
import time

import httpx
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal.domains import metadata
from portal.settings import Settings, load_settings
from tests import database


def bench_settings() -> Settings:
    """Settings for the run, and their database empty and migrated to head."""
    folder = tempfile.mkdtemp(prefix="portal-bench-")
    # The SQLite file of 50,000 dossiers and its index weigh tens of megabytes: gone at exit.
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["PORTAL_VAR_DIR"] = folder
    os.environ["PORTAL_DATABASE_URL"] = (
        os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
    )
    os.environ["PORTAL_BROKER_URL"] = os.environ.get("PORTAL_BENCH_BROKER_URL") or "stub"
    os.environ.setdefault("PORTAL_SECRET_KEY", "bench-only-secret-key-0123456789abcdef")
    settings = load_settings()
    database.reset(settings.database_url)
    return settings


async def empty_database(engine: AsyncEngine) -> None:
    """Every table emptied, the schema kept: for a benchmark that follows another in the same run.

    PostgreSQL truncates (no dead rows left behind to skew the next figures).
    """
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(delete(table))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe_ms(samples: list[float]) -> str:
    return (
        f"p50 {statistics.median(samples) * 1000:.1f} ms, p95 {percentile(samples, 0.95) * 1000:.1f} ms, "
        f"max {max(samples) * 1000:.1f} ms over {len(samples)} requests"
    )


async def time_requests(client: httpx.AsyncClient, path: str, count: int) -> list[float]:
    """Seconds each of ``count`` GETs of ``path`` took; every one must answer 200."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.get(path)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return samples
