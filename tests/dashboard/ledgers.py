"""Small FEC files written by the tests, imported into a dossier the way a worker imports an upload."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.clients.models import Dossier
from portal.ledger.files import ImportFiles
from portal.ledger.importer import run_import
from portal.ledger.models import ImportStatus, LedgerSource
from portal.ledger.services import LedgerService
from portal.settings import Settings

HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\t"
    "PieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise"
)
TENTH = Decimal("0.1")
JOURNALS = {"AN": "A nouveaux", "VT": "Ventes", "HA": "Achats", "BQ": "Banque", "OD": "Opérations diverses"}


@dataclass(frozen=True)
class Entry:
    """A balanced entry: its journal, date and lines (account, debit cents, credit cents)."""

    journal: str
    day: dt.date
    lines: Sequence[tuple[str, int, int]]


def _amount(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def fec_text(entries: Iterable[Entry]) -> str:
    rows = [HEADER]
    for number, entry in enumerate(entries, start=1):
        assert sum(debit for _a, debit, _c in entry.lines) == sum(credit for _a, _d, credit in entry.lines)
        for account, debit, credit in entry.lines:
            day = f"{entry.day:%Y%m%d}"
            rows.append("\t".join((
                entry.journal, JOURNALS[entry.journal], f"{entry.journal}{number:05d}", day, account,
                f"Compte {account}", "", "", f"P{number}", day, f"Écriture {number}", _amount(debit),
                _amount(credit), "", "", day, "", "",
            )))  # fmt: skip
    return "\r\n".join(rows) + "\r\n"


@dataclass(frozen=True)
class Year:
    """A simple calendar year of business, and its figures worked out here, by hand, from its lines.

    An opening entry (à-nouveaux: bank 512 and receivables 411 against capital 101) when given; monthly
    sales (706 HT, 20 % VAT to 445710, 411 TTC); purchases (607 against 401) and rent (613 against
    401); at the end, customers' payments (512 against 411) and suppliers' (401 against 512).
    """

    year: int
    sales: Sequence[int]
    purchases: Sequence[int] = ()
    rent: Sequence[int] = ()
    collected: int = 0
    paid: int = 0
    opening_cash: int = 0
    opening_receivables: int = 0

    @property
    def closing(self) -> dt.date:
        return dt.date(self.year, 12, 31)

    def entries(self) -> list[Entry]:
        year, entries = self.year, []
        if self.opening_cash or self.opening_receivables:
            lines = [("512000", self.opening_cash, 0)] if self.opening_cash else []
            lines += [("411000", self.opening_receivables, 0)] if self.opening_receivables else []
            lines.append(("101000", 0, self.opening_cash + self.opening_receivables))
            entries.append(Entry("AN", dt.date(year, 1, 1), lines))
        for month, amount in enumerate(self.sales, start=1):
            vat = amount // 5
            entries.append(Entry("VT", dt.date(year, month, 15),
                                 [("411000", amount + vat, 0), ("706000", 0, amount), ("445710", 0, vat)]))  # fmt: skip
        for month, amount in enumerate(self.purchases, start=1):
            entries.append(Entry("HA", dt.date(year, month, 20), [("607000", amount, 0), ("401000", 0, amount)]))
        for month, amount in enumerate(self.rent, start=1):
            entries.append(Entry("HA", dt.date(year, month, 5), [("613200", amount, 0), ("401000", 0, amount)]))
        if self.collected:
            entries.append(Entry("BQ", dt.date(year, 12, 30), [("512000", self.collected, 0),
                                                              ("411000", 0, self.collected)]))  # fmt: skip
        if self.paid:
            entries.append(Entry("BQ", dt.date(year, 12, 30), [("401000", self.paid, 0), ("512000", 0, self.paid)]))
        return entries

    # --- the figures, from the lines above ---------------------------------------------------

    @property
    def revenue(self) -> int:
        """Chiffre d'affaires (cents): the 706 credits."""
        return sum(self.sales)

    @property
    def revenue_ttc(self) -> int:
        return sum(amount + amount // 5 for amount in self.sales)

    @property
    def gross_margin(self) -> int:
        return self.revenue - sum(self.purchases)

    @property
    def operating_result(self) -> int:
        return self.gross_margin - sum(self.rent)

    @property
    def net_cash(self) -> int:
        """The one bank account's balance, debit − credit."""
        return self.opening_cash + self.collected - self.paid

    @property
    def closing_receivables(self) -> int:
        return self.opening_receivables + self.revenue_ttc - self.collected

    def rate(self, amount: int) -> Decimal | None:
        if not self.revenue:
            return None
        return (Decimal(amount) / 100 * 100 / (Decimal(self.revenue) / 100)).quantize(TENTH, ROUND_HALF_UP)

    def dso(self, before: Year | None = None) -> Decimal | None:
        """Mean receivables (the à-nouveaux, else N-1's closing) ÷ sales TTC × 360."""
        if not self.revenue_ttc:
            return None
        has_opening = self.opening_cash or self.opening_receivables
        opening = self.opening_receivables if has_opening else before.closing_receivables if before else 0
        mean = (Decimal(opening + self.closing_receivables) / 100).quantize(Decimal("0.01")) / 2
        return (mean * 360 / (Decimal(self.revenue_ttc) / 100)).quantize(TENTH, ROUND_HALF_UP)


async def import_fec(
    session: AsyncSession,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    dossier: Dossier,
    year: Year,
) -> None:
    """``year`` as a FEC named for ``dossier`` and its closing, imported the worker's way (all of it)."""
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    storage_name, size = files.save(io.BytesIO(fec_text(year.entries()).encode()))
    record = await LedgerService(session).request_import(
        None, dossier, source=LedgerSource.COMMAND, filename=f"{dossier.siren}FEC{year.closing:%Y%m%d}.txt",
        storage_name=storage_name, size_bytes=size, enqueue_job=False,
    )  # fmt: skip
    await session.commit()  # the import's own sessions read it (a savepoint released, in a rolled-back test)
    outcome = await run_import(session_maker, settings.imports_dir, record.id)
    assert outcome.status is ImportStatus.SUCCEEDED, outcome.report
