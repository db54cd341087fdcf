"""Two small hand-made fiscal years of a service company (2024 and 2025), as FEC files, and what they add up to."""

from __future__ import annotations

from decimal import Decimal

HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\t"
    "PieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise"
)
JOURNALS = {"AN": "A nouveaux", "VT": "Ventes", "AC": "Achats", "BQ": "Banque", "OD": "Opérations diverses"}
LABELS = {
    "101000": "Capital",
    "120000": "Résultat de l'exercice",
    "401000": "Fournisseurs",
    "411000": "Clients",
    "445660": "TVA déductible",
    "445710": "TVA collectée",
    "512000": "Banque",
    "606100": "Fournitures non stockables",
    "607000": "Achats de marchandises",
    "613200": "Locations immobilières",
    "641000": "Rémunérations du personnel",
    "706000": "Prestations de services",
    "707000": "Ventes de marchandises",
}

# An entry: its journal, its date and its lines (account, debit, credit), in euros.
Entry = tuple[str, str, list[tuple[str, str, str]]]

YEAR_2024: list[Entry] = [
    ("AN", "20240101", [("512000", "5000", "0"), ("101000", "0", "5000")]),
    ("VT", "20240115", [("411000", "1200", "0"), ("706000", "0", "1000"), ("445710", "0", "200")]),
    ("VT", "20240620", [("411000", "1200", "0"), ("706000", "0", "1000"), ("445710", "0", "200")]),
    ("AC", "20240210", [("607000", "400", "0"), ("445660", "80", "0"), ("401000", "0", "480")]),
    ("BQ", "20240301", [("512000", "1200", "0"), ("411000", "0", "1200")]),
    ("BQ", "20240331", [("641000", "250", "0"), ("512000", "0", "250")]),
]
YEAR_2025: list[Entry] = [
    ("AN", "20250101", [("512000", "5950", "0"), ("411000", "1200", "0"), ("445660", "80", "0"),
                        ("401000", "0", "480"), ("445710", "0", "400"), ("101000", "0", "5000"),
                        ("120000", "0", "1350")]),
    ("VT", "20250115", [("411000", "1200", "0"), ("706000", "0", "1000"), ("445710", "0", "200")]),
    ("VT", "20250310", [("411000", "2400", "0"), ("706000", "0", "1500"), ("707000", "0", "500"),
                        ("445710", "0", "400")]),
    ("AC", "20250220", [("607000", "500", "0"), ("445660", "100", "0"), ("401000", "0", "600")]),
    ("AC", "20250305", [("613200", "200", "0"), ("445660", "40", "0"), ("401000", "0", "240")]),
    ("BQ", "20250320", [("512000", "1200", "0"), ("411000", "0", "1200")]),
    ("BQ", "20250331", [("641000", "300", "0"), ("512000", "0", "300")]),
]  # fmt: skip


def fec(entries: list[Entry]) -> bytes:
    lines = [HEADER]
    numbers: dict[str, int] = {}
    for journal, day, rows in entries:
        numbers[journal] = numbers.get(journal, 0) + 1
        number = f"{journal}{numbers[journal]:04d}"
        for account, debit, credit in rows:
            fields = [
                journal, JOURNALS[journal], number, day, account, LABELS[account], "", "", number, day,
                f"{JOURNALS[journal]} {number}", f"{debit},00", f"{credit},00", "", "", day, "", "",
            ]  # fmt: skip
            lines.append("\t".join(fields))
    return ("\r\n".join(lines) + "\r\n").encode()


def total(entries: list[Entry], prefixes: tuple[str, ...], *, credit_side: bool) -> Decimal:
    """Credit − debit (or debit − credit) of the accounts starting with ``prefixes``, à-nouveaux left out."""
    amount = Decimal(0)
    for journal, _day, rows in entries:
        if journal == "AN":
            continue
        for account, debit, credit in rows:
            if account.startswith(prefixes):
                amount += Decimal(credit) - Decimal(debit) if credit_side else Decimal(debit) - Decimal(credit)
    return amount
