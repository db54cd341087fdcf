"""Test set-up: settings from the environment, one migrated database, a rolled-back transaction per test.

The suite runs on SQLite with the stub broker by default. With
``PORTAL_TEST_DATABASE_URL`` and ``PORTAL_TEST_BROKER_URL`` it runs, unchanged, on
PostgreSQL and Redis: the database named there is emptied and migrated at start.

Under pytest-xdist (``make test`` runs ``-n``) every worker has its own database (SQLite:
its own temporary folder; PostgreSQL: the name suffixed with the worker id, e.g.
``portal_ci_gw0``) and its own broker namespace on Redis, so that no worker ever sees
another one's rows or consumes another one's messages.
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile

from sqlalchemy import make_url

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"… under pytest-xdist, else ""


def _per_worker(url: str) -> str:
    """``url`` with the worker id appended to its database name (PostgreSQL: one database per worker)."""
    if not _WORKER:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{_WORKER}").render_as_string(hide_password=False)


_TMP = tempfile.mkdtemp(prefix=f"portal-tests-{_WORKER}-" if _WORKER else "portal-tests-")
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
os.environ["PORTAL_VAR_DIR"] = _TMP
_TEST_DATABASE_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
os.environ["PORTAL_DATABASE_URL"] = (
    _per_worker(_TEST_DATABASE_URL) if _TEST_DATABASE_URL else f"sqlite+aiosqlite:///{_TMP}/test.sqlite3"
)
os.environ["PORTAL_BROKER_URL"] = os.environ.get("PORTAL_TEST_BROKER_URL") or "stub"
os.environ["PORTAL_BROKER_NAMESPACE"] = f"portal-tests-{_WORKER}" if _WORKER else "portal-tests"
os.environ["PORTAL_SECRET_KEY"] = "tests-only-secret-key-0123456789abcdef0123456789"
os.environ["PORTAL_BASE_URL"] = "http://127.0.0.1:8000"
os.environ["PORTAL_JOB_MIN_BACKOFF_MS"] = "50"
os.environ["PORTAL_JOB_MAX_BACKOFF_MS"] = "200"
os.environ["PORTAL_SCHEDULER_TICK_SECONDS"] = "0.2"
os.environ["PORTAL_JOB_HEARTBEAT_SECONDS"] = "0.5"
os.environ["PORTAL_LOGIN_MAX_FAILURES"] = "5"

from collections.abc import AsyncIterator, Iterator  # noqa: E402

import dramatiq  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from litestar import Litestar  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from portal import domains  # noqa: E402
from portal.accounts import passwords  # noqa: E402
from portal.app import create_app  # noqa: E402
from portal.db.engine import make_engine  # noqa: E402
from portal.jobs import runtime as jobs_runtime  # noqa: E402
from portal.settings import Settings, load_settings  # noqa: E402
from tests import database  # noqa: E402
from tests.browsing import serve_in_process  # noqa: E402

# The sandboxes' fixtures (``sandbox_url``, ``pennylane_settings``…), for the integrations' tests and the sandbox's own.
pytest_plugins = ("tests.sandboxes",)

# argon2id at its lowest cost in this process: at the production profile, hashing and checking
# the factories' passwords was a quarter of the suite's CPU. The ``portal`` commands that
# tests/test_cli.py runs keep the real profile, and their hashes are checked here as they are.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
passwords._DUMMY_HASH = passwords._hasher.hash("portal-timing-equaliser")


# Every domain's listeners, restrictions, jobs and schedules, as a worker has them: many tests
# use services, workers and the scheduler without building an application.
domains.install()


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


class _TestSessions:
    """The session maker of the test under way, behind the one callable the shared app was given."""

    def __init__(self) -> None:
        self.current: async_sessionmaker[AsyncSession] | None = None

    def __call__(self) -> AsyncSession:
        assert self.current is not None, "the app is used outside a test"
        return self.current()


_TEST_SESSIONS = _TestSessions()


@pytest.fixture(scope="session")
def _shared_app(settings: Settings, jobs: jobs_runtime.Runtime) -> Litestar:
    """One application per test process: building one registers every route and takes about a second, and
    most tests need one. Each test points it at its own rolled-back transaction (``app``)."""
    return create_app(
        settings, session_maker=_TEST_SESSIONS, background=False, embedded_worker=False, migrate_on_start=False
    )


@pytest.fixture
def app(_shared_app: Litestar, session_maker: async_sessionmaker[AsyncSession]) -> Iterator[Litestar]:
    _TEST_SESSIONS.current = session_maker
    try:
        yield _shared_app
    finally:
        _TEST_SESSIONS.current = None


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


@pytest.fixture(autouse=True)
def _finalise_garbage() -> Iterator[None]:
    """Collect garbage after every test: a connection dropped without being closed then warns in
    the teardown of the test that dropped it, instead of in whichever test the collector next
    happens to run (``filterwarnings = error`` turns the warning into that test's failure).

    What survives is then frozen (``gc.freeze``): the app, the metadata and the modules built once per process
    are not walked again after each of the thousand tests, only what the next test allocates."""
    yield
    gc.collect()
    gc.freeze()
