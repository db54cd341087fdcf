"""The balance générale and auxiliaire of a real FEC file (tests/data/fec/), imported through the command's path:
every account with its label, debit, credit and solde on its side, and the total row, checked against the same
sums worked out here from the file's lines with Decimal (``tests/balances.py``); then as the page shows them."""

from __future__ import annotations

import html
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.db.paging import Paging
from portal.jobs.runtime import Runtime
from portal.ledger.commands import import_path
from portal.ledger.files import ImportFiles
from portal.ledger.importer import run_import
from portal.ledger.models import FiscalYear, ImportStatus, LedgerSource, VersionState
from portal.ledger.services import LedgerService
from portal.ledger.trial_balance import BalanceTotals
from portal.settings import Settings
from tests.balances import Totals, fec_balance, page_totals
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.samples import FEC_SAMPLES

Maker = async_sessionmaker[AsyncSession]
NEOLEGAL = FEC_SAMPLES / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
CENT = Decimal("0.01")


def _euros(totals: BalanceTotals) -> Totals:
    return Totals(*(Decimal(value) * CENT for value in (totals.debit, totals.credit, totals.debit_balance,
                                                         totals.credit_balance)))  # fmt: skip


async def _imported(committed: Maker, settings: Settings) -> tuple[Dossier, FiscalYear]:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Balance Neolegal", closing_day=31, closing_month=8)
    async with committed() as session:
        dossier = await session.get_one(Dossier, dossier.id)
    imported = await import_path(settings, committed, dossier, NEOLEGAL)
    assert imported.outcome.status is ImportStatus.SUCCEEDED, imported.record.report
    async with committed() as session:
        year = (await session.execute(select(FiscalYear).where(
            FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE
        ))).scalar_one()  # fmt: skip
    return dossier, year


async def test_the_balances_and_their_total_rows_match_the_file(
    committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    _dossier, year = await _imported(committed, settings)
    content = NEOLEGAL.read_text(encoding="utf-8-sig")
    general, auxiliary = fec_balance(content), fec_balance(content, auxiliary=True)
    assert general.totals.debit == general.totals.credit > 0  # a balanced file: the check checks something
    assert auxiliary.totals.debit_balance
    assert auxiliary.totals.credit_balance
    async with committed() as session:
        ledger = LedgerService(session)
        rows, totals = await ledger.general_balance(year)
        assert _euros(totals) == general.totals
        assert totals.rows == len(rows) == len(general.rows)
        assert {(row.account,): (row.debit * CENT, row.credit * CENT) for row in rows} == general.rows
        for row in rows:
            assert row.debit_balance - row.credit_balance == row.debit - row.credit
            assert min(row.debit_balance, row.credit_balance) == 0
        assert next(row for row in rows if row.account == "101500").label == "Capital souscrit appelé, versé"

        page, aux_totals = await ledger.auxiliary_balance(year, Paging(page=2, size=25))
        assert _euros(aux_totals) == auxiliary.totals  # every auxiliary account, not only the page's
        assert page.total == aux_totals.rows == len(auxiliary.rows)
        assert len(page.items) == 25
        every = (await ledger.auxiliary_balance(year, Paging(size=200)))[0].items
        every += (await ledger.auxiliary_balance(year, Paging(page=2, size=200)))[0].items
        assert {(row.account, row.aux_account or ""): (row.debit * CENT, row.credit * CENT) for row in every} == (
            auxiliary.rows
        )
        prosol = next(row for row in every if row.aux_account == "CPRO00")
        assert (prosol.account, prosol.aux_label) == ("411000", "PROSOL GESTION")


async def test_the_balance_pages_show_the_total_rows_of_the_file(
    session_maker: Maker, settings: Settings, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    dossier = await make_dossier(db_session, name="Balance Neolegal", closing_day=31, closing_month=8)
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    with NEOLEGAL.open("rb") as handle:
        storage_name, size = files.save(handle)
    record = await LedgerService(db_session).request_import(
        None, dossier, source=LedgerSource.COMMAND, filename=NEOLEGAL.name, storage_name=storage_name,
        size_bytes=size, enqueue_job=False,
    )  # fmt: skip
    await db_session.commit()  # the import's own sessions read it (a savepoint released, in a rolled-back test)
    assert (await run_import(session_maker, settings.imports_dir, record.id)).status is ImportStatus.SUCCEEDED
    year = (await db_session.execute(select(FiscalYear).where(FiscalYear.dossier_id == dossier.id))).scalar_one()
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await sign_in(client, partner.email, PASSWORD)
    content = NEOLEGAL.read_text(encoding="utf-8-sig")
    base = f"/entreprises/{dossier.id}/comptabilite"

    general = (await client.get(base, params={"exercice": str(year.id), "vue": "balance"})).text
    assert page_totals(general, "balance") == fec_balance(content).totals
    text = html.unescape(general)
    assert "Solde débiteur" in text
    assert "Solde créditeur" in text
    assert f"Total ({len(fec_balance(content).rows)} comptes)" in text
    assert '<span class="mono">101500</span> <span class="account-label">Capital souscrit appelé, versé</span>' in text

    auxiliary = (await client.get(base, params={"exercice": str(year.id), "vue": "auxiliaire", "page": "99"})).text
    assert page_totals(auxiliary, "balance-auxiliaire") == fec_balance(content, auxiliary=True).totals
    assert "La page 99 n'existe pas" in html.unescape(auxiliary)
    assert "PROSOL GESTION" in html.unescape(
        (await client.get(base, params={"exercice": str(year.id), "vue": "auxiliaire", "taille": "200"})).text
    )
