"""Foundation figures: page time in-process, and jobs through the outbox, relay and workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time

import dramatiq
from sqlalchemy import func, insert, select

from benchmarks.environment import bench_settings, describe_ms, empty_database, time_requests
from portal import domains
from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.db.engine import make_engine, make_session_maker
from portal.firm.services import UserService
from portal.jobs import registry, runtime
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import relay_once
from portal.jobs.registry import job
from portal.settings import Settings
from tests.browsing import serve_in_process

DOSSIERS = 5_000
REQUESTS = 300
JOBS = 2_000
PASSWORD = "mot-de-passe-du-banc-d-essai"  # not the account's name: the password policy refuses that


@job("bench.noop", title="Travail vide")
async def noop(_ctx: JobContext) -> None:
    return None


registry.register(noop)


async def _seed(maker: object) -> None:
    async with maker() as session, session.begin():  # type: ignore[operator]
        await UserService(session=session).create_user(
            email="bench@cabinet.fr", name="Bench", roles=[FirmRole.PARTNER], password=PASSWORD
        )
        await session.execute(
            insert(Dossier),
            [{"name": f"Entreprise {n:05d}", "is_firm_dossier": False} for n in range(DOSSIERS)],
        )


async def pages(settings: object) -> None:
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)  # type: ignore[arg-type]
    async with serve_in_process(app) as client:
        page = await client.get("/connexion")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        await client.post("/connexion", data={"email": "bench@cabinet.fr", "password": PASSWORD, "_csrf_token": token})
        for path in ("/entreprises", "/entreprises?page=50", "/healthz"):
            samples = await time_requests(client, path, REQUESTS)
            print(f"  GET {path:<22} {describe_ms(samples)}")


async def jobs(settings: object, maker: object) -> None:
    domains.install()
    jobs_runtime = runtime.configure(settings)  # type: ignore[arg-type]
    worker = dramatiq.Worker(jobs_runtime.broker, worker_threads=4)
    worker.start()
    try:
        started = time.perf_counter()
        async with maker() as session, session.begin():  # type: ignore[operator]
            for _ in range(JOBS):
                await noop.enqueue(session)
        enqueued = time.perf_counter()
        await relay_once(jobs_runtime.sessions, jobs_runtime.broker, redeliver_after=dt.timedelta(minutes=5))
        relayed = time.perf_counter()
        while True:
            async with maker() as session:  # type: ignore[operator]
                done = (
                    await session.execute(
                        select(func.count()).select_from(JobRun).where(JobRun.status == JobStatus.SUCCEEDED)
                    )
                ).scalar_one()
            if done >= JOBS:
                break
            await asyncio.sleep(0.05)
        finished = time.perf_counter()
    finally:
        worker.stop()
    print(
        f"  {JOBS} jobs: enqueue {enqueued - started:.2f} s, relay {relayed - enqueued:.2f} s, "
        f"run {finished - relayed:.2f} s -> {JOBS / (finished - started):.0f} jobs/s end to end "
        f"(broker: {type(jobs_runtime.broker).__name__}, 4 worker threads)"
    )


async def main(settings: Settings) -> None:
    print(f"foundation ({'SQLite' if settings.is_sqlite else 'PostgreSQL'}, {DOSSIERS} dossiers)")
    engine = make_engine(settings.database_url)
    maker = make_session_maker(engine)
    await empty_database(engine)
    await _seed(maker)
    await pages(settings)
    await jobs(settings, maker)
    await engine.dispose()


def run(settings: Settings | None = None) -> None:
    """On ``settings``' database (emptied first: it may follow another benchmark), or on a fresh one."""
    asyncio.run(main(settings or bench_settings()))
