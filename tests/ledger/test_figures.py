"""The formulas alone: a year without sales has no rate nor delay (never a division by zero), the SIG cascade
adds up to each subtotal, and every month of a year that is not a calendar one is present, in order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from portal.ledger.figures import BalanceRow, cascade, compute

START, END = dt.date(2024, 7, 1), dt.date(2025, 6, 30)


def row(account: str, month: tuple[int, int], debit: int = 0, credit: int = 0) -> BalanceRow:
    return BalanceRow(account, dt.date(*month, 1), opening=False, flags=0, debit=debit, credit=credit)


def test_a_year_without_sales_has_no_rate_nor_delay() -> None:
    figures = compute([row("626000", (2024, 8), debit=12_000), row("512000", (2024, 8), credit=12_000)],
                      start=START, end=END)  # fmt: skip
    assert figures.values["chiffre_affaires"] == Decimal("0.00")
    assert figures.values["taux_marge_brute"] is None
    assert figures.values["dso_jours"] is None
    assert figures.values["tresorerie_nette"] == Decimal("-120.00")  # a bank account in credit is a debt
    json = figures.to_json()
    assert (json["taux_marge_brute"], json["resultat_net"]) == (None, "-120.00")


def test_the_months_of_a_year_straddling_two_calendar_years() -> None:
    figures = compute([row("706000", (2025, 6), credit=50_000)], start=START, end=END)
    months = list(figures.monthly["chiffre_affaires"])
    assert (months[0], months[-1], len(months)) == ("2024-07", "2025-06", 12)
    assert figures.monthly["chiffre_affaires"]["2025-06"] == Decimal("500.00")


def test_the_cascade_reaches_each_subtotal() -> None:
    rows = [
        row("706000", (2024, 9), credit=1_000_000), row("607000", (2024, 9), debit=300_000),
        row("613200", (2024, 9), debit=100_000), row("635000", (2024, 9), debit=20_000),
        row("641000", (2024, 9), debit=200_000), row("740000", (2024, 9), credit=5_000),
        row("681100", (2024, 9), debit=30_000), row("661000", (2024, 9), debit=4_000),
        row("771000", (2024, 9), credit=1_000), row("695000", (2024, 9), debit=50_000),
    ]  # fmt: skip
    figures = compute(rows, start=START, end=END)
    # A charge line alone reads as what was spent; in the cascade it lowers the result.
    assert figures.monthly["charges_personnel"]["2024-09"] == Decimal("2000.00")
    labels = {step.label: step.amount for step in cascade(figures)}
    assert (labels["Impôts et taxes"], labels["Charges de personnel"]) == (Decimal("-200.00"), Decimal("-2000.00"))
    assert labels["Subventions d'exploitation"] == Decimal("50.00")
    first, *steps = cascade(figures)
    running = first.amount
    for step in steps:
        if step.total:
            assert step.amount == running, step.label
        else:
            running += step.amount
    # 10 000 − 3 000 − 1 000 − 200 − 2 000 + 50 − 300 − 40 + 10 − 500
    assert running == figures.values["resultat_net"] == Decimal("3020.00")
    # Charges are falls, products rises.
    amounts = {step.label: step.amount for step in steps}
    assert amounts["Impôts et taxes"] == Decimal("-200.00")
    assert amounts["Charges de personnel"] == Decimal("-2000.00")
    assert amounts["Subventions d'exploitation"] == Decimal("50.00")
