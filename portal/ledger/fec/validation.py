"""The checks a FEC goes through: the DGFiP tester's rules, and the balance of every entry.

The tester (Test Compta Démat) checks, line by line: the field count, empty mandatory
values, amounts (decimal comma, no thousands separator), dates (shape, calendar, years
1900–2099, only warned about), account numbers starting with three digits (warned about),
and Debit/Credit both filled or both zero on a line (warned about). It reports an empty
line as an error but does not count it against the file: here it is a warning, which is
what its verdict amounts to.

We add what a ledger needs and the tester only half does: every entry, identified by
its journal and number, must balance, and its lines must share one date (the tester's
``ECRITURE.sql`` groups lines by number alone, across journals, and only marks such
entries in its views, without counting them against the file);
amounts in euros have at most two decimals; the file name should be ``<SIREN>FEC<AAAAMMJJ>``
(the tester refuses any other; we warn, since the name is the user's, not the ledger's).

Issues are kept in the order found, the first ``MAX_KEPT`` of each severity, with every one
counted, so that a file with a million bad lines gives a report of a readable size.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from stdnum.fr import siren as siren_number

from portal.i18n import N_
from portal.ledger.fec.report import Issue, Report, Severity
from portal.ledger.fec.values import (
    AmountError,
    DateError,
    display_date,
    format_cents,
    parse_amount,
    parse_cents,
    parse_date,
)

MAX_KEPT = 1_000
# Lines of one entry read one after the other: journal, number, first line, debit, credit, date.
Run = tuple[str, str, int, int, int, dt.date | None]

# --- messages -------------------------------------------------------------------------

FIELD_COUNT = N_(
    "Ligne %(line)s : nombre de colonnes %(found)s au lieu de %(expected)s, celui de l'en-tête ; un libellé "
    "contient peut-être le séparateur de colonnes, ou une colonne manque."
)
EMPTY_LINE = N_("Ligne %(line)s : ligne vide, ignorée.")
LINE_TOO_LONG = N_("Ligne %(line)s : ligne de plus de %(size)s caractères, ce n'est pas une ligne d'écriture.")
REQUIRED = N_("Ligne %(line)s : la colonne %(field)s est vide ; elle est obligatoire dans un FEC.")
ACCOUNT_PREFIX = N_(
    "Ligne %(line)s : le numéro de compte « %(value)s » doit commencer par trois chiffres (plan comptable général)."
)
AMOUNT_DOT = N_(
    "Ligne %(line)s : le montant « %(value)s » (%(field)s) doit utiliser une virgule décimale (%(suggestion)s)."
)
AMOUNT_THOUSANDS = N_(
    "Ligne %(line)s : le montant « %(value)s » (%(field)s) ne doit pas avoir de séparateur de milliers "
    "(%(suggestion)s)."
)
AMOUNT_NOT_NUMERIC = N_(
    "Ligne %(line)s : « %(value)s » n'est pas un montant (%(field)s) ; un FEC écrit les montants avec une "
    "virgule décimale, par exemple 1234,50."
)
AMOUNT_DECIMALS = N_(
    "Ligne %(line)s : le montant « %(value)s » (%(field)s) a plus de deux décimales ; un montant en euros "
    "s'arrête au centime."
)
AMOUNT_TOO_LARGE = N_("Ligne %(line)s : le montant « %(value)s » (%(field)s) est hors de proportion.")
DATE_FORMAT = N_(
    "Ligne %(line)s : « %(value)s » n'est pas une date (%(field)s) ; un FEC écrit les dates AAAAMMJJ, "
    "par exemple 20241231."
)
DATE_CALENDAR = N_("Ligne %(line)s : la date « %(value)s » (%(field)s) n'existe pas au calendrier.")
DATE_PERIOD = N_("Ligne %(line)s : la date « %(value)s » (%(field)s) a une année hors de la période 1900–2099.")
BOTH_SIDES = N_(
    "Ligne %(line)s : le débit (%(debit)s) et le crédit (%(credit)s) sont tous deux renseignés ; une ligne "
    "porte l'un ou l'autre."
)
NEITHER_SIDE = N_("Ligne %(line)s : le débit et le crédit sont tous deux nuls.")
DIRECTION = N_("Ligne %(line)s : le sens « %(value)s » n'est pas valide ; il vaut D ou C (ou +1 et -1).")
DEBIT_EXCESS = N_(
    "L'écriture %(entry)s du journal %(journal)s (ligne %(line)s) n'est pas équilibrée : son débit dépasse "
    "son crédit de %(difference)s €."
)
CREDIT_EXCESS = N_(
    "L'écriture %(entry)s du journal %(journal)s (ligne %(line)s) n'est pas équilibrée : son crédit dépasse "
    "son débit de %(difference)s €."
)
DATED_APART = N_(
    "Ligne %(line)s : l'écriture %(entry)s du journal %(journal)s est datée du %(date)s, mais sa ligne "
    "%(first_line)s l'est du %(first_date)s ; toutes les lignes d'une écriture ont la même date (EcritureDate)."
)
FILE_NAME = N_(
    "Le nom du fichier « %(name)s » ne suit pas la forme SIRENFECAAAAMMJJ que l'administration attend : "
    "le SIREN (9 chiffres), « FEC », puis la date de clôture, par exemple 123456789FEC20241231.txt."
)
FILE_NAME_SIREN = N_(
    "Le nom du fichier « %(name)s » commence par %(siren)s, qui n'est pas un SIREN valide (clé de contrôle)."
)
EXTRA_COLUMN = N_("La colonne « %(column)s » ne fait pas partie du format FEC : elle est ignorée.")

_AMOUNT_MESSAGES = {
    "dot": AMOUNT_DOT, "thousands": AMOUNT_THOUSANDS, "not_numeric": AMOUNT_NOT_NUMERIC,
    "decimals": AMOUNT_DECIMALS, "too_large": AMOUNT_TOO_LARGE,
}  # fmt: skip
_DATE_MESSAGES = {"format": DATE_FORMAT, "calendar": DATE_CALENDAR}


class IssueLog:
    """Issues as they are found: the first ``cap`` of each severity kept, all of them counted."""

    def __init__(self, cap: int = MAX_KEPT) -> None:
        self.cap = cap
        self.issues: list[Issue] = []
        self.error_count = 0
        self.warning_count = 0

    def error(
        self, code: str, message: str, line: int | None = None, column: str | None = None, /, **params: str
    ) -> None:
        """Record an error; ``column`` is the FEC column at fault, ``params`` the message's values."""
        self.error_count += 1
        if self.error_count <= self.cap:
            self.issues.append(Issue(Severity.ERROR, code, message, _with_line(params, line), line, column))

    def warning(
        self, code: str, message: str, line: int | None = None, column: str | None = None, /, **params: str
    ) -> None:
        self.warning_count += 1
        if self.warning_count <= self.cap:
            self.issues.append(Issue(Severity.WARNING, code, message, _with_line(params, line), line, column))

    def into(self, report: Report) -> None:
        """Copy the issues into ``report``, the file's own first, then by line."""
        report.issues = sorted(self.issues, key=lambda issue: issue.line or 0)
        report.error_count = self.error_count
        report.warning_count = self.warning_count


def _with_line(params: dict[str, str], line: int | None) -> dict[str, str]:
    return {"line": str(line), **params} if line is not None else params


# --- values, on the slow path (the reader caches what is valid) --------------------------


def cents(notes: IssueLog, raw: str, line: int, column: str) -> int | None:
    """``raw`` (Debit, Credit, Montant) in cents; None, with the error logged, if it is not an amount."""
    if not raw:
        return 0  # the tester reads an empty amount as zero
    try:
        return parse_cents(raw)
    except AmountError as error:
        _amount_issue(notes, error, raw, line, column)
        return None


def decimal(notes: IssueLog, raw: str, line: int, column: str) -> tuple[Decimal | None, bool]:
    """(``raw`` as a Decimal or None when empty, whether it was valid) for ``Montantdevise``."""
    if not raw:
        return None, True
    try:
        return parse_amount(raw), True
    except AmountError as error:
        _amount_issue(notes, error, raw, line, column)
        return None, False


def _amount_issue(notes: IssueLog, error: AmountError, raw: str, line: int, column: str) -> None:
    params = {"value": raw, "field": column}
    if error.suggestion:
        params["suggestion"] = error.suggestion
    notes.error(f"amount_{error.kind}", _AMOUNT_MESSAGES[error.kind], line, column, **params)


def date(notes: IssueLog, raw: str, line: int, column: str, *, required: bool) -> tuple[dt.date | None, bool]:
    """(the date or None, whether it may be cached: no issue about it, so none hidden by looking it up)."""
    try:
        day, outside = parse_date(raw)
    except DateError as error:
        notes.error(f"date_{error.kind}", _DATE_MESSAGES[error.kind], line, column, value=raw, field=column)
        return None, False
    if day is None:
        if required:
            notes.error("required", REQUIRED, line, column, field=column)
            return None, False
        return None, True
    if outside:
        notes.warning("date_period", DATE_PERIOD, line, column, value=raw, field=column)
    return day, not outside


def account_ok(number: str) -> bool:
    """The tester's rule: an account number starts with three digits (the PCG's class, group and account)."""
    return number[:3].isdecimal() and number[:3].isascii() and len(number) >= 3  # noqa: PLR2004


def sides(notes: IssueLog, line: int, debit: int, credit: int) -> None:
    """Warn about a line with both a debit and a credit, or neither."""
    if debit and credit:
        notes.warning("both_sides", BOTH_SIDES, line, None, debit=format_cents(debit), credit=format_cents(credit))
    else:
        notes.warning("neither_side", NEITHER_SIDE, line)


# --- entries ----------------------------------------------------------------------------


class Entries:
    """Every entry's first line, balance and date, by journal and number: under 200 bytes an entry.

    The reader hands over *runs*, consecutive lines of one entry, which is how nearly every
    file is written; an entry whose lines are scattered arrives in several runs and is
    put together here, so the balance and the date are checked on the whole entry. A line
    with an error still counts in its entry (else the entry would look unbalanced for want
    of it); an entry with an amount that could not be read is not said to be unbalanced.
    """

    def __init__(self, notes: IssueLog) -> None:
        self.notes = notes
        self.journals: dict[str, dict[str, tuple[int, int, dt.date | None]]] = {}
        self._dated_apart: set[tuple[str, str]] = set()
        self._unknown: set[tuple[str, str]] = set()  # entries with an amount that is not one
        self._unknown_parts: set[tuple[str | None, str | None]] = set()  # a journal or a number, of faulty lines
        self.debit_total = 0
        self.credit_total = 0
        self.first_date: dt.date | None = None
        self.last_date: dt.date | None = None

    def add_run(self, run: Run) -> None:
        """Lines of one entry that follow each other: (journal, number, first line, debit, credit, date)."""
        journal, number, line, debit, credit, day = run
        self.debit_total += debit
        self.credit_total += credit
        if day is not None:
            if self.first_date is None or day < self.first_date:
                self.first_date = day
            if self.last_date is None or day > self.last_date:
                self.last_date = day
        entries = self.journals.get(journal)
        if entries is None:
            entries = self.journals[journal] = {}
        known = entries.get(number)
        if known is None:
            entries[number] = (line, debit - credit, day)
            return
        first_line, balance, first_day = known
        if line < first_line:  # a line with an error, recorded before the run it belongs to
            first_line, first_day, line, day = line, day or first_day, first_line, first_day
        entries[number] = (first_line, balance + debit - credit, first_day or day)
        if day is not None and first_day is not None and day != first_day:
            self.dated_apart(journal, number, line, day)

    def add_faulty(
        self, journal: str, number: str, line: int, *, debit: int | None, credit: int | None, day: dt.date | None
    ) -> None:
        """A line with an error: not a row, but a part of its entry all the same.

        When its amounts, its journal or its number could not be read, the entries it may
        belong to are not said to be unbalanced: that would only echo the line's own error.
        """
        if not (journal and number):
            self._unknown_parts.add((journal or None, number or None))
            return
        if debit is None or credit is None:
            self._unknown.add((journal, number))
        self.add_run((journal, number, line, debit or 0, credit or 0, day))

    def _balance_unknown(self, journal: str, number: str) -> bool:
        parts = self._unknown_parts
        return (journal, number) in self._unknown or (None, number) in parts or (journal, None) in parts

    def dated_apart(
        self, journal: str, number: str, line: int, day: dt.date, run: tuple[int, dt.date] | None = None
    ) -> None:
        """Line ``line`` of the entry is dated ``day``, unlike its first line (reported once an entry).

        ``run`` is the first line and date of the lines just before, when the entry is not yet recorded.
        """
        if (journal, number) in self._dated_apart:
            return
        self._dated_apart.add((journal, number))
        known = self.journals.get(journal, {}).get(number)
        first_line, first_day = (known[0], known[2]) if known and known[2] else run or (line, day)
        self.notes.error(
            "entry_dates", DATED_APART, line, "EcritureDate", entry=number, journal=journal,
            date=display_date(day), first_line=str(first_line), first_date=display_date(first_day),
        )  # fmt: skip

    def finish(self, report: Report) -> None:
        """Report every unbalanced entry, in the order of their first lines; fill the counts and totals."""
        for journal, entries in self.journals.items():
            for number, (line, balance, _day) in entries.items():
                if balance and not self._balance_unknown(journal, number):
                    self.notes.error(
                        "unbalanced", DEBIT_EXCESS if balance > 0 else CREDIT_EXCESS, line, None, entry=number,
                        journal=journal, difference=format_cents(abs(balance)),
                    )  # fmt: skip
        report.entry_count = sum(len(entries) for entries in self.journals.values())
        report.journal_count = len(self.journals)
        report.debit_total = self.debit_total
        report.credit_total = self.credit_total
        report.first_date = self.first_date
        report.last_date = self.last_date


# --- the file name -----------------------------------------------------------------------

_NAME = re.compile(r"(?P<siren>[0-9]{9})FEC(?P<date>[0-9]{8})(?:\.[A-Za-z0-9]{1,5})?", re.IGNORECASE)
_CLOSING = re.compile(r"(?P<prefix>.*)FEC(?P<date>[0-9]{8})", re.IGNORECASE)


def name_parts(name: str) -> tuple[str, str | None, dt.date | None]:
    """The file's own name (without a path), what comes before ``FEC`` and the closing date after it, as the
    tester reads a name (``<SIREN>FEC<AAAAMMJJ>``): (name, prefix or None, date or None)."""
    name = re.split(r"[\\/]", name)[-1]  # some browsers send the whole path
    found = _CLOSING.match(name)
    if not found:
        return name, None, None
    try:
        closing = dt.datetime.strptime(found["date"], "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        closing = None
    return name, found["prefix"], closing


def file_name(notes: IssueLog, name: str) -> tuple[str | None, dt.date | None]:
    """(SIREN, closing date) read from the file's name; a warning when it is not ``<SIREN>FEC<AAAAMMJJ>``.

    The closing date is kept whenever ``FEC`` is followed by a real date, as the tester
    reads it (its SIREN part is anything before ``FEC``); the SIREN only when it is one.
    """
    name, _prefix, closing = name_parts(name)
    exact = _NAME.fullmatch(name)
    if not exact or closing is None:
        notes.warning("file_name", FILE_NAME, name=name)
        return None, closing
    if not siren_number.is_valid(exact["siren"]):
        notes.warning("file_name_siren", FILE_NAME_SIREN, name=name, siren=exact["siren"])
        return None, closing
    return exact["siren"], closing
