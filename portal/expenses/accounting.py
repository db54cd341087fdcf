"""The accounting entry of an approved expense note, and its FEC-style export rows.

One entry per note, in the ``NDF`` journal, dated the day the note was approved:

- a debit on each expense account of its lines' categories, for their amount before
  recoverable VAT (HT = TTC − recoverable VAT; non-recoverable VAT stays in the cost);
- a debit on 44566 for the recoverable VAT, when there is some;
- a credit on the employee's account for the TTC total: 421 (salaried employees) or
  467 (partners, who are not salaried), with an auxiliary account per person.

Debits equal credits by construction. ``EcritureNum`` and ``PieceRef`` are the note's
reference, unique across journals as the DGFiP checks require.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from portal.auth.roles import FirmRole
from portal.expenses.categories import DEDUCTIBLE_VAT_ACCOUNT
from portal.expenses.formatting import csv_amount
from portal.expenses.models import ExpenseLine

JOURNAL = ("NDF", "Notes de frais")
SALARIED = ("421", "Personnel - rémunérations dues")
NOT_SALARIED = ("467", "Autres comptes débiteurs ou créditeurs")
FEC_COLUMNS = ("JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum",
               "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit")  # fmt: skip
ZERO = Decimal("0.00")


def payable_account(roles: Iterable[FirmRole]) -> str:
    """Partners (associés) are not salaried: their expenses are owed on 467; everyone else's on 421."""
    return NOT_SALARIED[0] if FirmRole.PARTNER in set(roles) else SALARIED[0]


def auxiliary(user_id: uuid.UUID, name: str) -> str:
    """The person's auxiliary account: up to 12 letters of their name and 4 characters of their id."""
    letters = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    letters = "".join(character for character in letters if character.isalnum())[:12]
    return f"{letters}{user_id.hex[-4:].upper()}"


@dataclass(frozen=True)
class EntryLine:
    journal_code: str
    journal_label: str
    entry_number: str
    entry_date: dt.date
    account: str
    account_label: str
    auxiliary_number: str
    auxiliary_label: str
    piece_ref: str
    piece_date: dt.date
    label: str
    debit: Decimal
    credit: Decimal

    def fec_row(self) -> list[str]:
        """The line as FEC columns: dates ``AAAAMMJJ``, amounts with a decimal comma."""
        return [
            self.journal_code, self.journal_label, self.entry_number, self.entry_date.strftime("%Y%m%d"),
            self.account, self.account_label, self.auxiliary_number, self.auxiliary_label, self.piece_ref,
            self.piece_date.strftime("%Y%m%d"), self.label, csv_amount(self.debit), csv_amount(self.credit),
        ]  # fmt: skip


@dataclass(frozen=True)
class NoteForBooks:
    """What the entry needs of a note (approved, so its date and payable account are fixed)."""

    reference: str
    title: str
    accounting_date: dt.date
    piece_date: dt.date
    payable_account: str
    employee_id: uuid.UUID
    employee_name: str
    lines: tuple[ExpenseLine, ...]


def entry_lines(note: NoteForBooks) -> list[EntryLine]:
    """The balanced entry of ``note``: expense debits by account (HT), 44566 VAT, credit to the employee."""
    label = f"{note.reference} {note.employee_name} - {note.title}"[:200]
    by_account: dict[str, tuple[str, Decimal]] = {}
    for expense in note.lines:
        rule = expense.category.rule
        _label, total = by_account.get(rule.account, (rule.account_label, ZERO))
        by_account[rule.account] = (rule.account_label, total + expense.amount_ht)
    vat = sum((expense.vat_amount for expense in note.lines), ZERO)
    ttc = sum((expense.amount_ttc for expense in note.lines), ZERO)

    def line(account: str, account_label: str, debit: Decimal, credit: Decimal, *, aux: bool = False) -> EntryLine:
        return EntryLine(
            journal_code=JOURNAL[0],
            journal_label=JOURNAL[1],
            entry_number=note.reference,
            entry_date=note.accounting_date,
            account=account,
            account_label=account_label,
            auxiliary_number=auxiliary(note.employee_id, note.employee_name) if aux else "",
            auxiliary_label=note.employee_name if aux else "",
            piece_ref=note.reference,
            piece_date=note.piece_date,
            label=label,
            debit=debit,
            credit=credit,
        )

    lines = [
        line(account, account_label, amount, ZERO)
        for account, (account_label, amount) in sorted(by_account.items())
        if amount
    ]
    if vat:
        lines.append(line(*DEDUCTIBLE_VAT_ACCOUNT, vat, ZERO))
    payable_label = NOT_SALARIED[1] if note.payable_account == NOT_SALARIED[0] else SALARIED[1]
    lines.append(line(note.payable_account, payable_label, ZERO, ttc, aux=True))
    return lines
