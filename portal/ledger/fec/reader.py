"""Reading a FEC as a stream: rows in batches, checked as they go, and a report at the end.

The file is read 64 KB at a time, decoded, cut into lines, and each line into cells;
nothing holds the whole file or all its rows, only a few dozen bytes per entry for its
balance (``validation.Entries``). A line that has an error is reported and not
yielded: a file with errors is refused whole, and what is yielded always fits the ledger
(a date where a date is required, cents in Debit and Credit).

Line numbers are those an editor shows, the header being line 1. A line ends at LF, CR LF,
CR CR LF (a CR LF written again by a text-mode writer on Windows) or a lone CR (old Mac
software); the final line may have no end.

The loop over lines is the cost of an import, so it is written for speed: values that
repeat (dates, account numbers, currency amounts) are converted once and looked up
afterwards; amounts in the usual ``1234,50`` are converted inline; only what is unusual or
wrong takes the slow path through ``values`` and ``validation``. Padding is looked for once
per chunk, and cells are stripped only in chunks that have some.

Why not pyarrow or polars: on a million lines they parse the bytes in a quarter of a second,
but handing the lines back as Python tuples of their strings, converting nothing and
checking nothing, already takes pyarrow 1.4 s, against about 3 s of CPU for this whole
loop (see ``benchmarks/fec.py``). A vectorized path could at best halve the read, at the price of a
second implementation of every rule and line number above; the rows, not the parse, are
the cost of a reader that yields Python rows.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

from portal.ledger.fec import fields as f
from portal.ledger.fec import sniff, validation
from portal.ledger.fec.report import FecFormatError, Report
from portal.ledger.fec.validation import IssueLog

Row = tuple[Any, ...]
# Small chunks keep a chunk's text, lines and rows in the processor's caches: 64 KB reads a
# million lines a fifth faster than 1 MB when the rows are let go soon after (``check``).
CHUNK_BYTES = 1 << 16
MAX_LINE = 1 << 16  # characters: a FEC line is a few hundred
CACHE_SIZE = 100_000  # distinct dates, and currency amounts, remembered (a year has 366 days)
_BREAKS = re.compile(r"\r*\n|\r")
_PAD = " \xa0"
# "Not in the cache" (None is a value there: no date). Never a cached value: only dates within
# 1900–2099 are cached, and a currency amount is never NaN.
_NO_DATE_CACHED = dt.date.min
_NO_DECIMAL_CACHED = Decimal("NaN")
_TOO_LONG = "\x00" * 2  # stands for a line too long to be kept (compared by identity)
_DEBITS = frozenset({"D", "+1"})
_CREDITS = frozenset({"C", "-1"})


class FecFile:
    """An open FEC: ``batches()`` streams its rows once; ``report`` is complete when they are exhausted."""

    def __init__(self, handle: BinaryIO, layout: sniff.Layout, name: str) -> None:
        self._handle = handle
        self.layout = layout
        self.notes = IssueLog()
        self.entries = validation.Entries(self.notes)
        self.report = Report(
            encoding=layout.encoding.label, separator=layout.separator, column_count=layout.column_count,
            layout=layout.layout, variant=layout.variant,
        )  # fmt: skip
        self.report.siren, self.report.closing_date = validation.file_name(self.notes, name)
        for position, header in layout.extra:
            self.notes.warning("extra_column", validation.EXTRA_COLUMN, None, None, column=header or str(position))
        self._started = False
        self._last_line = 1
        self._empty_lines = 0
        # Caches: raw cell -> value. Only values that need no issue are kept, so a cached value never hides one.
        self._dates: dict[str, dt.date | None] = {"": None}
        self._required_dates: dict[str, dt.date | None] = {}
        self._decimals: dict[str, Decimal | None] = {"": None}
        self._accounts: dict[str, bool] = {}
        # The entry whose lines are being read: journal, number, first line, debit, credit, date.
        self._run: tuple[str, str, int, int, int, dt.date] | None = None

    @classmethod
    def open(cls, path: Path, *, filename: str | None = None) -> FecFile:
        """Open ``path`` and read its header; ``FecFormatError`` if it cannot be read as a FEC.

        ``filename`` is the name the person gave the file (the stored one may be random); it
        is checked against ``<SIREN>FEC<AAAAMMJJ>``.
        """
        handle = path.open("rb")
        try:
            return cls(handle, _sniff(handle), filename or path.name)
        except BaseException:
            handle.close()
            raise

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def batches(self, size: int = 20_000) -> Iterator[list[Row]]:
        """The rows, ``size`` at a time, in file order (``fields.ROW_FIELDS``); once only."""
        if self._started:
            raise RuntimeError("a FEC file is read once")
        self._started = True
        pending: list[Row] = []
        line_no = 0
        for lines, padded in _chunks(self._handle, self.layout):
            if line_no == 0:
                lines = lines[1:]  # the header  # noqa: PLW2901
                line_no = 1
            line_no = self._last_line = self._parse(lines, line_no, padded, pending)
            while len(pending) >= size:
                yield pending[:size]
                del pending[:size]
        if pending:
            yield pending
        self._finish()

    def _finish(self) -> None:
        if self._run is not None:
            self.entries.add_run(self._run)
            self._run = None
        self.entries.finish(self.report)
        self.report.account_count = len(self._accounts)
        self.report.line_count = self._last_line - 1 - self._empty_lines
        self.notes.into(self.report)

    def _parse(self, lines: list[str], line_no: int, padded: bool, out: list[Row]) -> int:  # noqa: C901, PLR0912, PLR0915
        """Append the rows of ``lines`` (following line ``line_no``) to ``out``; return the last line's number.

        The hot loop: a line costs a few microseconds, a third of it splitting the line and
        building its row. Cells are unpacked straight from the split when the columns are in the
        arrêté's order (nearly every file), through an ``itemgetter`` otherwise.
        """
        layout = self.layout
        separator, width, trailing = layout.separator, layout.width, layout.trailing
        directed = layout.layout == f.AMOUNT_DIRECTION
        bic = layout.variant == "BIC"
        positions = dict(layout.positions)
        if directed:
            positions["Debit"], positions["Credit"] = positions[f.AMOUNT], positions[f.DIRECTION]
        ordered = (
            not trailing and not directed and all(positions.get(name) == i for i, name in enumerate(f.COLUMNS[:width]))
        )
        direct18, direct22 = ordered and width == 18, ordered and width == 22  # noqa: PLR2004 - BIC, BNC
        cells = itemgetter(*(positions.get(name, width) for name in f.COLUMNS))  # absent: the "" appended
        notes, entries = self.notes, self.entries
        dates, required_dates, decimals, accounts = self._dates, self._required_dates, self._decimals, self._accounts
        debit_column = f.AMOUNT if directed else "Debit"
        validation_dates = required_dates if bic else dates  # ValidDate may be empty in the cash-basis variants
        date_of, cents_of = self._date, self._cents
        append, miss, no_decimal, strip = out.append, _NO_DATE_CACHED, _NO_DECIMAL_CACHED, str.strip
        debit: int | None
        credit: int | None
        sd = sm = na = ci = ""
        run = self._run
        if run is None:
            run_journal = run_number = ""
            run_line = run_debit = run_credit = 0
            run_date = dt.date.min
        else:
            run_journal, run_number, run_line, run_debit, run_credit, run_date = run
        for text in lines:
            line_no += 1
            values = text.split(separator)
            if len(values) != width or (trailing and values[-1]):
                fixed = self._odd_line(text, values, line_no)
                if fixed is None:
                    continue
                values = fixed
            if padded:
                values = [strip(value, _PAD) for value in values]
            else:  # the chunk has no padding next to a separator; the line's ends may still have some
                values[0] = strip(values[0], _PAD)
                values[-1] = strip(values[-1], _PAD)
            errors = notes.error_count
            if direct18:
                jc, jl, en, ed, cn, cl, an, al, pr, pd, lb, de, cr, lt, ld, vd, ca, cu = values
            elif direct22:
                jc, jl, en, ed, cn, cl, an, al, pr, pd, lb, de, cr, lt, ld, vd, ca, cu, sd, sm, na, ci = values
            else:
                values.append("")
                jc, jl, en, ed, cn, cl, an, al, pr, pd, lb, de, cr, lt, ld, vd, ca, cu, sd, sm, na, ci = cells(values)
            if not (jc and en and cn and cl and pr and lb and (jl or not bic)):
                self._required(line_no, jc, jl, en, cn, cl, pr, lb)

            # Dates: looked up (a year has a few hundred of them), converted the first time only.
            entry_date = required_dates.get(ed, miss)
            if entry_date is miss:
                entry_date = date_of(ed, line_no, "EcritureDate", required=True)
            piece_date = entry_date if pd == ed else required_dates.get(pd, miss)
            if piece_date is miss:
                piece_date = date_of(pd, line_no, "PieceDate", required=True)
            lettering_date = dates.get(ld, miss) if ld else None
            if lettering_date is miss:
                lettering_date = date_of(ld, line_no, "DateLet", required=False)
            validation_date = validation_dates.get(vd, miss)
            if validation_date is miss:
                validation_date = date_of(vd, line_no, "ValidDate", required=bic)
            settlement_date = dates.get(sd, miss) if sd else None
            if settlement_date is miss:
                settlement_date = date_of(sd, line_no, "DateRglt", required=False)

            # Amounts: most are unique, so "1234,50" is converted inline, not looked up; the rest
            # (a sign after, an exponent, an error) takes the slow path. int() alone would take
            # "1_000", non-ASCII digits or a number too large for the ledger: hence the checks.
            if de == "0,00":
                debit = 0
            elif de[-3:-2] == "," and len(de) < 20 and de.isascii() and "_" not in de:  # noqa: PLR2004
                try:
                    debit = int(de[:-3] + de[-2:])
                except ValueError:
                    debit = cents_of(de, line_no, debit_column)
            else:
                debit = cents_of(de, line_no, debit_column)
            if directed:  # Montant and Sens: the amount goes to the side the direction says
                direction = cr.upper()
                if direction in _CREDITS:
                    debit, credit = 0, debit
                elif direction in _DEBITS:
                    credit = 0
                else:
                    notes.error("direction", validation.DIRECTION, line_no, f.DIRECTION, value=cr)
                    entries.add_faulty(jc, en, line_no, debit=None, credit=None, day=entry_date)
                    continue
            elif cr == "0,00":
                credit = 0
            elif cr[-3:-2] == "," and len(cr) < 20 and cr.isascii() and "_" not in cr:  # noqa: PLR2004
                try:
                    credit = int(cr[:-3] + cr[-2:])
                except ValueError:
                    credit = cents_of(cr, line_no, "Credit")
            else:
                credit = cents_of(cr, line_no, "Credit")
            currency_amount = decimals.get(ca, no_decimal) if ca else None
            if currency_amount is no_decimal:
                currency_amount = self._decimal(ca, line_no)

            account_ok = accounts.get(cn)
            if account_ok is None:  # the accounts are counted too: all of them are kept
                account_ok = accounts[cn] = validation.account_ok(cn)
            if not account_ok:
                notes.warning("account_prefix", validation.ACCOUNT_PREFIX, line_no, "CompteNum", value=cn)

            if notes.error_count != errors or debit is None or credit is None or entry_date is None:
                # Reported, and not yielded (the file will be refused); its amounts still count in its entry.
                entries.add_faulty(jc, en, line_no, debit=debit, credit=credit, day=entry_date)
                continue
            if (not debit) is (not credit):
                validation.sides(notes, line_no, debit, credit)
            # The entry: lines of one entry follow each other, so only the current one is summed here.
            if en == run_number and jc == run_journal:
                run_debit += debit
                run_credit += credit
                if entry_date is not run_date and entry_date != run_date:
                    entries.dated_apart(jc, en, line_no, entry_date, (run_line, run_date))
            else:
                if run_line:
                    entries.add_run((run_journal, run_number, run_line, run_debit, run_credit, run_date))
                run_journal, run_number, run_line, run_debit, run_credit, run_date = (
                    jc, en, line_no, debit, credit, entry_date
                )  # fmt: skip
            append((
                line_no, jc, jl or None, en, entry_date, cn, cl, an or None, al or None, pr, piece_date, lb, debit,
                credit, lt or None, lettering_date, validation_date, currency_amount, cu or None, settlement_date,
                sm or None, na or None, ci or None,
            ))  # fmt: skip
        if run_line:
            self._run = (run_journal, run_number, run_line, run_debit, run_credit, run_date)
        return line_no

    # --- the slow paths -------------------------------------------------------------------

    def _odd_line(self, text: str, values: list[str], line_no: int) -> list[str] | None:
        """The cells of a line that does not split into the header's width, when it still can be read."""
        layout = self.layout
        if text is _TOO_LONG:
            self.notes.error("line_too_long", validation.LINE_TOO_LONG, line_no, None, size=str(MAX_LINE))
            return None
        if not text.strip(_PAD):
            self._empty_lines += 1
            self.notes.warning("empty_line", validation.EMPTY_LINE, line_no)
            return None
        if layout.trailing:
            if len(values) == layout.width - 1:  # the trailing separator is optional
                return [*values[:-1], values[-1].strip(_PAD), ""]
            if len(values) == layout.width and not values[-1].strip(_PAD):
                return values
        found = len(values) - (1 if layout.trailing and not values[-1].strip(_PAD) else 0)
        self.notes.error(
            "field_count", validation.FIELD_COUNT, line_no, None, found=str(found), expected=str(layout.column_count)
        )
        # Its first cells are likely right (a stray separator is usually in a label, further on):
        # the entry they name is missing a line, which is this error, not an imbalance besides.
        journal, number = (layout.positions["JournalCode"], layout.positions["EcritureNum"])
        if max(journal, number) < len(values):
            self.entries.add_faulty(
                values[journal].strip(_PAD), values[number].strip(_PAD), line_no, debit=None, credit=None, day=None
            )
        return None

    def _required(self, line_no: int, *values: str) -> None:
        names = ("JournalCode", "JournalLib", "EcritureNum", "CompteNum", "CompteLib", "PieceRef", "EcritureLib")
        required = f.REQUIRED_TEXT[self.layout.variant]
        for name, value in zip(names, values, strict=True):
            if not value and name in required:
                self.notes.error("required", validation.REQUIRED, line_no, name, field=name)

    def _date(self, raw: str, line_no: int, column: str, *, required: bool) -> dt.date | None:
        day, cacheable = validation.date(self.notes, raw, line_no, column, required=required)
        if cacheable:  # a real date for both caches; no date (empty, zeros) only where one may be missing
            if day is not None and len(self._required_dates) < CACHE_SIZE:
                self._required_dates[raw] = day
            if len(self._dates) < CACHE_SIZE:
                self._dates[raw] = day
        return day

    def _cents(self, raw: str, line_no: int, column: str) -> int | None:
        return validation.cents(self.notes, raw, line_no, column)

    def _decimal(self, raw: str, line_no: int) -> Decimal | None:
        value, valid = validation.decimal(self.notes, raw, line_no, "Montantdevise")
        if valid and len(self._decimals) < CACHE_SIZE:
            self._decimals[raw] = value
        return value


def _sniff(handle: BinaryIO) -> sniff.Layout:
    head = handle.read(sniff.SNIFF_BYTES)
    if not head.strip():
        raise FecFormatError("empty", sniff.EMPTY)
    sniff.refuse_binary(head)
    encoding = sniff.detect_encoding(handle, head)
    text = codecs.getincrementaldecoder(encoding.codec)(encoding.errors).decode(head[encoding.skip :])
    match = _BREAKS.search(text)
    if match is None:
        if len(head) == sniff.SNIFF_BYTES:
            raise FecFormatError("not_a_fec", sniff.HEADER_TOO_LONG, size=str(sniff.SNIFF_BYTES))
        header, rest = text, ""
    else:
        header, rest = text[: match.start()], text[match.end() :]
    layout = sniff.header_layout(header, encoding)
    if not rest.strip() and len(head) < sniff.SNIFF_BYTES:
        raise FecFormatError("empty", sniff.EMPTY)
    return layout


def _chunks(handle: BinaryIO, layout: sniff.Layout) -> Iterator[tuple[list[str], bool]]:
    """(the file's lines, a chunk at a time, the header first; whether the chunk has padding to strip)."""
    encoding = layout.encoding
    handle.seek(encoding.skip)
    decoder = codecs.getincrementaldecoder(encoding.codec)(encoding.errors)
    carry = ""
    overlong = False  # the carry outgrew MAX_LINE and was dropped: the line it began is no FEC line
    while True:
        data = handle.read(CHUNK_BYTES)
        final = not data
        text = decoder.decode(data, final)
        if carry:
            text = carry + text
        if final:
            body, carry = text, ""
        else:
            end = len(text.rstrip("\r"))  # a CR at the very end may be the first half of a CR LF
            cut = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end)) + 1
            body, carry = text[:cut], text[cut:]
        lines = _split(body)
        if not final or not lines[-1]:
            lines.pop()  # what follows the last line break: the carry, or nothing
        if overlong and (lines or final):
            lines[:1] = [_TOO_LONG]
            overlong = False
        if len(carry) > MAX_LINE:
            carry, overlong = "", True
        if lines:
            yield lines, _padded(body, layout.separator)
        if final:
            return


def _split(body: str) -> list[str]:
    """``body`` cut at its line breaks; the last item is what follows the last break."""
    returns = body.count("\r")
    if not returns:
        return body.split("\n")
    lines = body.split("\r\n")
    if returns == len(lines) - 1 and body.count("\n") == returns:
        return lines
    return _BREAKS.split(body)  # CR CR LF, lone CRs: rare, and slower


def _padded(body: str, separator: str) -> bool:
    """Whether a cell of ``body`` may begin or end with a space (bar the line's first and last, always stripped)."""
    return "\xa0" in body or f" {separator}" in body or f"{separator} " in body
