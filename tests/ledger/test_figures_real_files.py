"""The figures of real FEC files (tests/data/fec/), imported through the command's path, against figures worked
out here straight from the file's lines with the csv module, as the issue words them, and against the liasse
boxes neolegal's reader computed from the same files where a box is one of the figures."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.clients.models import Dossier
from portal.jobs.runtime import Runtime
from portal.ledger.commands import import_path
from portal.ledger.figures import BalanceRow, compute
from portal.ledger.models import ImportStatus, YearFigures
from portal.settings import Settings
from tests.factories.clients import make_dossier
from tests.samples import FEC_SAMPLES

Maker = async_sessionmaker[AsyncSession]
NEOLEGAL = FEC_SAMPLES / "neolegal-fec-reader"
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


class Ledger:
    """A FEC read line by line with the csv module: balances per account, and per entry its accounts."""

    def __init__(self, path: Path) -> None:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
        header = [name.strip() for name in rows[0]]
        column = {name: header.index(name) for name in header}
        self.lines: list[tuple[str, str, str, str, Decimal]] = []  # journal, number, journal label, account, c − d
        for row in rows[1:]:
            if len(row) < len(header):
                continue

            def amount(name: str, row: list[str] = row) -> Decimal:
                return Decimal(row[column[name]].strip().replace(",", ".") or "0")

            self.lines.append(
                (row[column["JournalCode"]].strip(), row[column["EcritureNum"]].strip(),
                 row[column["JournalLib"]].strip(), row[column["CompteNum"]].strip(),
                 amount("Credit") - amount("Debit"))
            )  # fmt: skip
        self.balance: dict[str, Decimal] = defaultdict(Decimal)
        entries: dict[tuple[str, str], set[str]] = defaultdict(set)
        for journal, number, _label, account, amount in self.lines:
            self.balance[account] += amount
            entries[(journal, number)].add(account)
        self.entries = entries

    def s(self, *prefixes: str, but: tuple[str, ...] = ()) -> Decimal:
        """Σ credit − debit over the accounts starting with a prefix (and none of ``but``)."""
        return sum(
            (value for account, value in self.balance.items() if account.startswith(prefixes)
             and not (but and account.startswith(but))),
            Decimal(0),
        )  # fmt: skip

    def d(self, *prefixes: str, but: tuple[str, ...] = ()) -> Decimal:
        return -self.s(*prefixes, but=but)

    def vat(self, vat_prefix: str, entry_prefixes: tuple[str, ...], *, but: tuple[str, ...] = ()) -> Decimal:
        """Σ credit − debit of the VAT lines whose entry also posts to one of ``entry_prefixes``."""
        return sum(
            (amount for journal, number, _label, account, amount in self.lines
             if account.startswith(vat_prefix) and not (but and account.startswith(but))
             and any(other.startswith(entry_prefixes) for other in self.entries[(journal, number)])),
            Decimal(0),
        )  # fmt: skip

    def opening(self, *prefixes: str) -> Decimal:
        """Σ debit − credit of the à-nouveaux lines (journal AN/ANO/RAN/OUV, or a label saying so)."""
        return -sum(
            (amount for journal, _number, label, account, amount in self.lines
             if account.startswith(prefixes) and (journal.upper() in {"AN", "ANO", "RAN", "OUV"}
                                                  or "nouveau" in label.lower() or "ouverture" in label.lower())),
            Decimal(0),
        )  # fmt: skip


def expected_figures(ledger: Ledger) -> dict[str, str]:
    s, d = ledger.s, ledger.d
    sales = s("70")
    consumed = d("601", "602", "607", "6031", "6032", "6037", "6081", "6082", "6087", "6091", "6092", "6097")
    added = sales + s("713") + s("72") - d("60") - d("61", "62")
    ebe = added + s("74") - d("63") - d("64")
    operating = ebe + s("75", but=("755",)) + s("781", "791") - d("65", but=("655",)) - d("681")
    financial = s("76", "786", "796") - d("66", "686")
    receivables_close = d("411", "413", "416", "418")
    receivables_open = ledger.opening("411", "413", "416", "418")
    sales_ttc = sales + ledger.vat("4457", ("70",))
    purchases_ttc = d("60", but=("603",)) + d("61", "62") - ledger.vat("4456", ("60", "61", "62"), but=("44562",))
    cash = sum(
        (-value for account, value in ledger.balance.items()
         if account.startswith(("50", "51", "53")) and not account.startswith("519") and value < 0),
        Decimal(0),
    ) - s("519") - sum((value for account, value in ledger.balance.items()
                        if account.startswith("512") and value > 0), Decimal(0))  # fmt: skip

    def days(numerator: Decimal, divisor: Decimal) -> str:
        return str((numerator * 360 / divisor).quantize(TENTH, rounding=ROUND_HALF_UP))

    def euros(value: Decimal) -> str:
        return str(value.quantize(CENT))

    return {
        "chiffre_affaires": euros(sales),
        "marge_brute": euros(sales - consumed),
        "taux_marge_brute": str(((sales - consumed) * 100 / sales).quantize(TENTH, rounding=ROUND_HALF_UP)),
        "valeur_ajoutee": euros(added),
        "ebe": euros(ebe),
        "resultat_exploitation": euros(operating),
        "resultat_financier": euros(financial),
        "resultat_courant_avant_impot": euros(operating + s("755") - d("655") + financial),
        "resultat_exceptionnel": euros(s("77", "787", "797") - d("67", "687")),
        "resultat_net": euros(s("7") - d("6")),
        "dso_jours": days((receivables_open + receivables_close) / 2, sales_ttc),
        "dso_jours_cloture": days(receivables_close, sales_ttc),
        "dpo_jours": days(-d("401", "403", "408", "409"), purchases_ttc),
        "tresorerie_nette": euros(cash),
    }


async def _figures(committed: Maker, settings: Settings, path: Path, closing: tuple[int, int]) -> dict[str, object]:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name=f"Dossier {path.stem}", closing_day=closing[0],
                                     closing_month=closing[1])  # fmt: skip
    async with committed() as session:
        dossier = await session.get_one(Dossier, dossier.id)
    imported = await import_path(settings, committed, dossier, path)
    assert imported.outcome.status is ImportStatus.SUCCEEDED, imported.record.report
    async with committed() as session:
        row = (await session.execute(select(YearFigures).where(YearFigures.dossier_id == dossier.id))).scalar_one()
    return row.figures


async def test_the_figures_of_a_real_file_match_those_worked_out_from_its_lines(
    committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    path = NEOLEGAL / "0000000001FEC20220831.txt"
    figures = await _figures(committed, settings, path, (31, 8))
    expected = expected_figures(Ledger(path))
    assert {key: figures[key] for key in expected} == expected


async def test_the_figures_agree_with_the_liasse_boxes_neolegal_computed(
    committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    """2033-B of the cash-basis file: 214 (production vendue, its whole CA) and 310 (résultat, 3 988 in that
    file, whose own note expects 3 989); the other file: FJ (résultat) and FE − FG (produits − charges
    financiers) — rounded to the euro as the liasse is."""

    def boxes(name: str) -> dict[str, Decimal]:
        values: dict[str, Decimal] = {}
        for line in (NEOLEGAL / name).read_text(encoding="utf-8").splitlines():
            code, _, rest = line.partition(",")
            value = rest.split(",")[0].strip()
            if value:
                values.setdefault(code.strip(), Decimal(value))
        return values

    def euro(value: object) -> Decimal:
        return Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    # The cash-basis file is refused at import (its entries, all numbered 0, mix dates): its balances are
    # summed here, and the formulas read them.
    ledger = Ledger(NEOLEGAL / "000000000FEC20231231.txt")
    rows = [
        BalanceRow(account, dt.date(2023, 1, 1), opening=False, flags=0, debit=int(-value * 100) if value < 0 else 0,
                   credit=int(value * 100) if value > 0 else 0)
        for account, value in ledger.balance.items()
    ]  # fmt: skip
    cash_basis = compute(rows, start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31)).to_json()
    liasse = boxes("000000000FEC20231231-expected.csv")
    assert euro(cash_basis["chiffre_affaires"]) == liasse["214"]
    assert euro(cash_basis["resultat_net"]) == liasse["310"]

    accrual = await _figures(committed, settings, NEOLEGAL / "0000000001FEC20220831.txt", (31, 8))
    liasse = boxes("0000000001FEC20220831-expected.csv")
    assert euro(accrual["resultat_net"]) == liasse["FJ"]
    assert euro(accrual["resultat_financier"]) == liasse["FE"] - liasse["FG"]
