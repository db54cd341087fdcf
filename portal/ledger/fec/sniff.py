"""What a file is before its lines are read: its encoding, its separator, and which column is where.

**Encoding.** A file that is valid UTF-8 throughout is UTF-8 (a BOM is dropped). Any other
is single-byte, as the DGFiP's tester decides too; it then reads ISO-8859-15, the code
page the arrêté names, and so do we, unless the file holds bytes 0x80–0x9F: those are
control codes in ISO-8859-15, never text, but ``€``, ``œ`` and the typographic apostrophe
in Windows-1252, which Windows software writes. The two differ on eight more characters
(``€`` and ``œ`` are 0xA4 and 0xBD in ISO-8859-15, ``¤`` and ``½`` in Windows-1252): a
Windows file without one of its own characters is rare, a Latin-9 file with ``€`` is not.
The whole file is scanned once for this (about 0.1 s for 150 MB), so that every line is
decoded the same way. UTF-16 with its BOM, which Excel writes as "Texte Unicode", is read
too.

**Separator.** On the header line, as the tester does: a tab if it splits the line into at
least nine cells, else a ``|``; ``;`` and ``,`` are refused (they have not been allowed
since the fiscal years closed in 2013).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import BinaryIO

from portal.i18n import N_
from portal.ledger.fec import fields as f
from portal.ledger.fec.report import FecFormatError

SNIFF_BYTES = 1 << 16
SCAN_BYTES = 1 << 20
_C1_CONTROLS = bytes(range(0x80, 0xA0))
_MIN_CELLS = 9  # the tester's threshold for a separator

EMPTY = N_("Le fichier ne contient aucune ligne d'écriture : fichier vide.")
NOT_TEXT = N_(
    "Ce fichier n'est pas un FEC : c'est un fichier %(kind)s, pas un fichier texte. Un FEC est un fichier texte "
    "dont la première ligne nomme les colonnes (%(missing)s) ; exportez-le depuis le logiciel comptable."
)
BINARY = N_(
    "Ce fichier n'est pas un FEC : il contient des données binaires, pas du texte. Un FEC est un fichier texte "
    "dont la première ligne nomme les colonnes (%(missing)s) ; exportez-le depuis le logiciel comptable."
)
XML = N_(
    "Ce fichier est au format XML : le portail lit les FEC au format texte (colonnes séparées par une "
    "tabulation ou « | ») ; exportez-le sous cette forme depuis le logiciel comptable."
)
NOT_A_FEC = N_(
    "Ce fichier n'est pas un FEC : sa première ligne devrait nommer les colonnes du format (article A47 A-1 du "
    "LPF), et il y manque %(missing)s."
)
MISSING_COLUMNS = N_("L'en-tête du FEC est incomplet : il manque la colonne ou les colonnes %(missing)s.")
WRONG_SEPARATOR = N_(
    "Les colonnes sont séparées par « %(separator)s » : un FEC les sépare par une tabulation ou par « | » "
    "(le point-virgule et la virgule ne sont plus admis depuis les exercices clos en 2013). Exportez de "
    "nouveau le fichier depuis le logiciel comptable."
)
DUPLICATE_COLUMN = N_("La colonne %(column)s figure deux fois dans l'en-tête (colonnes %(first)s et %(second)s).")
HEADER_TOO_LONG = N_(
    "Ce fichier n'est pas un FEC : sa première ligne dépasse %(size)s octets, alors qu'elle devrait seulement "
    "nommer les colonnes."
)

# What a binary file is, by its first bytes (named in the message).
_MAGIC = ((b"%PDF-", "PDF"), (b"PK\x03\x04", "ZIP/XLSX"), (b"\xd0\xcf\x11\xe0", "XLS"))


@dataclass(frozen=True)
class Encoding:
    codec: str  # for Python's decoders
    label: str  # for the report
    skip: int = 0  # bytes to skip at the start (a UTF-8 BOM in a file that is not UTF-8 after all)
    errors: str = "strict"


@dataclass(frozen=True)
class Layout:
    """Where each column is on a line; ``width`` counts the cells a line splits into."""

    encoding: Encoding
    separator: str
    width: int
    trailing: bool  # the header ends with a separator: so may (or may not) every line
    positions: dict[str, int]  # the arrêté's column name -> its cell
    layout: str
    variant: str
    extra: tuple[tuple[int, str], ...] = field(default=())  # (1-based position, header) of unknown columns

    @property
    def column_count(self) -> int:
        return self.width - 1 if self.trailing else self.width


def detect_encoding(handle: BinaryIO, head: bytes) -> Encoding:
    """The encoding of the whole file (read from the start; the handle is left anywhere)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16", "UTF-16")
    bom = head.startswith(codecs.BOM_UTF8)
    if _is_utf8(handle):
        return Encoding("utf-8-sig", "UTF-8 (BOM)") if bom else Encoding("utf-8", "UTF-8")
    skip = len(codecs.BOM_UTF8) if bom else 0
    if _has_c1(handle, skip):
        # The five bytes Windows-1252 leaves undefined become U+FFFD rather than stopping the read.
        return Encoding("cp1252", "Windows-1252", skip, errors="replace")
    return Encoding("iso8859-15", "ISO-8859-15", skip)


def _is_utf8(handle: BinaryIO) -> bool:
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := handle.read(SCAN_BYTES):
            # An ASCII chunk needs no decoding, unless a character was cut at the end of the last one.
            if not chunk.isascii() or decoder.getstate()[0]:
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _has_c1(handle: BinaryIO, start: int) -> bool:
    handle.seek(start)
    while chunk := handle.read(SCAN_BYTES):
        if len(chunk.translate(None, _C1_CONTROLS)) != len(chunk):
            return True
    return False


def refuse_binary(head: bytes) -> None:
    """``FecFormatError`` for a file that is not text: a PDF, a spreadsheet, an archive, anything with NULs."""
    required = ", ".join(f.BIC_COLUMNS)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    body = head.removeprefix(codecs.BOM_UTF8).lstrip()
    for magic, kind in _MAGIC:
        if body.startswith(magic):
            raise FecFormatError("not_a_fec", NOT_TEXT, kind=kind, missing=required)
    if body[:5].lower() == b"<?xml":
        raise FecFormatError("xml", XML)
    if b"\x00" in head:
        raise FecFormatError("not_a_fec", BINARY, missing=required)


def header_layout(line: str, encoding: Encoding) -> Layout:
    """The layout the header ``line`` describes; ``FecFormatError`` if it is not a FEC's."""
    separator = _separator(line)
    cells = [cell.strip(" \xa0") for cell in line.split(separator)]
    trailing = len(cells) > 1 and not cells[-1]
    named = cells[:-1] if trailing else cells
    positions: dict[str, int] = {}
    extra: list[tuple[int, str]] = []
    for index, cell in enumerate(named):
        name = f.column_name(cell)
        if name is None:
            if not f.is_tolerated(cell):
                extra.append((index + 1, cell))
            continue
        if name in positions:
            raise FecFormatError(
                "duplicate_column", DUPLICATE_COLUMN, column=name, first=str(positions[name] + 1), second=str(index + 1)
            )
        positions[name] = index
    layout, required = _required(positions)
    variant = "BNC" if "IdClient" in positions else "BA" if set(f.CASH_BASIS_COLUMNS) & positions.keys() else "BIC"
    required += {"BIC": (), "BA": f.BA_COLUMNS[18:], "BNC": f.BNC_COLUMNS[18:]}[variant]
    missing = [name for name in required if name not in positions]
    if missing:
        found = len(required) - len(missing)
        message = NOT_A_FEC if found < len(required) // 2 else MISSING_COLUMNS
        raise FecFormatError(
            "not_a_fec" if message is NOT_A_FEC else "missing_columns", message, missing=", ".join(missing)
        )
    if layout == f.DEBIT_CREDIT:  # Montant and Sens next to Debit and Credit mean nothing: ignored
        extra += [(positions.pop(name) + 1, name) for name in (f.AMOUNT, f.DIRECTION) if name in positions]
    return Layout(
        encoding=encoding, separator=separator, width=len(cells), trailing=trailing, positions=positions,
        layout=layout, variant=variant, extra=tuple(sorted(extra)),
    )  # fmt: skip


def _separator(line: str) -> str:
    for separator in ("\t", "|"):
        if len(line.split(separator)) >= _MIN_CELLS:
            return separator
    for separator in (";", ","):
        cells = line.split(separator)
        if len(cells) >= _MIN_CELLS and sum(f.column_name(cell.strip()) is not None for cell in cells) >= _MIN_CELLS:
            raise FecFormatError("wrong_separator", WRONG_SEPARATOR, separator=separator)
    # No FEC header: name what is missing, from the cells the likeliest separator gives.
    cells = max((line.split(separator) for separator in ("\t", "|", ";", ",")), key=len)
    found = {f.column_name(cell.strip(" \xa0")) for cell in cells}
    missing = [name for name in f.BIC_COLUMNS if name not in found]
    raise FecFormatError("not_a_fec", NOT_A_FEC, missing=", ".join(missing) or ", ".join(f.BIC_COLUMNS))


def _required(positions: dict[str, int]) -> tuple[str, tuple[str, ...]]:
    """The amounts' layout, and the 18 columns it requires (Montant and Sens standing for Debit and Credit)."""
    if ("Debit" in positions and "Credit" in positions) or not (f.AMOUNT in positions or f.DIRECTION in positions):
        return f.DEBIT_CREDIT, f.BIC_COLUMNS
    columns = (*(name for name in f.BIC_COLUMNS if name not in {"Debit", "Credit"}), f.AMOUNT, f.DIRECTION)
    return f.AMOUNT_DIRECTION, columns
