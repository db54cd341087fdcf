"""A small hand-made FEC of a fiscal year: monthly sales, purchases and bank entries whose totals the tests know."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\t"
    "PieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise"
)
ACCOUNTS = {
    "411000": "Clients", "706000": "Prestations de services", "445710": "TVA collectée", "601000": "Achats stockés",
    "445660": "TVA déductible", "401000": "Fournisseurs", "512000": "Banque", "641000": "Rémunérations du personnel",
    "421000": "Personnel - rémunérations dues",
}  # fmt: skip


@dataclass(frozen=True)
class SampleYear:
    year: int
    sales: tuple[int, ...]  # euros HT per month, twelve of them
    purchases: tuple[int, ...]
    salaries: int = 2_000  # euros per month

    @property
    def chiffre_affaires(self) -> Decimal:
        return Decimal(sum(self.sales))

    @property
    def end(self) -> dt.date:
        return dt.date(self.year, 12, 31)

    def filename(self, siren: str) -> str:
        return f"{siren}FEC{self.end:%Y%m%d}.txt"

    def write(self, folder: Path, siren: str) -> Path:
        rows = [HEADER]
        number = 0

        def entry(journal: str, label: str, day: dt.date, lines: list[tuple[str, int, int]]) -> None:
            nonlocal number
            number += 1
            for account, debit, credit in lines:
                rows.append("\t".join([
                    journal, {"VT": "Ventes", "AC": "Achats", "BQ": "Banque", "OD": "Opérations diverses"}[journal],
                    f"{journal}{number:05d}", f"{day:%Y%m%d}", account, ACCOUNTS[account], "", "", f"P{number}",
                    f"{day:%Y%m%d}", label, f"{debit},00", f"{credit},00", "", "", f"{day:%Y%m%d}", "", "",
                ]))  # fmt: skip

        for month in range(1, 13):
            day = dt.date(self.year, month, 15)
            sale, purchase = self.sales[month - 1], self.purchases[month - 1]
            entry("VT", f"Facture de {month:02d}", day,
                  [("411000", sale * 12 // 10, 0), ("706000", 0, sale), ("445710", 0, sale * 2 // 10)])  # fmt: skip
            vat = purchase * 2 // 10
            entry("AC", f"Achat de {month:02d}", day,
                  [("601000", purchase, 0), ("445660", vat, 0), ("401000", 0, purchase + vat)])  # fmt: skip
            entry("OD", f"Salaires de {month:02d}", day, [("641000", self.salaries, 0), ("421000", 0, self.salaries)])
            entry("BQ", f"Encaissement de {month:02d}", day + dt.timedelta(days=10),
                  [("512000", sale * 12 // 10, 0), ("411000", 0, sale * 12 // 10)])  # fmt: skip
        path = folder / self.filename(siren)
        path.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
        return path


CURRENT = SampleYear(2025, sales=(10_000, 11_000, 12_500, 9_000, 14_000, 15_500, 13_000, 8_000, 16_000, 17_500,
                                  18_000, 20_500), purchases=(4_000,) * 12)  # fmt: skip
PREVIOUS = SampleYear(2024, sales=(9_000,) * 6 + (10_000,) * 6, purchases=(3_500,) * 12)
