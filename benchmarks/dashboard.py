"""Dashboard figures at scale: what the aggregation costs the import, a Tableau de bord, and Portefeuille.

* A 1,000,000-line fiscal year (the FEC benchmark's generator) imported after its N-1, the
  aggregation pass (balances and figures written in the import's transactions) timed inside it:
  ``ratio aggregation_overhead`` is the import over the import less that pass.
* The dossier's Tableau de bord in process (server time, as the partner), or, when the page is not
  there, the reads behind it: its figures, the year before and that year's figures.
* Portefeuille over 5,000 dossiers with two fiscal years each (their ``YearFigures`` written
  set-based, as the import leaves them; one dossier in ten confidential and not granted to the
  partner): the first page sorted by each column, both ways, in process.

``PORTAL_BENCH_DASHBOARD_LINES`` sets fewer lines for a quick run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from uuid_utils.compat import uuid7

from benchmarks import fec as fec_bench
from benchmarks.dossiers import company_name
from benchmarks.environment import bench_settings, describe_ms, empty_database, percentile, time_requests
from portal import domains
from portal.app import create_app
from portal.auth.roles import DossierRole, FirmRole
from portal.clients import names
from portal.clients.models import Dossier, DossierAccess, DossierNameTerm
from portal.clients.search import term_rows
from portal.dashboard.models import Objective
from portal.dashboard.portfolio import Column
from portal.db.engine import make_engine, make_session_maker
from portal.firm.services import UserService
from portal.ledger.aggregates import stored_detail
from portal.ledger.commands import import_path
from portal.ledger.figures import BY_KEY as DEFINITIONS
from portal.ledger.figures import KEYS, MONTHLY_KEYS, Figures, Kind, months_of
from portal.ledger.models import (
    FiscalYear,
    ImportStatus,
    LedgerImport,
    LedgerSource,
    VersionState,
    YearFigures,
)
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.browsing import serve_in_process, sign_in

LINES = int(os.environ.get("PORTAL_BENCH_DASHBOARD_LINES") or 1_000_000)
PREVIOUS_LINES = max(2, LINES // 10)
DOSSIERS = 5_000
CONFIDENTIAL_EVERY = 10
CHUNK = 1_000
PAGE_REQUESTS = 100
PORTFOLIO_REQUESTS = 20
WARM_UP = 3
TARGET_OVERHEAD = 1.15
TARGET_PAGE_P95 = 0.050
TARGET_PORTFOLIO_P95 = 0.150
PASSWORD = "mot-de-passe-du-tableau-de-bord"
PARTNER = "associe@cabinet.fr"
INSIDER = "confidentiel@cabinet.fr"
COMPTABLE = "comptable@cabinet.fr"
COMPTABLE_DOSSIERS = 150
SIREN = "552008443"

Maker = async_sessionmaker[AsyncSession]


def _verdict(p95: float, target: float) -> str:
    return f"[target p95 {target * 1000:.0f} ms: {'met' if p95 <= target else 'MISSED'}]"


# --- the import, with and without the aggregation pass -------------------------------------------


# What the import does for the figures: the balances in its derivation, the figures when it activates.
AGGREGATION_STEPS = ("write_balances", "refresh_year_figures")


@contextlib.contextmanager
def timing_aggregation(spent: list[float]) -> Iterator[None]:
    """The import as it is, each of its aggregation statements' functions timed into ``spent`` (seconds)."""
    from portal.ledger import importer  # noqa: PLC0415 - wrapped here only, for the imports measured

    saved = {name: getattr(importer, name) for name in AGGREGATION_STEPS}

    def timed(step: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def run(*args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            try:
                await step(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - started)

        return run

    for name, step in saved.items():
        setattr(importer, name, timed(step))
    try:
        yield
    finally:
        for name, step in saved.items():
            setattr(importer, name, step)


async def _timed_import(settings: Settings, maker: Maker, dossier: Dossier, path: Path) -> tuple[float, float]:
    """(seconds of the whole import, seconds of its aggregation statements)."""
    spent: list[float] = []
    with timing_aggregation(spent):
        started = time.perf_counter()
        imported = await import_path(settings, maker, dossier, path)
        elapsed = time.perf_counter() - started
    assert imported.outcome.status is ImportStatus.SUCCEEDED, imported.record.report
    return elapsed, sum(spent)


async def imports(settings: Settings, engine: AsyncEngine, maker: Maker, folder: Path) -> Dossier:
    """N-1 (a tenth of the lines: it is there for N's opening receivables), then N; the dossier.

    The aggregation's cost is timed inside the import (its two functions wrapped), not by a second
    import without it: that would add a million-line import to ``make bench`` for the same figure.
    """
    started = time.perf_counter()
    previous = fec_bench.generate(folder / f"{SIREN}FEC20231231.txt", PREVIOUS_LINES, seed=fec_bench.SEED + 1,
                                  year=2023)  # fmt: skip
    current = fec_bench.generate(folder / f"{SIREN}FEC20241231.txt", LINES, year=2024)
    print(f"  FEC files generated (not measured) in {time.perf_counter() - started:.1f} s")
    async with maker() as session, session.begin():
        dossier = Dossier(name="Société du tableau de bord", siren=SIREN)
        session.add(dossier)
    first, first_aggregation = await _timed_import(settings, maker, dossier, previous)
    print(f"  N-1 (2023, {PREVIOUS_LINES} lines) imported in {first:.1f} s, its aggregation {first_aggregation:.2f} s")
    whole, aggregation = await _timed_import(settings, maker, dossier, current)
    print(
        f"  N (2024, {LINES} lines) imported in {whole:.1f} s ({LINES / whole:,.0f} lines/s): balances and figures "
        f"{aggregation:.2f} s of it, the import without them {whole - aggregation:.1f} s"
    )
    ratio = whole / (whole - aggregation)
    print(f"ratio aggregation_overhead: {ratio:.2f}× (target {TARGET_OVERHEAD:.2f}×)")
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    return dossier


async def dashboard_page(settings: Settings, maker: Maker, dossier: Dossier) -> None:
    """The Tableau de bord of the dossier in process, or the reads it is made of when the page is not there."""
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    path = f"/entreprises/{dossier.id}/tableau-de-bord"
    served = any(route.path == "/entreprises/{dossier_id:uuid}/tableau-de-bord" for route in app.routes)
    if served:
        async with serve_in_process(app) as client:
            signed = await sign_in(client, PARTNER, PASSWORD)
            assert signed.status_code in {302, 303}, signed.status_code
            for _ in range(WARM_UP):
                await client.get(path)
            samples = await time_requests(client, path, PAGE_REQUESTS)
        print(f"  Tableau de bord, GET {path} in process: {describe_ms(samples)} "
              f"{_verdict(percentile(samples, 0.95), TARGET_PAGE_P95)}")  # fmt: skip
        return
    samples = []
    for number in range(WARM_UP + PAGE_REQUESTS):
        started = time.perf_counter()
        async with maker() as session:
            ledger = LedgerService(session)
            year = (
                await session.execute(
                    select(FiscalYear)
                    .where(FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE)
                    .order_by(FiscalYear.end_date.desc())
                    .limit(1)
                )
            ).scalar_one()
            await ledger.figures(year)
            before = await ledger.previous_year(year)
            assert before is not None
            await ledger.figures(before)
        if number >= WARM_UP:
            samples.append(time.perf_counter() - started)
    print(
        "  Tableau de bord page not on this branch: its reads measured directly instead "
        "(ledger.figures(year) + previous_year(year) + figures of N-1, one session each time): "
        f"{describe_ms(samples)} {_verdict(percentile(samples, 0.95), TARGET_PAGE_P95)}"
    )


# --- Portefeuille over 5,000 dossiers -------------------------------------------------------------


def _figures(rng: random.Random, start: dt.date, end: dt.date, columns: dict[str, Any]) -> tuple[Any, Any]:
    """``figures`` and ``detail`` as the import stores them: every key, every month, of the row's values."""
    values: dict[str, Decimal | None] = {}
    for key in KEYS:
        if key in columns:
            value = columns[key]
            values[key] = Decimal(value) / 100 if isinstance(value, int) else value
        elif DEFINITIONS[key].kind is Kind.AMOUNT:
            values[key] = Decimal(rng.randrange(-columns["chiffre_affaires"], columns["chiffre_affaires"] + 1)) / 100
        else:
            values[key] = Decimal(rng.randrange(0, 1200)) / 10
    months = [f"{month:%Y-%m}" for month in months_of(start, end)]
    monthly: dict[str, dict[str, Decimal | None]] = {
        key: {month: Decimal(rng.randrange(0, columns["chiffre_affaires"] // 6 + 1)) / 100 for month in months}
        for key in (*MONTHLY_KEYS, "dso_jours", "dpo_jours")
    }
    figures = Figures(start=start, end=end, values=values, monthly=monthly, opening_source="n-1")
    return figures.to_json(), stored_detail(figures)


def _rate(rng: random.Random, low: int, high: int) -> Decimal | None:
    return None if rng.random() < 0.03 else Decimal(rng.randrange(low, high)) / 10


async def seed_portfolio(engine: AsyncEngine, maker: Maker) -> int:
    """The partner, a Comptable on 150 dossiers, 5,000 dossiers with two fiscal years and their figures."""
    async with maker() as session, session.begin():
        users = UserService(session=session)
        await users.create_user(email=PARTNER, name="Paule Associée", roles=[FirmRole.PARTNER], password=PASSWORD)
        insider = await users.create_user(email=INSIDER, name="Claire Confidentielle",
                                          roles=[FirmRole.COLLABORATOR], password=PASSWORD)  # fmt: skip
        comptable = await users.create_user(email=COMPTABLE, name="Chloé Comptable",
                                            roles=[FirmRole.COLLABORATOR], password=PASSWORD)  # fmt: skip
        insider_id, comptable_id = insider.id, comptable.id
    rng = random.Random(20261207)  # noqa: S311 - reproducible test data, not secrets
    now = dt.datetime.now(dt.UTC)
    rows: dict[type, list[dict[str, Any]]] = {}

    async def flush(connection: Any) -> None:
        for model in (Dossier, DossierNameTerm, DossierAccess, LedgerImport, FiscalYear, YearFigures, Objective):
            if rows.get(model):
                await connection.execute(insert(model), rows[model])
        rows.clear()

    ids: list[uuid.UUID] = []
    async with engine.begin() as connection:
        for number in range(DOSSIERS):
            dossier_id = uuid.UUID(str(uuid7()))
            ids.append(dossier_id)
            name, form = company_name(rng)
            confidential = number % CONFIDENTIAL_EVERY == 5
            rows.setdefault(Dossier, []).append({
                "id": dossier_id, "created_at": now, "updated_at": now, "name": name,
                "sort_name": names.sort_key(name), "match_name": names.match_key(name), "siren": None,
                "legal_form": form, "closing_day": 31, "closing_month": 12, "status": "active",
                "is_firm_dossier": False, "is_confidential": confidential,
            })  # fmt: skip
            rows.setdefault(DossierNameTerm, []).extend(term_rows(dossier_id, name))
            if confidential:
                rows.setdefault(DossierAccess, []).append(
                    {"dossier_id": dossier_id, "user_id": insider_id, "granted_by_id": insider_id}
                )
            revenue = rng.randrange(5_000_000, 500_000_000)
            for year in (2023, 2024):
                start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
                finished = dt.datetime(year + 1, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(90_000))
                import_id, year_id = uuid.UUID(str(uuid7())), uuid.UUID(str(uuid7()))
                rows.setdefault(LedgerImport, []).append({
                    "id": import_id, "created_at": finished, "updated_at": finished, "dossier_id": dossier_id,
                    "source": LedgerSource.UPLOAD.value, "status": ImportStatus.SUCCEEDED.value,
                    "filename": f"FEC{end:%Y%m%d}.txt", "size_bytes": 0, "replaced": False, "progress_done": 0,
                    "finished_at": finished,
                })  # fmt: skip
                rows.setdefault(FiscalYear, []).append({
                    "id": year_id, "created_at": finished, "updated_at": finished, "dossier_id": dossier_id,
                    "start_date": start, "end_date": end, "state": VersionState.ACTIVE.value,
                    "source": LedgerSource.UPLOAD.value, "import_id": import_id, "activated_at": finished,
                })  # fmt: skip
                revenue = max(1, revenue + rng.randrange(-revenue // 4, revenue // 4 + 1))
                columns = {
                    "chiffre_affaires": revenue, "marge_brute": revenue * rng.randrange(20, 80) // 100,
                    "resultat_exploitation": revenue * rng.randrange(-20, 30) // 100,
                    "resultat_net": revenue * rng.randrange(-20, 25) // 100,
                    "tresorerie_nette": rng.randrange(-revenue // 5, revenue // 2),
                    "taux_marge_brute": _rate(rng, 0, 900), "taux_marge_exploitation": _rate(rng, -300, 400),
                    "dso_jours": _rate(rng, 0, 1200), "dpo_jours": _rate(rng, 0, 1200),
                }  # fmt: skip
                figures, detail = _figures(rng, start, end, columns)
                rows.setdefault(YearFigures, []).append({
                    "fiscal_year_id": year_id, "dossier_id": dossier_id, "start_date": start, "end_date": end,
                    **columns, "figures": figures, "detail": detail, "computed_at": finished,
                })  # fmt: skip
                if rng.random() < 0.5:
                    rows.setdefault(Objective, []).append({
                        "id": uuid.UUID(str(uuid7())), "created_at": now, "updated_at": now,
                        "dossier_id": dossier_id, "end_date": end, "key": "chiffre_affaires",
                        "target": Decimal(revenue * rng.randrange(80, 130) // 100) / 100,
                    })  # fmt: skip
            if len(rows[Dossier]) == CHUNK:
                await flush(connection)
        await flush(connection)
        chosen = ids[1 :: len(ids) // COMPTABLE_DOSSIERS][:COMPTABLE_DOSSIERS]
        from portal.accounts.models import DossierMembership  # noqa: PLC0415

        await connection.execute(
            insert(DossierMembership),
            [{"id": uuid.UUID(str(uuid7())), "created_at": now, "updated_at": now, "dossier_id": dossier_id,
              "user_id": comptable_id, "role": DossierRole.ACCOUNTANT.value} for dossier_id in chosen],
        )  # fmt: skip
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    return len(chosen)


@contextlib.asynccontextmanager
async def _signed_in(settings: Settings, email: str) -> AsyncIterator[Any]:
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client:
        signed = await sign_in(client, email, PASSWORD)
        assert signed.status_code in {302, 303}, signed.status_code
        yield client


async def portfolio_pages(settings: Settings, comptable_dossiers: int) -> None:
    print(f"  Portefeuille, first page in process (server time, as the partner), {PORTFOLIO_REQUESTS} requests each:")
    worst = 0.0
    async with _signed_in(settings, PARTNER) as client:
        for column in Column:
            for sort in (column.value, f"-{column.value}"):
                path = f"/portefeuille?tri={sort}"
                for _ in range(WARM_UP):
                    await client.get(path)
                samples = await time_requests(client, path, PORTFOLIO_REQUESTS)
                worst = max(worst, percentile(samples, 0.95))
                print(f"    GET {path:<33} {describe_ms(samples)} "
                      f"{_verdict(percentile(samples, 0.95), TARGET_PORTFOLIO_P95)}")  # fmt: skip
        for path in ("/portefeuille?filtre=tresorerie-negative&filtre=ca-en-baisse&tri=-tresorerie",
                     "/portefeuille?q=boul&tri=-ca"):  # fmt: skip
            samples = await time_requests(client, path, PORTFOLIO_REQUESTS)
            print(f"    GET {path:<33} {describe_ms(samples)}")
        started = time.perf_counter()
        export = await client.get("/portefeuille/export.csv?tri=-ca")
        assert export.status_code == 200
        print(f"    GET /portefeuille/export.csv: {len(export.text.splitlines()) - 1} rows in "
              f"{time.perf_counter() - started:.2f} s")  # fmt: skip
    print(f"  worst p95 of the first page over every sort: {worst * 1000:.1f} ms "
          f"{_verdict(worst, TARGET_PORTFOLIO_P95)}")  # fmt: skip
    async with _signed_in(settings, COMPTABLE) as client:
        path = "/portefeuille?tri=-ca"
        for _ in range(WARM_UP):
            await client.get(path)
        samples = await time_requests(client, path, PORTFOLIO_REQUESTS)
        print(f"  as a Comptable on {comptable_dossiers} dossiers: GET {path} {describe_ms(samples)} "
              f"{_verdict(percentile(samples, 0.95), TARGET_PORTFOLIO_P95)}")  # fmt: skip


async def main(settings: Settings) -> None:
    back_end = "SQLite" if settings.is_sqlite else "PostgreSQL"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"dashboard ({back_end}; {os.cpu_count()} CPUs, load average {load})")
    domains.install()
    engine = make_engine(settings.database_url)
    maker = make_session_maker(engine)
    await empty_database(engine)
    comptable_dossiers = await seed_portfolio(engine, maker)
    print(f"  seed: {DOSSIERS} dossiers ({DOSSIERS // CONFIDENTIAL_EVERY} confidential, not granted to the partner), "
          f"two fiscal years each with their figures, written set-based")  # fmt: skip
    await portfolio_pages(settings, comptable_dossiers)
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-dashboard-"))
    try:
        dossier = await imports(settings, engine, maker, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    await dashboard_page(settings, maker, dossier)
    await engine.dispose()


def run(settings: Settings | None = None) -> None:
    """On ``settings``' database (emptied first: it may follow another benchmark), or on a fresh one."""
    asyncio.run(main(settings or bench_settings()))
