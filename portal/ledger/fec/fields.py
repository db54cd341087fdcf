"""The FEC's columns: their names in a file, the row fields they fill, and which ones must hold a value.

Names are those of the arrêté of 29 July 2013 (article A47 A-1 LPF), as the DGFiP's
tester (Test Compta Démat) lists them. A file's header is matched without regard to case,
accents, spaces or punctuation (``MontantDevise``, ``Pièce Ref``), as software writes it
in many ways; the tester itself only ignores case.

What must hold a value follows the tester: ``NOT NULL`` columns of its tables are errors
when empty, and "données absentes" (empty values of columns the arrêté requires) make it
declare the file not compliant, which for us is an error too. Two departures, both because
the ledger needs them: ``JournalCode`` is required in the cash-basis variants as well (an
entry is identified by its journal and number), and empty ``Debit``/``Credit`` count as
zero, as the tester reads them.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# A row is a plain tuple in this order: fast to build, and to hand to executemany/COPY.
ROW_FIELDS: Final = (
    "line_no", "journal_code", "journal_label", "entry_number", "entry_date", "account_number", "account_label",
    "aux_account_number", "aux_account_label", "piece_ref", "piece_date", "label", "debit", "credit",
    "lettering", "lettering_date", "validation_date", "currency_amount", "currency", "settlement_date",
    "settlement_mode", "nature", "client_id",
)  # fmt: skip

# The arrêté's column for each row field (after ``line_no``), in the order files list them.
COLUMNS: Final = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum",
    "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet", "ValidDate",
    "Montantdevise", "Idevise", "DateRglt", "ModeRglt", "NatOp", "IdClient",
)  # fmt: skip
FIELD_OF: Final = dict(zip(COLUMNS, ROW_FIELDS[1:], strict=True))
COLUMN_OF: Final = {field: column for column, field in FIELD_OF.items()}

BIC_COLUMNS: Final = COLUMNS[:18]  # accrual basis (BIC, IS): the 18 columns
BA_COLUMNS: Final = COLUMNS[:21]  # cash basis, agricultural profits: no client
BNC_COLUMNS: Final = COLUMNS  # cash basis, non-commercial profits: the client too
CASH_BASIS_COLUMNS: Final = COLUMNS[18:]
# ``Montant`` and ``Sens`` (D/C or +1/-1) may stand for ``Debit`` and ``Credit``.
AMOUNT, DIRECTION = "Montant", "Sens"
DEBIT_CREDIT, AMOUNT_DIRECTION = "debit_credit", "amount_direction"

DATE_COLUMNS: Final = frozenset({"EcritureDate", "PieceDate", "DateLet", "ValidDate", "DateRglt"})
# Text columns that must hold a value, by variant ("BIC", "BA", "BNC"); dates are below.
REQUIRED_TEXT: Final = {
    "BIC": ("JournalCode", "JournalLib", "EcritureNum", "CompteNum", "CompteLib", "PieceRef", "EcritureLib"),
    "BA": ("JournalCode", "EcritureNum", "CompteNum", "CompteLib", "PieceRef", "EcritureLib"),
    "BNC": ("JournalCode", "EcritureNum", "CompteNum", "CompteLib", "PieceRef", "EcritureLib"),
}
REQUIRED_DATES: Final = {
    "BIC": frozenset({"EcritureDate", "PieceDate", "ValidDate"}),
    "BA": frozenset({"EcritureDate", "PieceDate"}),
    "BNC": frozenset({"EcritureDate", "PieceDate"}),
}
# Columns the tester knows that carry nothing a ledger keeps (its own result flag): no warning.
TOLERATED: Final = frozenset({"result"})


def _key(name: str) -> str:
    """``name`` as header names are compared: no accents, no case, letters and digits only."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(character for character in plain if character.isalnum()).casefold()


# Header spellings met in exports, besides the arrêté's own (compared through ``_key``).
_ALIASES: Final = {
    "CompAuxNum": ("CompteAuxNum", "CompteAuxiliaireNum"),
    "CompAuxLib": ("CompteAuxLib", "CompteAuxiliaireLib"),
    "Montantdevise": ("MontantEnDevise",),
    "Idevise": ("Devise", "CodeDevise"),
}
_NAMES: Final = {
    **{_key(alias): column for column, aliases in _ALIASES.items() for alias in aliases},
    **{_key(column): column for column in (*COLUMNS, AMOUNT, DIRECTION)},
}


def column_name(header: str) -> str | None:
    """The arrêté's name of the column a header cell names (``MONTANTDEVISE`` -> ``Montantdevise``), or None."""
    return _NAMES.get(_key(header))


def is_tolerated(header: str) -> bool:
    return _key(header) in TOLERATED
