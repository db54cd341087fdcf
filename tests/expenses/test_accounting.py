"""The entry of an approved expense note: expense accounts HT, 44566, 421 or 467; it balances."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from portal.auth.roles import FirmRole
from portal.expenses.accounting import NoteForBooks, auxiliary, entry_lines, payable_account
from portal.expenses.categories import RULES, ExpenseCategory
from portal.expenses.models import ExpenseLine

EMPLOYEE = uuid.UUID("01a2036b-692c-7478-92e2-9245f5f7abcd")


def _line(category: ExpenseCategory, ttc: str, vat: str = "0") -> ExpenseLine:
    return ExpenseLine(category=category, amount_ttc=Decimal(ttc), vat_amount=Decimal(vat), merchant="x")


def _note(*lines: ExpenseLine, account: str = "421") -> NoteForBooks:
    return NoteForBooks(
        reference="NDF-2026-0007",
        title="Frais de mars",
        accounting_date=dt.date(2026, 4, 2),
        piece_date=dt.date(2026, 3, 31),
        payable_account=account,
        employee_id=EMPLOYEE,
        employee_name="Claire Martin",
        lines=lines,
    )


def test_an_entry_balances_and_books_ht_vat_and_the_employee() -> None:
    lines = entry_lines(
        _note(
            _line(ExpenseCategory.BUSINESS_MEAL, "60.00", "10.00"),
            _line(ExpenseCategory.TRAVEL_MEAL, "22.00", "2.00"),
            _line(ExpenseCategory.LODGING, "95.00"),
            _line(ExpenseCategory.TRANSPORT, "48.20"),
            _line(ExpenseCategory.MILEAGE, "76.32"),
            _line(ExpenseCategory.FUEL, "90.00", "12.00"),
        )
    )
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines) == Decimal("391.52")
    by_account = {line.account: line for line in lines}
    assert by_account["6257"].debit == Decimal("50.00")
    assert by_account["6256"].debit == Decimal("115.00")  # meal HT 20.00 + hotel 95.00
    assert by_account["6251"].debit == Decimal("124.52")  # train + mileage
    assert by_account["6061"].debit == Decimal("78.00")
    assert by_account["44566"].debit == Decimal("24.00")
    credit = by_account["421"]
    assert credit.credit == Decimal("391.52")
    assert credit.debit == Decimal("0.00")
    assert credit.auxiliary_number == "CLAIREMARTINABCD"
    assert credit.auxiliary_label == "Claire Martin"
    assert by_account["6257"].auxiliary_number == ""
    assert {line.entry_number for line in lines} == {"NDF-2026-0007"}
    assert {line.journal_code for line in lines} == {"NDF"}


def test_no_vat_line_without_vat_and_partners_are_owed_on_467() -> None:
    lines = entry_lines(_note(_line(ExpenseCategory.TRANSPORT, "48.20"), account="467"))
    assert [(line.account, line.debit, line.credit) for line in lines] == [
        ("6251", Decimal("48.20"), Decimal("0.00")),
        ("467", Decimal("0.00"), Decimal("48.20")),
    ]
    assert payable_account({FirmRole.PARTNER, FirmRole.ADMIN}) == "467"
    assert payable_account({FirmRole.COLLABORATOR}) == "421"
    assert payable_account(set()) == "421"


def test_fec_rows_have_compact_dates_and_decimal_commas() -> None:
    row = entry_lines(_note(_line(ExpenseCategory.SUPPLIES, "1234.50", "205.75")))[0].fec_row()
    assert row == ["NDF", "Notes de frais", "NDF-2026-0007", "20260402", "6064", "Fournitures administratives", "",
                   "", "NDF-2026-0007", "20260331", "NDF-2026-0007 Claire Martin - Frais de mars", "1028,75",
                   "0,00"]  # fmt: skip


def test_every_category_has_an_expense_account() -> None:
    assert set(RULES) == set(ExpenseCategory)
    assert all(rule.account[:1] == "6" and rule.account.isdigit() for rule in RULES.values())
    assert not RULES[ExpenseCategory.MILEAGE].vat_recoverable
    assert RULES[ExpenseCategory.FUEL].vat_share == Decimal("0.8")


def test_auxiliary_accounts_fold_accents_and_stay_distinct() -> None:
    other = uuid.UUID("01a2036b-692c-7478-92e2-9245f5f71234")
    assert auxiliary(EMPLOYEE, "Élodie D'Aubigné-Lefèvre") == "ELODIEDAUBIGABCD"
    assert auxiliary(EMPLOYEE, "Jean Dupont") != auxiliary(other, "Jean Dupont")
