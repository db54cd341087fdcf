"""Facturation récurrente at a firm's scale: 5,000 clients with two monthly missions each (target: the drafts in
under 30 s), then their validation — numbers, entries in journal VT, the Factur-X files — at 20 invoices a second
per worker process or more.

The clients, their accepted letters and missions are loaded set-based; then ``billing.draft_run`` runs in this
process as a worker runs it, and ``InvoiceService.validate`` numbers and posts every draft in one transaction.
The files are made by ``billing.render_invoices`` as a worker makes them; it is timed on a sample (every invoice
of the run would take minutes here) and the rate of the whole validation is computed from both. The bare
reference, measured in the same run: the same number of invoice and line rows inserted with nothing computed,
which no way of writing drafts can beat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update

from benchmarks.environment import bench_settings, empty_database
from portal import domains
from portal.auth.policy import Principal
from portal.auth.roles import FirmRole
from portal.billing import tasks
from portal.billing.client_base import ensure_clients
from portal.billing.fee_models import (
    Engagement,
    EngagementStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Mission,
    Rhythm,
)
from portal.billing.invoices import InvoiceService
from portal.billing.models import BillingClient
from portal.billing.runs import BillingRunService
from portal.clients.models import Dossier
from portal.db.engine import make_engine, make_session_maker
from portal.firm.models import Firm
from portal.firm.services import UserService
from portal.jobs import runtime
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun, JobStatus
from portal.settings import FIRM_TIMEZONE, Settings
from tests.factories.clients import valid_siren

CLIENTS = 5_000
DRAFT_TARGET_SECONDS = 30.0
VALIDATION_TARGET_PER_SECOND = 20.0
RENDER_SAMPLE = 100
CHUNK = 1_000
TODAY = dt.datetime.now(FIRM_TIMEZONE).date()


def _stamps() -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return {"created_at": now, "updated_at": now}


async def _load(maker: Any) -> tuple[uuid.UUID, Principal]:
    """The firm, its billing entity, 5,000 client dossiers with their clients, letters and missions."""
    async with maker() as session, session.begin():
        entity = Dossier(name="Cabinet du banc d'essai", siren=valid_siren(), is_firm_dossier=True)
        session.add(entity)
        await session.flush()
        session.add(Firm(name="Cabinet du banc d'essai", own_dossier_id=entity.id, billing_entity_id=entity.id))
        partner = await UserService(session=session).create_user(
            email="associe@banc-essai.fr", name="Associé du banc d'essai", roles=[FirmRole.PARTNER]
        )
        rows = [{"id": uuid.uuid4(), "name": f"Client {number:05d}", "sort_name": f"client {number:05d}",
                 "match_name": f"client {number:05d}", "siren": valid_siren(), **_stamps()}
                for number in range(CLIENTS)]  # fmt: skip
        for start in range(0, CLIENTS, CHUNK):
            await session.execute(insert(Dossier), rows[start : start + CHUNK])
        await ensure_clients(session, entity.id, Dossier.id != entity.id)
        clients = list((await session.execute(select(BillingClient.id))).scalars())
        year = TODAY.year
        letters = [{"id": uuid.uuid4(), "entity_id": entity.id, "client_id": client_id,
                    "reference": f"LM{year}-{index:05d}", "status": EngagementStatus.ACCEPTED,
                    "start_date": dt.date(year, 1, 1), "renewal_date": dt.date(year + 1, 1, 1),
                    "revision_rate": Decimal(0), "general_terms": "", "contact_name": "", "contact_email": "",
                    **_stamps()} for index, client_id in enumerate(clients)]  # fmt: skip
        missions = [{"id": uuid.uuid4(), "engagement_id": letter["id"], "position": position, "label": label,
                     "quantity": Decimal(quantity), "unit_price": Decimal(price), "vat_rate": Decimal("20.00"),
                     "revenue_account": account, "rhythm": Rhythm.MONTHLY, **_stamps()}
                    for letter in letters
                    for position, (label, quantity, price, account) in enumerate(
                        (("Tenue comptable", "1", "350.00", "706100"), ("Social (par bulletin)", "3", "28.00",
                                                                          "706400")))]  # fmt: skip
        for start in range(0, len(letters), CHUNK):
            await session.execute(insert(Engagement), letters[start : start + CHUNK])
        for start in range(0, len(missions), CHUNK * 2):
            await session.execute(insert(Mission), missions[start : start + CHUNK * 2])
    who = Principal.build(user_id=partner.id, email=partner.email, name=partner.name, locale="fr",
                          roles=frozenset({FirmRole.PARTNER}))  # fmt: skip
    return entity.id, who


async def _bare_rows(maker: Any, entity_id: uuid.UUID) -> float:
    """The same number of invoice and line rows, inserted with nothing read or computed; then removed."""
    client_id = await _scalar(maker, select(BillingClient.id).limit(1))
    invoices = [{"id": uuid.uuid4(), "entity_id": entity_id, "client_id": client_id, "status": InvoiceStatus.DRAFT,
                 "issue_date": TODAY, "due_date": TODAY, "total_ht": Decimal("434.00"),
                 "total_vat": Decimal("86.80"), "total_ttc": Decimal("520.80"), **_stamps()}
                for _ in range(CLIENTS)]  # fmt: skip
    lines = [{"id": uuid.uuid4(), "invoice_id": invoice["id"], "position": position, "label": "Tenue comptable",
              "quantity": Decimal(1), "unit_price": Decimal("350.00"), "vat_rate": Decimal("20.00"),
              "total_ht": Decimal("350.00"), **_stamps()} for invoice in invoices for position in (0, 1)]  # fmt: skip
    started = time.perf_counter()
    async with maker() as session, session.begin():
        for start in range(0, CLIENTS, CHUNK):
            await session.execute(insert(Invoice), invoices[start : start + CHUNK])
            await session.execute(insert(InvoiceLine), lines[start * 2 : (start + CHUNK) * 2])
    seconds = time.perf_counter() - started
    async with maker() as session, session.begin():
        ids = [invoice["id"] for invoice in invoices]
        for start in range(0, CLIENTS, CHUNK):
            await session.execute(
                InvoiceLine.__table__.delete().where(InvoiceLine.invoice_id.in_(ids[start : start + CHUNK]))
            )
            await session.execute(Invoice.__table__.delete().where(Invoice.id.in_(ids[start : start + CHUNK])))
    return seconds


async def _scalar(maker: Any, statement: Any) -> Any:
    async with maker() as session:
        return (await session.execute(statement)).scalar()


async def main(settings: Settings) -> dict[str, float]:
    domains.install()
    jobs = runtime.configure(settings)
    engine = make_engine(settings.database_url)
    try:
        maker = make_session_maker(engine)
        await empty_database(engine)
        started = time.perf_counter()
        entity_id, who = await _load(maker)
        loaded = time.perf_counter() - started
        print(f"  {CLIENTS:,} clients, letters and {CLIENTS * 2:,} missions loaded in {loaded:.1f} s")
        bare = await _bare_rows(maker, entity_id)
        async with maker() as session, session.begin():
            run = await BillingRunService(session).start(who, entity_id, TODAY)
            # The run as a worker holds it: claimed, first attempt (its checkpoints are written under that claim).
            await session.execute(update(JobRun).where(JobRun.id == run.job_run_id)
                                  .values(status=JobStatus.RUNNING, attempts=1))  # fmt: skip
        context = JobContext(run_id=run.job_run_id or uuid.uuid4(), sessions=jobs.sessions, created_by_id=who.user_id,
                             settings=settings)  # fmt: skip
        started = time.perf_counter()
        await tasks.draft_run(context, run_id=str(run.id))
        drafting = time.perf_counter() - started
        drafts = int(await _scalar(maker, select(func.count()).select_from(Invoice).where(Invoice.run_id == run.id)))
        lines = int(await _scalar(maker, select(func.count()).select_from(InvoiceLine)))
        ids = list(await _all(maker, select(Invoice.id).where(Invoice.run_id == run.id)))
        started = time.perf_counter()
        async with maker() as session, session.begin():
            numbered = await InvoiceService(session).validate(who, ids)
        validating = time.perf_counter() - started
        # The files of a sample, made as the worker makes them: the others are set aside meanwhile.
        sample = ids[:RENDER_SAMPLE]
        async with maker() as session, session.begin():
            await session.execute(update(Invoice).where(Invoice.id.not_in(sample)).values(file_name="(mis de côté)"))
        started = time.perf_counter()
        await tasks.render_invoices(context, entity_id=str(entity_id))
        rendering = (time.perf_counter() - started) / len(sample)
        return {"drafting": drafting, "drafts": drafts, "lines": lines, "bare": bare, "validating": validating,
                "numbered": len(numbered.invoices), "rendering": rendering}  # fmt: skip
    finally:
        await engine.dispose()
        await jobs.sessions.dispose_current()


async def _all(maker: Any, statement: Any) -> list[Any]:
    async with maker() as session:
        return list((await session.execute(statement)).scalars())


def run(settings: Settings | None = None) -> None:
    settings = settings or bench_settings()
    print(f"billing ({CLIENTS:,} clients × 2 monthly missions, {'SQLite' if settings.is_sqlite else 'PostgreSQL'})")
    figures = asyncio.run(main(settings))
    drafting, bare = figures["drafting"], figures["bare"]
    print(f"  drafts: {figures['drafts']:,} invoices and {figures['lines']:,} lines in {drafting:.1f} s "
          f"(target < {DRAFT_TARGET_SECONDS:.0f} s: {'met' if drafting < DRAFT_TARGET_SECONDS else 'MISSED'}); "
          f"bare insert of as many rows: {bare:.1f} s, {drafting / bare:.1f}× that")  # fmt: skip
    per_invoice = figures["validating"] / figures["numbered"] + figures["rendering"]
    rate = 1 / per_invoice
    print(f"  validation: numbers and VT entries of {figures['numbered']:,} invoices in {figures['validating']:.1f} s "
          f"({figures['validating'] / figures['numbered'] * 1000:.1f} ms each); Factur-X files "
          f"{figures['rendering'] * 1000:.0f} ms each (sample of {RENDER_SAMPLE})")  # fmt: skip
    print(f"  validated per second per worker process: {rate:.1f} (target {VALIDATION_TARGET_PER_SECOND:.0f}: "
          f"{'met' if rate >= VALIDATION_TARGET_PER_SECOND else 'MISSED'})")  # fmt: skip
    print(f"ratio billing_drafts_budget: {DRAFT_TARGET_SECONDS / drafting:.2f}× (target 1.00×)")
    print(f"ratio billing_validation_rate: {rate / VALIDATION_TARGET_PER_SECOND:.2f}× (target 1.00×)")
