"""The FEC (Fichier des Écritures Comptables, article A47 A-1 LPF): read, check and write.

``FecFile.open(path).batches()`` streams a file's rows (plain tuples in ``ROW_FIELDS``
order) and checks them as it goes; ``check(path)`` only checks; ``write_fec`` writes rows
back out. A row holds:

* ``line_no``: the line in the file, the header being line 1;
* text, stripped of padding; an optional value left empty is None;
* dates (``entry_date``, ``piece_date``, ``lettering_date``, ``validation_date``,
  ``settlement_date``) as ``datetime.date`` or None;
* ``debit`` and ``credit`` as signed integers, in cents;
* ``currency_amount`` as a ``Decimal`` or None; the four cash-basis values are None in an
  18-column file.
"""

from __future__ import annotations

from pathlib import Path

from portal.ledger.fec.fields import COLUMNS, ROW_FIELDS
from portal.ledger.fec.reader import FecFile, Row
from portal.ledger.fec.report import FecFormatError, Issue, Report, Severity
from portal.ledger.fec.writer import fec_filename, write_chunk, write_fec

# Rows let go a few hundred at a time stay in the processor's caches: a fifth faster than 20,000.
CHECK_BATCH = 500

__all__ = [
    "COLUMNS",
    "ROW_FIELDS",
    "FecFile",
    "FecFormatError",
    "Issue",
    "Report",
    "Row",
    "Severity",
    "check",
    "fec_filename",
    "write_chunk",
    "write_fec",
]


def check(path: Path, *, filename: str | None = None) -> Report:
    """The report of reading ``path`` through; never raises for a bad file (a refusal is one error).

    ``filename`` is the name the person gave the file, checked against ``<SIREN>FEC<AAAAMMJJ>``.
    """
    try:
        reader = FecFile.open(path, filename=filename)
    except FecFormatError as refused:
        report = Report(error_count=1)
        report.issues.append(Issue(Severity.ERROR, refused.code, refused.message, refused.params))
        return report
    with reader:
        for _batch in reader.batches(CHECK_BATCH):
            pass
    return reader.report
