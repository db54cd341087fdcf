"""Travaux as a list: the runs the person may follow, paged with their count, sorted by work, date asked,
status or end, both ways; an unknown sort key gives the latest first."""

from __future__ import annotations

import datetime as dt
import html

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.roles import FirmRole
from portal.db.paging import FIRST_PAGE, Paging, Sort
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.services import RUN_SORTS, RUNS_ORDER, JobRunService
from tests.browsing import sign_in
from tests.factories.expenses import principal_of
from tests.factories.firm import PASSWORD, make_user

START = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)


async def _runs(db_session: AsyncSession, person: User, count: int = 4) -> None:
    statuses = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.QUEUED, JobStatus.RUNNING]
    for number in range(count):
        db_session.add(JobRun(
            actor_name="test.run", title=f"Travail {chr(ord('D') - number % 4)}{number:03d}",
            status=statuses[number % 4], created_by_id=person.id, created_at=START + dt.timedelta(hours=number),
            finished_at=START + dt.timedelta(hours=number, minutes=5) if number % 4 < 2 else None,
        ))  # fmt: skip
    await db_session.flush()


async def test_runs_sort_by_each_column_and_page(db_session: AsyncSession) -> None:
    person = await make_user(db_session)
    await _runs(db_session, person)
    service = JobRunService(session=db_session)
    principal = await principal_of(db_session, person)

    async def titles(sort: Sort, paging: Paging = FIRST_PAGE) -> list[str]:
        return [run.title for run in (await service.visible_page(principal, paging, sort)).items]

    assert await titles(RUNS_ORDER) == ["Travail A003", "Travail B002", "Travail C001", "Travail D000"]
    assert await titles(Sort("date")) == ["Travail D000", "Travail C001", "Travail B002", "Travail A003"]
    assert await titles(Sort("travail")) == ["Travail A003", "Travail B002", "Travail C001", "Travail D000"]
    # Status in the order a run goes through: En attente, En cours, …, Terminé, Échec.
    assert await titles(Sort("statut")) == ["Travail B002", "Travail A003", "Travail D000", "Travail C001"]
    # Not finished: last either way.
    assert (await titles(Sort("fin", descending=True)))[:2] == ["Travail C001", "Travail D000"]
    assert await titles(Sort.read("arguments", RUN_SORTS, RUNS_ORDER)) == await titles(RUNS_ORDER)
    past = await service.visible_page(principal, Paging(page=3, size=25), RUNS_ORDER)
    assert (past.page, past.asked, past.total) == (1, 3, 4)


async def test_the_page_shows_the_count_page_numbers_and_sizes(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    person = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await _runs(db_session, person, count=60)
    await sign_in(client, person.email, PASSWORD)
    page = html.unescape((await client.get("/travaux", params={"tri": "travail", "taille": "25"})).text)
    assert "60 travaux" in page
    assert "1–25 sur 60" in page
    assert '<a href="/travaux?tri=travail&page=3&taille=25">3</a>' in page
    assert '<a href="/travaux?tri=travail&taille=100">100</a>' in page
    assert '<th scope="col" aria-sort="ascending"><a href="/travaux?tri=-travail&taille=25">' in page
