"""Checking FEC files: what every real sample gives, then each rule of the DGFiP tester and of ours."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import main
from portal.ledger import fec
from portal.ledger.fec import FecFile, Report, Severity
from tests.samples import FEC_SAMPLES

SAMPLES = FEC_SAMPLES
NEOLEGAL = SAMPLES / "neolegal-fec-reader"
TAB = SAMPLES / "lsn-fec-reader" / "sample_tab.txt"
PIPE_SENS = SAMPLES / "lsn-fec-reader" / "sample_pipe.txt"
CASH_BASIS = NEOLEGAL / "000000000FEC20231231.txt"

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"the sample FEC files are not in {SAMPLES}")


def read(path: Path, filename: str | None = None) -> tuple[list[tuple], Report]:
    with FecFile.open(path, filename=filename) as reader:
        rows = [row for batch in reader.batches() for row in batch]
    return rows, reader.report


def codes(report: Report, severity: Severity | None = None) -> list[str]:
    return [issue.code for issue in report.issues if severity in {None, issue.severity}]


def oracle(name: str) -> dict[str, int]:
    """The boxes of the liasse fiscale neolegal's reader computed from the same FEC (whole euros)."""
    boxes = {}
    for line in (NEOLEGAL / f"{name}-expected.csv").read_text(encoding="utf-8").splitlines():
        box, _, amount = (part.strip() for part in line.partition(","))
        if amount.split(",")[0].isdigit():
            boxes[box] = int(amount.split(",")[0])
    return boxes


def balances(rows: list[tuple]) -> dict[str, int]:
    """Debit minus credit by account prefix (2 to 4 characters), in cents."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        for length in (2, 3, 4):
            totals[row[5][:length]] += row[12] - row[13]
    return totals


def matches(cents: int, box: int) -> bool:
    """The oracle writes whole euros, rounded or truncated depending on the box."""
    return abs(abs(cents) / 100 - box) < 1


# --- every sample file ------------------------------------------------------------------------


def test_agricultural_company_fiscal_year_september_to_august() -> None:
    rows, report = read(NEOLEGAL / "0000000001FEC20220831.txt")
    assert report.ok
    assert (report.line_count, report.entry_count, report.journal_count, report.account_count) == (5_422, 2_033, 9, 153)
    assert report.debit_total == report.credit_total == 1_018_621_981
    assert (report.first_date, report.last_date) == (dt.date(2021, 9, 1), dt.date(2022, 8, 31))
    # The name carries ten digits before FEC: warned about, its closing date still read.
    assert codes(report) == ["file_name"]
    assert (report.siren, report.closing_date) == (None, dt.date(2022, 8, 31))
    boxes, totals = oracle("0000000001FEC20220831"), balances(rows)
    for box, prefix in {
        "CA": "101",
        "CC": "104",
        "AL": "215",
        "AX": "28",
        "BJ": "512",
        "EX": "641",
        "EZ": "68",
    }.items():
        assert matches(totals[prefix], boxes[box]), (box, totals[prefix])


def test_cash_basis_file_numbering_every_entry_zero_is_refused() -> None:
    rows, report = read(CASH_BASIS)
    # EcritureNum is 0 on all 2,102 lines: each journal's lines make one "entry" spanning
    # the whole year, which is no entry. Every line is read; each journal is refused once.
    assert not report.ok
    assert (report.variant, report.line_count, len(rows)) == ("BNC", 2_102, 2_102)
    assert (report.entry_count, report.journal_count) == (6, 6)
    assert codes(report) == ["entry_dates"] * 6
    first = report.issues[0]
    assert (first.line, first.field, first.params["entry"], first.params["journal"]) == (5, "EcritureDate", "0", "ac")
    assert first.text() == (
        "Ligne 5 : l'écriture 0 du journal ac est datée du 27/01/2023, mais sa ligne 2 l'est du 31/01/2023 ; "
        "toutes les lignes d'une écriture ont la même date (EcritureDate)."
    )
    assert sorted(issue.params["journal"] for issue in report.issues) == ["AD", "ac", "bq", "ca", "od", "ve"]
    assert report.debit_total == report.credit_total == 126_535_082  # each journal balances, entries do not exist
    assert (report.siren, report.closing_date) == ("000000000", dt.date(2023, 12, 31))
    boxes, totals = oracle("000000000FEC20231231"), balances(rows)
    for box, prefix in {"010": "207", "120": "101", "214": "70", "238": "601", "250": "641"}.items():
        assert matches(totals[prefix], boxes[box]), (box, totals[prefix])


def test_padded_pipe_file_in_a_single_byte_code_page_imports() -> None:
    _rows, report = read(NEOLEGAL / "111111111FEC20221231.TXT")
    assert report.ok
    assert (report.line_count, report.entry_count, report.journal_count, report.account_count) == (934, 248, 9, 48)
    assert report.debit_total == report.credit_total == 22_568_223
    assert (report.encoding, report.separator, report.column_count) == ("ISO-8859-15", "|", 18)
    # 111111111 fails the SIREN checksum; the entries are dated 2023, after the closing date
    # of the name (the importer warns about lines outside the fiscal year).
    assert codes(report) == ["file_name_siren"]
    assert (report.siren, report.closing_date) == (None, dt.date(2022, 12, 31))
    assert (report.first_date, report.last_date) == (dt.date(2023, 1, 1), dt.date(2023, 7, 31))


def test_montant_sens_sample_imports() -> None:
    _rows, report = read(PIPE_SENS)
    assert report.ok
    assert (report.layout, report.line_count, report.entry_count) == ("amount_direction", 4, 2)
    assert report.debit_total == report.credit_total == 330_000
    assert codes(report) == ["file_name"]


def test_tab_sample_imports() -> None:
    _rows, report = read(TAB)
    assert report.ok
    assert (report.line_count, report.entry_count, report.journal_count, report.account_count) == (7, 3, 3, 7)
    assert report.debit_total == report.credit_total == 314_000


@pytest.mark.parametrize(
    ("name", "lines", "entries", "total"),
    [
        ("odoo_l10n_fr_account_test_fec_export.expected.txt", 5, 2, 600_000),
        ("odoo_l10n_fr_fec_test_wizard.expected.txt", 5, 1, 776_045),
    ],
)
def test_odoo_exports_import(name: str, lines: int, entries: int, total: int) -> None:
    _rows, report = read(SAMPLES / "odoo-expected" / name)
    assert report.ok
    assert (report.line_count, report.entry_count) == (lines, entries)
    assert report.debit_total == report.credit_total == total
    assert codes(report) == ["file_name"]


@pytest.mark.parametrize(
    ("name", "lines", "entries", "total"), [("FEC-previous.46ac5d0.csv", 2, 1, 500), ("FEC.6ced065.csv", 4, 2, 1_500)]
)
def test_tryton_exports_import(name: str, lines: int, entries: int, total: int) -> None:
    _rows, report = read(SAMPLES / "tryton-account_fr" / name)
    assert report.ok  # the opening journal's entry 0 is an entry like another
    assert (report.line_count, report.entry_count) == (lines, entries)
    assert report.debit_total == report.credit_total == total


def test_tryton_template_with_an_unrendered_date_is_refused_on_those_lines() -> None:
    rows, report = read(SAMPLES / "tryton-account_fr" / "FEC.template.bb1e3f6.csv")
    assert not report.ok
    errors = [(issue.code, issue.line, issue.field, issue.params["value"]) for issue in report.errors]
    assert errors == [("date_format", 7, "DateLet", "{current_date}"), ("date_format", 9, "DateLet", "{current_date}")]
    assert [row[0] for row in rows] == [2, 3, 4, 5, 6, 8]  # the two lines are not yielded…
    assert report.entry_count == 4  # …but still count in their entries, which balance


NOT_FEC = {
    "lsn-fec-reader/LICENSE", "neolegal-fec-reader/LICENSE", "test-compta-demat/Licence_CeCILL_V2.1-en.txt",
    "test-compta-demat/RULES.md", "test-compta-demat/fmt_arrete",
    "neolegal-fec-reader/0000000001FEC20220831-expected.csv", "neolegal-fec-reader/000000000FEC20231231-expected.csv",
}  # fmt: skip
TESTED_ABOVE = {
    "neolegal-fec-reader/0000000001FEC20220831.txt", "neolegal-fec-reader/000000000FEC20231231.txt",
    "neolegal-fec-reader/111111111FEC20221231.TXT", "lsn-fec-reader/sample_pipe.txt", "lsn-fec-reader/sample_tab.txt",
    "odoo-expected/odoo_l10n_fr_account_test_fec_export.expected.txt",
    "odoo-expected/odoo_l10n_fr_fec_test_wizard.expected.txt", "tryton-account_fr/FEC-previous.46ac5d0.csv",
    "tryton-account_fr/FEC.6ced065.csv", "tryton-account_fr/FEC.template.bb1e3f6.csv",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(NOT_FEC))
def test_the_other_files_next_to_the_samples_are_not_fec_files(name: str) -> None:
    report = fec.check(SAMPLES / name)
    assert codes(report) == ["not_a_fec"]


def test_every_sample_file_has_its_test() -> None:
    present = {str(path.relative_to(SAMPLES)) for path in SAMPLES.rglob("*") if path.is_file()}
    assert present == NOT_FEC | TESTED_ABOVE


# --- the tester's rules, on copies of a sample --------------------------------------------------


def variant(
    tmp_path: Path, edit: dict[int, str] | None = None, name: str = "552008443FEC20241231.txt", source: Path = TAB
) -> Path:
    """A copy of ``source``, its lines replaced as ``edit`` says ({line number: text}), under a valid name."""
    lines = source.read_text(encoding="utf-8").splitlines()
    for number, text in (edit or {}).items():
        lines[number - 1] = text
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cells(number: int) -> list[str]:
    return TAB.read_text(encoding="utf-8").splitlines()[number - 1].split("\t")


def edited(number: int, **changes: str) -> str:
    values = cells(number)
    for column, text in changes.items():
        values[fec.COLUMNS.index(column)] = text
    return "\t".join(values)


def test_a_copy_with_a_good_name_has_no_issue(tmp_path: Path) -> None:
    _rows, report = read(variant(tmp_path))
    assert report.issues == []
    assert (report.siren, report.closing_date) == ("552008443", dt.date(2024, 12, 31))


def test_a_line_with_another_field_count_is_an_error(tmp_path: Path) -> None:
    path = variant(tmp_path, {3: "\t".join(cells(3)[:17]), 4: "\t".join([*cells(4), "x"])})
    rows, report = read(path)
    assert [(issue.code, issue.line, issue.params["found"]) for issue in report.errors] == [
        ("field_count", 3, "17"), ("field_count", 4, "19")
    ]  # fmt: skip
    assert report.errors[0].text() == (
        "Ligne 3 : nombre de colonnes 17 au lieu de 18, celui de l'en-tête ; un libellé contient peut-être le "
        "séparateur de colonnes, ou une colonne manque."
    )
    assert 3 not in [row[0] for row in rows]


def test_an_empty_line_is_reported_but_does_not_refuse_the_file(tmp_path: Path) -> None:
    lines = TAB.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "552008443FEC20241231.txt"
    path.write_text("\n".join([*lines[:4], "", "   ", *lines[4:], "", ""]), encoding="utf-8")
    rows, report = read(path)
    assert report.ok
    assert [(issue.code, issue.line) for issue in report.warnings] == [
        ("empty_line", 5),
        ("empty_line", 6),
        ("empty_line", 11),
    ]
    assert report.line_count == len(rows) == 7
    assert [row[0] for row in rows] == [2, 3, 4, 7, 8, 9, 10]


@pytest.mark.parametrize(
    "column", ["JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "PieceRef",
               "PieceDate", "EcritureLib", "ValidDate"]
)  # fmt: skip
def test_mandatory_values_must_be_there(tmp_path: Path, column: str) -> None:
    rows, report = read(variant(tmp_path, {2: edited(2, **{column: ""})}))
    assert [(issue.code, issue.line, issue.field) for issue in report.errors] == [("required", 2, column)]
    assert report.errors[0].text() == f"Ligne 2 : la colonne {column} est vide ; elle est obligatoire dans un FEC."
    assert 2 not in [row[0] for row in rows]


def test_the_cash_basis_variants_need_no_journal_label_nor_validation_date(tmp_path: Path) -> None:
    lines = CASH_BASIS.read_text(encoding="utf-8").splitlines()[:4]  # one purchase of three lines
    values = lines[1].split("\t")
    values[1] = ""  # JournalLib
    lines[1] = "\t".join(values)
    path = tmp_path / "552008443FEC20231231.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    rows, report = read(path)
    assert report.ok, [issue.text() for issue in report.issues]
    assert rows[0][2] is None


def test_account_numbers_start_with_three_digits_or_are_warned_about(tmp_path: Path) -> None:
    rows, report = read(variant(tmp_path, {2: edited(2, CompteNum="FOURN")}))
    assert report.ok
    assert [(issue.code, issue.line, issue.params["value"]) for issue in report.warnings] == [
        ("account_prefix", 2, "FOURN")
    ]
    assert rows[0][5] == "FOURN"


@pytest.mark.parametrize(
    ("written", "code", "suggestion"),
    [
        ("1200.00", "amount_dot", "1200,00"),
        ("1 200,00", "amount_thousands", "1200,00"),
        ("1.200,00", "amount_thousands", "1200,00"),
        ("1,200.00", "amount_thousands", "1200,00"),
        ("1200,00 €", "amount_not_numeric", None),
        ("douze", "amount_not_numeric", None),
        ("1200,005", "amount_decimals", None),
        ("1E40", "amount_too_large", None),
        ("12345678901234567890,00", "amount_too_large", None),  # would not fit the ledger's 64-bit cents
    ],
)
def test_amounts_that_are_refused(tmp_path: Path, written: str, code: str, suggestion: str | None) -> None:
    _rows, report = read(variant(tmp_path, {2: edited(2, Debit=written)}))
    errors = report.errors
    assert [(issue.code, issue.line, issue.field) for issue in errors] == [(code, 2, "Debit")]
    assert errors[0].params.get("suggestion") == suggestion


def test_the_message_for_a_decimal_point_says_what_to_write(tmp_path: Path) -> None:
    _rows, report = read(variant(tmp_path, {2: edited(2, Debit="12.50")}))
    assert report.errors[0].text() == (
        "Ligne 2 : le montant « 12.50 » (Debit) doit utiliser une virgule décimale (12,50)."
    )


@pytest.mark.parametrize(
    ("written", "cents"),
    [("1200", 120_000), ("1200,0", 120_000), ("1200,000", 120_000), ("+1200,00", 120_000), ("0001200,00", 120_000),
     ("1,2E3", 120_000), ("1200,00-", -120_000), ("-1200,00", -120_000), (",5", 50)],
)  # fmt: skip
def test_amounts_that_are_accepted(tmp_path: Path, written: str, cents: int) -> None:
    rows, report = read(variant(tmp_path, {2: edited(2, Debit=written)}))
    assert codes(report) == ([] if cents == 120_000 else ["unbalanced"])  # the entry's other lines are unchanged
    assert rows[0][12] == cents


def test_a_currency_amount_may_have_more_decimals(tmp_path: Path) -> None:
    rows, report = read(variant(tmp_path, {2: edited(2, Montantdevise="1300,1234", Idevise="USD")}))
    assert report.ok
    assert str(rows[0][17]) == "1300.1234"
    _rows, report = read(variant(tmp_path, {2: edited(2, Montantdevise="1300.12")}))
    assert codes(report) == ["amount_dot"]


@pytest.mark.parametrize(
    ("column", "written", "code", "severity"),
    [
        ("PieceDate", "20240230", "date_calendar", Severity.ERROR),  # the tester lets a 30 February through
        ("PieceDate", "20240000", "date_calendar", Severity.ERROR),  # and a day 0
        ("PieceDate", "20241301", "date_calendar", Severity.ERROR),
        ("PieceDate", "2024-1-5", "date_format", Severity.ERROR),
        ("DateLet", "{current_date}", "date_format", Severity.ERROR),
        ("EcritureDate", "00000000", "required", Severity.ERROR),  # zeros: no date, where one is required
        ("PieceDate", "18991231", "date_period", Severity.WARNING),
        ("DateLet", "21000101", "date_period", Severity.WARNING),
    ],
)
def test_dates(tmp_path: Path, column: str, written: str, code: str, severity: Severity) -> None:
    _rows, report = read(variant(tmp_path, {2: edited(2, **{column: written})}))
    found = [(issue.code, issue.line, issue.field, issue.severity) for issue in report.issues]
    assert (code, 2, column, severity) in found
    if severity is Severity.ERROR:
        assert codes(report, Severity.ERROR) == [code]
    else:
        assert report.ok


def test_zeros_in_an_optional_date_mean_no_date(tmp_path: Path) -> None:
    rows, report = read(variant(tmp_path, {2: edited(2, DateLet="00000000")}))
    assert report.ok
    assert rows[0][15] is None


def test_a_line_with_both_debit_and_credit_or_neither_is_warned_about(tmp_path: Path) -> None:
    # Line 2 debits 1200,00 as 1300,00 - 100,00; line 3's 240,00 becomes zero, and line 4 credits 1200,00.
    both = edited(2, Debit="1300,00", Credit="100,00")
    zero = edited(3, Debit="0,00", Credit="0,00")
    rows, report = read(variant(tmp_path, {2: both, 3: zero, 4: edited(4, Credit="1200,00")}))
    assert report.ok
    warnings = [(issue.code, issue.line) for issue in report.warnings]
    assert warnings == [("both_sides", 2), ("neither_side", 3)]
    assert report.warnings[0].text() == (
        "Ligne 2 : le débit (1300,00) et le crédit (100,00) sont tous deux renseignés ; une ligne porte l'un ou "
        "l'autre."
    )
    assert rows


def test_a_direction_other_than_d_or_c_is_an_error(tmp_path: Path) -> None:
    path = variant(
        tmp_path, {3: PIPE_SENS.read_text(encoding="utf-8").splitlines()[2].replace("|D|", "|X|")}, source=PIPE_SENS
    )
    _rows, report = read(path)
    assert [(issue.code, issue.line, issue.params["value"]) for issue in report.errors] == [("direction", 3, "X")]


# --- ours: every entry balances, on one date ----------------------------------------------------


def test_an_unbalanced_entry_is_named_with_its_first_line_and_the_difference(tmp_path: Path) -> None:
    _rows, report = read(variant(tmp_path, {3: edited(3, Debit="240,01")}))
    assert [(issue.code, issue.line) for issue in report.errors] == [("unbalanced", 2)]
    assert report.errors[0].text() == (
        "L'écriture AC0001 du journal ACH (ligne 2) n'est pas équilibrée : son débit dépasse son crédit de 0,01 €."
    )
    _rows, report = read(variant(tmp_path, {8: edited(8, Debit="400,00")}))
    assert report.errors[0].text() == (
        "L'écriture OD0001 du journal OD (ligne 7) n'est pas équilibrée : son crédit dépasse son débit de 100,00 €."
    )


def test_an_entry_is_its_journal_and_number(tmp_path: Path) -> None:
    # VT0001 numbered AC0001 too: in another journal, it is another entry, and both balance.
    path = variant(tmp_path, {5: edited(5, EcritureNum="AC0001"), 6: edited(6, EcritureNum="AC0001")})
    _rows, report = read(path)
    assert report.ok
    assert report.entry_count == 3


def test_an_entry_whose_lines_are_scattered_is_checked_whole(tmp_path: Path) -> None:
    lines = TAB.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "552008443FEC20241231.txt"
    path.write_text(
        "\n".join([lines[0], lines[1], lines[4], lines[2], lines[6], lines[5], lines[3], lines[7]]), encoding="utf-8"
    )
    _rows, report = read(path)
    assert report.ok
    assert report.entry_count == 3
    path.write_text("\n".join([lines[0], lines[1], lines[4], lines[2]]), encoding="utf-8")
    _rows, report = read(path)
    assert [(issue.code, issue.line) for issue in report.errors] == [("unbalanced", 2), ("unbalanced", 3)]


def test_the_lines_of_an_entry_share_its_date(tmp_path: Path) -> None:
    _rows, report = read(variant(tmp_path, {4: edited(4, EcritureDate="20240116")}))
    assert [(issue.code, issue.line) for issue in report.errors] == [("entry_dates", 4)]
    assert report.errors[0].params == {
        "line": "4", "entry": "AC0001", "journal": "ACH", "date": "16/01/2024", "first_line": "2",
        "first_date": "15/01/2024",
    }  # fmt: skip


def test_an_amount_that_cannot_be_read_does_not_also_unbalance_its_entry(tmp_path: Path) -> None:
    _rows, report = read(variant(tmp_path, {2: edited(2, Debit="douze")}))
    assert codes(report) == ["amount_not_numeric"]


# --- the file name ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "siren", "closing"),
    [
        ("552008443FEC20241231.txt", None, "552008443", dt.date(2024, 12, 31)),
        ("552008443fec20241231.TXT", None, "552008443", dt.date(2024, 12, 31)),
        ("552008443FEC20241231", None, "552008443", dt.date(2024, 12, 31)),
        ("C:\\Users\\compta\\552008443FEC20241231.txt", None, "552008443", dt.date(2024, 12, 31)),
        ("552008444FEC20241231.txt", "file_name_siren", None, dt.date(2024, 12, 31)),
        ("0000000001FEC20220831.txt", "file_name", None, dt.date(2022, 8, 31)),
        ("552008443FEC20241331.txt", "file_name", None, None),
        ("export_compta_2024.txt", "file_name", None, None),
    ],
)
def test_the_file_name_gives_the_siren_and_closing_date(
    tmp_path: Path, name: str, code: str | None, siren: str | None, closing: dt.date | None
) -> None:
    report = fec.check(variant(tmp_path, name="upload-5f3a9c.bin"), filename=name)
    assert codes(report) == ([code] if code else [])
    assert (report.siren, report.closing_date) == (siren, closing)


# --- the report ---------------------------------------------------------------------------------------


def test_issues_are_capped_but_counted(tmp_path: Path) -> None:
    header = TAB.read_text(encoding="utf-8").splitlines()[0]
    bad = edited(2, Debit="12.00")
    path = tmp_path / "552008443FEC20241231.txt"
    path.write_text("\n".join([header, *[bad] * 2_500, *[edited(3, CompteNum="X")] * 1_200]), encoding="utf-8")
    report = fec.check(path)
    assert (report.error_count, report.warning_count) == (2_500, 1_200)
    assert (len(report.errors), len(report.warnings)) == (1_000, 1_000)
    assert [issue.line for issue in report.issues] == sorted(issue.line or 0 for issue in report.issues)


def test_a_report_goes_to_json_and_back() -> None:
    report = fec.check(CASH_BASIS)
    stored = json.loads(json.dumps(report.to_dict()))
    again = Report.from_dict(stored)
    assert again == report
    assert again.issues[0].text() == report.issues[0].text()
    assert Report.from_dict({"error_count": 1}).ok is False


# --- portal fec check -------------------------------------------------------------------------


def test_the_check_command_prints_the_report_and_fails_for_a_refused_file() -> None:
    accepted = CliRunner().invoke(main, ["fec", "check", str(NEOLEGAL / "0000000001FEC20220831.txt")])
    assert accepted.exit_code == 0, accepted.output
    assert "Fichier : UTF-8 (BOM), tabulation, 18 colonnes (BIC, débit et crédit)." in accepted.output
    assert "5\u202f422 lignes, 2\u202f033 écritures, 9 journaux, 153 comptes" in accepted.output
    assert "Écritures du 01/09/2021 au 31/08/2022." in accepted.output
    assert accepted.output.rstrip().endswith("FEC accepté : 0 erreur, 1 alerte.")

    named = CliRunner().invoke(main, ["fec", "check", str(TAB), "--name", "552008443FEC20241231.txt"])
    assert (named.exit_code, "Alerte" in named.output) == (0, False)

    refused = CliRunner().invoke(main, ["fec", "check", str(CASH_BASIS)])
    assert refused.exit_code == 1
    assert "  Erreur : Ligne 5 : l'écriture 0 du journal ac est datée du 27/01/2023" in refused.output
    assert refused.output.rstrip().endswith("FEC refusé : 6 erreurs, 0 alerte.")
