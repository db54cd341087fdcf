"""Whether a FEC file looks like the dossier's: the SIREN its name carries and the closing date of the fiscal
year it is for, against the dossier's SIREN and closing date.

A FEC is named ``<SIREN>FEC<AAAAMMJJ>`` (the closing date). A file whose name carries another company's number,
or whose year closes on another day than the dossier's, is most likely another company's or another year's: the
upload asks the person before importing it (``ImportStatus.TO_CONFIRM``), and the import's report keeps the
same warnings. Neither is an error: a first fiscal year, a change of closing date or a file renamed by hand
are legitimate, so the person decides.
"""

from __future__ import annotations

import datetime as dt

from portal.clients.identifiers import format_siren
from portal.clients.models import Dossier
from portal.i18n import N_
from portal.ledger import fec
from portal.ledger.fec.validation import name_parts

SIREN_MISMATCH = N_(
    "Le nom du fichier « %(name)s » porte le numéro %(file_siren)s, qui n'est pas le SIREN du dossier "
    "(%(siren)s) : ce fichier est peut-être celui d'une autre entreprise."
)
CLOSING_MISMATCH = N_(
    "L'exercice de ce fichier se clôt le %(closing)s, alors que le dossier clôture ses exercices le "
    "%(dossier_closing)s : ce fichier est peut-être celui d'une autre entreprise, ou la date de clôture du "
    "dossier est à corriger."
)
SIRET_LENGTH = 14


def closing_of(dossier: Dossier, year: int) -> dt.date:
    """The dossier's closing date in ``year`` (its day clamped to the month's last: 31/02 → 28 or 29/02)."""
    day = dossier.closing_day
    while True:
        try:
            return dt.date(year, dossier.closing_month, day)
        except ValueError:
            day -= 1


def mismatches(dossier: Dossier, filename: str, closing: dt.date | None = None) -> list[fec.Issue]:
    """Warnings when the file does not look like the dossier's.

    ``closing``: the closing date the import will use (the one typed with the upload), else the one the
    file's name carries. A name without ``FEC<AAAAMMJJ>`` tells nothing, and a dossier without SIREN is
    not compared.
    """
    name, prefix, named_closing = name_parts(filename)
    issues: list[fec.Issue] = []
    number = (prefix or "").replace(" ", "")
    if dossier.siren and number.isdigit() and not _same_company(number, dossier.siren):
        issues.append(
            fec.Issue(fec.Severity.WARNING, "siren_mismatch", SIREN_MISMATCH,
                      {"name": name, "file_siren": number, "siren": format_siren(dossier.siren)})
        )  # fmt: skip
    closing = closing or named_closing
    if closing is not None and closing != closing_of(dossier, closing.year):
        issues.append(
            fec.Issue(fec.Severity.WARNING, "closing_mismatch", CLOSING_MISMATCH,
                      {"closing": f"{closing:%d/%m/%Y}", "dossier_closing": dossier.closing_display})
        )  # fmt: skip
    return issues


def _same_company(number: str, siren: str) -> bool:
    """The name's number is the dossier's SIREN, or a SIRET of it."""
    return number == siren or (len(number) == SIRET_LENGTH and number.startswith(siren))
