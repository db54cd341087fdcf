"""``portal kpi``, run as operators and scripts run it, on FEC files imported by ``portal fec import``."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from portal.demo import fictional_siren
from tests.dashboard.ledgers import Year, fec_text
from tests.test_cli import portal, scratch  # noqa: F401 - the scratch database fixture

BAKERY = fictional_siren("81234567")  # Boulangerie Martin, in the demo, without a fiscal year
MONTH = 1_000_000
BEFORE = Year(2023, [MONTH] * 12, [400_000] * 12, [200_000] * 12, collected=12_000_000, paid=5_000_000,
              opening_cash=2_000_000, opening_receivables=1_500_000)  # fmt: skip
LATEST = Year(2024, [MONTH + 200_000 * month for month in range(12)], [500_000] * 12, [200_000] * 12,
              collected=20_000_000, paid=8_000_000)  # fmt: skip


def _euros(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _expected(year: Year, before: Year | None) -> dict[str, object]:
    """The keys of ``--json`` this file's lines define, worked out from them here."""
    charges = sum(year.purchases) + sum(year.rent)
    payables = charges - year.paid
    dpo = (Decimal(payables) / 100 * 360 / (Decimal(charges) / 100)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    dso = year.dso(before)
    return {
        "chiffre_affaires": _euros(year.revenue),
        "marge_brute": _euros(year.gross_margin),
        "taux_marge_brute": f"{year.rate(year.gross_margin)}",
        "marge_commerciale": _euros(-sum(year.purchases)),  # no 707: the 607 purchases alone
        "valeur_ajoutee": _euros(year.operating_result),
        "ebe": _euros(year.operating_result),
        "resultat_exploitation": _euros(year.operating_result),
        "taux_marge_exploitation": f"{year.rate(year.operating_result)}",
        "resultat_financier": "0.00",
        "resultat_courant_avant_impot": _euros(year.operating_result),
        "resultat_exceptionnel": "0.00",
        "resultat_net": _euros(year.operating_result),
        "dso_jours": f"{dso}",
        "dpo_jours": f"{dpo}",
        "tresorerie_nette": _euros(year.net_cash),
        "ca_mensuel": {f"{year.year}-{month:02d}": _euros(amount) for month, amount in enumerate(year.sales, 1)},
    }


def test_kpi_prints_a_fiscal_years_figures_as_json_or_a_french_table_or_says_why_not(
    scratch: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    assert portal(scratch, "db", "upgrade").returncode == 0
    assert portal(scratch, "demo", "seed").returncode == 0
    # What it cannot answer, it says in French, with exit status 1.
    none = portal(scratch, "kpi", "--siren", BAKERY)
    assert none.returncode == 1
    assert "Le dossier Boulangerie Martin n'a aucun exercice importé." in none.stderr
    unknown = portal(scratch, "kpi", "--siren", fictional_siren("11112222"))
    assert unknown.returncode == 1
    assert "Aucun dossier n'a le SIREN" in unknown.stderr
    invalid = portal(scratch, "kpi", "--siren", "123")
    assert invalid.returncode == 1
    assert invalid.stderr.startswith("Error: 123 : ")
    wrong_date = portal(scratch, "kpi", "--siren", BAKERY, "--exercice", "31/12/2025")
    assert wrong_date.returncode == 1
    assert "« 31/12/2025 » n'est pas une date de clôture au format AAAA-MM-JJ." in wrong_date.stderr
    for year in (BEFORE, LATEST):
        path = tmp_path / f"{BAKERY}FEC{year.closing:%Y%m%d}.txt"
        path.write_text(fec_text(year.entries()), encoding="utf-8")
        imported = portal(scratch, "fec", "import", "--siren", BAKERY, str(path))
        assert imported.returncode == 0, imported.stdout + imported.stderr

    latest = portal(scratch, "kpi", "--siren", BAKERY, "--json")
    assert latest.returncode == 0, latest.stderr
    figures = json.loads(latest.stdout)
    expected = _expected(LATEST, BEFORE)
    assert set(figures) == {*expected, "dso_jours_cloture"}
    assert {key: figures[key] for key in expected} == expected
    assert figures["chiffre_affaires"] == "252000.00"  # 12 × 10 000 + 2 000 × 66, worked out once by hand
    assert figures["dso_jours"] == "84.2"  # (39 000 + 102 400) ÷ 2 ÷ 302 400 × 360

    before = portal(scratch, "kpi", "--siren", BAKERY, "--exercice", "2023-12-31", "--json")
    assert before.returncode == 0, before.stderr
    assert {key: json.loads(before.stdout)[key] for key in expected} == _expected(BEFORE, None)

    table = portal(scratch, "kpi", "--siren", BAKERY)
    assert table.returncode == 0, table.stderr
    text = table.stdout.replace("\u202f", " ").replace("\xa0", " ")
    assert "Boulangerie Martin — exercice du 01/01/2024 au 31/12/2024" in text
    assert "Rentabilité" in text
    assert "Soldes intermédiaires de gestion" in text
    lines = {line.split("  ")[1].strip(): line.rsplit("  ", 1)[-1].strip() for line in text.splitlines()
             if line.startswith("  ") and "  " in line.strip()}  # fmt: skip
    assert lines["Chiffre d'affaires"] == "252 000,00 €"
    assert lines["Délai de recouvrement clients"] == "84,2 j"
    assert lines["Taux de marge brute"] == f"{LATEST.rate(LATEST.gross_margin)} %".replace(".", ",")
    assert "Chiffre d'affaires mensuel" in text
    assert "12/2024" in text
    missing = portal(scratch, "kpi", "--siren", BAKERY, "--exercice", "2019-12-31")
    assert missing.returncode == 1
    assert "Le dossier Boulangerie Martin n'a pas d'exercice clôturé le 31/12/2019." in missing.stderr
