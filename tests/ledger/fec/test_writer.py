"""Writing FEC files: every importable sample, written and read back, gives the same rows."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from portal.ledger import fec
from portal.ledger.fec import FecFile, fec_filename, write_fec
from tests.samples import FEC_SAMPLES

SAMPLES = FEC_SAMPLES
IMPORTABLE = [
    "neolegal-fec-reader/0000000001FEC20220831.txt",
    "neolegal-fec-reader/111111111FEC20221231.TXT",
    "lsn-fec-reader/sample_pipe.txt",
    "lsn-fec-reader/sample_tab.txt",
    "odoo-expected/odoo_l10n_fr_account_test_fec_export.expected.txt",
    "odoo-expected/odoo_l10n_fr_fec_test_wizard.expected.txt",
    "tryton-account_fr/FEC-previous.46ac5d0.csv",
    "tryton-account_fr/FEC.6ced065.csv",
]

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"the sample FEC files are not in {SAMPLES}")


def read(path: Path, filename: str | None = None) -> tuple[list[tuple], fec.Report]:
    with FecFile.open(path, filename=filename) as reader:
        rows = [row for batch in reader.batches() for row in batch]
    return rows, reader.report


def written(rows: list[tuple], tmp_path: Path, *, cash_basis: bool = False) -> Path:
    path = tmp_path / fec_filename("552008443", dt.date(2024, 12, 31))
    with path.open("wb") as out:
        write_fec(iter(rows), out, cash_basis=cash_basis)
    return path


def without_line_numbers(rows: list[tuple]) -> list[tuple]:
    return [row[1:] for row in rows]


@pytest.mark.parametrize("name", IMPORTABLE)
def test_an_importable_sample_written_and_read_back_gives_the_same_rows(tmp_path: Path, name: str) -> None:
    rows, report = read(SAMPLES / name)
    assert report.ok
    again, report_again = read(written(rows, tmp_path))
    assert without_line_numbers(again) == without_line_numbers(rows)
    assert report_again.issues == []  # and with its proper name, not even a warning
    assert (report_again.debit_total, report_again.entry_count) == (report.debit_total, report.entry_count)


def test_the_cash_basis_sample_round_trips_in_22_columns(tmp_path: Path) -> None:
    rows, report = read(SAMPLES / "neolegal-fec-reader" / "000000000FEC20231231.txt")
    assert report.variant == "BNC"
    path = written(rows, tmp_path, cash_basis=True)
    again, report_again = read(path)
    assert report_again.column_count == 22
    assert without_line_numbers(again) == without_line_numbers(rows)


def row(**values: object) -> tuple:
    defaults: dict[str, object] = {
        "line_no": 0, "journal_code": "VE", "journal_label": "Ventes", "entry_number": "VE0001",
        "entry_date": dt.date(2024, 3, 5), "account_number": "411000", "account_label": "Clients",
        "aux_account_number": "C001", "aux_account_label": "Hôtel du Lac", "piece_ref": "F2024-001",
        "piece_date": dt.date(2024, 3, 4), "label": "Facture F2024-001", "debit": 123_450, "credit": 0,
        "lettering": None, "lettering_date": None, "validation_date": dt.date(2024, 3, 6),
        "currency_amount": None, "currency": None, "settlement_date": None, "settlement_mode": None, "nature": None,
        "client_id": None,
    }  # fmt: skip
    defaults.update(values)
    return tuple(defaults[name] for name in fec.ROW_FIELDS)


def output(*rows: tuple, cash_basis: bool = False) -> bytes:
    out = io.BytesIO()
    write_fec(rows, out, cash_basis=cash_basis)
    return out.getvalue()


def test_the_format_tab_crlf_dates_and_decimal_commas() -> None:
    data = output(row(), row(debit=0, credit=-5, currency_amount=Decimal("-1437.1200"), currency="USD"))
    header, first, second, end = data.split(b"\r\n")
    assert header == b"\t".join(name.encode() for name in fec.COLUMNS[:18])
    assert first.split(b"\t") == [
        b"VE", b"Ventes", b"VE0001", b"20240305", b"411000", b"Clients", b"C001", "Hôtel du Lac".encode("iso8859-15"),
        b"F2024-001", b"20240304", b"Facture F2024-001", b"1234,50", b"0,00", b"", b"", b"20240306", b"", b"",
    ]  # fmt: skip
    assert second.split(b"\t")[11:13] == [b"0,00", b"-0,05"]
    assert second.split(b"\t")[16:18] == [b"-1437,1200", b"USD"]
    assert end == b""  # every line ends with CR LF, the last one too


def test_text_is_latin9_and_what_latin9_lacks_is_made_plain() -> None:
    data = output(row(label="Réf. d’œuvre – 5 € “net” \u2026 🙂", account_label="Frais\tde port\r\n"))
    cells = data.split(b"\r\n")[1].split(b"\t")
    assert cells[10].decode("iso8859-15") == 'Réf. d\'œuvre - 5 € "net" ... ?'
    assert b"\xa4" in cells[10]  # the euro sign, where Latin-9 has it
    assert cells[5] == b"Frais de port"  # a tab or a line break in a value would break the line


def test_cash_basis_writes_22_columns() -> None:
    data = output(row(settlement_date=dt.date(2024, 3, 20), settlement_mode="CH", nature="Honoraires"), cash_basis=True)
    header, first = data.split(b"\r\n")[:2]
    assert header.split(b"\t")[18:] == [b"DateRglt", b"ModeRglt", b"NatOp", b"IdClient"]
    assert first.split(b"\t")[18:] == [b"20240320", b"CH", b"Honoraires", b""]


def test_rows_are_written_as_they_come(tmp_path: Path) -> None:
    def many() -> object:
        for number in range(12_000):
            yield row(line_no=number, entry_number=f"VE{number:05d}", debit=100, credit=0)
            yield row(line_no=number, entry_number=f"VE{number:05d}", account_number="706000", debit=0, credit=100)

    path = tmp_path / "552008443FEC20241231.txt"
    with path.open("wb") as out:
        write_fec(many(), out)  # type: ignore[arg-type]
    report = fec.check(path)
    assert report.ok
    assert (report.line_count, report.entry_count) == (24_000, 12_000)


def test_the_file_name_the_administration_expects() -> None:
    assert fec_filename("552008443", dt.date(2024, 12, 31)) == "552008443FEC20241231.txt"
    assert fec_filename("552008443", dt.date(2025, 6, 30)) == "552008443FEC20250630.txt"
