"""The journals the portal produced, in the dossier's Comptabilité: listed with their marker, their entries,
and their FEC (``<SIREN>FEC<closing>.txt``, JournalLib the register's name), which re-imports; and the
posting mode (Z de caisse) chosen on the connection's page."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.integrations.commerce import store
from portal.integrations.commerce.models import CommerceSetup
from portal.integrations.commerce.services import CommerceEntryService, EntryFilters
from portal.jobs.runtime import Runtime
from portal.ledger import fec
from portal.ledger.commands import import_path
from portal.ledger.models import FiscalYear, ImportStatus
from portal.settings import Settings
from tests.factories.clients import make_dossier
from tests.integrations.commerce.test_controllers import _connected, _person, _post, _post_entries
from tests.integrations.commerce.test_summary import pos_poster, tickets

Client = httpx.AsyncClient
Maker = async_sessionmaker[AsyncSession]


async def _posted_dossier(db_session: AsyncSession) -> tuple[Dossier, CommerceSetup]:
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    await _post_entries(db_session, dossier, setup)  # a ticket of 2 March 2026 in CA1, the Salle's journal
    return dossier, setup


async def test_comptabilite_lists_the_portal_s_journals_with_their_marker_and_entries(
    client: Client, db_session: AsyncSession
) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier, _setup = await _posted_dossier(db_session)
    base = f"/entreprises/{dossier.id}/comptabilite"
    page = html.unescape((await client.get(f"{base}?exercice=2026-12-31")).text)
    assert 'id="journaux-du-portail"' in page
    assert "Produit par le portail · Zelty" in page
    assert 'data-journal="portail:zelty:CA1"' in page
    assert "<td>Salle</td>" in page  # the register's name beside its code
    assert f"{dossier.siren}FEC20261231.txt" in page
    shown = html.unescape((await client.get(f"{base}?exercice=2026-12-31&journal=portail:zelty:CA1")).text)
    assert "Vente ticket 1042 – Salle" in shown
    assert "CA1 – Salle" in shown
    # Another fiscal year: nothing of the portal's.
    before = html.unescape((await client.get(f"{base}?exercice=2025-12-31")).text)
    assert "journaux-du-portail" not in before


async def test_the_portal_s_fec_is_named_for_the_year_with_the_register_as_journal_label(
    client: Client, db_session: AsyncSession, tmp_path: Path
) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier, setup = await _posted_dossier(db_session)
    assert setup.source_key is not None
    # The Bar's day as one Z: a second journal in the same file.
    batch = store.Batch(dossier_id=dossier.id, source_key=setup.source_key, day=dt.date(2026, 3, 2),
                        drafts=tickets(2, location="loc-bar"), final=True,
                        summarise=pos_poster().summary)  # fmt: skip
    assert await store.write(db_session, batch) == 1
    export = f"/entreprises/{dossier.id}/comptabilite/journaux-du-portail/fec"
    response = await client.get(f"{export}?du=2026-01-01&au=2026-12-31")
    assert response.status_code == 200
    name = f"{dossier.siren}FEC20261231.txt"
    assert name in response.headers["content-disposition"]
    text = response.content.decode("iso8859-15")
    rows = [line.split("\t") for line in text.strip("\r\n").split("\r\n")]
    assert rows[0][:3] == ["JournalCode", "JournalLib", "EcritureNum"]
    assert {(row[0], row[1], row[2]) for row in rows[1:]} == {
        ("CA1", "Salle", "CA1-000001"), ("CA2", "Bar", "CA2-000001")}  # fmt: skip
    path = tmp_path / name
    path.write_bytes(response.content)
    report = fec.check(path, filename=name)
    assert report.errors == [], [issue.message for issue in report.errors]
    assert report.warnings == [], [issue.message for issue in report.warnings]
    assert (await client.get(f"{export}?du=hier&au=2026")).status_code == 404
    current = await client.get(export)  # the current fiscal year by default
    assert current.status_code == 200
    assert "FEC" in current.headers["content-disposition"]


async def test_the_portal_s_fec_re_imports_as_the_dossier_s_fiscal_year(
    committed: Maker, jobs: Runtime, settings: Settings, tmp_path: Path
) -> None:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Restaurant Le Cèdre")
        setup = await _connected(session, dossier)
        await _post_entries(session, dossier, setup)
        assert setup.source_key is not None
        await store.write(session, store.Batch(dossier_id=dossier.id, source_key=setup.source_key,
                                               day=dt.date(2026, 3, 3), drafts=tickets(3), final=True))  # fmt: skip
    path = tmp_path / fec.fec_filename(dossier.siren or "", dt.date(2026, 12, 31))
    async with committed() as session:
        service = CommerceEntryService(session)
        rows = [row async for row in service.export_rows(await service.setups_of(dossier.id), EntryFilters())]
        entries = len({row[3] for row in rows})
    with path.open("wb") as out:
        fec.write_fec(rows, out)
    imported = await import_path(settings, committed, dossier, path)
    assert imported.outcome.status is ImportStatus.SUCCEEDED, imported.record.report
    async with committed() as session:
        year = (await session.execute(select(FiscalYear).where(FiscalYear.dossier_id == dossier.id))).scalar_one()
    assert year.entry_count == entries
    assert year.debit_total == year.credit_total == sum(row[12] for row in rows)


async def test_the_z_option_is_chosen_on_the_connection_s_page(client: Client, db_session: AsyncSession) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    page = html.unescape((await client.get(f"/entreprises/{dossier.id}/connexions/sources/zelty")).text)
    assert "Z de caisse : une seule écriture par caisse et par journée" in page
    assert "les journées déjà passées restent comme elles l'ont été" in page
    refused = await _post(client, dossier, "/mode-ecritures", {"mode": "hebdo"})
    assert refused.status_code == 422
    assert "Choisissez une écriture par ticket ou le Z de caisse." in html.unescape(refused.text)
    saved = await _post(client, dossier, "/mode-ecritures", {"mode": "z"})
    assert saved.status_code == 303
    await db_session.refresh(setup)
    assert setup.summarise_days is True
    await _post(client, dossier, "/mode-ecritures", {"mode": "tickets"})
    await db_session.refresh(setup)
    assert setup.summarise_days is False
