"""The prévisionnel as a CSV file: « Importer un CSV », « Exporter » and the template, one format.

The format (documented on the page) is the grid itself, one line per budget line::

    poste;2025-01;2025-02;…;2025-12
    chiffre_affaires;10 000,00;12 500;…
    charges_externes;2 000,50;;…

- separator ``;``, UTF-8 (a BOM is tolerated; Windows-1252 is read too, as a French spreadsheet saves it);
- first line: ``poste`` then months of the fiscal year as ``AAAA-MM`` (``MM/AAAA`` is read too), in
  any order, each once; a month left out is blank;
- then one line per poste, named by its code (``chiffre_affaires``…) or its name (« Charges
  externes »), each once; a poste left out has no budget;
- amounts in euros, French decimals (``12 345,67`` or ``12345.67``), blank for none.

The import replaces the year's budget with the file, or, if any line is wrong, saves nothing and
lists every error with its line number. The export writes this format (and so re-imports as is);
the template is the export of an empty budget.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from portal.dashboard.amounts import NumberError, csv_amount, parse_number, to_cents
from portal.dashboard.budget import LINE_LABELS, Grid, month_key
from portal.i18n import N_
from portal.ledger import figures

MAX_BYTES = 256 * 1024
"""Largest CSV accepted: a budget of 24 months is about 2 Ko."""
SEPARATOR = ";"
FIRST_COLUMN = "poste"

EMPTY = N_("Le fichier est vide.")
TOO_LARGE = N_("Le fichier dépasse %(size)s Ko : un prévisionnel tient en quelques lignes.")
NOT_TEXT = N_("Le fichier n'est pas un fichier texte CSV.")
BAD_HEADER = N_("La première ligne doit être l'en-tête « poste;AAAA-MM;… » (séparateur point-virgule).")
BAD_MONTH = N_("« %(value)s » n'est pas un mois de l'exercice (AAAA-MM, de %(first)s à %(last)s).")
MONTH_TWICE = N_("Le mois %(value)s figure deux fois dans l'en-tête.")
UNKNOWN_LINE = N_("Poste inconnu « %(value)s » : utilisez %(known)s.")
LINE_TWICE = N_("Le poste « %(value)s » figure deux fois.")
TOO_MANY = N_("Cette ligne a plus de valeurs que l'en-tête n'a de mois.")

_MONTH_ISO = re.compile(r"(\d{4})-(\d{1,2})")
_MONTH_FRENCH = re.compile(r"(\d{1,2})/(\d{4})")


@dataclass(frozen=True)
class CsvError:
    """A reason the file is refused: its line (1 is the header), the month's column if any, the msgid."""

    line: int
    message: str
    params: Mapping[str, str] = field(default_factory=dict)
    column: str | None = None


def write(grid: Grid, months: Sequence[dt.date]) -> str:
    """The budget as the import reads it: the header, then every poste in order (blank cells where none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=SEPARATOR, lineterminator="\r\n")
    writer.writerow([FIRST_COLUMN, *(month_key(month) for month in months)])
    for key in figures.BUDGET_KEYS:
        cells = grid.get(key, {})
        writer.writerow([key, *(csv_amount(cells.get(month)) for month in months)])
    return buffer.getvalue()


def _normal(value: str) -> str:
    """A poste's name compared without case, accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(char for char in decomposed if char.isalnum())


def _postes() -> dict[str, str]:
    known = {_normal(key): key for key in figures.BUDGET_KEYS}
    known.update({_normal(label): key for key, label in LINE_LABELS.items()})
    return known


def _month(value: str) -> dt.date | None:
    iso, french = _MONTH_ISO.fullmatch(value), _MONTH_FRENCH.fullmatch(value)
    year, month = (iso.group(1), iso.group(2)) if iso else (french.group(2), french.group(1)) if french else ("", "")
    if not year:
        return None
    try:
        return dt.date(int(year), int(month), 1)
    except ValueError:
        return None


def decode(data: bytes) -> str | None:
    """The file's text: UTF-8 (with or without BOM), else Windows-1252; None for what is not text."""
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text


Rows = list[tuple[int, list[str]]]


def _rows(data: bytes) -> tuple[Rows, CsvError | None]:
    """The file's non-blank lines with their numbers, cells trimmed; or why it cannot be read at all."""
    if not data.strip():
        return [], CsvError(1, EMPTY)
    if len(data) > MAX_BYTES:
        return [], CsvError(1, TOO_LARGE, {"size": str(MAX_BYTES // 1024)})
    text = decode(data)
    if text is None:
        return [], CsvError(1, NOT_TEXT)
    try:
        rows = [
            (number, [cell.strip() for cell in row])
            for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=SEPARATOR), start=1)
        ]
    except csv.Error:  # a cell over the csv module's limit, a stray quote at the end
        return [], CsvError(1, NOT_TEXT)
    rows = [(number, row) for number, row in rows if any(row)]
    return rows, None if rows else CsvError(1, EMPTY)


def _columns(line: int, header: list[str], months: Sequence[dt.date], errors: list[CsvError]) -> list[dt.date | None]:
    """The month of each amount column (None for a wrong one, whose error is added)."""
    allowed = set(months)
    columns: list[dt.date | None] = []
    for value in header:
        month = _month(value)
        if month is None or month not in allowed:
            bounds = {"first": month_key(months[0]), "last": month_key(months[-1])}
            errors.append(CsvError(line, BAD_MONTH, {"value": value, **bounds}))
            columns.append(None)
        elif month in columns:
            errors.append(CsvError(line, MONTH_TWICE, {"value": value}))
            columns.append(None)
        else:
            columns.append(month)
    return columns


def _amounts(
    line: int, key: str, cells: list[str], columns: list[dt.date | None], *, grid: Grid, errors: list[CsvError]
) -> None:
    """A poste's amounts into ``grid``; each wrong cell's error into ``errors``."""
    if any(cells[len(columns) :]):
        errors.append(CsvError(line, TOO_MANY))
    for month, cell in zip(columns, cells, strict=False):
        if month is None:
            continue
        try:
            amount = parse_number(cell)
        except NumberError as wrong:
            errors.append(CsvError(line, wrong.message, column=month_key(month)))
            continue
        if amount is not None:
            grid.setdefault(key, {})[month] = to_cents(amount)


def read(data: bytes, months: Sequence[dt.date]) -> tuple[Grid, list[CsvError]]:
    """The grid in the file, and every error in it (the grid is empty unless there is none)."""
    rows, unreadable = _rows(data)
    if unreadable is not None:
        return {}, [unreadable]
    header_line, header = rows[0]
    while header and not header[-1]:  # a trailing separator
        header.pop()
    if not header or _normal(header[0]) != FIRST_COLUMN:
        return {}, [CsvError(header_line, BAD_HEADER)]
    errors: list[CsvError] = []
    columns = _columns(header_line, header[1:], months, errors)
    known = _postes()
    grid: Grid = {}
    seen: set[str] = set()
    for line, row in rows[1:]:
        key = known.get(_normal(row[0]))
        if key is None:
            errors.append(CsvError(line, UNKNOWN_LINE, {"value": row[0], "known": ", ".join(figures.BUDGET_KEYS)}))
        elif key in seen:
            errors.append(CsvError(line, LINE_TWICE, {"value": row[0]}))
        else:
            seen.add(key)
            _amounts(line, key, row[1:], columns, grid=grid, errors=errors)
    return (grid if not errors else {}), errors
