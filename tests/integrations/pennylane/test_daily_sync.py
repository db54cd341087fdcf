"""The daily Pennylane refresh, against the sandbox: scheduled at 06:00 (Paris), once per dossier and day,
re-importing the open fiscal years and the closed ones Pennylane changed since their import.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import domains
from portal.accounts.models import User
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from portal.integrations.pennylane import tasks
from portal.integrations.pennylane.client import PennylaneError
from portal.jobs.models import JobRun, OutboxMessage
from portal.jobs.scheduler import tick
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport, LedgerSource, VersionState
from portal.sandbox.pennylane import SandboxState
from portal.settings import FIRM_TIMEZONE
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_firm, make_user
from tests.integrations.pennylane.test_controllers import Client, _context, _settings, portal

__all__ = ["portal"]  # the fixture, shared with the connection tests

COMPANY = "Boulangerie Martin"
EXPORT_FAILED = "Pennylane n'a pas pu produire l'export FEC."


async def _connected(db_session: AsyncSession, sandbox: SandboxState) -> tuple[User, Dossier, Connection]:
    """A dossier connected to the sandbox's company with a personal token, its Comptable, and the connection."""
    await make_firm(db_session)
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    dossier = await make_dossier(db_session, name=COMPANY)
    comptable = await make_user(db_session, name="Julie Bernard")
    await add_role(db_session, comptable, dossier, DossierRole.ACCOUNTANT)
    company = next(item for item in sandbox.companies if item.name == COMPANY)
    secret, _record = sandbox.create_api_token(
        name="Portail", company_id=company.id, scopes=frozenset({"fiscal_years:readonly", "exports:fec"}),
        lifetime_days=None,
    )  # fmt: skip
    connection = Connection(dossier_id=dossier.id, provider=Provider.PENNYLANE, auth_method=AuthMethod.API_TOKEN,
                            credentials={"api_token": secret}, token_hint=secret[-4:])  # fmt: skip
    db_session.add(connection)
    await db_session.flush()
    return partner, dossier, connection


async def _refresh(
    db_session: AsyncSession,
    session_maker: async_sessionmaker[AsyncSession],
    client: Client,
    user: User,
    connection: Connection,
) -> dict[str, Any]:
    """A refresh run requested (as the day's schedule would), then run as a worker would."""
    run = await tasks.refresh.options(dossier_id=connection.dossier_id).enqueue(
        db_session, connection_id=str(connection.id)
    )
    return await tasks.refresh(_context(session_maker, _settings(client), user, run.id), str(connection.id))


async def _refresh_runs(db_session: AsyncSession) -> list[JobRun]:
    statement = select(JobRun).where(JobRun.actor_name == "pennylane.refresh").order_by(JobRun.created_at)
    return list((await db_session.execute(statement)).scalars())


async def _imported_ends(db_session: AsyncSession, dossier: Dossier) -> list[dt.date]:
    statement = (
        select(LedgerImport.period_end)
        .where(LedgerImport.dossier_id == dossier.id, LedgerImport.status == ImportStatus.SUCCEEDED)
        .order_by(LedgerImport.created_at)
    )
    return [end for end in (await db_session.execute(statement)).scalars() if end is not None]


async def test_the_schedule_refreshes_the_open_year_once_a_day(
    portal: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], sandbox: SandboxState
) -> None:
    domains.install()
    partner, dossier, connection = await _connected(db_session, sandbox)
    archived = await make_dossier(db_session, name="Ancien client", status="archived")
    db_session.add(Connection(dossier_id=archived.id, provider=Provider.PENNYLANE, auth_method=AuthMethod.API_TOKEN,
                              credentials={"api_token": "x" * 30}))  # fmt: skip
    await db_session.flush()

    # 06:00 in Paris: the scheduler requests the day's run, once however often it ticks.
    six = dt.datetime.combine(dt.datetime.now(FIRM_TIMEZONE).date(), dt.time(6, 0), tzinfo=FIRM_TIMEZONE)
    assert await tick(session_maker, at=six.astimezone(dt.UTC) + dt.timedelta(minutes=1)) >= 1
    await tick(session_maker, at=six.astimezone(dt.UTC) + dt.timedelta(minutes=2))
    scheduled = (
        await db_session.execute(select(JobRun).where(JobRun.actor_name == "pennylane.daily"))
    ).scalars().all()  # fmt: skip
    assert len(scheduled) == 1

    context = _context(session_maker, _settings(portal), partner, scheduled[0].id)
    assert await tasks.daily(context) == {tasks.REQUESTED: 1}  # the archived dossier is left alone
    assert await tasks.daily(context) == {tasks.REQUESTED: 0}  # the same day again: nothing more
    (run,) = await _refresh_runs(db_session)
    assert run.dossier_id == dossier.id
    key = f"pennylane-daily:{dossier.id}:{dt.datetime.now(FIRM_TIMEZONE).date().isoformat()}"
    assert await db_session.scalar(select(OutboxMessage.dedupe_key).where(OutboxMessage.job_run_id == run.id)) == key

    summary = await tasks.refresh(_context(session_maker, _settings(portal), partner, run.id), **run.arguments)
    assert summary[tasks.IMPORTED] == "1 / 1"
    this_year = dt.datetime.now(FIRM_TIMEZONE).date().year
    assert await _imported_ends(db_session, dossier) == [dt.date(this_year, 12, 31)]
    active = await db_session.scalar(
        select(func.count())
        .select_from(FiscalYear)
        .where(FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE)
    )
    assert active == 1
    await db_session.refresh(connection)
    assert connection.last_error is None
    assert all("updated_at" in item for item in connection.fiscal_years or [])

    # The delivery of the same run again (a redelivered message) imports nothing twice.
    again = await tasks.refresh(_context(session_maker, _settings(portal), partner, run.id), **run.arguments)
    assert again[tasks.IMPORTED] == "1 / 1"
    assert len(await _imported_ends(db_session, dossier)) == 1


async def test_a_closed_year_changed_at_pennylane_is_imported_again_the_others_not(
    portal: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], sandbox: SandboxState
) -> None:
    partner, dossier, connection = await _connected(db_session, sandbox)
    company = next(item for item in sandbox.companies if item.name == COMPANY)
    years = {year.start.year: year for year in company.fiscal_years}
    settings = _settings(portal)
    first = [{"start": f"{year}-01-01", "end": f"{year}-12-31"} for year in (2024, 2025)]
    run = await tasks.import_fiscal_years.enqueue(db_session, connection_id=str(connection.id), years=first)
    imported = await tasks.import_fiscal_years(
        _context(session_maker, settings, partner, run.id), str(connection.id), first
    )
    assert imported[tasks.IMPORTED] == "2 / 2"

    # Nothing changed in 2024 or 2025 since: only the open year is taken.
    summary = await _refresh(db_session, session_maker, portal, partner, connection)
    assert summary[tasks.IMPORTED] == "1 / 1"
    # Then an accountant changes 2025 at Pennylane: the next day takes it again with the open year.
    sandbox.change_fiscal_year(years[2025].id, dt.datetime.now(dt.UTC))
    summary = await _refresh(db_session, session_maker, portal, partner, connection)
    assert summary[tasks.IMPORTED] == "2 / 2"
    ends = [end.year for end in await _imported_ends(db_session, dossier)]
    assert sorted(ends) == [2024, 2025, 2025, 2026, 2026]

    # An import already waiting for the open year (a person just asked for it) is not doubled.
    db_session.add(LedgerImport(dossier_id=dossier.id, source=LedgerSource.PENNYLANE, filename="attente.txt",
                                period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31)))  # fmt: skip
    await db_session.flush()
    summary = await _refresh(db_session, session_maker, portal, partner, connection)
    assert summary == {tasks.RESULT: tasks.UP_TO_DATE}


async def test_a_failing_pennylane_shows_on_the_connection_and_on_accueil(
    portal: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], sandbox: SandboxState
) -> None:
    partner, dossier, connection = await _connected(db_session, sandbox)
    sandbox.export_fails = True
    with pytest.raises(PennylaneError):  # the run retries with back-off meanwhile
        await _refresh(db_session, session_maker, portal, partner, connection)
    await db_session.refresh(connection)
    assert connection.status is ConnectionStatus.CONNECTED
    assert connection.last_error == EXPORT_FAILED

    assert (await sign_in(portal, partner.email, PASSWORD)).status_code in {302, 303}
    page = html.unescape((await portal.get(f"/entreprises/{dossier.id}/connexions")).text)
    assert f"La dernière synchronisation avec Pennylane a échoué : {EXPORT_FAILED}" in page
    home = html.unescape((await portal.get("/")).text)
    section = re.search(r'id="attente-connections".*?</article>', home, re.DOTALL)
    assert section is not None
    assert EXPORT_FAILED in section.group(0)
    assert f'href="/entreprises/{dossier.id}/connexions"' in section.group(0)

    # Pennylane answers again: the next refresh clears it.
    sandbox.export_fails = False
    await _refresh(db_session, session_maker, portal, partner, connection)
    await db_session.refresh(connection)
    assert connection.last_error is None
    assert "attente-connections" not in (await portal.get("/")).text
