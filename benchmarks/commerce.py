"""POS sync throughput: tickets posted through the outbox, the broker and worker processes.

The commerce sandbox runs in a process of its own (uvicorn on a loopback port), so that its
CPU is not the workers'; it generates its days before it serves (a cache large enough for
all of them), so that it answers each page from memory. Its clock is fixed on today (Paris)
and each account has exactly ``ORDERS / DAYS`` Zelty tickets on each of the ``DAYS`` days
before: those days are closed at the source, and a ``daily`` sync (up to yesterday) posts
them as final entries, page by page. The workers' own ``sync.today()`` is the same real
date: nothing is patched in them.

Workers are ``dramatiq portal.worker benchmarks.commerce`` processes (what
``portal worker`` runs, plus this module for the no-op actors), one thread each, with the
bench's database, broker, var folder and keys; dramatiq's default prefetch (two messages a
thread) for one process, a prefetch of 1 for two, so that each takes one of the two syncs
(with 2, the first could take both). With the embedded stub broker,
which lives in one process, they are a ``dramatiq.Worker`` thread of this process instead
(the output says so), and the two-process variant is skipped.

Figures: one dossier on one worker process, then two dossiers (two accounts) on two worker
processes: orders, entries and lines written, seconds, orders per second per worker process
(the run's own time, from its claim to its end); no-op messages per second on the same broker
and workers, bare dramatiq messages and portal no-op jobs (a claim and a finish in the
database each), and the ratio of the orders per second to them; the target, met or missed.

``PORTAL_BENCH_ORDERS`` (default 100,000, a multiple of ``DAYS``) sets the orders per dossier
and ``PORTAL_BENCH_NOOPS`` the no-op messages, for a quick run; ``python -m benchmarks commerce``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Self

import dramatiq
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.environment import bench_settings, empty_database
from portal import domains
from portal.accounts.services import load_principal
from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.db.engine import make_engine, make_session_maker
from portal.firm.services import UserService
from portal.integrations.commerce import sync, tasks
from portal.integrations.commerce.models import CommerceEntry, CommerceEntryLine, CommerceSetup
from portal.integrations.commerce.services import CommerceConnectionService as CommerceService
from portal.integrations.commerce.sources import get_source
from portal.jobs import registry, runtime
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import relay_once
from portal.jobs.registry import job
from portal.settings import Settings

ORDERS = int(os.environ.get("PORTAL_BENCH_ORDERS") or 100_000)  # per dossier
DAYS = 20
NOOPS = int(os.environ.get("PORTAL_BENCH_NOOPS") or 2_000)
TARGET = 2_000  # orders per second per worker process (the ticket's target)
SOURCE = "zelty"
ACCOUNTS = ("Brasserie du Banc d'Essai", "Bistrot du Banc d'Essai")
NOOP_JOB = "bench.commerce.noop"
RAW_ACTOR = "bench.commerce.raw_noop"
RAW_QUEUE = "bench_commerce_raw"
ROOT = Path(__file__).resolve().parent.parent
REDELIVER = dt.timedelta(hours=6)  # never during a run: each message is relayed once
START_TIMEOUT = 300.0  # the sandbox's generation, the workers' start and the reference reads
POLL = 0.1
# The processes started here and not ended yet, each a worker supervisor (True: SIGTERM, then its group) or
# the sandbox (False: SIGKILL, it keeps nothing), for ``run`` to end should the event loop be interrupted.
_children: dict[subprocess.Popen[bytes], bool] = {}


@job(NOOP_JOB, title="Travail vide (banc d'essai des caisses)")
async def noop(_ctx: JobContext) -> None:
    return None


registry.register(noop)


def _raw_noop() -> None:
    return None


def raw_actor(broker: dramatiq.Broker) -> dramatiq.Actor[Any, Any]:
    """A bare dramatiq actor that does nothing, on its own queue (``broker.join`` waits for it)."""
    declared: dramatiq.Actor[Any, Any] | None = broker.actors.get(RAW_ACTOR)
    if declared is not None:
        return declared
    declare = dramatiq.actor(actor_name=RAW_ACTOR, queue_name=RAW_QUEUE, broker=broker, max_retries=0)
    return declare(_raw_noop)


with contextlib.suppress(RuntimeError):  # in a worker process, portal.worker configured the broker before this import
    raw_actor(runtime.current().broker)


# --- the sandbox, in its own process ---------------------------------------------------


def serve_sandbox(today: str, per_day: int, names: Sequence[str]) -> None:
    """The child process: the accounts, every day generated, then uvicorn until killed.

    Prints one JSON line once serving: the URL and each account's consumer id and API key.
    """
    from portal.sandbox.app import create_sandbox_app  # noqa: PLC0415 - the child's own
    from portal.sandbox.commerce import books, generate, reset_state  # noqa: PLC0415
    from portal.settings import load_settings  # noqa: PLC0415
    from tests.browsing import loopback_listener, serving  # noqa: PLC0415

    state = reset_state(today=dt.date.fromisoformat(today), rate_limit=1_000_000_000)
    accounts = [state.add_account(SOURCE, name, orders_per_day=per_day, days=DAYS) for name in names]
    # Room for every day of every account (the sandbox keeps 24): each is generated once, here.
    cache = functools.lru_cache(maxsize=len(accounts) * (DAYS + 1))
    books.pos_day = cache(generate.pos_day.__wrapped__)  # type: ignore[attr-defined] # books' own import of it
    started = time.perf_counter()
    for offset in range(DAYS, 0, -1):
        for account in accounts:
            books.pos_view(state, account, state.today - dt.timedelta(days=offset))
    generated = time.perf_counter() - started

    async def serve() -> None:
        app = create_sandbox_app(load_settings())
        async with loopback_listener() as (listener, url):
            # Accepted sockets inherit it: a small answer (a day's closing) is sent at once rather than held by
            # Nagle's algorithm until the client's delayed ACK, 40 ms later, on a kept-alive connection.
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            async with serving(app, listener):
                ready = {"url": url, "generated": generated,
                         "accounts": [{"id": account.id, "key": account.api_key} for account in accounts]}  # fmt: skip
                print(json.dumps(ready), flush=True)
                await asyncio.Event().wait()

    asyncio.run(serve())


SANDBOX = (
    "import sys; from benchmarks.commerce import serve_sandbox; serve_sandbox(sys.argv[1], int(sys.argv[2]), "
    "sys.argv[3:])"
)


def _start_sandbox(today: dt.date, per_day: int, names: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", SANDBOX, today.isoformat(), str(per_day), *names]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)  # noqa: S603 - this interpreter
    _children[process] = False
    return process


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def _ready(sandbox: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    assert sandbox.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(sandbox.stdout.readline), START_TIMEOUT)
    if not line:
        raise RuntimeError(f"the sandbox process stopped:\n{_tail(log)}")
    ready: dict[str, Any] = json.loads(line)
    return ready


# --- processes -------------------------------------------------------------------------


def _start_workers(processes: int, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "dramatiq", "portal.worker", "benchmarks.commerce",
               "--processes", str(processes), "--threads", "1"]  # fmt: skip
    # A session of its own: the supervisor and the processes it forks are one group to end.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    _children[process] = True
    return process


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """End a process started here: a worker supervisor by SIGTERM (dramatiq stops its workers), SIGKILL
    after 20 s, then its group; the sandbox by SIGKILL (it keeps nothing)."""
    if process is None or process not in _children:
        return
    group = _children.pop(process)
    if process.poll() is None:
        if group:
            process.terminate()
        else:
            process.kill()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if group:  # workers the supervisor left behind, if any
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def _tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            pending += [int(child) for child in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
    return pids


def _cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of ``pid`` and its descendants so far; this process's own when None."""
    if pid is None:
        return time.process_time()
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for each in _tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Workers:
    """Worker processes (a Redis broker), or a worker thread of this process (the stub broker)."""

    def __init__(self, jobs: runtime.Runtime, processes: int, env: dict[str, str], folder: Path) -> None:
        self.jobs, self.processes = jobs, processes
        # One sync per process: a process holding one message takes no other (dramatiq's default is 2 a thread).
        self.env = env | {"dramatiq_queue_prefetch": "1"} if processes > 1 else env
        self.log_path = folder / f"workers-{processes}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.thread: dramatiq.Worker | None = None
        self.in_process = jobs.settings.broker_is_embedded
        self.cpu_label = "this process (its worker thread)" if self.in_process else "worker processes"

    def __enter__(self) -> Self:
        if self.in_process:
            self.thread = dramatiq.Worker(self.jobs.broker, worker_threads=1)
            self.thread.start()
        else:
            with self.log_path.open("wb") as log:
                self.process = _start_workers(self.processes, self.env, log)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.thread is not None:
            self.thread.stop()
        _stop(self.process)

    def check(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the worker processes stopped:\n{_tail(self.log_path)}")

    def cpu(self) -> float:
        return _cpu(self.process.pid if self.process is not None else None)

    def describe(self) -> str:
        if self.in_process:
            return "1 worker THREAD in this process (stub broker: in-process only, no worker process)"
        plural = "es" if self.processes > 1 else ""
        prefetch = "1" if self.processes > 1 else "2, dramatiq's default for 1 thread"
        return f"{self.processes} worker process{plural} (1 thread each, prefetch {prefetch})"


# --- the portal's side -----------------------------------------------------------------

Maker = async_sessionmaker[AsyncSession]


async def _connect(maker: Maker, partner_id: uuid.UUID, name: str, key: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A dossier connected with the account's API key, as the page does (the reference read is enqueued)."""
    source = get_source(SOURCE)
    assert source is not None
    async with maker() as session, session.begin():
        dossier = Dossier(name=name, is_firm_dossier=False)
        session.add(dossier)
        await session.flush()
        principal = await load_principal(session, partner_id, 0)
        assert principal is not None
        connection = await CommerceService(session).connect_api_key(principal, dossier, source, key)
    return dossier.id, connection.id


async def _wait(maker: Maker, run_ids: Sequence[uuid.UUID], workers: Workers, limit: float) -> list[JobRun]:
    deadline = time.monotonic() + limit
    while True:
        async with maker() as session:
            runs = list((await session.execute(select(JobRun).where(JobRun.id.in_(run_ids)))).scalars())
        failed = [run for run in runs if run.status in {JobStatus.FAILED, JobStatus.RETRYING}]
        if failed:
            raise RuntimeError(f"{failed[0].actor_name} failed: {failed[0].error}\n{_tail(workers.log_path)}")
        if len(runs) == len(run_ids) and all(run.status is JobStatus.SUCCEEDED for run in runs):
            return sorted(runs, key=lambda run: run_ids.index(run.id))
        workers.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs not finished after {limit:.0f} s\n{_tail(workers.log_path)}")
        await asyncio.sleep(POLL)


async def _reference(maker: Maker, jobs: runtime.Runtime, dossiers: Sequence[uuid.UUID], workers: Workers) -> None:
    """The reference reads the connections enqueued, run by the workers (their start-up included)."""
    async with maker() as session:
        statement = select(JobRun.id).where(JobRun.actor_name == "commerce.reference", JobRun.dossier_id.in_(dossiers))
        run_ids = list((await session.execute(statement)).scalars())
    await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER)
    await _wait(maker, run_ids, workers, START_TIMEOUT)


async def _noops(maker: Maker, jobs: runtime.Runtime, workers: Workers) -> tuple[float, float]:
    """Bare dramatiq messages per second, then portal no-op jobs per second, on these workers."""
    actor = raw_actor(jobs.broker)

    def bare(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            actor.send()
        polling = {"interval": 10} if type(jobs.broker).__name__ == "RedisBroker" else {}  # ms, not 100
        jobs.broker.join(RAW_QUEUE, timeout=600_000, **polling)
        return time.perf_counter() - started

    await asyncio.to_thread(bare, min(NOOPS, 200))  # a first round: every connection and code path warm
    bare_seconds = await asyncio.to_thread(bare, NOOPS)
    async with maker() as session, session.begin():
        await session.execute(delete(JobRun).where(JobRun.actor_name == NOOP_JOB))
        for _ in range(NOOPS):
            await noop.enqueue(session)
    started = time.perf_counter()
    await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER)
    deadline = time.monotonic() + 600
    while True:
        async with maker() as session:
            done = await session.scalar(
                select(func.count()).where(JobRun.actor_name == NOOP_JOB, JobRun.status == JobStatus.SUCCEEDED)
            )
        if (done or 0) >= NOOPS:
            break
        workers.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {NOOPS} no-op jobs after 600 s\n{_tail(workers.log_path)}")
        await asyncio.sleep(0.02)
    jobs_seconds = time.perf_counter() - started
    return NOOPS / bare_seconds, NOOPS / jobs_seconds


async def _written(maker: Maker, dossier_id: uuid.UUID) -> tuple[int, int]:
    async with maker() as session:
        entries = await session.scalar(select(func.count()).where(CommerceEntry.dossier_id == dossier_id))
        lines = await session.scalar(
            select(func.count())
            .select_from(CommerceEntryLine)
            .join(CommerceEntry, CommerceEntry.id == CommerceEntryLine.entry_id)
            .where(CommerceEntry.dossier_id == dossier_id)
        )
    return int(entries or 0), int(lines or 0)


async def _sync(
    maker: Maker, jobs: runtime.Runtime, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]], workers: Workers, cpu: Any
) -> tuple[list[float], float]:
    """Each dossier's ``daily`` sync through the outbox, printed; each run's orders/s, and all runs' together."""
    first_day = sync.today() - dt.timedelta(days=DAYS)
    async with maker() as session, session.begin():
        dossier_ids = [dossier_id for dossier_id, _ in pairs]
        await session.execute(
            update(CommerceSetup).where(CommerceSetup.dossier_id.in_(dossier_ids)).values(sync_start=first_day)
        )
    before = (workers.cpu(), cpu())
    started = time.perf_counter()
    async with maker() as session, session.begin():
        runs = [await tasks.sync_connection.options(dossier_id=dossier_id).enqueue(
                    session, connection_id=str(connection_id), mode="daily")
                for dossier_id, connection_id in pairs]  # fmt: skip
        run_ids = [run.id for run in runs]
    await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER)
    done = await _wait(maker, run_ids, workers, max(600.0, ORDERS * len(pairs) / 50))
    wall = time.perf_counter() - started
    worker_cpu, sandbox_cpu = workers.cpu() - before[0], cpu() - before[1]
    rates = []
    for (dossier_id, _), run in zip(pairs, done, strict=True):
        assert run.started_at is not None
        assert run.finished_at is not None
        seconds = (run.finished_at - run.started_at).total_seconds()
        orders, blocked = run.counts.get(tasks.RECORDS, 0), run.counts.get(tasks.BLOCKED, 0)
        entries, lines = await _written(maker, dossier_id)
        rates.append(orders / seconds)
        note = "" if orders == ORDERS and not blocked else f" [expected {ORDERS} orders, {blocked} days blocked]"
        print(
            f"    sync of {run.counts.get(tasks.DAYS, 0)} closed days: {orders} orders -> {entries} entries, "
            f"{lines} lines in {seconds:.1f} s -> {orders / seconds:,.0f} orders/s{note}"
        )
    total = sum(run.counts.get(tasks.RECORDS, 0) for run in done)
    first = min(run.started_at for run in done if run.started_at is not None)
    last = max(run.finished_at for run in done if run.finished_at is not None)
    span = (last - first).total_seconds()
    print(
        f"    {total} orders in {span:.1f} s from the first claim to the last end ({wall:.1f} s from enqueue "
        f"to seen done) -> {total / span:,.0f} orders/s in all, {total / span / len(done):,.0f} per worker process; "
        f"CPU during the sync: {workers.cpu_label} {worker_cpu:.1f} s, sandbox {sandbox_cpu:.1f} s"
    )
    return rates, total / span


async def _phase(
    title: str, maker: Maker, jobs: runtime.Runtime, workers: Workers, *,
    pairs: Sequence[tuple[uuid.UUID, uuid.UUID]], cpu: Any,
) -> float:  # fmt: skip
    """One set of workers: the reference reads, the no-ops, the syncs; the slowest run's orders/s."""
    print(f"  {title}: {workers.describe()}")
    with workers:
        started = time.perf_counter()
        await _reference(maker, jobs, [dossier_id for dossier_id, _ in pairs], workers)
        print(f"    workers up and reference data read in {time.perf_counter() - started:.1f} s (not measured)")
        bare, noop_jobs = await _noops(maker, jobs, workers)
        print(
            f"    no-op: {NOOPS} bare dramatiq messages -> {bare:,.0f} msg/s; {NOOPS} portal no-op jobs "
            f"(claim and finish in the database) -> {noop_jobs:,.0f} jobs/s"
        )
        rates, together = await _sync(maker, jobs, pairs, workers, cpu)
    print(
        f"    ratio orders/s ÷ no-op messages/s on these workers: {together / bare:.2f} (bare dramatiq messages), "
        f"{together / noop_jobs:.2f} (portal no-op jobs)"
    )
    return min(rates)


async def main(settings: Settings, folder: Path) -> None:
    per_day = ORDERS // DAYS
    today = sync.today()
    real_workers = not settings.broker_is_embedded
    names = ACCOUNTS if real_workers else ACCOUNTS[:1]
    sandbox_log = folder / "sandbox.log"
    sandbox: subprocess.Popen[bytes] | None = None
    domains.install()
    jobs = runtime.configure(settings)
    raw_actor(jobs.broker)  # before any worker starts: a worker consumes the queues declared by then
    plain_settings = jobs.settings
    engine = make_engine(settings.database_url)
    try:
        with sandbox_log.open("wb") as log:
            sandbox = _start_sandbox(today, per_day, names, log)
        maker = make_session_maker(engine)
        await empty_database(engine)
        if real_workers:
            jobs.broker.flush_all()  # messages an interrupted run left behind
        async with maker() as session, session.begin():
            partner = await UserService(session=session).create_user(
                email="associe@banc-essai.fr", name="Associé du banc d'essai", roles=[FirmRole.PARTNER]
            )
        ready = await _ready(sandbox, sandbox_log)
        api_url = f"{ready['url']}/sandbox/commerce/api"
        jobs.settings = settings.with_overrides(commerce_api_url=api_url)  # the in-process worker's (stub broker)
        env = os.environ | {
            "PORTAL_DATABASE_URL": settings.database_url, "PORTAL_BROKER_URL": settings.broker_url,
            "PORTAL_BROKER_NAMESPACE": settings.broker_namespace, "PORTAL_VAR_DIR": str(settings.var_dir),
            "PORTAL_SECRET_KEY": settings.secret_key, "PORTAL_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
            "PORTAL_COMMERCE_API_URL": api_url,
        }  # fmt: skip
        print(
            f"  sandbox: its own process (uvicorn on {ready['url']}), {len(names)} account(s) x {DAYS} days "
            f"generated in {ready['generated']:.1f} s before serving (not measured); clock fixed on {today}"
        )

        def sandbox_cpu() -> float:
            return _cpu(sandbox.pid if sandbox is not None else None)

        accounts = ready["accounts"]
        single = [await _connect(maker, partner.id, f"{ACCOUNTS[0]} (1)", accounts[0]["key"])]
        single_figure = await _phase(
            "1 dossier", maker, jobs, Workers(jobs, 1, env, folder), pairs=single, cpu=sandbox_cpu
        )
        if real_workers:
            pair = [await _connect(maker, partner.id, f"{name} (2)", account["key"])
                    for name, account in zip(ACCOUNTS, accounts, strict=True)]  # fmt: skip
            pair_workers = Workers(jobs, 2, env, folder)
            pair_figure = await _phase(
                "2 dossiers (2 accounts)", maker, jobs, pair_workers, pairs=pair, cpu=sandbox_cpu
            )
            also = f"; {pair_figure:,.0f} for the slower of 2 processes side by side"
        else:
            print("  2 dossiers on 2 worker processes: skipped (the stub broker has no worker processes)")
            also = ""
        verdict = "met" if single_figure >= TARGET else "MISSED"
        print(f"  target {TARGET:,} orders/s per worker process: {verdict} ({single_figure:,.0f} with 1 process{also})")
    finally:
        jobs.settings = plain_settings
        if sandbox is not None:
            _stop(sandbox)
            if sandbox.stdout is not None:
                sandbox.stdout.close()
        await engine.dispose()


def run(settings: Settings | None = None) -> None:
    """On ``settings``' database (emptied first: it may follow another benchmark), or on a fresh one."""
    settings = settings or bench_settings()
    dialect = "SQLite" if settings.is_sqlite else "PostgreSQL"
    broker = "stub (in-process)" if settings.broker_is_embedded else settings.broker_url
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"commerce ({dialect}, broker {broker}; {ORDERS} orders per dossier: {DAYS} closed days x "
        f"{ORDERS // DAYS} {SOURCE} tickets; {os.cpu_count()} CPUs, load average {load})"
    )
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-commerce-"))
    try:
        asyncio.run(main(settings, folder))
    finally:
        for process in list(_children):  # none left, unless the loop was interrupted
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    run()
