"""Writing a FEC: the arrêté's columns, a tab between them, dates ``AAAAMMJJ``, amounts ``1234,50``.

Choices, where the arrêté leaves one:

* **ISO-8859-15.** The text of article A47 A-1 names ASCII, ISO 8859-15 or EBCDIC, and no
  more; Latin-9 holds every French character (``€``, ``œ``, ``Ÿ``), and every French
  accounting program reads it. The few characters it lacks, mostly typographic ones pasted
  from a word processor (’ “ ” – — …), are written as their plain equivalents, and anything
  else as ``?``, rather than failing an export.
* **CR LF** after every line, the last included. The arrêté allows CR and/or LF; CR LF is
  what the administration's Windows tools and most accounting software write, and every
  reader, ours and the DGFiP's tester among them, takes it.
* **A tab** between columns: a label may hold a ``|``, none holds a tab. A tab, CR or LF
  inside a value, which no reader could split right, becomes a space; spaces at the ends of
  a value are dropped, as every reader drops them.

Written back by ``reader``, the rows come out the same, ``line_no`` aside.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, BinaryIO

from portal.ledger.fec import fields as f
from portal.ledger.fec.values import format_cents, format_date, format_decimal

ENCODING = "iso8859-15"
LINE_END = "\r\n"
SEPARATOR = "\t"
_ERRORS = "portal_fec_plain"
# Characters outside Latin-9 that labels hold most, as the nearest Latin-9 text; others become "?".
_PLAIN = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2013": "-",
    "\u2014": "-", "\u2026": "...", "\u2022": "-", "\u2009": " ", "\u202f": " ", "\u2122": "TM",
    # Latin-1 characters that Latin-9 replaced by € Š š Ž ž Œ œ Ÿ.
    "\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u00a4": "", "\u00a6": "|", "\u00a8": "", "\u00b4": "'",
    "\u00b8": "",
}  # fmt: skip
_BREAKING = str.maketrans({"\t": " ", "\r": " ", "\n": " "})
_BUFFER_LINES = 5_000
_PAD = " \xa0"


def _plain(error: UnicodeError) -> tuple[str, int]:
    """The encoding's error handler: only the few characters Latin-9 lacks come here, one run at a time."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(_PLAIN.get(character, "?") for character in text), error.end


codecs.register_error(_ERRORS, _plain)


def fec_filename(siren: str, closing: dt.date) -> str:
    """The name the administration expects: ``<SIREN>FEC<AAAAMMJJ>.txt``, the date being the closing date."""
    return f"{siren}FEC{format_date(closing)}.txt"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return (value if value.__class__ is str else str(value)).strip(_PAD)


def _cents(value: int | None) -> str:
    if not value:
        return "0,00"
    return format_cents(value)


def _decimal(value: Any) -> str:
    if value is None:
        return ""
    return format_decimal(value if isinstance(value, Decimal) else Decimal(value))


def write_fec(rows: Iterable[tuple[Any, ...]], out: BinaryIO, *, cash_basis: bool = False) -> None:
    """Write ``rows`` (``ROW_FIELDS`` order; ``line_no`` is ignored) to ``out`` as a FEC, header first.

    ``cash_basis`` writes the 22 columns of the BNC/BA variant (DateRglt, ModeRglt, NatOp,
    IdClient) rather than 18. Rows are written as they come, a few thousand lines at a time.
    """
    columns = f.BNC_COLUMNS if cash_basis else f.BIC_COLUMNS
    separators = len(columns) - 1
    days: dict[dt.date, str] = {}

    def day(value: dt.date | None) -> str:
        if value is None:
            return ""
        text = days.get(value)
        if text is None:
            text = days[value] = format_date(value)
        return text

    text = _text
    lines = [SEPARATOR.join(columns)]
    for row in rows:
        (_line_no, jc, jl, en, ed, cn, cl, an, al, pr, pd, lb, de, cr, lt, ld, vd, ca, cu, sd, sm, na, ci) = row
        cells = [
            text(jc), text(jl), text(en), day(ed), text(cn), text(cl), text(an), text(al), text(pr), day(pd),
            text(lb), _cents(de), _cents(cr), text(lt), day(ld), day(vd), _decimal(ca), text(cu),
        ]  # fmt: skip
        if cash_basis:
            cells += [day(sd), text(sm), text(na), text(ci)]
        line = SEPARATOR.join(cells)
        if line.count(SEPARATOR) != separators or "\r" in line or "\n" in line:
            # A tab, CR or LF inside a value would split it: a space instead, and the line joined again.
            line = SEPARATOR.join(cell.translate(_BREAKING).strip(_PAD) for cell in cells)
        lines.append(line)
        if len(lines) >= _BUFFER_LINES:
            out.write(_encoded(lines))
            lines = []
    if lines:
        out.write(_encoded(lines))


def write_chunk(rows: list[tuple[Any, ...]], *, cash_basis: bool, header: bool) -> bytes:
    """``rows`` as FEC bytes, with the header line only if ``header``: the pieces of a streamed file."""
    buffer = io.BytesIO()
    write_fec(rows, buffer, cash_basis=cash_basis)
    data = buffer.getvalue()
    if not header:  # the writer always starts with the header line: keep it once, at the top
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return data


def _encoded(lines: list[str]) -> bytes:
    return (LINE_END.join(lines) + LINE_END).encode(ENCODING, errors=_ERRORS)
