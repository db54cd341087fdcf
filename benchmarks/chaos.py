"""``python -m benchmarks.chaos`` (``make chaos``): the production topology on loopback, under faults and load.

The harness starts what production runs, each in a process group of its own: a Redis server
(``redis-server`` on 127.0.0.1, port ``PORTAL_CHAOS_REDIS_PORT``, default 6391, nothing saved), one
web process (``uvicorn --factory portal.app:create_app``, port ``PORTAL_CHAOS_WEB_PORT``, default
8250), a worker (``portal worker``) and a scheduler (``portal scheduler``), on a PostgreSQL database of
its own (``PORTAL_CHAOS_DATABASE_URL``, default ``portal_chaos`` on 127.0.0.1; emptied and migrated
first, left in place afterwards for a look). Then, each bounded in time:

1. ``load``: 64 signed-in clients at once on the one web process, each reading ``/entreprises`` and
   signing in again (concurrent ``POST /connexion`` for one account): no 500, and a plain request
   answers at once afterwards. A web process that does not recover is restarted for what follows.
2. ``worker killed``: the worker SIGKILLed in the middle of "Créer mes clients" (dossiers loaded
   set-based, the billing entity chosen and the job started through the pages, as a person does),
   then in the middle of a FEC import (a generated file uploaded through the page); a new worker
   started; within 90 s, exact counts: clients = links = dossiers, no SIREN twice, the fiscal year
   imported once, no staging or retired version left.
3. ``redis stopped``: dossiers created through the page while Redis is down for 30 s, then back:
   every dossier gets its client, the outbox is empty at the end.
4. ``backends terminated``: every backend of the database but the harness's own terminated
   (``pg_terminate_backend``) during "Créer mes clients": the job is retried, exact counts.
5. ``two schedulers``: two scheduler processes ticking every second for a while, from an empty
   slot history: every due slot enqueued exactly once.

It prints a table (scenario, load, errors, rows expected, rows found, recovery time, verdict) and
exits 1 when anything is lost, doubled, stuck, or a 500 appears. The settings are production's
defaults (heartbeats, redelivery, retries, pools): the caller's ``PORTAL_*`` variables are not
passed on. Overridden: the database, broker, port, base URL, var folder and secret key (the
harness's own), the worker's processes (``--processes 1``, the machine is shared; the portal's
default of 4 threads) and the scheduler tick of scenario 5 (1 s instead of 15 s, so that two schedulers
race many times in 20 s). Every process is stopped by its process group at the end, on failure,
on Ctrl-C and on SIGTERM; the processes' logs stay in the folder printed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from stdnum import luhn
from uuid_utils.compat import uuid7

from benchmarks import fec as fec_bench
from portal.auth.roles import FirmRole
from portal.billing.models import BillingClient, ClientDossierLink
from portal.clients import names
from portal.clients.identifiers import parse
from portal.clients.models import Dossier
from portal.db.engine import make_engine, make_session_maker
from portal.firm.models import Firm
from portal.firm.services import UserService
from portal.jobs import registry
from portal.jobs.models import JobRun, JobStatus, OutboxMessage
from portal.jobs.scheduler import latest_slot
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport, Line, VersionState
from tests import database
from tests.browsing import csrf_token, sign_in

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
WEB_PORT = int(os.environ.get("PORTAL_CHAOS_WEB_PORT") or 8250)
REDIS_PORT = int(os.environ.get("PORTAL_CHAOS_REDIS_PORT") or 6391)
DATABASE_URL = (
    os.environ.get("PORTAL_CHAOS_DATABASE_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/portal_chaos"
)
BASE = f"http://{HOST}:{WEB_PORT}"
BROKER_URL = f"redis://{HOST}:{REDIS_PORT}/0"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

EMAIL = "associe@chaos.example.fr"  # a reserved top-level domain (.test) is not an address the portal accepts
PASSWORD = "mot-de-passe-du-banc-d-essai"  # a throw-away account of the harness's own database
CLIENTS = 64  # concurrent clients of scenario 1
KEEPALIVE_EXPIRY = 2.0  # seconds a client keeps an idle connection: under the server's 5 s
READS_PER_CLIENT = 3
LOAD_BOUND = 120.0  # seconds for the whole load
RECOVERY_AT_ONCE = 5.0  # seconds: a plain request right after the load answers within this
DOSSIERS = 30_000  # loaded set-based before each "Créer mes clients" (the job goes by batches of 5,000)
FEC_LINES = 200_000
RECOVERY_BOUND = 90.0  # seconds from the kill to the job done, with the default heartbeat settings
REDIS_DOWN = 30.0
SCHEDULERS_FOR = 20.0
SETTLE = 90.0  # seconds for the outbox and every run to settle at the end of a scenario
REQUEST_TIMEOUT = 60.0
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING)

Maker = async_sessionmaker[AsyncSession]


# --- processes ------------------------------------------------------------------------------


class Interrupted(BaseException):
    """SIGTERM: stop like Ctrl-C, through every ``finally``."""


@dataclass
class Service:
    """One process of the topology, in a process group of its own (a dramatiq supervisor and its workers)."""

    name: str
    command: list[str]
    env: dict[str, str]
    logs: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with (self.logs / f"{self.name}.log").open("ab") as log:
            log.write(f"\n--- start {self.starts} at {dt.datetime.now(dt.UTC):%H:%M:%S}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - fixed commands, this interpreter
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _signal_group(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL, the whole group at once (a crash: nothing runs its clean-up)."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.process = None

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; the group's leftovers are killed too."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_contains(self, needle: str, since_start: int) -> bool:
        text_ = (self.logs / f"{self.name}.log").read_text(encoding="utf-8", errors="replace")
        return needle in text_.split(f"--- start {since_start} at", 1)[-1]


class Topology:
    """Redis, web, worker and scheduler processes with the harness's settings; every one stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = self.environment(folder)
        py = sys.executable
        self.redis = self.service(
            "redis",
            [
                "redis-server",
                "--daemonize",
                "no",
                "--bind",
                HOST,
                "--port",
                str(REDIS_PORT),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        self.web = self.service(
            "web",
            [
                py,
                "-m",
                "uvicorn",
                "--factory",
                "portal.app:create_app",
                "--host",
                HOST,
                "--port",
                str(WEB_PORT),
                "--workers",
                "1",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        )
        # One worker process (production: one per CPU) with the default 4 threads: the machine is shared.
        self.worker = self.service("worker", [py, "-m", "portal", "worker", "--processes", "1"])
        self.scheduler = self.service("scheduler", [py, "-m", "portal", "scheduler"])
        self.extra: list[Service] = []

    @staticmethod
    def environment(folder: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
        return env | {
            "PORTAL_DATABASE_URL": DATABASE_URL,
            "PORTAL_BROKER_URL": BROKER_URL,
            "PORTAL_VAR_DIR": str(folder / "var"),
            "PORTAL_PORT": str(WEB_PORT),
            "PORTAL_BASE_URL": BASE,
            "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),
            "PORTAL_SMTP_URL": "outbox",
        }

    def service(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Service:
        return Service(name, command, env or self.env, self.folder)

    def all(self) -> list[Service]:
        return [self.scheduler, self.worker, self.web, *self.extra, self.redis]

    async def start(self) -> None:
        await self.start_redis()
        for service in (self.web, self.worker, self.scheduler):
            service.start()
        await self.web_ready()
        await self.worker_ready()

        async def scheduling() -> bool:
            return self.scheduler.log_contains("Planificateur démarré", self.scheduler.starts)

        if not await wait_for(scheduling, 60):
            raise RuntimeError(f"the scheduler did not start: see {self.folder / 'scheduler.log'}")

    async def start_redis(self) -> None:
        self.redis.start()

        async def answers() -> bool:
            ping = await asyncio.create_subprocess_exec(
                "redis-cli", "-h", HOST, "-p", str(REDIS_PORT), "ping",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            return await ping.wait() == 0

        if not await wait_for(answers, 15):
            raise RuntimeError(f"Redis did not answer on port {REDIS_PORT}")

    async def web_ready(self) -> None:
        async def healthy() -> bool:
            if not self.web.alive():
                raise RuntimeError(f"the web process stopped: see {self.folder / 'web.log'}")
            async with httpx.AsyncClient(base_url=BASE, timeout=2) as client:
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get("/healthz")).status_code == 200
            return False

        if not await wait_for(healthy, 60):
            raise RuntimeError("the web process did not answer within 60 s")

    async def worker_ready(self) -> None:
        async def ready() -> bool:
            if not self.worker.alive():
                raise RuntimeError(f"the worker stopped: see {self.folder / 'worker.log'}")
            return self.worker.log_contains("ready for action", self.worker.starts)

        if not await wait_for(ready, 60):
            raise RuntimeError("the worker was not ready within 60 s")

    def stop(self) -> None:
        for service in self.all():
            service.stop()


async def wait_for(check: Callable[[], Awaitable[bool]], limit: float, interval: float = 0.2) -> bool:
    """Poll ``check`` until it holds or ``limit`` seconds pass; whether it held."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return False


# --- results --------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    load: str = ""
    errors: int = 0
    expected: str = ""
    found: str = ""
    recovery: float | None = None
    problems: list[str] = field(default_factory=list)

    def require(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return not self.problems


def print_table(results: list[Result]) -> None:
    header = ("scenario", "load", "errors", "rows expected", "rows found", "recovery", "verdict")
    rows = [
        (
            result.scenario, result.load, str(result.errors), result.expected, result.found,
            "-" if result.recovery is None else f"{result.recovery:.1f} s",
            "ok" if result.ok else "FAILED: " + "; ".join(result.problems),
        )
        for result in results
    ]  # fmt: skip
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


# --- the portal's side ----------------------------------------------------------------------


class Sirens:
    """Valid SIRENs (Luhn, as ``portal.clients.identifiers`` checks them), never twice in a run."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - test data, not secrets
        self.taken: set[str] = set()

    def next(self) -> str:
        while True:
            body = str(self.rng.randrange(10_000_000, 99_999_999))
            siren = body + luhn.calc_check_digit(body)
            if siren not in self.taken and siren != "356000000":
                self.taken.add(siren)
                parse(siren)  # the portal's own check: raises if the harness drew an invalid one
                return siren


@dataclass
class Portal:
    engine: AsyncEngine
    maker: Maker
    sirens: Sirens
    entity_id: uuid.UUID = field(default_factory=lambda: uuid.UUID(str(uuid7())))

    async def seed(self) -> None:
        """The partner who signs in, the firm and its own dossier (the billing entity, chosen later)."""
        async with self.maker() as session, session.begin():
            await UserService(session=session).create_user(
                email=EMAIL, name="Associée du chaos", roles=[FirmRole.PARTNER], password=PASSWORD
            )
        await self.load_dossiers(1, firm=True)
        async with self.maker() as session, session.begin():
            session.add(Firm(name="Cabinet du chaos", own_dossier_id=self.entity_id))

    async def load_dossiers(self, count: int, *, firm: bool = False) -> None:
        """``count`` dossiers written set-based (no client requested: what "Créer mes clients" is for)."""
        now = dt.datetime.now(dt.UTC)
        rows = []
        for number in range(count):
            name = "Cabinet du chaos" if firm else f"Société chaos {len(self.sirens.taken) + 1:06d}"
            rows.append({
                "id": self.entity_id if firm else uuid.UUID(str(uuid7())), "created_at": now, "updated_at": now,
                "name": name, "sort_name": names.sort_key(name), "match_name": names.match_key(name),
                "siren": self.sirens.next(), "is_firm_dossier": firm, "is_confidential": number % 10 == 9,
            })  # fmt: skip
        async with self.engine.begin() as connection:
            for start in range(0, len(rows), 5_000):
                await connection.execute(insert(Dossier), rows[start : start + 5_000])

    async def value(self, statement: Any) -> Any:
        async with self.maker() as session:
            return (await session.execute(statement)).scalar_one()

    async def scalar(self, statement: Any) -> int:
        return int(await self.value(statement))

    async def client_counts(self) -> tuple[int, int, int, int]:
        """(dossiers but the entity, clients, links, SIRENs held by more than one client)."""
        twice = (
            select(BillingClient.siren)
            .where(BillingClient.siren.is_not(None))
            .group_by(BillingClient.billing_entity_id, BillingClient.siren)
            .having(func.count() > 1)
            .subquery()
        )
        return (
            await self.scalar(select(func.count()).select_from(Dossier).where(Dossier.id != self.entity_id)),
            await self.scalar(select(func.count()).select_from(BillingClient)),
            await self.scalar(select(func.count()).select_from(ClientDossierLink)),
            await self.scalar(select(func.count()).select_from(twice)),
        )

    async def run(self, run_id: uuid.UUID) -> JobRun:
        async with self.maker() as session:
            return (await session.execute(select(JobRun).where(JobRun.id == run_id))).scalar_one()

    async def pending(self, since: dt.datetime | None = None) -> tuple[int, int]:
        """(outbox messages not yet sent, runs not finished: those requested ``since``, if given)."""
        open_runs = select(func.count()).select_from(JobRun).where(JobRun.status.in_(UNFINISHED))
        if since is not None:
            open_runs = open_runs.where(JobRun.created_at >= since)
        return (
            await self.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))),
            await self.scalar(open_runs),
        )


class Browser:
    """A signed-in person driving the pages (cookies, the form's CSRF token)."""

    def __init__(self, timeout: float = REQUEST_TIMEOUT) -> None:
        # A connection idle for uvicorn's keep-alive timeout (5 s, httpx's default expiry too) may be closed
        # by the server just as the next request goes out on it, which httpx reports as a dropped request.
        # A browser sends that request again; here the client lets idle connections go well before.
        limits = httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY)
        self.client = httpx.AsyncClient(base_url=BASE, timeout=timeout, limits=limits)
        self.token = ""

    async def sign_in(self) -> int:
        response = await sign_in(self.client, EMAIL, PASSWORD)
        if response.status_code == 303:
            self.token = await csrf_token(self.client, "/entreprises/nouveau")
        return int(response.status_code)

    async def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return await self.client.post(
            path, data={**data, "_csrf_token": self.token}, headers={"x-csrftoken": self.token}, **kwargs
        )

    async def create_dossier(self, name: str, siren: str) -> httpx.Response:
        return await self.post("/entreprises/", {"nom": name, "identifiant": siren, "cloture": "31/12"})

    async def start_client_creation(self, entity_id: uuid.UUID) -> uuid.UUID:
        """Choose the billing entity and press "Créer mes clients", as on Paramètres; the run's id."""
        chosen = await self.post("/parametres/entite-facturante", {"entite": str(entity_id)})
        assert chosen.status_code == 303, chosen.status_code
        started = await self.post("/parametres/creer-mes-clients", {})
        location = started.headers.get("location", "")
        match = re.search(r"/travaux/([0-9a-f-]{36})", location)
        if started.status_code != 303 or match is None:
            raise RuntimeError(f"Créer mes clients: {started.status_code} {location}")
        return uuid.UUID(match.group(1))

    async def close(self) -> None:
        await self.client.aclose()


# --- scenarios ------------------------------------------------------------------------------


async def scenario_load(topology: Topology) -> Result:
    result = Result("1 load: 64 clients, 1 web process")
    browsers = [Browser() for _ in range(CLIENTS)]
    statuses: list[int] = []
    failures: list[str] = []

    async def person(browser: Browser) -> None:
        for step in range(READS_PER_CLIENT + 1):
            try:
                if step == 1:
                    # In the middle, 64 sign-ins to one account at once (POST /connexion), each from a
                    # device not yet signed in: a signed-in one is sent on from the sign-in page.
                    device = Browser()
                    try:
                        statuses.append(await device.sign_in())
                    finally:
                        await device.close()
                else:
                    statuses.append((await browser.client.get("/entreprises")).status_code)
            except (httpx.HTTPError, AssertionError) as error:  # a page without its form is a failure too
                failures.append(f"{type(error).__name__}: {error}")

    try:
        for browser in browsers:  # one at a time: the sign-ins before the load are not the load
            status = await browser.sign_in()
            assert status == 303, f"sign-in before the load: {status}"
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.gather(*(person(browser) for browser in browsers)), LOAD_BOUND)
        except TimeoutError:
            failures.append(f"load not over after {LOAD_BOUND:.0f} s")
        elapsed = time.monotonic() - started
        requests = CLIENTS * (READS_PER_CLIENT + 1)
        served = sum(status in {200, 303} for status in statuses)
        errors = sum(status >= 500 for status in statuses) + len(failures)
        result.load = f"{requests} requests by {CLIENTS} clients in {elapsed:.0f} s"
        result.errors, result.expected, result.found = errors, f"{requests} answered", f"{served} answered"
        first = f" (first: {failures[0][:120]})" if failures else ""
        result.require(errors == 0, f"{errors} server errors or dropped requests{first}")
        result.require(served == requests, f"{requests - served} requests not answered normally")
        # Right after the load: a plain request, by someone who was not part of it.
        started = time.monotonic()
        recovered = False
        async with httpx.AsyncClient(base_url=BASE, timeout=RECOVERY_AT_ONCE) as plain:
            with contextlib.suppress(httpx.HTTPError):
                recovered = (await plain.get("/connexion")).status_code == 200
        result.recovery = time.monotonic() - started
        result.require(recovered, f"GET /connexion did not answer 200 within {RECOVERY_AT_ONCE:.0f} s after the load")
    finally:
        await asyncio.gather(*(browser.close() for browser in browsers))
    if not result.ok:  # what follows needs a web process that answers
        topology.web.stop()
        topology.web.start()
        await topology.web_ready()
    return result


async def _kill_worker_when(
    topology: Topology, portal: Portal, run_id: uuid.UUID, *, limit: float
) -> tuple[bool, float]:
    """SIGKILL the worker once the run has made progress, start a new one; (killed mid-run, kill time)."""

    async def mid_run() -> bool:
        run = await portal.run(run_id)
        if run.status.is_final:
            raise RuntimeError(f"the run ended ({run.status}) before the worker could be killed")
        return run.status is JobStatus.RUNNING and run.progress_done > 0

    try:
        caught = await wait_for(mid_run, limit, interval=0.05)
    except RuntimeError:
        return False, time.monotonic()
    topology.worker.kill()
    killed_at = time.monotonic()
    topology.worker.start()
    return caught, killed_at


async def _wait_run(portal: Portal, run_id: uuid.UUID, since: float, limit: float) -> tuple[JobRun, float | None]:
    """The run once final (or as it is after ``limit`` seconds), and seconds from ``since`` to its end."""

    async def final() -> bool:
        return (await portal.run(run_id)).status.is_final

    done = await wait_for(final, max(0.0, since + limit - time.monotonic()))
    return await portal.run(run_id), (time.monotonic() - since) if done else None


async def _kill_and_recover(
    topology: Topology, portal: Portal, run_id: uuid.UUID, result: Result, *, limit: float
) -> bool:
    """Kill the worker mid-run (waiting up to ``limit`` s for it), a new one started; the run must end
    succeeded within ``RECOVERY_BOUND`` s of the kill. Whether the kill came mid-run."""
    caught, killed_at = await _kill_worker_when(topology, portal, run_id, limit=limit)
    await topology.worker_ready()
    run, result.recovery = await _wait_run(portal, run_id, killed_at, RECOVERY_BOUND)
    result.require(caught, "the job was not caught running")
    result.require(
        run.status is JobStatus.SUCCEEDED and result.recovery is not None,
        f"run {run.status} (step {run.step!r}, {run.progress_done}/{run.progress_total}) "
        f"{RECOVERY_BOUND:.0f} s after the kill",
    )
    return caught


async def scenario_kill_create_clients(topology: Topology, portal: Portal, browser: Browser) -> Result:
    result = Result("2a worker killed mid-Créer mes clients")
    await portal.load_dossiers(DOSSIERS)
    run_id = await browser.start_client_creation(portal.entity_id)
    caught = await _kill_and_recover(topology, portal, run_id, result, limit=120)
    dossiers, clients, links, twice = await portal.client_counts()
    result.load = f"{DOSSIERS} dossiers, 1 SIGKILL mid-run" if caught else f"{DOSSIERS} dossiers, kill missed"
    result.expected = f"{dossiers} clients = links, 0 SIREN twice"
    result.found = f"{clients} clients, {links} links, {twice} SIREN twice"
    result.require(clients == links == dossiers and twice == 0, "clients, links and dossiers differ")
    return result


async def scenario_kill_import(topology: Topology, portal: Portal, browser: Browser) -> Result:
    result = Result("2b worker killed mid-FEC import")
    siren = portal.sirens.next()
    created = await browser.create_dossier("Société chaos FEC", siren)
    match = re.search(r"/entreprises/([0-9a-f-]{36})", created.headers.get("location", ""))
    if created.status_code != 303 or match is None:
        raise RuntimeError(f"the dossier of the import: {created.status_code}")
    dossier_id = uuid.UUID(match.group(1))
    path = topology.folder / f"{siren}FEC20241231.txt"
    await asyncio.to_thread(fec_bench.generate, path, FEC_LINES)
    with path.open("rb") as upload:
        uploaded = await browser.client.post(
            f"/entreprises/{dossier_id}/connexions/fec",
            data={"_csrf_token": browser.token, "debut": "", "fin": ""},
            files={"fichier": (path.name, upload, "text/plain")},
            headers={"x-csrftoken": browser.token},
        )
    path.unlink()
    assert uploaded.status_code == 303, (uploaded.status_code, uploaded.text[:500])
    run_id: uuid.UUID = await portal.value(select(LedgerImport.job_run_id).where(LedgerImport.dossier_id == dossier_id))
    caught = await _kill_and_recover(topology, portal, run_id, result, limit=180)
    imports, states, lines = await _ledger_of(portal, dossier_id)
    active, staging, retired = (states.get(state, 0) for state in (VersionState.ACTIVE, VersionState.STAGING,
                                                                    VersionState.RETIRED))  # fmt: skip
    succeeded = [record for record in imports if record.status is ImportStatus.SUCCEEDED]
    result.load = f"{FEC_LINES} lines uploaded, 1 SIGKILL mid-import" if caught else f"{FEC_LINES} lines, kill missed"
    result.expected = f"1 import, 1 active year, {FEC_LINES} lines"
    result.found = f"{len(succeeded)} import, {active} active, {staging} staging, {retired} retired, {lines} lines"
    result.require(len(imports) == len(succeeded) == 1, f"imports: {[record.status.value for record in imports]}")
    result.require(active == 1 and staging == retired == 0, "not exactly one version of the fiscal year")
    result.require(lines == FEC_LINES, f"{lines} lines stored for {FEC_LINES}")
    return result


async def _ledger_of(portal: Portal, dossier_id: uuid.UUID) -> tuple[list[LedgerImport], dict[VersionState, int], int]:
    """The dossier's imports, its fiscal-year versions by state, and the lines stored under them."""
    async with portal.maker() as session:
        imports = list(
            (await session.execute(select(LedgerImport).where(LedgerImport.dossier_id == dossier_id))).scalars()
        )
        by_state = (
            select(FiscalYear.state, func.count()).where(FiscalYear.dossier_id == dossier_id).group_by(FiscalYear.state)
        )
        states = {VersionState(state): int(count) for state, count in (await session.execute(by_state)).all()}
        stored = (
            select(func.count()).select_from(Line).join(FiscalYear, FiscalYear.id == Line.fiscal_year_id)
            .where(FiscalYear.dossier_id == dossier_id)
        )  # fmt: skip
        return imports, states, int((await session.execute(stored)).scalar_one())


async def _settled(
    portal: Portal, limit: float, since: dt.datetime | None = None
) -> tuple[float | None, tuple[int, int]]:
    """Seconds until the outbox is empty and the runs requested ``since`` are finished (None: not within
    ``limit``), and what is still pending then."""
    started = time.monotonic()

    async def settled() -> bool:
        return await portal.pending(since) == (0, 0)

    if await wait_for(settled, limit, interval=0.5):
        return time.monotonic() - started, (0, 0)
    return None, await portal.pending(since)


async def scenario_redis_stopped(topology: Topology, portal: Portal, browser: Browser) -> Result:
    result = Result("3 redis stopped 30 s")
    statuses: list[int] = []
    stop = asyncio.Event()

    async def create() -> None:
        while not stop.is_set():
            try:
                response = await browser.create_dossier(
                    f"Société chaos Redis {len(statuses) + 1:04d}", portal.sirens.next()
                )
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)
            await asyncio.sleep(0.2)

    since = dt.datetime.now(dt.UTC)
    creating = asyncio.create_task(create())
    try:
        await asyncio.sleep(3)
        topology.redis.stop()
        down_at = time.monotonic()
        await asyncio.sleep(REDIS_DOWN)
        await topology.start_redis()
        up_after = time.monotonic() - down_at
        await asyncio.sleep(3)
    finally:
        stop.set()
        await creating
    recovery, (unsent, unfinished) = await _settled(portal, SETTLE, since)
    made = await portal.scalar(
        select(func.count()).select_from(Dossier).where(Dossier.name.like("Société chaos Redis%"))
    )
    linked = await portal.scalar(
        select(func.count())
        .select_from(ClientDossierLink)
        .join(Dossier, Dossier.id == ClientDossierLink.dossier_id)
        .where(Dossier.name.like("Société chaos Redis%"))
    )
    created = sum(status == 303 for status in statuses)
    result.load = f"{len(statuses)} POST /entreprises/, Redis down {up_after:.0f} s"
    result.errors = len(statuses) - created
    result.expected = f"{created} dossiers with a client, outbox 0"
    result.found = f"{made} dossiers, {linked} with a client, outbox {unsent}, {unfinished} runs open"
    result.recovery = recovery
    result.require(result.errors == 0, f"{result.errors} dossier creations failed")
    result.require(made == created == linked, "dossiers created and clients differ")
    result.require(recovery is not None, f"outbox {unsent}, runs open {unfinished} after {SETTLE:.0f} s")
    return result


async def scenario_backends_terminated(portal: Portal, browser: Browser) -> Result:
    result = Result("4 database backends terminated")
    await portal.load_dossiers(DOSSIERS)
    run_id = await browser.start_client_creation(portal.entity_id)

    async def mid_run() -> bool:
        run = await portal.run(run_id)
        return run.status.is_final or (run.status is JobStatus.RUNNING and run.progress_done > 0)

    caught = await wait_for(mid_run, 120, interval=0.05) and not (await portal.run(run_id)).status.is_final
    async with portal.engine.connect() as connection:  # the harness's own connection is spared
        terminated = int(
            (
                await connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar_one()
        )
    await portal.engine.dispose()  # its other pooled connections were terminated too
    run, recovery = await _wait_run(portal, run_id, time.monotonic(), RECOVERY_BOUND)
    dossiers, clients, links, twice = await portal.client_counts()
    result.load = f"{terminated} backends terminated mid-job, attempts {run.attempts}"
    result.expected = f"{dossiers} clients = links, 0 SIREN twice"
    result.found = f"{clients} clients, {links} links, {twice} SIREN twice"
    result.recovery = recovery
    result.require(caught and terminated > 0, "the job was not caught running")
    result.require(run.status is JobStatus.SUCCEEDED, f"run {run.status}: {run.error}")
    result.require(clients == links == dossiers and twice == 0, "clients, links and dossiers differ")
    # The web process serves again (its pool replaces the dead connections).
    status = (await browser.client.get("/entreprises")).status_code
    result.require(status == 200, f"GET /entreprises answered {status} after the terminations")
    return result


def _due_keys(at: dt.datetime) -> set[str]:
    from portal import domains  # noqa: PLC0415 - every schedule registered, as in the scheduler

    domains.install()

    return {
        f"schedule:{schedule.name}:{latest_slot(schedule.cron, at).isoformat()}"
        for schedule in registry.schedules()
        if at - latest_slot(schedule.cron, at) <= schedule.grace
    }


async def scenario_two_schedulers(topology: Topology, portal: Portal) -> Result:
    result = Result("5 two schedulers")
    topology.scheduler.stop()
    # An empty slot history, as on a first deployment: every due slot is new to both schedulers at once.
    async with portal.maker() as session, session.begin():
        scheduled = select(OutboxMessage.job_run_id).where(OutboxMessage.dedupe_key.like("schedule:%"))
        finished = select(JobRun.id).where(JobRun.id.in_(scheduled), JobRun.status.in_([JobStatus.SUCCEEDED,
                                                                                        JobStatus.FAILED]))  # fmt: skip
        ids = list((await session.execute(finished)).scalars())
        await session.execute(delete(OutboxMessage).where(OutboxMessage.job_run_id.in_(ids)))
        await session.execute(delete(JobRun).where(JobRun.id.in_(ids)))
    since = dt.datetime.now(dt.UTC)
    fast = topology.env | {"PORTAL_SCHEDULER_TICK_SECONDS": "1"}
    pair = [topology.service(f"scheduler-{n}", topology.scheduler.command, fast) for n in (1, 2)]
    topology.extra.extend(pair)
    try:
        for scheduler in pair:
            scheduler.start()
        await asyncio.sleep(SCHEDULERS_FOR)
        alive = sum(scheduler.alive() for scheduler in pair)
    finally:
        for scheduler in pair:
            scheduler.stop()
    expected = _due_keys(since) | _due_keys(dt.datetime.now(dt.UTC))
    async with portal.maker() as session:
        runs_per_key = (
            select(OutboxMessage.dedupe_key, func.count(JobRun.id))
            .join(JobRun, JobRun.id == OutboxMessage.job_run_id)
            .where(OutboxMessage.dedupe_key.like("schedule:%"), JobRun.created_at >= since)
            .group_by(OutboxMessage.dedupe_key)
        )
        per_key = {str(key): int(count) for key, count in (await session.execute(runs_per_key)).all()}
    topology.scheduler.start()
    recovery, (unsent, unfinished) = await _settled(portal, SETTLE, since)
    runs = sum(per_key.values())
    doubled = sorted(key for key, count in per_key.items() if count > 1)
    result.load = f"2 schedulers ({alive} alive), 1 s tick, {SCHEDULERS_FOR:.0f} s"
    result.expected = f"{len(expected)} slots, 1 run each"
    result.found = f"{len(per_key)} slots, {runs} runs, outbox {unsent}, {unfinished} runs open"
    result.recovery = recovery
    result.require(alive == 2, "a scheduler stopped on its own")
    result.require(not doubled, f"slots doubled: {', '.join(doubled)}")
    result.require(set(per_key) <= expected, f"unexpected slots: {sorted(set(per_key) - expected)}")
    result.require(expected <= set(per_key), f"slots never enqueued: {sorted(expected - set(per_key))}")
    result.require(recovery is not None, f"outbox {unsent}, runs open {unfinished} after {SETTLE:.0f} s")
    return result


async def end_state(portal: Portal) -> Result:
    result = Result("end: nothing stuck")
    recovery, (unsent, unfinished) = await _settled(portal, 30)
    dossiers, clients, links, twice = await portal.client_counts()
    result.expected = f"outbox 0, 0 runs open, {dossiers} clients = links"
    result.found = f"outbox {unsent}, {unfinished} runs open, {clients} clients, {links} links, {twice} SIREN twice"
    result.recovery = recovery
    result.require(recovery is not None, "messages or runs left unfinished")
    result.require(clients == links == dossiers and twice == 0, "clients, links and dossiers differ")
    if unfinished:
        async with portal.maker() as session:
            stuck = (await session.execute(select(JobRun).where(JobRun.status.in_(UNFINISHED)))).scalars()
            result.problems.extend(f"{run.actor_name} {run.status} ({run.step})" for run in stuck)
    return result


# --- the run ----------------------------------------------------------------------------------


def _check_loopback() -> None:
    host = make_url(DATABASE_URL).host or HOST
    if host not in LOOPBACK or make_url(DATABASE_URL).get_backend_name() != "postgresql":
        sys.exit(f"PORTAL_CHAOS_DATABASE_URL must be PostgreSQL on a loopback address, not {host!r}")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def attempt(name: str, scenario: Awaitable[Result]) -> Result:
    """The scenario's result; one that raised is a failed result (the next scenario still runs)."""
    print(f"  {name}…")
    sys.stdout.flush()
    try:
        return await scenario
    except Exception as error:  # noqa: BLE001 - reported in the table, the run goes on
        return Result(name, problems=[f"raised {type(error).__name__}: {error}"[:300]])


async def main(topology: Topology) -> list[Result]:
    await asyncio.to_thread(database.reset, DATABASE_URL)
    engine = make_engine(DATABASE_URL)
    portal = Portal(engine, make_session_maker(engine), Sirens(20261207))
    results: list[Result] = []
    browser = Browser()
    try:
        await portal.seed()
        await topology.start()
        results.append(await attempt("1 load", scenario_load(topology)))
        if await browser.sign_in() != 303:
            raise RuntimeError("the partner cannot sign in")
        results.append(
            await attempt("2a kill mid-Créer mes clients", scenario_kill_create_clients(topology, portal, browser))
        )
        results.append(await attempt("2b kill mid-import", scenario_kill_import(topology, portal, browser)))
        results.append(await attempt("3 redis stopped", scenario_redis_stopped(topology, portal, browser)))
        results.append(await attempt("4 backends terminated", scenario_backends_terminated(portal, browser)))
        results.append(await attempt("5 two schedulers", scenario_two_schedulers(topology, portal)))
        results.append(await attempt("end state", end_state(portal)))
    finally:
        await browser.close()
        topology.stop()
        await engine.dispose()
    return results


def run() -> int:
    _check_loopback()
    folder = Path(tempfile.mkdtemp(prefix="portal-chaos-"))
    started = time.monotonic()
    print(
        f"chaos: web {BASE}, Redis {BROKER_URL}, database {make_url(DATABASE_URL).database}; "
        f"logs in {folder}; {os.cpu_count()} CPUs, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )
    sys.stdout.flush()
    topology = Topology(folder)
    try:
        with _sigterm_as_interrupt():
            results = asyncio.run(main(topology))
    finally:
        topology.stop()  # again: an interrupt may have come between two stops
    print_table(results)
    failed = [result.scenario for result in results if not result.ok]
    print(f"chaos: {len(results) - len(failed)} of {len(results)} passed in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
