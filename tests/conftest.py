"""Test set-up: settings from the environment, one migrated database, a rolled-back transaction per test.

The suite runs on SQLite with the stub broker by default. With
``PORTAL_TEST_DATABASE_URL`` and ``PORTAL_TEST_BROKER_URL`` it runs, unchanged, on
PostgreSQL and Redis: the database named there is emptied and migrated at start.
"""

from __future__ import annotations

import os
import tempfile

_TMP = tempfile.mkdtemp(prefix="portal-tests-")
os.environ["PORTAL_VAR_DIR"] = _TMP
os.environ["PORTAL_DATABASE_URL"] = (
    os.environ.get("PORTAL_TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{_TMP}/test.sqlite3"
)
os.environ["PORTAL_BROKER_URL"] = os.environ.get("PORTAL_TEST_BROKER_URL") or "stub"
os.environ["PORTAL_SECRET_KEY"] = "tests-only-secret-key-0123456789abcdef0123456789"
os.environ["PORTAL_BASE_URL"] = "http://127.0.0.1:8000"
os.environ["PORTAL_JOB_MIN_BACKOFF_MS"] = "50"
os.environ["PORTAL_JOB_MAX_BACKOFF_MS"] = "200"
os.environ["PORTAL_SCHEDULER_TICK_SECONDS"] = "0.2"
os.environ["PORTAL_LOGIN_MAX_FAILURES"] = "5"

from collections.abc import AsyncIterator, Iterator  # noqa: E402

import dramatiq  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402
from litestar import Litestar  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from portal.app import create_app  # noqa: E402
from portal.db.engine import make_engine  # noqa: E402
from portal.jobs import runtime as jobs_runtime  # noqa: E402
from portal.settings import Settings, load_settings  # noqa: E402
from tests import database  # noqa: E402
from tests.browsing import serve_in_process  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session", autouse=True)
def migrated_database(settings: Settings) -> str:
    """Empty the test database and migrate it to head, once per run."""
    database.reset(settings.database_url)
    return settings.database_url


@pytest.fixture(scope="session")
def jobs(settings: Settings, migrated_database: str) -> jobs_runtime.Runtime:
    runtime = jobs_runtime.configure(settings)
    flush = getattr(runtime.broker, "flush_all", None)
    if flush is not None:
        flush()
    return runtime


@pytest.fixture(scope="session")
def worker(jobs: jobs_runtime.Runtime) -> Iterator[dramatiq.Worker]:
    """dramatiq workers consuming the test broker (stub or Redis) for the whole run."""
    consumer = dramatiq.Worker(jobs.broker, worker_threads=2)
    consumer.start()
    yield consumer
    consumer.stop()


@pytest.fixture(scope="session")
async def engine(settings: Settings, migrated_database: str) -> AsyncIterator[AsyncEngine]:
    test_engine = make_engine(settings.database_url)
    yield test_engine
    await test_engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
def session_maker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


@pytest.fixture
async def db_session(session_maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_maker() as session:
        yield session


@pytest.fixture
def app(settings: Settings, session_maker: async_sessionmaker[AsyncSession], jobs: jobs_runtime.Runtime) -> Litestar:
    return create_app(
        settings, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as test_client:
        yield test_client


@pytest.fixture
async def committed(engine: AsyncEngine, worker: dramatiq.Worker) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """For tests whose work crosses processes or threads (jobs, browser): data is really
    committed, and every table is emptied afterwards."""
    maker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield maker
    finally:
        await database.empty_tables(engine)
