"""A FEC that does not look like the dossier's (another SIREN in its name, another closing date) is not imported
before the person has read why and chosen « Importer quand même » or « Annuler l'import »; the file waits
meanwhile and is removed when cancelled. Real files of tests/data, as they are (the name a person gives a file
is the name of the upload)."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.jobs.models import JobRun
from portal.ledger import belonging, fec
from portal.ledger.cleanup import fail_abandoned_imports
from portal.ledger.files import ImportFiles
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport
from portal.settings import Settings
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.ledger.uploads import active_years, latest_import, partner, run, upload
from tests.samples import FEC_SAMPLES

Client = httpx.AsyncClient
NEOLEGAL = FEC_SAMPLES / "neolegal-fec-reader"
AUGUST = NEOLEGAL / "0000000001FEC20220831.txt"  # 2021-09-01 → 2022-08-31, a 10-digit number in its name
ZEROS = NEOLEGAL / "000000000FEC20231231.txt"  # the calendar year 2023, SIREN 000000000 (a valid key)
PIPE = NEOLEGAL / "111111111FEC20221231.TXT"  # the calendar year 2022
TAB_SMALL = FEC_SAMPLES / "lsn-fec-reader" / "sample_tab.txt"  # no SIREN nor date in its name


def _codes(issues: list[fec.Issue]) -> list[str]:
    return [issue.code for issue in issues]


@pytest.mark.parametrize(
    ("name", "closing", "codes"),
    [
        (AUGUST.name, None, ["siren_mismatch", "closing_mismatch"]),
        (ZEROS.name, None, ["siren_mismatch"]),
        ("552100554FEC20231231.txt", None, []),
        ("55210055400013FEC20231231.txt", None, []),  # a SIRET of the dossier
        ("C:\\exports\\552100554FEC20230630.txt", None, ["closing_mismatch"]),
        ("552100554FEC20231231.txt", dt.date(2023, 6, 30), ["closing_mismatch"]),  # the dates typed win
        (TAB_SMALL.name, None, []),
        ("export.txt", dt.date(2023, 12, 31), []),
    ],
)
def test_what_tells_a_file_is_not_the_dossiers(name: str, closing: dt.date | None, codes: list[str]) -> None:
    dossier = Dossier(name="Boulangerie Martin", siren="552100554", closing_day=31, closing_month=12)
    assert _codes(belonging.mismatches(dossier, name, closing)) == codes


def test_a_dossier_without_siren_is_compared_on_its_closing_date_only_and_a_day_too_late_for_the_month() -> None:
    association = Dossier(name="Amicale", siren=None, closing_day=31, closing_month=2)
    assert _codes(belonging.mismatches(association, AUGUST.name)) == ["closing_mismatch"]
    assert belonging.mismatches(association, "000000000FEC20240229.txt") == []  # 31/02 is 29/02 in 2024
    assert _codes(belonging.mismatches(association, "000000000FEC20230301.txt")) == ["closing_mismatch"]


def _stored(settings: Settings) -> set[Path]:
    root = settings.imports_dir
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


async def test_a_file_of_another_siren_waits_for_the_person_and_is_removed_when_cancelled(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await partner(client, db_session)
    dossier = await make_dossier(db_session, name="Boulangerie Martin", siren="552100554")
    before = _stored(settings)
    response = await upload(client, dossier, ZEROS.name, ZEROS.read_bytes(), confirm=False)
    assert response.status_code == 303
    record = await latest_import(db_session, dossier)
    assert response.headers["location"] == f"/entreprises/{dossier.id}/connexions/imports/{record.id}"
    assert record.status is ImportStatus.TO_CONFIRM
    assert record.job_run_id is None  # no worker is asked for anything
    assert await db_session.scalar(select(func.count()).select_from(JobRun)) == 0
    assert len(_stored(settings) - before) == 1  # the file waits

    page = await client.get(response.headers["location"])
    text = html.unescape(page.text)
    assert "Rien n'a encore été importé" in text
    assert "porte le numéro 000000000, qui n'est pas le SIREN du dossier (552 100 554)" in text
    assert "Importer quand même" in text
    assert "Annuler l'import" in text
    assert "hx-trigger" not in page.text  # nothing to follow live: it waits for the person
    connexions = html.unescape((await client.get(f"/entreprises/{dossier.id}/connexions")).text)
    assert "À confirmer" in connexions
    assert "Vérifier avant d'importer" in connexions

    # A worker handed this import anyway imports nothing.
    assert (await run(session_maker, settings, record)).status is ImportStatus.TO_CONFIRM
    assert await active_years(db_session, dossier) == []

    token = await csrf_token(client, f"/entreprises/{dossier.id}/connexions")
    cancelled = await client.post(
        f"/entreprises/{dossier.id}/connexions/imports/{record.id}/annuler",
        data={"_csrf_token": token},
        follow_redirects=True,
    )
    assert cancelled.status_code == 200
    assert "Import annulé : rien n'a été importé et le fichier a été supprimé." in html.unescape(cancelled.text)
    await db_session.refresh(record)
    assert record.status is ImportStatus.CANCELLED
    assert record.storage_name is None
    assert _stored(settings) == before
    assert await db_session.scalar(select(func.count()).select_from(FiscalYear)) == 0
    again = await client.post(
        f"/entreprises/{dossier.id}/connexions/imports/{record.id}/importer",
        data={"_csrf_token": token},
        follow_redirects=True,
    )
    assert "Cet import n'attend plus de confirmation." in html.unescape(again.text)
    await db_session.refresh(record)
    assert record.status is ImportStatus.CANCELLED


async def test_importing_anyway_imports_it_and_its_report_keeps_the_warning(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await partner(client, db_session)
    dossier = await make_dossier(db_session, name="Exploitation du Val", siren="552100554")
    response = await upload(client, dossier, AUGUST.name, AUGUST.read_bytes(), confirm=False)
    record = await latest_import(db_session, dossier)
    page = html.unescape((await client.get(response.headers["location"])).text)
    assert "L'exercice de ce fichier se clôt le 31/08/2022, alors que le dossier clôture ses exercices le 31/12" in page

    token = await csrf_token(client, f"/entreprises/{dossier.id}/connexions")
    confirmed = await client.post(
        f"/entreprises/{dossier.id}/connexions/imports/{record.id}/importer",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    await db_session.refresh(record)
    assert record.status is ImportStatus.QUEUED
    assert record.job_run_id is not None
    record = await run(session_maker, settings, record)
    assert record.status is ImportStatus.SUCCEEDED
    assert record.report is not None
    codes = {issue["code"] for issue in record.report["issues"]}
    assert {"siren_mismatch", "closing_mismatch"} <= codes
    (year,) = await active_years(db_session, dossier)
    assert (year.start_date, year.end_date) == (dt.date(2021, 9, 1), dt.date(2022, 8, 31))


async def test_the_dossiers_own_file_is_imported_at_once(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await partner(client, db_session)
    dossier = await make_dossier(db_session, name="Garage du Centre", siren="552100554")
    response = await upload(client, dossier, "552100554FEC20221231.TXT", PIPE.read_bytes(), confirm=False)
    assert response.headers["location"] == f"/entreprises/{dossier.id}/connexions#imports"
    record = await latest_import(db_session, dossier)
    assert record.status is ImportStatus.QUEUED
    record = await run(session_maker, settings, record)
    assert record.status is ImportStatus.SUCCEEDED
    assert record.report is not None
    assert not {"siren_mismatch", "closing_mismatch"} & {issue["code"] for issue in record.report["issues"]}


async def test_only_who_may_import_into_the_dossier_confirms_or_cancels(
    client: Client, db_session: AsyncSession, settings: Settings
) -> None:
    await partner(client, db_session)
    dossier = await make_dossier(db_session, name="Boulangerie Martin", siren="552100554")
    await upload(client, dossier, ZEROS.name, ZEROS.read_bytes(), confirm=False)
    record = await latest_import(db_session, dossier)
    stranger = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, stranger, await make_dossier(db_session, name="Autre"), DossierRole.ACCOUNTANT)
    client.cookies.clear()
    assert (await sign_in(client, stranger.email, PASSWORD)).status_code in {302, 303}
    token = await csrf_token(client, "/")
    for action in ("importer", "annuler"):
        refused = await client.post(
            f"/entreprises/{dossier.id}/connexions/imports/{record.id}/{action}", data={"_csrf_token": token}
        )
        assert refused.status_code == 404
    await db_session.refresh(record)
    assert record.status is ImportStatus.TO_CONFIRM


async def test_an_upload_left_unconfirmed_a_day_is_cancelled_and_its_file_removed(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await partner(client, db_session)
    dossier = await make_dossier(db_session, name="Boulangerie Martin", siren="552100554")
    before = _stored(settings)
    await upload(client, dossier, ZEROS.name, ZEROS.read_bytes(), confirm=False)
    record = await latest_import(db_session, dossier)
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    assert await fail_abandoned_imports(session_maker, files) == 0  # a fresh one waits
    await db_session.execute(
        update(LedgerImport)
        .where(LedgerImport.id == record.id)
        .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    )
    await db_session.flush()
    assert await fail_abandoned_imports(session_maker, files) == 1
    await db_session.refresh(record)
    assert record.status is ImportStatus.CANCELLED
    assert _stored(settings) == before
