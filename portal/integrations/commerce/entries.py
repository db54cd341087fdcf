"""Accounting entries drafted from source records, before they are stored.

A draft is what the posting rules produce and what the store writes, keyed by the record
it comes from (``kind`` and ``record_id``): that key, unique per dossier and source
account in the database, is what makes every record post exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from portal.i18n import N_

CENT = Decimal("0.01")


class EntryKind(StrEnum):
    ORDER = "order"  # a POS ticket: sales per VAT rate, VAT collected, the customer
    PAYMENT = "payment"  # a POS payment: the payment method's account against the customer
    REFUND = "refund"  # a POS refund ticket: the reverse of what it refunds
    CLOSURE = "closure"  # a register's closing: cash differences
    WEB_ORDER = "web_order"  # an e-commerce order, sales by country and category, with its payment
    WEB_REFUND = "web_refund"  # an e-commerce refund: the reverse
    SUMMARY = "z"  # Z de caisse: a register's (or the shop's) day in one entry, record id ``<day>/<journal>``
    SUMMARY_MORE = "z_more"  # a complementary Z: records of a summarised day read after its Z, ``<day>/<journal>/<n>``

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    EntryKind.ORDER: N_("Vente"),
    EntryKind.PAYMENT: N_("Règlement"),
    EntryKind.REFUND: N_("Remboursement"),
    EntryKind.CLOSURE: N_("Clôture de caisse"),
    EntryKind.WEB_ORDER: N_("Commande en ligne"),
    EntryKind.WEB_REFUND: N_("Remboursement en ligne"),
    EntryKind.SUMMARY: N_("Z de caisse"),
    EntryKind.SUMMARY_MORE: N_("Z de caisse complémentaire"),
}

# What a Z de caisse sums up: tickets, their payments and refunds, web orders and refunds. A
# register's closing (its cash differences) stays an entry of its own in either mode.
SUMMARISED = frozenset({EntryKind.ORDER, EntryKind.PAYMENT, EntryKind.REFUND, EntryKind.WEB_ORDER,
                        EntryKind.WEB_REFUND})  # fmt: skip
SUMMARIES = frozenset({EntryKind.SUMMARY, EntryKind.SUMMARY_MORE})


@dataclass(frozen=True, slots=True)
class DraftLine:
    account: str
    label: str
    debit: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    aux_account: str | None = None  # the customer's auxiliary account, on 411 lines
    aux_label: str | None = None


@dataclass(frozen=True, slots=True)
class DraftEntry:
    kind: EntryKind
    record_id: str
    business_date: dt.date  # the source's day the record belongs to (its closing day)
    entry_date: dt.date
    journal: str
    label: str
    piece_ref: str
    lines: tuple[DraftLine, ...]
    currency: str = "EUR"

    @property
    def debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal(0))

    @property
    def credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal(0))

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit


def cents(amount: Decimal) -> int:
    """An amount already rounded to the cent, as integer cents (the store's unit)."""
    return int((amount / CENT).to_integral_value())
