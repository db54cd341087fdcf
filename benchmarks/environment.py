"""A throw-away database and settings for a benchmark run.

``PORTAL_BENCH_DATABASE_URL`` / ``PORTAL_BENCH_BROKER_URL`` point a run at PostgreSQL / Redis
(the database is emptied first); by default a SQLite file in a temporary folder and the
embedded broker.
"""

from __future__ import annotations

import os
import statistics
import tempfile

from portal.settings import Settings, load_settings


def bench_settings() -> Settings:
    folder = tempfile.mkdtemp(prefix="portal-bench-")
    os.environ["PORTAL_VAR_DIR"] = folder
    os.environ["PORTAL_DATABASE_URL"] = (
        os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
    )
    os.environ["PORTAL_BROKER_URL"] = os.environ.get("PORTAL_BENCH_BROKER_URL") or "stub"
    os.environ.setdefault("PORTAL_SECRET_KEY", "bench-only-secret-key-0123456789abcdef")
    return load_settings()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe_ms(samples: list[float]) -> str:
    return (
        f"p50 {statistics.median(samples) * 1000:.1f} ms, p95 {percentile(samples, 0.95) * 1000:.1f} ms, "
        f"max {max(samples) * 1000:.1f} ms over {len(samples)} requests"
    )
