"""A small shop's two fiscal years, written by hand as FEC files and imported through the real path.

N-1 (2024) has twelve months of entries; N (2025) has January to June only, as a year being kept.
Each month: sales (706, with 20 % VAT), purchases of goods (607), rent (613), salaries (641); taxes
(635) at each quarter's end; depreciation (6811) in December of N-1. The expected figures are
computed here from the same numbers, so a test compares the pages with what it knows.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.clients.models import Dossier
from portal.ledger.files import ImportFiles
from portal.ledger.importer import run_import
from portal.ledger.models import FiscalYear, ImportStatus, LedgerSource, VersionState
from portal.ledger.services import LedgerService
from portal.settings import Settings

HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\t"
    "PieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise"
)


@dataclass(frozen=True)
class Month:
    """One month of the shop, in euros (HT)."""

    sales: Decimal
    purchases: Decimal
    rent: Decimal
    salaries: Decimal
    taxes: Decimal = Decimal(0)
    depreciation: Decimal = Decimal(0)

    def budget_lines(self) -> dict[str, Decimal]:
        """The month's figures per budget line (``figures.BUDGET_KEYS``)."""
        return {
            "chiffre_affaires": self.sales,
            "achats_consommes": self.purchases,
            "charges_externes": self.rent,
            "impots_taxes": self.taxes,
            "charges_personnel": self.salaries,
            "dotations": self.depreciation,
        }


def previous_months() -> dict[dt.date, Month]:
    """N-1 (2024): every month."""
    return {
        dt.date(2024, month, 1): Month(
            sales=Decimal(10_000 + 500 * month) + Decimal("0.10"),
            purchases=Decimal(4_000),
            rent=Decimal("1500.50"),
            salaries=Decimal(3_000),
            taxes=Decimal(300) if month % 3 == 0 else Decimal(0),
            depreciation=Decimal(2_400) if month == 12 else Decimal(0),
        )
        for month in range(1, 13)
    }


def current_months() -> dict[dt.date, Month]:
    """N (2025): January to June."""
    return {
        dt.date(2025, month, 1): Month(
            sales=Decimal(11_000 + 600 * month),
            purchases=Decimal(4_200),
            rent=Decimal(1_600),
            salaries=Decimal(3_100),
            taxes=Decimal(300) if month % 3 == 0 else Decimal(0),
        )
        for month in range(1, 7)
    }


def total(months: Mapping[dt.date, Month], key: str) -> Decimal:
    return sum((month.budget_lines()[key] for month in months.values()), Decimal(0))


def _amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def fec_text(months: Mapping[dt.date, Month]) -> bytes:
    """The months as a FEC file (tab-separated, balanced entries, one per operation)."""
    lines = [HEADER]
    number = 0

    def entry(journal: str, label: str, day: dt.date, postings: list[tuple[str, str, Decimal, Decimal]]) -> None:
        nonlocal number
        number += 1
        stamp = f"{day:%Y%m%d}"
        for account, account_label, debit, credit in postings:
            lines.append("\t".join([
                journal, label, f"{journal}{number:05d}", stamp, account, account_label, "", "", f"P{number}", stamp,
                f"{label} {day:%m/%Y}", _amount(debit), _amount(credit), "", "", stamp, "", "",
            ]))  # fmt: skip

    zero = Decimal(0)
    for first, month in months.items():
        day = first + dt.timedelta(days=14)
        vat = (month.sales * Decimal("0.2")).quantize(Decimal("0.01"))
        entry("VT", "Ventes", day, [("411000", "Clients", month.sales + vat, zero),
                                    ("706000", "Prestations de services", zero, month.sales),
                                    ("445710", "TVA collectée", zero, vat)])  # fmt: skip
        input_vat = (month.purchases * Decimal("0.2")).quantize(Decimal("0.01"))
        entry("AC", "Achats", day, [("607000", "Achats de marchandises", month.purchases, zero),
                                    ("445660", "TVA déductible", input_vat, zero),
                                    ("401000", "Fournisseurs", zero, month.purchases + input_vat)])  # fmt: skip
        entry("AC", "Achats", day, [("613200", "Locations immobilières", month.rent, zero),
                                    ("401000", "Fournisseurs", zero, month.rent)])  # fmt: skip
        entry("OD", "Paie", day, [("641000", "Salaires", month.salaries, zero),
                                  ("421000", "Personnel - rémunérations dues", zero, month.salaries)])  # fmt: skip
        if month.taxes:
            entry("OD", "Paie", day, [("635100", "Contribution économique territoriale", month.taxes, zero),
                                      ("447000", "Autres impôts", zero, month.taxes)])  # fmt: skip
        if month.depreciation:
            entry("OD", "Paie", day, [("681120", "Dotations aux amortissements", month.depreciation, zero),
                                      ("281830", "Amortissements du matériel", zero, month.depreciation)])  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode()


async def import_year(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    dossier_id: uuid.UUID,
    *,
    year: int,
    months: Mapping[dt.date, Month],
) -> FiscalYear:
    """Import ``months`` as the calendar year ``year`` of the dossier, as an upload is: stored, then run."""
    content = fec_text(months)
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    name, size = files.save(io.BytesIO(content))
    async with session_maker() as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        record = await LedgerService(session).request_import(
            None, dossier, source=LedgerSource.UPLOAD, filename=f"000000000FEC{year}1231.txt", storage_name=name,
            size_bytes=size, period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31), enqueue_job=False,
        )  # fmt: skip
        record_id = record.id
        await session.commit()
    outcome = await run_import(session_maker, settings.imports_dir, record_id)
    assert outcome.status is ImportStatus.SUCCEEDED, outcome.report
    async with session_maker() as session:
        statement = select(FiscalYear).where(
            FiscalYear.dossier_id == dossier_id,
            FiscalYear.end_date == dt.date(year, 12, 31),
            FiscalYear.state == VersionState.ACTIVE,
        )
        fiscal_year: FiscalYear = (await session.execute(statement)).scalar_one()
        return fiscal_year
