"""A balance worked out here, independently of the portal: straight from a FEC file's lines, with the csv module
and Decimal, per account (générale) or per auxiliary account (auxiliaire); and the total row a page shows."""

from __future__ import annotations

import csv
import html
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Totals:
    debit: Decimal
    credit: Decimal
    debit_balance: Decimal
    credit_balance: Decimal


@dataclass(frozen=True)
class Expected:
    rows: dict[tuple[str, ...], tuple[Decimal, Decimal]]  # (CompteNum[, CompAuxNum]) → (debit, credit)

    @property
    def totals(self) -> Totals:
        debit = sum((d for d, _c in self.rows.values()), ZERO)
        credit = sum((c for _d, c in self.rows.values()), ZERO)
        debit_balance = sum((d - c for d, c in self.rows.values() if d > c), ZERO)
        credit_balance = sum((c - d for d, c in self.rows.values() if c > d), ZERO)
        return Totals(debit, credit, debit_balance, credit_balance)


def fec_balance(content: str, *, auxiliary: bool = False) -> Expected:
    """Σ Debit and Σ Credit per CompteNum (or per CompteNum and CompAuxNum, lines without CompAuxNum left out)."""
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter="\t"))
    header = [name.strip() for name in rows[0]]
    column = {name: header.index(name) for name in header}
    sums: dict[tuple[str, ...], tuple[Decimal, Decimal]] = defaultdict(lambda: (ZERO, ZERO))
    for row in rows[1:]:
        if len(row) < len(header):
            continue
        account, aux = row[column["CompteNum"]].strip(), row[column["CompAuxNum"]].strip()
        if auxiliary and not aux:
            continue
        key = (account, aux) if auxiliary else (account,)
        debit = Decimal(row[column["Debit"]].strip().replace(",", ".") or "0")
        credit = Decimal(row[column["Credit"]].strip().replace(",", ".") or "0")
        before = sums[key]
        sums[key] = (before[0] + debit, before[1] + credit)
    return Expected(dict(sums))


def euros(text: str) -> Decimal:
    """An amount as a French page writes it (``-1 234,50 €``)."""
    cleaned = re.sub(r"[^\d,\-−]", "", text).replace("−", "-").replace(",", ".")
    return Decimal(cleaned)


def page_totals(page: str, table_id: str) -> Totals:
    """The total row of the balance ``table_id`` on a page (its ``data-total`` cells)."""
    table = page[page.index(f'id="{table_id}"') :]
    foot = table[table.index("<tfoot") : table.index("</tfoot>")]
    cells = dict(re.findall(r'data-total="(\w+)">([^<]*)<', foot))
    return Totals(*(euros(html.unescape(cells[name])) for name in ("debit", "credit", "debit_balance",
                                                                   "credit_balance")))  # fmt: skip
