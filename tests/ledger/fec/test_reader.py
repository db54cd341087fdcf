"""Reading FEC files: each quirk on the real sample that has it, or on a copy of one made to have it."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from portal.ledger import fec
from portal.ledger.fec import ROW_FIELDS, FecFile, FecFormatError, reader
from tests.samples import FEC_SAMPLES

SAMPLES = FEC_SAMPLES
NEOLEGAL = SAMPLES / "neolegal-fec-reader"
AGRICULTURAL = NEOLEGAL / "0000000001FEC20220831.txt"  # TAB, UTF-8 with BOM, LF
CASH_BASIS = NEOLEGAL / "000000000FEC20231231.txt"  # 22 columns
PADDED = NEOLEGAL / "111111111FEC20221231.TXT"  # pipe + trailing pipe, padded, not UTF-8
PIPE_SENS = SAMPLES / "lsn-fec-reader" / "sample_pipe.txt"  # Montant/Sens, no final newline
TAB = SAMPLES / "lsn-fec-reader" / "sample_tab.txt"
ODOO = SAMPLES / "odoo-expected" / "odoo_l10n_fr_account_test_fec_export.expected.txt"  # pipe, CRLF, padded amounts
TRYTON = SAMPLES / "tryton-account_fr" / "FEC.6ced065.csv"  # TAB, CRLF

pytestmark = [
    pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"the sample FEC files are not in {SAMPLES}"),
    pytest.mark.once,  # pure parsing: see pyproject.toml
]

FIELD = {name: index for index, name in enumerate(ROW_FIELDS)}


def read(path: Path, filename: str | None = None) -> tuple[list[tuple], fec.Report]:
    with FecFile.open(path, filename=filename) as opened:
        rows = [row for batch in opened.batches() for row in batch]
    return rows, opened.report


def refusal(path: Path) -> FecFormatError:
    with pytest.raises(FecFormatError) as caught:
        FecFile.open(path)
    return caught.value


def value(row: tuple, name: str) -> object:
    return row[FIELD[name]]


def test_a_row_is_a_plain_tuple_in_row_fields_order() -> None:
    rows, report = read(AGRICULTURAL)
    assert len(rows) == report.line_count == 5_422
    first = dict(zip(ROW_FIELDS, rows[0], strict=True))
    assert first == {
        "line_no": 2, "journal_code": "ANO", "journal_label": "A nouveaux", "entry_number": "1",
        "entry_date": dt.date(2021, 9, 1), "account_number": "101500",
        "account_label": "Capital souscrit appelé, versé", "aux_account_number": None, "aux_account_label": None,
        "piece_ref": "RAN", "piece_date": dt.date(2021, 9, 1), "label": "Report à nouveau", "debit": 0,
        "credit": 1_350_000, "lettering": None, "lettering_date": None, "validation_date": dt.date(2022, 7, 26),
        "currency_amount": None, "currency": None, "settlement_date": None, "settlement_mode": None,
        "nature": None, "client_id": None,
    }  # fmt: skip
    assert rows[-1][0] == 5_423  # line numbers count the header as line 1


def test_tab_utf8_with_bom_and_lf() -> None:
    assert AGRICULTURAL.read_bytes().startswith(b"\xef\xbb\xbf\xff"[:3])
    rows, report = read(AGRICULTURAL)
    assert (report.separator, report.encoding, report.column_count, report.variant) == ("\t", "UTF-8 (BOM)", 18, "BIC")
    assert value(rows[0], "journal_code") == "ANO"  # the BOM is not part of the first column's name or value
    assert any(value(row, "lettering") == "AACM" for row in rows)


def test_pipe_with_a_trailing_pipe_and_space_padded_fixed_width_cells() -> None:
    assert PADDED.read_bytes().splitlines()[1].endswith(b"|||")
    rows, report = read(PADDED)
    assert (report.separator, report.column_count, report.line_count) == ("|", 18, 934)
    first = rows[0]
    assert value(first, "journal_code") == "VE"  # "VE  " in the file
    assert value(first, "account_label") == "VENTE NECTAR DE FRAISE"
    assert value(first, "aux_account_number") is None  # eight spaces
    assert value(first, "piece_ref") == "VE  0123"  # inner spaces are the value's own
    assert (value(first, "debit"), value(first, "credit")) == (0, 6_960)  # 0000000000,00 / 0000000069,60


def test_capitalised_header_names_are_matched() -> None:
    header = PADDED.read_bytes().splitlines()[0]
    assert b"|MontantDevise|" in header
    _rows, report = read(PADDED)
    assert report.ok


def test_a_file_that_is_not_utf8_is_read_as_a_single_byte_code_page() -> None:
    data = PADDED.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    rows, report = read(PADDED)
    assert report.encoding == "ISO-8859-15"  # no byte 0x80-0x9F: not Windows-1252
    labels = {value(row, "label") for row in rows if value(row, "line_no") in {779, 807}}
    assert labels == {"CREATø MAQUETTE ETIQ", "SIMULATø LICHEN DE M"}  # byte 0xF8


def test_windows_1252_is_recognised_by_its_own_characters(tmp_path: Path) -> None:
    text = TAB.read_text(encoding="utf-8").replace("Fournitures admin.", "Fournitures d’œuvre 5 €")
    path = tmp_path / "cp1252.txt"
    path.write_bytes(text.encode("cp1252"))
    rows, report = read(path)
    assert report.encoding == "Windows-1252"
    assert value(rows[0], "account_label") == "Fournitures d’œuvre 5 €"
    latin9 = tmp_path / "latin9.txt"
    latin9.write_bytes(text.replace("’", "'").encode("iso8859-15"))
    rows, report = read(latin9)
    assert report.encoding == "ISO-8859-15"
    assert value(rows[0], "account_label") == "Fournitures d'œuvre 5 €"  # 0xBD and 0xA4 in Latin-9


def test_utf16_with_its_bom_as_excel_saves_unicode_text(tmp_path: Path) -> None:
    path = tmp_path / "excel.txt"
    path.write_bytes(TAB.read_text(encoding="utf-8").encode("utf-16"))
    rows, report = read(path)
    assert report.encoding == "UTF-16"
    assert rows == read(TAB)[0]


def test_crlf_and_no_final_newline() -> None:
    data = ODOO.read_bytes()
    assert b"\r\n" in data
    assert not data.endswith(b"\n")
    rows, report = read(ODOO)
    assert report.line_count == len(rows) == 5
    assert value(rows[-1], "currency") == "USD"  # the last line, without its line break, is read whole


@pytest.mark.parametrize("ending", ["\r\n", "\r\r\n", "\r", "\n"])
def test_every_line_ending_gives_the_same_rows_and_line_numbers(tmp_path: Path, ending: str) -> None:
    lines = TRYTON.read_bytes().decode("utf-8").splitlines()
    path = tmp_path / "endings.txt"
    path.write_bytes(ending.join(lines).encode("utf-8") + ending.encode())
    rows, report = read(path)
    assert report.ok, [issue.text() for issue in report.issues]
    assert rows == read(TRYTON)[0]
    assert [row[0] for row in rows] == [2, 3, 4, 5]


def test_line_endings_cut_by_the_chunk_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "CHUNK_BYTES", 7)  # every CR LF and CR CR LF ends up cut somewhere
    for ending in ("\r\n", "\r\r\n", "\r"):
        path = tmp_path / "small-chunks.txt"
        path.write_bytes(ending.join(TAB.read_text(encoding="utf-8").splitlines()).encode("utf-8"))
        rows, report = read(path)
        assert report.ok
        assert rows == read(TAB)[0]


def test_zero_padded_and_signed_amounts_with_a_decimal_comma() -> None:
    rows, _report = read(ODOO)
    by_line = {row[0]: row for row in rows}
    assert value(by_line[2], "credit") == 300_000  # " 000000000003000,00"
    assert value(by_line[4], "currency_amount") == Decimal("-1000.00")  # "-000000000001000,00"
    assert value(by_line[6], "currency_amount") == Decimal("3000.00")


def test_trailing_signs_and_other_shapes_the_tester_accepts(tmp_path: Path) -> None:
    header, *lines = TAB.read_text(encoding="utf-8").splitlines()
    # The purchase AC0001: 1200 + 240 debit, 1440 credit, rewritten with the other accepted shapes.
    lines[0] = lines[0].replace("\t1200,00\t0,00\t", "\t-1200,00-\t0,00\t")  # two signs: not an amount
    lines[1] = lines[1].replace("\t240,00\t0,00\t", "\t240\t\t")  # no decimals; empty credit is zero
    lines[2] = lines[2].replace("\t0,00\t1440,00\t", "\t1200,00-\t-2640,00\t")  # trailing sign: -1200 - (-2640)
    path = tmp_path / "signs.txt"
    path.write_text("\n".join([header, *lines]), encoding="utf-8")
    rows, report = read(path)
    assert [issue.code for issue in report.errors] == ["amount_not_numeric"]
    assert report.errors[0].line == 2
    line3, line4 = rows[0], rows[1]
    assert (value(line3, "debit"), value(line3, "credit")) == (24_000, 0)
    assert (value(line4, "debit"), value(line4, "credit")) == (-120_000, -264_000)


def test_montant_and_sens_instead_of_debit_and_credit() -> None:
    rows, report = read(PIPE_SENS)
    assert report.layout == "amount_direction"
    assert report.ok
    assert [(value(row, "debit"), value(row, "credit")) for row in rows] == [
        (0, 250_000), (250_000, 0), (80_000, 0), (0, 80_000)
    ]  # fmt: skip
    assert value(rows[2], "account_label") == "Achats matières"


def test_sens_as_plus_and_minus_one(tmp_path: Path) -> None:
    text = PIPE_SENS.read_text(encoding="utf-8").replace("|C|", "|-1|").replace("|D|", "|+1|")
    path = tmp_path / "sens.txt"
    path.write_text(text, encoding="utf-8")
    rows, report = read(path)
    assert report.ok
    assert rows == read(PIPE_SENS)[0]


def test_the_cash_basis_variant_has_22_columns() -> None:
    rows, report = read(CASH_BASIS)
    assert (report.variant, report.column_count) == ("BNC", 22)
    first = rows[0]
    assert value(first, "journal_code") == "ac"  # lower case, kept as it is
    assert value(first, "settlement_date") == dt.date(2023, 1, 31)
    assert value(first, "settlement_mode") == "CH"
    assert (value(first, "nature"), value(first, "client_id")) == (None, None)
    assert value(first, "validation_date") is None  # ValidDate may be empty in the cash-basis variants


def test_the_agricultural_variant_has_no_client_column(tmp_path: Path) -> None:
    lines = CASH_BASIS.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "ba.txt"
    path.write_text("\n".join(line.rsplit("\t", 1)[0] for line in lines) + "\n", encoding="utf-8")
    rows, report = read(path)
    assert (report.variant, report.column_count) == ("BA", 21)
    assert value(rows[0], "settlement_mode") == "CH"


def test_columns_in_another_order_are_found_by_name(tmp_path: Path) -> None:
    lines = [line.split("\t") for line in TAB.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "shuffled.txt"
    path.write_text("\n".join("\t".join(cells[::-1]) for cells in lines), encoding="utf-8")
    assert read(path)[0] == read(TAB)[0]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("20240115", dt.date(2024, 1, 15)),
        ("2024-01-15", dt.date(2024, 1, 15)),
        ("15/01/2024", dt.date(2024, 1, 15)),
        ("15.01.2024", dt.date(2024, 1, 15)),
        ("15-01-2024", dt.date(2024, 1, 15)),
        ("2024/01/15", dt.date(2024, 1, 15)),
        ("15012024", dt.date(2024, 1, 15)),  # day first without separators: the year first does not fit
        ("2024-01-15T10:30:00", dt.date(2024, 1, 15)),
        ("20240115 08:00:00", dt.date(2024, 1, 15)),
    ],
)
def test_dates_in_every_shape_the_tester_accepts(tmp_path: Path, written: str, expected: dt.date) -> None:
    header, *lines = TAB.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "dates.txt"
    lines[0] = lines[0].replace("\t20240110\t", f"\t{written}\t")  # PieceDate
    path.write_text("\n".join([header, *lines]), encoding="utf-8")
    rows, report = read(path)
    assert report.ok
    assert value(rows[0], "piece_date") == expected


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    lines = TAB.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "extra.txt"
    path.write_text(
        "\n".join([lines[0] + "\tCodeAnalytique", *(line + "\tA1" for line in lines[1:])]), encoding="utf-8"
    )
    rows, report = read(path)
    assert report.ok
    assert [issue.code for issue in report.warnings] == ["file_name", "extra_column"]
    assert rows == read(TAB)[0]


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    for name, data in (
        ("empty.txt", b""),
        ("blank.txt", b" \r\n\r\n"),
        ("header.txt", TAB.read_bytes().split(b"\n")[0]),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        error = refusal(path)
        assert error.code == "empty", name
        assert "fichier vide" in error.text()


def test_a_file_that_is_not_a_fec_is_refused_naming_the_missing_columns(tmp_path: Path) -> None:
    error = refusal(SAMPLES / "test-compta-demat" / "RULES.md")
    assert error.code == "not_a_fec"
    assert "JournalCode, JournalLib, EcritureNum" in error.text()
    csv = tmp_path / "clients.csv"
    csv.write_text("Nom\tPrénom\tVille\tCode postal\tTéléphone\tMail\tSIREN\tNAF\tCapital\tForme\n", encoding="utf-8")
    assert refusal(csv).code == "not_a_fec"
    pdf = tmp_path / "releve.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n")
    error = refusal(pdf)
    assert (error.code, error.params["kind"]) == ("not_a_fec", "PDF")
    assert "JournalCode" in error.text()
    binary = tmp_path / "image.bin"
    binary.write_bytes(bytes(range(256)) * 10)
    assert refusal(binary).code == "not_a_fec"


def test_a_header_missing_some_columns_names_them(tmp_path: Path) -> None:
    lines = TAB.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "incomplete.txt"
    path.write_text("\n".join("\t".join(line.split("\t")[:16]) for line in lines), encoding="utf-8")
    error = refusal(path)
    assert error.code == "missing_columns"
    assert error.params["missing"] == "Montantdevise, Idevise"


@pytest.mark.parametrize(("separator", "name"), [(";", "point-virgule"), (",", "virgule")])
def test_semicolons_and_commas_are_refused_with_their_reason(tmp_path: Path, separator: str, name: str) -> None:
    path = tmp_path / "csv.txt"
    path.write_text(TAB.read_text(encoding="utf-8").replace("\t", separator), encoding="utf-8")
    error = refusal(path)
    assert (error.code, error.params["separator"]) == ("wrong_separator", separator)
    assert name in error.text()
    assert "tabulation" in error.text()


def test_check_never_raises_for_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    report = fec.check(path)
    assert not report.ok
    assert [(issue.code, issue.line) for issue in report.issues] == [("empty", None)]


def test_batches_stream_once_in_batches_of_the_size_asked() -> None:
    with FecFile.open(AGRICULTURAL) as opened:
        sizes = [len(batch) for batch in opened.batches(1_000)]
        assert sizes == [1_000] * 5 + [422]
        with pytest.raises(RuntimeError):
            next(opened.batches())


def test_an_overlong_line_is_an_error_not_a_memory_hog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "CHUNK_BYTES", 4096)
    lines = TAB.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "long.txt"
    path.write_text("\n".join([*lines[:3], "x" * 200_000, *lines[3:]]), encoding="utf-8")
    rows, report = read(path)
    assert (report.errors[0].code, report.errors[0].line) == ("line_too_long", 4)
    assert [row[0] for row in rows] == [2, 3, 5, 6, 7, 8, 9]  # the lines after it keep their numbers


# VmHWM is this process image's own peak (reset at exec); ru_maxrss would carry over the peak of
# the forked test process, which has nothing to do with the reader.
MEMORY_PROBE = """
import re, sys
from pathlib import Path
from portal.ledger import fec
report = fec.check(Path(sys.argv[1]))
peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
print(report.ok, report.line_count, report.entry_count, peak)
"""


def _million_lines(path: Path) -> None:
    """A million lines in 250,000 balanced entries of four lines, 150 MB, written fast."""
    line = (
        "VE\tVentes\tVE{n:07d}\t{day}\t{account}\t{label}\t{aux}\t{aux_label}\tF{n:07d}\t{day}\t"
        "Facture F{n:07d} Brasserie de la Gare\t{debit}\t{credit}\t\t\t{day}\t\t"
    )
    accounts = (("411000", "Clients", "C0042", "Brasserie de la Gare"), ("706000", "Prestations de services", "", ""),
                ("708500", "Ports et frais facturés", "", ""), ("445710", "TVA collectée", "", ""))  # fmt: skip
    with path.open("w", encoding="utf-8") as out:
        out.write("\t".join(fec.COLUMNS[:18]) + "\n")
        for n in range(250_000):
            day = f"2024{1 + n % 12:02d}{1 + n % 28:02d}"
            amounts = (("1234,56", "0,00"), ("0,00", "1000,00"), ("0,00", "28,80"), ("0,00", "205,76"))
            out.write("\n".join(
                line.format(n=n, day=day, account=account, label=label, aux=aux, aux_label=aux_label, debit=d, credit=c)
                for (account, label, aux, aux_label), (d, c) in zip(accounts, amounts, strict=True)
            ) + "\n")  # fmt: skip


def test_a_million_lines_stream_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "million.txt"
    _million_lines(path)
    size_mb = path.stat().st_size / 1_048_576
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True, text=True, timeout=600, check=True
    )
    ok, lines, entries, max_rss_kb = probe.stdout.split()
    assert (ok, lines, entries) == ("True", "1000000", "250000")
    # Neither the file (~140 MB) nor its rows (some 700 MB as tuples) are ever held: what remains
    # is the interpreter (~25 MB), a batch or two of rows, and a few dozen bytes per entry.
    assert int(max_rss_kb) / 1024 < 200, (max_rss_kb, size_mb)
