"""« Supprimer l'exercice »: a partner or the dossier's Comptable removes an imported fiscal year after a page that
names it and counts its entries; everything hanging on it goes in one transaction, set-based, audited, and the
next year's figures lose their N-1. Real files of tests/data, as they are, uploaded under the dossier's names."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.dashboard.models import Objective, Report
from portal.ledger import aggregates, removal
from portal.ledger.figures import compute
from portal.ledger.models import FiscalYear, ImportStatus, LedgerSource, Line, YearFigures
from portal.settings import Settings
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.ledger.uploads import active_years, latest_import, partner, run, upload
from tests.samples import FEC_SAMPLES

Client = httpx.AsyncClient
Maker = async_sessionmaker[AsyncSession]
TRYTON = FEC_SAMPLES / "tryton-account_fr"
YEAR_2017 = TRYTON / "FEC-previous.46ac5d0.csv"  # 2017, then its next year 2018 (opening without à-nouveaux)
YEAR_2018 = TRYTON / "FEC.6ced065.csv"
AUGUST = FEC_SAMPLES / "neolegal-fec-reader" / "0000000001FEC20220831.txt"  # 5,422 lines
SIREN = "552100554"


async def _two_years(
    client: Client, db_session: AsyncSession, session_maker: Maker, settings: Settings
) -> tuple[Dossier, FiscalYear, FiscalYear]:
    dossier = await make_dossier(db_session, name="Boulangerie Martin", siren=SIREN)
    for path, closing in ((YEAR_2017, "20171231"), (YEAR_2018, "20181231")):
        assert (await upload(client, dossier, f"{SIREN}FEC{closing}.txt", path.read_bytes())).status_code == 303
        imported = await run(session_maker, settings, await latest_import(db_session, dossier))
        assert imported.status is ImportStatus.SUCCEEDED, imported.report
    later, earlier = sorted(await active_years(db_session, dossier), key=lambda year: year.end_date, reverse=True)
    return dossier, earlier, later


def _page(response: httpx.Response) -> str:
    return " ".join(html.unescape(response.text).replace("\u202f", " ").replace("\xa0", " ").split())


async def _count(session: AsyncSession, table: Any, column: Any, value: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).select_from(table).where(column == value)) or 0)


async def test_a_partner_deletes_a_year_and_everything_it_carried_while_the_next_year_loses_its_n_1(  # noqa: PLR0915
    client: Client, db_session: AsyncSession, session_maker: Maker, settings: Settings
) -> None:
    await partner(client, db_session)
    dossier, earlier, later = await _two_years(client, db_session, session_maker, settings)
    assert (earlier.end_date, later.end_date) == (dt.date(2017, 12, 31), dt.date(2018, 12, 31))
    db_session.add(Objective(dossier_id=dossier.id, end_date=earlier.end_date, key="chiffre_affaires",
                             target=Decimal("1000.00")))  # fmt: skip
    report = Report(dossier_id=dossier.id, end_date=earlier.end_date, fiscal_year_id=earlier.id,
                    period_start=earlier.start_date, period_end=earlier.end_date, title="Bilan 2017")  # fmt: skip
    db_session.add(report)
    await db_session.flush()
    before = await db_session.get(YearFigures, later.id)
    assert before is not None
    computed_before = before.computed_at
    board = _page(await client.get(f"/entreprises/{dossier.id}/tableau-de-bord"))
    assert "comparé à l'exercice 01/01/2017 – 31/12/2017 (N-1)" in board

    connexions = _page(await client.get(f"/entreprises/{dossier.id}/connexions"))
    assert connexions.count("Supprimer l'exercice") == 2
    ledger = _page(await client.get(f"/entreprises/{dossier.id}/comptabilite", params={"exercice": str(earlier.id)}))
    assert "Supprimer l'exercice" in ledger

    path = f"/entreprises/{dossier.id}/comptabilite/exercices/{earlier.id}/supprimer"
    page = await client.get(path)
    assert page.status_code == 200
    text = _page(page)
    assert "Supprimer l'exercice du 01/01/2017 au 31/12/2017" in text
    assert earlier.entry_count == 1
    assert "1 écriture</strong> · 2 lignes · 2 comptes" in text
    assert "L'exercice du 01/01/2018 au 31/12/2018 n'aura plus cet exercice pour N-1" in text
    assert "Les objectifs et le prévisionnel fixés pour l'exercice clos le 31/12/2017 sont conservés" in text

    token = await csrf_token(client, path)
    deleted = await client.post(path, data={"_csrf_token": token}, follow_redirects=False)
    assert deleted.status_code == 303
    assert deleted.headers["location"].startswith(f"/entreprises/{dossier.id}/connexions")
    flashed = _page(await client.get(deleted.headers["location"]))
    assert "L'exercice du 01/01/2017 au 31/12/2017 est supprimé, avec son écriture." in flashed

    earlier_id, entry_count, dossier_id, report_id = earlier.id, earlier.entry_count, dossier.id, report.id
    later_id, later_lines, later_start, later_end = later.id, later.line_count, later.start_date, later.end_date
    db_session.expire_all()
    dossier = await db_session.get_one(Dossier, dossier_id)
    assert [year.id for year in await active_years(db_session, dossier)] == [later_id]
    assert await db_session.get(FiscalYear, earlier_id) is None
    for table, column, rule in removal.dependents():  # every table with a key to a fiscal year
        assert await _count(db_session, table, column, earlier_id) == 0, (table.name, rule)
    assert await _count(db_session, Line, Line.fiscal_year_id, later_id) == later_lines  # the other stays
    kept = await db_session.get(Report, report_id)
    assert kept is not None
    assert kept.fiscal_year_id is None
    assert await db_session.scalar(select(func.count()).select_from(Objective)) == 1

    # The next year's stored figures are those of a year without N-1, as the dashboard computes them.
    stored = await db_session.get(YearFigures, later_id)
    assert stored is not None
    alone = compute(await aggregates.load_balances(db_session, later_id), start=later_start,
                    end=later_end, previous=None).to_json()  # fmt: skip
    assert stored.figures == alone
    assert stored.computed_at > computed_before
    board = _page(await client.get(f"/entreprises/{dossier_id}/tableau-de-bord"))
    assert "Aucun exercice précédent importé : pas de comparaison N-1." in board

    (event_,) = (
        await db_session.execute(select(AuditEvent).where(AuditEvent.action == "ledger.fiscal_year_deleted"))
    ).scalars()
    assert event_.dossier_id == dossier_id
    assert event_.object_id == str(earlier_id)
    assert event_.after is not None
    assert event_.after["entries"] == entry_count
    assert event_.after["end"] == "2017-12-31"

    assert (await client.get(path)).status_code == 404  # gone
    assert (await client.post(path, data={"_csrf_token": token})).status_code == 404


async def _switch_to(client: Client, user: User) -> None:
    client.cookies.clear()
    assert (await sign_in(client, user.email, PASSWORD)).status_code in {302, 303}


async def test_only_a_partner_or_the_dossiers_comptable_may_delete_a_year(
    client: Client, db_session: AsyncSession, session_maker: Maker, settings: Settings
) -> None:
    await partner(client, db_session)
    dossier, earlier, _later = await _two_years(client, db_session, session_maker, settings)
    path = f"/entreprises/{dossier.id}/comptabilite/exercices/{earlier.id}/supprimer"
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    accountant = await make_user(db_session)
    await add_role(db_session, accountant, dossier, DossierRole.ACCOUNTANT)
    elsewhere = await make_user(db_session)
    await add_role(db_session, elsewhere, await make_dossier(db_session, name="Autre"), DossierRole.ACCOUNTANT)
    employee = await make_user(db_session)
    await add_role(db_session, employee, dossier, DossierRole.EMPLOYEE)

    await _switch_to(client, admin)
    assert "Supprimer l'exercice" not in _page(await client.get(f"/entreprises/{dossier.id}/connexions"))
    assert "Supprimer l'exercice" not in _page(await client.get(f"/entreprises/{dossier.id}/comptabilite"))
    assert (await client.get(path)).status_code == 403
    token = await csrf_token(client, "/")
    assert (await client.post(path, data={"_csrf_token": token})).status_code == 403

    for person, status in ((elsewhere, 404), (employee, 403)):
        await _switch_to(client, person)
        assert (await client.get(path)).status_code == status
        token = await csrf_token(client, "/")
        assert (await client.post(path, data={"_csrf_token": token})).status_code == status
    assert await db_session.get(FiscalYear, earlier.id) is not None

    await _switch_to(client, accountant)
    assert "Supprimer l'exercice" in _page(await client.get(f"/entreprises/{dossier.id}/connexions"))
    assert (await client.get(path)).status_code == 200
    token = await csrf_token(client, path)
    assert (await client.post(path, data={"_csrf_token": token}, follow_redirects=False)).status_code == 303
    year_id = earlier.id
    db_session.expire_all()
    assert await db_session.get(FiscalYear, year_id) is None


async def test_a_confidential_dossiers_year_is_404_to_a_partner_it_is_not_granted_to(
    client: Client, db_session: AsyncSession, session_maker: Maker, settings: Settings
) -> None:
    await partner(client, db_session)
    dossier, earlier, _later = await _two_years(client, db_session, session_maker, settings)
    await db_session.execute(update(Dossier).where(Dossier.id == dossier.id).values(is_confidential=True))
    await db_session.flush()
    other_partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await _switch_to(client, other_partner)
    path = f"/entreprises/{dossier.id}/comptabilite/exercices/{earlier.id}/supprimer"
    assert (await client.get(path)).status_code == 404
    token = await csrf_token(client, "/")
    assert (await client.post(path, data={"_csrf_token": token})).status_code == 404
    assert await db_session.get(FiscalYear, earlier.id) is not None


async def test_the_deletion_is_set_based_whatever_the_number_of_lines(
    client: Client, db_session: AsyncSession, session_maker: Maker, settings: Settings, engine: AsyncEngine
) -> None:
    await partner(client, db_session)
    dossier = await make_dossier(db_session, name="Exploitation du Val", siren=SIREN, closing_day=31, closing_month=8)
    assert (await upload(client, dossier, AUGUST.name, AUGUST.read_bytes())).status_code == 303
    assert (await run(session_maker, settings, await latest_import(db_session, dossier))).status is (
        ImportStatus.SUCCEEDED
    )
    (earlier,) = await active_years(db_session, dossier)
    assert earlier.line_count == 5_422
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.lstrip().split()[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        await removal.delete_year(db_session, earlier.id)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert statements.count("DELETE") + statements.count("UPDATE") == len(removal.dependents()) + 1
    assert await _count(db_session, Line, Line.fiscal_year_id, earlier.id) == 0


async def test_a_pennylane_year_says_when_the_daily_synchronisation_brings_it_back(
    client: Client, db_session: AsyncSession, session_maker: Maker, settings: Settings
) -> None:
    await partner(client, db_session)
    dossier, earlier, _later = await _two_years(client, db_session, session_maker, settings)
    await db_session.execute(
        update(FiscalYear).where(FiscalYear.id == earlier.id).values(source=LedgerSource.PENNYLANE)
    )
    await db_session.flush()
    page = _page(await client.get(f"/entreprises/{dossier.id}/comptabilite/exercices/{earlier.id}/supprimer"))
    assert "Cet exercice vient de Pennylane. S'il est encore ouvert dans Pennylane" in page
