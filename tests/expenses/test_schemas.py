"""Reading what people type into the expense forms: amounts as Decimal, dates, VAT rules, periods."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.expenses.categories import ExpenseCategory
from portal.expenses.schemas import ExpenseLineForm, parse_amount, parse_period, validate_expense, vat_problem

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("12,50", "12.50"), ("12.5", "12.50"), ("1 234,56 €", "1234.56"), ("1\u202f234,56", "1234.56"), ("7", "7.00")],
)
def test_amounts_are_read_as_decimals(typed: str, amount: str) -> None:
    parsed = parse_amount(typed)
    assert parsed == Decimal(amount)
    assert isinstance(parsed, Decimal)
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize("typed", ["1.234,56", "12,345", "abc", "1e3", "", "--1"])
def test_what_is_not_an_amount_of_cents_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="Montant invalide"):
        parse_amount(typed)


def test_a_valid_line_and_french_dates() -> None:
    form = ExpenseLineForm(date="05/11/2026", fournisseur=" Péage  APRR ", categorie="tolls_parking",
                           montant_ttc="12,00", tva_recuperable="2,00")  # fmt: skip
    checked = validate_expense(form, TODAY)
    assert checked.errors == {}
    assert checked.values is not None
    assert checked.values.expense_date == dt.date(2026, 11, 5)
    assert checked.values.merchant == "Péage APRR"
    assert checked.values.vat_amount == Decimal("2.00")
    assert checked.values.purpose is None


def test_vat_rules_by_category() -> None:
    assert vat_problem(ExpenseCategory.BUSINESS_MEAL, Decimal("120.00"), Decimal("20.00")) is None  # exactly 20 %
    assert vat_problem(ExpenseCategory.BUSINESS_MEAL, Decimal("120.00"), Decimal("20.01")) is not None
    assert vat_problem(ExpenseCategory.FUEL, Decimal("120.00"), Decimal("16.00")) is None  # 80 % of 20.00
    assert vat_problem(ExpenseCategory.FUEL, Decimal("120.00"), Decimal("16.01")) is not None
    assert vat_problem(ExpenseCategory.TRANSPORT, Decimal("50.00"), Decimal("0.00")) is None
    assert vat_problem(ExpenseCategory.TRANSPORT, Decimal("50.00"), Decimal("0.01")) is not None
    assert (
        vat_problem(None, Decimal("5.00"), Decimal("6.00")) == "La TVA récupérable ne peut pas dépasser le montant TTC."
    )


def test_periods_are_whole_months_and_default_to_this_year() -> None:
    period = parse_period("", "", TODAY)
    assert (period.start, period.end) == (dt.date(2026, 1, 1), dt.date(2026, 11, 30))
    period = parse_period("2024-02", "2023-12", TODAY)
    assert (period.start, period.end) == (dt.date(2023, 12, 1), dt.date(2024, 2, 29))
    assert parse_period("2026-13", "nope", TODAY).first_month == "2026-01"
