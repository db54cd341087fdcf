"""The figures of an imported fiscal year: a hand-made ledger whose every figure is worked out by hand below,
imported through the command's path, then read as the pages read it (stored with the year) and as the
balances give it (computed); a re-import replaces them, and N's DSO follows when N-1 is imported later."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.clients.models import Dossier
from portal.jobs.models import JobStatus
from portal.jobs.outbox import relay_once
from portal.jobs.runtime import Runtime
from portal.ledger import aggregates, tasks
from portal.ledger.commands import import_path
from portal.ledger.models import Account, Balance, FiscalYear, ImportStatus, VersionState, YearFigures
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.factories.clients import make_dossier
from tests.waiting import wait_for_run

Maker = async_sessionmaker[AsyncSession]
HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\t"
    "PieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise"
)
JOURNALS = {"AN": "À nouveaux", "VT": "Ventes", "AC": "Achats", "BQ": "Banque", "OD": "Opérations diverses"}


def fec(year: int, entries: list[tuple[str, str, list[tuple[str, str, str]]]]) -> str:
    """A FEC of ``entries`` (journal, MMDD, [(account, debit, credit)]), numbered in order."""
    rows = [HEADER]
    for number, (journal, day, lines) in enumerate(entries, start=1):
        date = f"{year}{day}"
        for account, debit, credit in lines:
            rows.append(
                "\t".join([journal, JOURNALS[journal], f"{journal}{number:04d}", date, account, f"Compte {account}",
                           "", "", f"P{number}", date, f"Écriture {number}", debit or "0,00", credit or "0,00",
                           "", "", date, "", ""])
            )  # fmt: skip
    return "\r\n".join(rows) + "\r\n"


# Year N (2025). Worked out by hand:
# CA = 706 1 000 + 707 500 = 1 500; achats consommés = 607 300, marge brute 1 200 (80,0 %);
# marge commerciale = 707 500 − 607 300 = 200; VA = 1 500 − 60 (300) − 61/62 (1 000 + 50) = 150;
# EBE = 150 − 641 700 = −550; REX = −550 − 6811 100 = −650 (−43,3 %); financier = 761 20;
# RCAI = −630; exceptionnel = −671 10; net = 1 520 − 2 160 = −640.
# Receivables: à-nouveaux 1 200, closing 1 200 + 1 200 + 600 − 1 200 = 1 800, mean 1 500; CA TTC = 1 500 + the
# 300 of VAT collected on the sales entries = 1 800: DSO = 1 500 ÷ 1 800 × 360 = 300,0; at closing 360,0.
# Payables 401: 800 + 360 + 1 200 − 360 = 2 000 (404 is not a supplier of goods and services); purchases TTC
# = 607 300 + 613 1 000 + 627 50 + deductible VAT 60 + 200 (the 400 of 44562 on the fixed asset excluded)
# = 1 610: DPO = 2 000 × 360 ÷ 1 610 = 447,2. Trésorerie: 512000 5 850 + 512100 300 − 519 300 − 512200 50 = 5 800.
YEAR_N = [
    ("AN", "0101", [("411000", "1200,00", ""), ("512000", "5000,00", ""), ("401000", "", "800,00"),
                    ("101000", "", "5400,00")]),
    ("VT", "0115", [("411000", "1200,00", ""), ("706000", "", "1000,00"), ("445710", "", "200,00")]),
    ("VT", "0210", [("411000", "600,00", ""), ("707000", "", "500,00"), ("445710", "", "100,00")]),
    ("AC", "0120", [("607000", "300,00", ""), ("445660", "60,00", ""), ("401000", "", "360,00")]),
    ("AC", "0305", [("613200", "1000,00", ""), ("445660", "200,00", ""), ("401000", "", "1200,00")]),
    ("AC", "0306", [("218300", "2000,00", ""), ("445620", "400,00", ""), ("404000", "", "2400,00")]),
    ("OD", "0331", [("641000", "700,00", ""), ("421000", "", "700,00")]),
    ("OD", "1231", [("681100", "100,00", ""), ("281830", "", "100,00")]),
    ("BQ", "0225", [("512000", "1200,00", ""), ("411000", "", "1200,00")]),
    ("BQ", "0228", [("401000", "360,00", ""), ("512000", "", "360,00")]),
    ("BQ", "0330", [("512100", "300,00", ""), ("519000", "", "300,00")]),
    ("BQ", "0331", [("627000", "50,00", ""), ("512200", "", "50,00")]),
    ("BQ", "0415", [("512000", "20,00", ""), ("761000", "", "20,00")]),
    ("BQ", "0416", [("671000", "10,00", ""), ("512000", "", "10,00")]),
]  # fmt: skip
EXPECTED_N = {
    "chiffre_affaires": "1500.00", "marge_brute": "1200.00", "taux_marge_brute": "80.0",
    "marge_commerciale": "200.00", "valeur_ajoutee": "150.00", "ebe": "-550.00",
    "resultat_exploitation": "-650.00", "taux_marge_exploitation": "-43.3", "resultat_financier": "20.00",
    "resultat_courant_avant_impot": "-630.00", "resultat_exceptionnel": "-10.00", "resultat_net": "-640.00",
    "dso_jours": "300.0", "dso_jours_cloture": "360.0", "dpo_jours": "447.2", "tresorerie_nette": "5800.00",
}  # fmt: skip
# The same year without its à-nouveaux journal, and N-1 (2024) whose closing receivables are 900:
# then the opening comes from N-1: mean (900 + 600) ÷ 2 = 750, DSO = 750 ÷ 1 800 × 360 = 150,0.
YEAR_N_WITHOUT_OPENING = [entry for entry in YEAR_N if entry[0] != "AN"]
YEAR_BEFORE = [
    ("VT", "0610", [("411000", "900,00", ""), ("706000", "", "750,00"), ("445710", "", "150,00")]),
]


async def _import(
    settings: Settings, committed: Maker, tmp_path: Path, dossier_id: uuid.UUID, *, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    async with committed() as session:
        dossier = await session.get_one(Dossier, dossier_id)
    imported = await import_path(settings, committed, dossier, path)
    assert imported.outcome.status is ImportStatus.SUCCEEDED, imported.record.report


async def test_every_figure_of_a_hand_made_ledger(
    committed: Maker, jobs: Runtime, settings: Settings, tmp_path: Path
) -> None:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Figures Faites Main", closing_day=31, closing_month=12)
    await _import(settings, committed, tmp_path, dossier.id, name="FEC20251231.txt", text=fec(2025, YEAR_N))

    async with committed() as session:
        year = (await session.execute(select(FiscalYear).where(FiscalYear.dossier_id == dossier.id))).scalar_one()
        stored = await session.get_one(YearFigures, year.id)
        computed = await aggregates.compute_figures(session, year)
        read = await LedgerService(session).figures(year)
        terms = await LedgerService(session).explain(year, "tresorerie_nette")
    assert computed.to_json() == stored.figures == read.to_json()
    assert {key: stored.figures[key] for key in EXPECTED_N} == EXPECTED_N
    assert (stored.chiffre_affaires, stored.tresorerie_nette, stored.dso_jours) == (150_000, 580_000, Decimal("300.0"))
    assert computed.opening_source == "a-nouveaux"
    monthly = stored.figures["ca_mensuel"]
    assert list(monthly) == [f"2025-{month:02d}" for month in range(1, 13)]
    assert (monthly["2025-01"], monthly["2025-02"], monthly["2025-03"]) == ("1000.00", "500.00", "0.00")
    assert read.monthly["resultat_net"]["2025-12"] == Decimal("-100.00")
    assert [(term.label, term.sign, term.lines) for term in terms] == [
        ("Disponibilités débitrices (50, 51, 53)", 1,
         (("512000", Decimal("5850.00")), ("512100", Decimal("300.00")))),
        ("Concours bancaires courants (519)", -1, (("519000", Decimal("300.00")),)),
        ("Banques créditrices (512)", -1, (("512200", Decimal("50.00")),)),
    ]  # fmt: skip


async def test_n_minus_one_gives_the_opening_and_a_reimport_replaces_the_figures(
    committed: Maker, jobs: Runtime, settings: Settings, tmp_path: Path
) -> None:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Ouverture Par N Moins Un", closing_day=31, closing_month=12)
    await _import(
        settings, committed, tmp_path, dossier.id, name="FEC20251231.txt", text=fec(2025, YEAR_N_WITHOUT_OPENING)
    )
    async with committed() as session:
        first = (await session.execute(select(YearFigures).where(YearFigures.dossier_id == dossier.id))).scalar_one()
    # No opening known: mean (0 + 600) ÷ 2 = 300 → 60,0 days.
    assert first.figures["dso_jours"] == "60.0"

    await _import(settings, committed, tmp_path, dossier.id, name="FEC20241231.txt", text=fec(2024, YEAR_BEFORE))
    async with committed() as session:
        rows = {
            row.end_date.year: row
            for row in (
                await session.execute(select(YearFigures).where(YearFigures.dossier_id == dossier.id))
            ).scalars()
        }
    assert rows[2025].figures["dso_jours"] == "150.0"
    assert rows[2024].figures["chiffre_affaires"] == "750.00"

    await _import(settings, committed, tmp_path, dossier.id, name="FEC20251231.txt", text=fec(2025, YEAR_N))
    async with committed() as session:
        active = list(
            (
                await session.execute(
                    select(FiscalYear.id).where(
                        FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE
                    )
                )
            ).scalars()
        )
        figures = list(
            (await session.execute(select(YearFigures).where(YearFigures.dossier_id == dossier.id))).scalars()
        )
        balances = await session.scalar(
            select(func.count(func.distinct(Balance.fiscal_year_id))).where(Balance.fiscal_year_id.in_(active))
        )
    assert sorted(row.fiscal_year_id for row in figures) == sorted(active)
    assert balances == 2
    latest = next(row for row in figures if row.end_date.year == 2025)
    assert latest.figures["dso_jours"] == "300.0"  # its own à-nouveaux again


async def test_the_hourly_pass_computes_the_figures_of_years_imported_before_they_were_kept(
    committed: Maker, jobs: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """A year imported before balances and figures were kept (its lines, entries and accounts only): the hourly
    job writes its balances, leaves its accounts as they were, and stores the same figures an import would."""
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Importé Avant Les Indicateurs", closing_day=31, closing_month=12)
    await _import(settings, committed, tmp_path, dossier.id, name="FEC20251231.txt", text=fec(2025, YEAR_N))
    async with committed() as session, session.begin():
        year = (await session.execute(select(FiscalYear).where(FiscalYear.dossier_id == dossier.id))).scalar_one()
        accounts = sorted(
            (row.number, row.debit_total, row.credit_total, row.line_count)
            for row in (await session.execute(select(Account).where(Account.fiscal_year_id == year.id))).scalars()
        )
        await session.execute(delete(YearFigures).where(YearFigures.fiscal_year_id == year.id))
        await session.execute(delete(Balance).where(Balance.fiscal_year_id == year.id))

    async with committed() as session, session.begin():
        run = await tasks.refresh_figures.enqueue(session)
    await relay_once(jobs.sessions, jobs.broker, redeliver_after=dt.timedelta(seconds=300))
    assert (await wait_for_run(committed, run.id, timeout=60)).status is JobStatus.SUCCEEDED

    async with committed() as session:
        stored = await session.get_one(YearFigures, year.id)
        again = sorted(
            (row.number, row.debit_total, row.credit_total, row.line_count)
            for row in (await session.execute(select(Account).where(Account.fiscal_year_id == year.id))).scalars()
        )
    assert {key: stored.figures[key] for key in EXPECTED_N} == EXPECTED_N
    assert again == accounts
