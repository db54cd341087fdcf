"""Syncing POS and e-commerce sources against the sandbox over HTTP: every record posted exactly once.

Overlapping runs go through the outbox, the broker and real workers; the other runs call the
job functions the workers would, with committed data. What is checked is what an accountant
checks: one entry per ticket, payment, refund and cash difference, each balanced; closed days
final, the open day provisional and replaced; nothing doubled by re-running, overlapping,
reconnecting or connecting the same account anew.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.integrations.commerce import mapping as mappings
from portal.integrations.commerce import sync, tasks
from portal.integrations.commerce.client import CommerceClient
from portal.integrations.commerce.models import CommerceDay, CommerceEntry, CommerceEntryLine, CommerceSetup, DayState
from portal.integrations.commerce.services import CommerceConnectionService as CommerceService
from portal.integrations.models import Connection, ConnectionStatus
from portal.jobs.context import JobContext, JobFailed
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import relay_once
from portal.jobs.runtime import Runtime
from portal.notifications.kinds import Kind
from portal.notifications.models import Notification
from portal.sandbox.commerce import CommerceState
from portal.settings import Settings
from tests import commerce_fixtures
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user
from tests.waiting import wait_for_run

commerce = commerce_fixtures.commerce
commerce_settings = commerce_fixtures.commerce_settings
Maker = async_sessionmaker[AsyncSession]
TODAY = commerce_fixtures.TODAY
CEDRE = "zelty-le-cedre"
SHOP = "woocommerce-epicerie-fine"
REDELIVER = dt.timedelta(seconds=300)


@pytest.fixture(autouse=True)
def portal_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal's today is the sandbox's (a fixed Tuesday), in this process's workers too."""
    monkeypatch.setattr(sync, "today", lambda: TODAY)


@pytest.fixture
async def live(
    committed: Maker, jobs: Runtime, commerce_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Maker]:
    """Committed data, and the test workers pointed at the sandbox."""
    monkeypatch.setattr(jobs, "settings", commerce_settings)
    return committed


async def _context(maker: Maker, settings: Settings, user_id: uuid.UUID | None = None) -> JobContext:
    """A job's context for calling a task inline, with its run claimed as a worker would."""

    def sessions(*, read_only: bool = False) -> AsyncSession:
        del read_only
        return maker()

    async with maker() as session, session.begin():
        run = JobRun(actor_name="tests.inline", title="Appel direct", status=JobStatus.RUNNING, attempts=1)
        session.add(run)
    return JobContext(run_id=run.id, sessions=sessions, created_by_id=user_id, settings=settings)  # type: ignore[arg-type]


async def _connect(
    maker: Maker, settings: Settings, commerce: CommerceState, ref: str = CEDRE, *, days: int = 6
) -> tuple[uuid.UUID, uuid.UUID]:
    """A dossier, its partner, and the source connected with its API key (as the page does)."""
    account = commerce.account(ref)
    code = account.source.code
    async with maker() as session, session.begin():
        dossier = await make_dossier(session, name=account.name)
        partner = await make_user(session, roles=(FirmRole.PARTNER,))
        principal = await _principal(session, partner)
        connection = await CommerceService(session).connect_api_key(settings, principal, dossier, account.source,
                                                                    account.api_key)  # fmt: skip
        setup = (
            await session.execute(select(CommerceSetup).where(CommerceSetup.connection_id == connection.id))
        ).scalar_one()
        setup.sync_start = TODAY - dt.timedelta(days=days)
        del code
    return dossier.id, connection.id


async def _principal(session: AsyncSession, user: User) -> Any:
    from portal.accounts.services import load_principal  # noqa: PLC0415 - test helper

    return await load_principal(session, user.id, 0)


async def _reference(maker: Maker, settings: Settings, connection_id: uuid.UUID) -> None:
    result = await tasks.reference(await _context(maker, settings), str(connection_id))
    assert tasks.RESULT not in result, result


async def _sync(maker: Maker, settings: Settings, connection_id: uuid.UUID, mode: str = "manual") -> dict[str, Any]:
    return await tasks.sync_connection(await _context(maker, settings), str(connection_id), mode)


async def _source_records(settings: Settings, commerce: CommerceState, ref: str, days: list[dt.date]) -> Counter[str]:
    """What the sandbox holds for those days, read with the portal's own client: ids by kind."""
    account = commerce.account(ref)
    found: Counter[str] = Counter()
    async with CommerceClient(settings, source=account.source, credentials={"api_key": account.api_key}) as client:
        for day in days:
            async for orders in client.orders(account.id, day, day):
                for order in orders:
                    found["refund" if order.refund_of else "order"] += 1
                    found["payment"] += sum(1 for payment in order.payments if payment.completed and payment.total)
            closure = await client.closure(account.id, day)
            if closure.closed:
                found["closure"] += sum(1 for item in closure.closures if any(p.difference for p in item.payments))
    return found


async def _posted(maker: Maker) -> Counter[str]:
    async with maker() as session:
        rows = await session.execute(select(CommerceEntry.kind, func.count()).group_by(CommerceEntry.kind))
        return Counter(dict(rows.all()))


async def _unbalanced(maker: Maker) -> list[Any]:
    async with maker() as session:
        statement = (
            select(CommerceEntryLine.entry_id, func.sum(CommerceEntryLine.debit), func.sum(CommerceEntryLine.credit))
            .group_by(CommerceEntryLine.entry_id)
            .having(func.sum(CommerceEntryLine.debit) != func.sum(CommerceEntryLine.credit))
        )
        return list(await session.execute(statement))


async def test_a_sync_posts_each_record_once_with_closed_days_final_and_today_provisional(
    live: Maker, commerce_settings: Settings, commerce: CommerceState
) -> None:
    _dossier_id, connection_id = await _connect(live, commerce_settings, commerce)
    await _reference(live, commerce_settings, connection_id)
    result = await _sync(live, commerce_settings, connection_id)
    days = sync.days_between(TODAY - dt.timedelta(days=6), TODAY)
    assert result[tasks.DAYS] == 7
    expected = await _source_records(commerce_settings, commerce, CEDRE, days)
    posted = await _posted(live)
    assert posted == expected, (posted, expected)
    assert expected["order"] > 300
    assert expected["closure"] >= 1
    assert await _unbalanced(live) == []
    async with live() as session:
        states = dict((await session.execute(select(CommerceDay.business_date, CommerceDay.state))).all())
        provisional = await session.scalar(select(func.count()).where(CommerceEntry.final.is_(False)))
        customers = await session.scalar(select(func.count()).select_from(CommerceEntryLine).where(
            CommerceEntryLine.aux_account.is_not(None), CommerceEntryLine.aux_account != "COMPTOIR"))  # fmt: skip
    assert states[TODAY] is DayState.OPEN
    assert all(states[day] is DayState.CLOSED for day in days[:-1] if commerce.is_closed(commerce.account(CEDRE), day))
    assert provisional
    assert provisional < sum(posted.values())
    assert customers, "regular customers get their own auxiliary accounts"
    again = await _sync(live, commerce_settings, connection_id)
    assert again[tasks.DAYS] == 1, "closed days are final: only today is read again"
    assert again[tasks.ENTRIES] == 0 or await _posted(live) == posted
    assert await _posted(live) == posted


async def test_overlapping_runs_through_the_workers_and_reconnections_double_nothing(
    live: Maker, commerce_settings: Settings, commerce: CommerceState, jobs: Runtime
) -> None:
    dossier_id, connection_id = await _connect(live, commerce_settings, commerce, days=4)
    await _reference(live, commerce_settings, connection_id)
    async with live() as session, session.begin():
        runs = [
            await tasks.sync_connection.options(dossier_id=dossier_id).enqueue(
                session, connection_id=str(connection_id), mode=mode
            )
            for mode in ("manual", "manual", "daily", "manual")
        ]
    # The four syncs, and the reference read the connection asked for (done inline above: it runs once more).
    assert await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER) == 5
    finished = await asyncio.gather(*(wait_for_run(live, run.id, timeout=90) for run in runs))
    assert [run.status for run in finished] == [JobStatus.SUCCEEDED] * 4, [run.error for run in finished]
    days = sync.days_between(TODAY - dt.timedelta(days=4), TODAY)
    expected = await _source_records(commerce_settings, commerce, CEDRE, days)
    assert await _posted(live) == expected
    # Disconnect, then paste the key again: the same account, nothing posted twice.
    async with live() as session, session.begin():
        connection = await session.get(Connection, connection_id)
        assert connection is not None
        connection.status = ConnectionStatus.DISCONNECTED
    account = commerce.account(CEDRE)
    async with live() as session, session.begin():
        dossier = await session.get(Dossier, dossier_id)
        partner = (await session.execute(select(User))).scalars().first()
        assert dossier is not None
        assert partner is not None
        await CommerceService(session).connect_api_key(commerce_settings, await _principal(session, partner), dossier,
                                                       account.source, account.api_key)  # fmt: skip
    await _reference(live, commerce_settings, connection_id)
    await _sync(live, commerce_settings, connection_id)
    assert await _posted(live) == expected
    # A brand new connection (the old one deleted) to the same account: still nothing doubled.
    async with live() as session, session.begin():
        await session.execute(delete(Connection).where(Connection.id == connection_id))
    async with live() as session, session.begin():
        dossier = await session.get(Dossier, dossier_id)
        partner = (await session.execute(select(User))).scalars().first()
        assert dossier is not None
        assert partner is not None
        fresh = await CommerceService(session).connect_api_key(commerce_settings, await _principal(session, partner),
                                                               dossier, account.source, account.api_key)  # fmt: skip
        setup = (
            await session.execute(select(CommerceSetup).where(CommerceSetup.connection_id == fresh.id))
        ).scalar_one()
        setup.sync_start = TODAY - dt.timedelta(days=4)
    assert fresh.id != connection_id
    await _reference(live, commerce_settings, fresh.id)
    await _sync(live, commerce_settings, fresh.id)
    assert await _posted(live) == expected
    assert await _unbalanced(live) == []


async def test_a_sync_resumed_after_an_interrupted_attempt_counts_what_every_attempt_did(
    live: Maker, commerce_settings: Settings, commerce: CommerceState, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt stops after two days; the run's summary still counts them, and nothing twice."""
    dossier_id, connection_id = await _connect(live, commerce_settings, commerce, days=5)
    await _reference(live, commerce_settings, connection_id)
    real_sync_day = sync.sync_day
    calls: Counter[str] = Counter()

    async def interrupted(*args: Any, **kwargs: Any) -> sync.DayResult:
        calls["days"] += 1
        if calls["days"] == 3:
            msg = "worker arrêté"
            raise RuntimeError(msg)
        return await real_sync_day(*args, **kwargs)

    monkeypatch.setattr(sync, "sync_day", interrupted)
    async with live() as session, session.begin():
        run = await tasks.sync_connection.options(dossier_id=dossier_id).enqueue(
            session, connection_id=str(connection_id)
        )
    await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER)
    finished = await wait_for_run(live, run.id, timeout=90)
    assert (finished.status, finished.attempts) == (JobStatus.SUCCEEDED, 2), finished.error

    days = sync.days_between(TODAY - dt.timedelta(days=5), TODAY)
    async with live() as session:
        marked = await session.scalar(select(func.count()).select_from(CommerceDay))
        closed = await session.scalar(select(func.count()).where(CommerceDay.state == DayState.CLOSED))
        entries = await session.scalar(select(func.count()).select_from(CommerceEntry))
    assert calls["days"] == len(days) + 1  # each day read once, and the one the first attempt died on
    assert finished.counts[tasks.DAYS] == marked == len(days)
    assert finished.counts[tasks.CLOSED] == closed
    assert finished.counts[tasks.ENTRIES] == entries == sum((await _posted(live)).values())
    assert entries


async def test_the_open_day_is_replaced_until_the_source_closes_it(
    live: Maker, commerce_settings: Settings, commerce: CommerceState
) -> None:
    _dossier_id, connection_id = await _connect(live, commerce_settings, commerce, days=0)
    await _reference(live, commerce_settings, connection_id)
    await _sync(live, commerce_settings, connection_id)
    first = await _posted(live)
    order = commerce.add_order(CEDRE, method_id="esp")
    await _sync(live, commerce_settings, connection_id)
    async with live() as session:
        entry = (
            await session.execute(select(CommerceEntry).where(CommerceEntry.record_id == order["id"]))
        ).scalar_one()
    assert entry.final is False
    assert (await _posted(live))["order"] == first["order"] + 1
    changed = commerce.modify_order(CEDRE, order["id"], method_id="cb")
    await _sync(live, commerce_settings, connection_id)
    async with live() as session:
        entries = (await session.execute(select(CommerceEntry).where(CommerceEntry.record_id == order["id"]))).scalars()
        assert len(list(entries)) == 1
        accounts = set(
            (await session.execute(
                select(CommerceEntryLine.account).join(CommerceEntry, CommerceEntry.id == CommerceEntryLine.entry_id)
                .where(CommerceEntry.kind == "payment", CommerceEntry.record_id == changed["payments"][0]["id"])
            )).scalars()
        )  # fmt: skip
    assert "511500" in accounts, accounts
    assert "530000" not in accounts, accounts
    commerce.close_day(CEDRE)
    await _sync(live, commerce_settings, connection_id)
    async with live() as session:
        day = await session.get(CommerceDay, (_dossier_id, f"zelty:{commerce.account(CEDRE).id}", TODAY))
        provisional = await session.scalar(select(func.count()).where(CommerceEntry.final.is_(False)))
    assert day is not None
    assert day.state is DayState.CLOSED
    assert provisional == 0
    expected = await _source_records(commerce_settings, commerce, CEDRE, [TODAY])
    assert await _posted(live) == expected
    result = await _sync(live, commerce_settings, connection_id)
    assert result[tasks.DAYS] == 0, "a closed day is never read again"


async def test_a_source_that_fails_is_retried_and_a_revoked_key_stops_the_connection(
    live: Maker, commerce_settings: Settings, commerce: CommerceState
) -> None:
    _dossier_id, connection_id = await _connect(live, commerce_settings, commerce, days=1)
    await _reference(live, commerce_settings, connection_id)
    commerce.fail_next(10, status=503)
    with pytest.raises(Exception, match="ne répond pas"):
        await _sync(live, commerce_settings, connection_id)
    async with live() as session:
        setup = (await session.execute(select(CommerceSetup))).scalar_one()
    assert setup.last_error
    assert "ne répond pas" in setup.last_error
    commerce.fail_next(0)
    while commerce.take_failure() is not None:
        pass
    await _sync(live, commerce_settings, connection_id)
    days = sync.days_between(TODAY - dt.timedelta(days=1), TODAY)
    assert await _posted(live) == await _source_records(commerce_settings, commerce, CEDRE, days)
    commerce.revoke_key(CEDRE)
    with pytest.raises(JobFailed) as failed:  # the run fails for good: « Échec », never « Terminé »
        await _sync(live, commerce_settings, connection_id)
    assert failed.value.message == tasks.LOST
    async with live() as session:
        connection = await session.get(Connection, connection_id)
        notices = await session.scalar(
            select(func.count(func.distinct(Notification.event_key))).where(Notification.kind == Kind.CONNECTION_LOST)
        )
    assert connection is not None
    assert connection.status is ConnectionStatus.AUTHORIZATION_LOST
    assert notices == 1


async def test_a_web_shop_posts_only_once_its_countries_are_mapped(
    live: Maker, commerce_settings: Settings, commerce: CommerceState
) -> None:
    _dossier_id, connection_id = await _connect(live, commerce_settings, commerce, SHOP, days=20)
    await _reference(live, commerce_settings, connection_id)
    result = await _sync(live, commerce_settings, connection_id)
    assert result[tasks.RESULT] == tasks.INCOMPLETE
    assert await _posted(live) == Counter()
    async with live() as session, session.begin():
        setup = (await session.execute(select(CommerceSetup))).scalar_one()
        mapping = mappings.Mapping.from_json(setup.mapping)
        for code, rate in (("BE", "21"), ("DE", "19"), ("ES", "21")):
            mapping.country_rules[code] = mappings.CountryRule(rate=Decimal(rate), sales_account="7070300",
                                                                vat_account="4457300")  # fmt: skip
        mapping.country_rules["CH"] = mappings.CountryRule(rate=Decimal(0), sales_account="7070900")
        setup.mapping = mapping.to_json()
    result = await _sync(live, commerce_settings, connection_id)
    assert tasks.RESULT not in result, result
    posted = await _posted(live)
    assert posted["web_order"] > 100
    assert posted["web_refund"] >= 1
    assert posted["payment"] > 100
    assert await _unbalanced(live) == []
    async with live() as session:
        accounts = set((await session.execute(select(CommerceEntryLine.account).distinct())).scalars())
    assert {"7070300", "4457300", "7070900", "708500"} <= accounts


async def test_the_daily_schedule_asks_each_connection_once_per_day(
    live: Maker, commerce_settings: Settings, commerce: CommerceState
) -> None:
    _dossier_id, connection_id = await _connect(live, commerce_settings, commerce, days=1)
    await _reference(live, commerce_settings, connection_id)
    first = await tasks.scheduled(await _context(live, commerce_settings), "daily")
    second = await tasks.scheduled(await _context(live, commerce_settings), "daily")
    monthly = await tasks.scheduled(await _context(live, commerce_settings), "monthly")
    assert (first[tasks.REQUESTED], second[tasks.REQUESTED], monthly[tasks.REQUESTED]) == (1, 0, 0)
    async with live() as session:
        run = (await session.execute(select(JobRun).where(JobRun.actor_name == "commerce.sync"))).scalar_one()
    assert run.arguments == {"connection_id": str(connection_id), "mode": "daily"}


def test_periods() -> None:
    tuesday = dt.date(2026, 12, 8)
    assert sync.period_end("daily", tuesday) == dt.date(2026, 12, 7)
    assert sync.period_end("monthly", tuesday) == dt.date(2026, 11, 30)
    assert sync.period_end("manual", tuesday) == tuesday
