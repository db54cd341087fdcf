"""Server-drawn SVG charts, read as a reader would: axis labels, bar heights, the zero line, the table."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from jinja2 import Environment, FileSystemLoader

from portal.web import charts
from portal.web.charts import Series

SVG = "{http://www.w3.org/2000/svg}"
NNBSP, NBSP = "\u202f", "\u00a0"
MONTHS = ["janv.", "févr.", "mars", "avr."]


def parse(chart: charts.Chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))  # noqa: S314 - the SVG the test just drew


def texts(root: ET.Element, cls: str) -> list[str]:
    return [node.text or "" for node in root.iter(f"{SVG}text") if node.get("class") == cls]


def bars_of(root: ET.Element) -> list[ET.Element]:
    return [node for node in root.iter(f"{SVG}rect") if "bar" in (node.get("class") or "").split()]


def zero_y(root: ET.Element) -> float:
    (line,) = [node for node in root.iter(f"{SVG}line") if node.get("class") == "grid zero"]
    return float(line.get("y1", "nan"))


def test_bars_are_proportional_to_their_values_on_round_ticks() -> None:
    values = [Decimal(12000), Decimal(30000), Decimal("4500.50"), Decimal(21000)]
    chart = charts.bars("Chiffre d'affaires", MONTHS, [Series("2025", values)])
    root = parse(chart)

    ticks = texts(root, "tick")
    assert ticks[0] == f"0{NBSP}k€"
    assert ticks[-1] == f"30{NBSP}k€"
    assert all(label.endswith(f"{NBSP}k€") for label in ticks)
    steps = {int(b.split(NBSP)[0]) - int(a.split(NBSP)[0]) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    assert steps.pop() in {5, 10}
    assert texts(root, "category") == MONTHS

    heights = [float(rect.get("height", "0")) for rect in bars_of(root)]
    for value, height in zip(values, heights, strict=True):
        assert height / heights[1] == pytest.approx(float(value / values[1]), rel=1e-3)


def test_negative_values_hang_below_the_zero_line() -> None:
    chart = charts.bars("Résultat", ["2024", "2025"], [Series("Résultat net", [Decimal(-8000), Decimal(12000)])])
    root = parse(chart)
    zero = zero_y(root)
    loss, profit = bars_of(root)
    assert float(loss.get("y", "nan")) == pytest.approx(zero)  # starts at zero, goes down
    assert float(profit.get("y", "nan")) + float(profit.get("height", "nan")) == pytest.approx(zero)
    assert float(loss.get("height", "0")) / float(profit.get("height", "0")) == pytest.approx(8 / 12, rel=1e-3)
    assert f"−5{NBSP}k€" in texts(root, "tick") or f"−10{NBSP}k€" in texts(root, "tick")
    assert chart.rows == (("2024", f"−8{NNBSP}000,00{NBSP}€"), ("2025", f"12{NNBSP}000,00{NBSP}€"))


def test_the_table_gives_every_value_in_french_and_none_as_a_dash() -> None:
    chart = charts.bars(
        "CA",
        ["janv.", "févr."],
        [Series("N", [Decimal("1234.5"), None]), Series("N-1", [Decimal(999), Decimal(0)])],
    )
    assert chart.headers == ("", "N", "N-1")
    assert chart.rows == (
        ("janv.", f"1{NNBSP}234,50{NBSP}€", f"999,00{NBSP}€"),
        ("févr.", "—", f"0,00{NBSP}€"),
    )
    assert len(bars_of(parse(chart))) == 3  # no bar for the missing value


def test_rates_and_days_are_formatted_with_their_unit() -> None:
    chart = charts.lines("Délais", ["janv.", "févr."], [Series("DSO", [Decimal("45.2"), Decimal(61)])], unit="j")
    assert chart.rows[0] == ("janv.", f"45,2{NBSP}j")
    assert texts(parse(chart), "tick")[-1].endswith(f"{NBSP}j")
    rates = charts.lines("Marge", ["2025"], [Series("Taux", [Decimal("12.5")])], unit="%")
    assert rates.rows == (("2025", f"12,5{NNBSP}%"),)
    assert charts.format_value(Decimal("-3.4"), "%") == f"−3,4{NNBSP}%"
    assert charts.format_value(Decimal(5), "%", signed=True) == f"+5,0{NNBSP}%"


def test_lines_differ_by_colour_and_dash_and_break_on_missing_values() -> None:
    chart = charts.lines(
        "CA cumulé",
        MONTHS,
        [
            Series("Réel", [Decimal(10), Decimal(20), None, Decimal(40)]),
            Series("Budget", [Decimal(12), Decimal(24), Decimal(36), Decimal(48)]),
        ],
    )
    root = parse(chart)
    real, budget = [node for node in root.iter(f"{SVG}path") if node.get("class") == "line"]
    assert real.get("stroke") != budget.get("stroke")
    assert real.get("stroke-dasharray") != budget.get("stroke-dasharray")
    assert real.get("d", "").count("M") == 2  # two pieces around the missing month
    assert budget.get("d", "").count("M") == 1
    legend = [node.text for node in root.iter(f"{SVG}text") if node.get("class") is None]
    assert legend == ["Réel", "Budget"]


def test_bars_with_a_line_overlaid() -> None:
    chart = charts.bars(
        "CA",
        ["janv.", "févr."],
        [Series("N", [Decimal(5), Decimal(7)]), Series("Objectif", [Decimal(6), Decimal(6)], kind="line")],
    )
    root = parse(chart)
    assert len(bars_of(root)) == 2
    assert len([node for node in root.iter(f"{SVG}path") if node.get("class") == "line"]) == 1


def test_waterfall_steps_rise_and_fall_from_the_level_before() -> None:
    steps = [
        ("Chiffre d'affaires", Decimal(100000)),
        ("Achats consommés", Decimal(-40000)),
        ("Marge brute", Decimal(60000)),
        ("Charges de personnel", Decimal(-70000)),
        ("Produits exceptionnels", Decimal(5000)),
        ("Résultat net", Decimal(-5000)),
    ]
    chart = charts.waterfall("Soldes intermédiaires de gestion", steps, totals={0, 2, 5})
    root = parse(chart)
    rects = bars_of(root)
    kinds = [next(c for c in (rect.get("class") or "").split() if c.startswith("step-")) for rect in rects]
    assert kinds == ["step-total", "step-baisse", "step-total", "step-baisse", "step-hausse", "step-total"]
    # One row per step, top to bottom, labelled on the left.
    labels = [node.get("data-label") for node in root.iter(f"{SVG}text") if node.get("class") == "category"]
    assert labels == [label for label, _ in steps]
    rows = [float(rect.get("y", "nan")) for rect in rects]
    assert rows == sorted(rows)
    (zero_line,) = [node for node in root.iter(f"{SVG}line") if node.get("class") == "grid zero"]
    zero = float(zero_line.get("x1", "nan"))
    left = {index: float(rect.get("x", "nan")) for index, rect in enumerate(rects)}
    width = {index: float(rect.get("width", "nan")) for index, rect in enumerate(rects)}
    unit = width[0] / 100000
    assert left[0] == pytest.approx(zero, abs=0.05)  # a total starts at zero
    assert width[1] == pytest.approx(40000 * unit, abs=0.05)
    assert left[1] + width[1] == pytest.approx(left[0] + width[0], abs=0.05)  # the fall ends where the CA reached…
    assert left[3] + width[3] == pytest.approx(left[2] + width[2], abs=0.05)  # …falls from the marge brute…
    assert left[3] == pytest.approx(zero - 10000 * unit, abs=0.05)  # …to −10 000, left of zero
    assert left[5] + width[5] == pytest.approx(zero, abs=0.05)  # the loss lies left of zero
    assert width[5] == pytest.approx(5000 * unit, abs=0.05)
    assert chart.headers == ("Étape", "Montant", "Cumul")
    assert chart.rows[1] == ("Achats consommés", f"−40{NNBSP}000,00{NBSP}€", f"60{NNBSP}000,00{NBSP}€")
    assert chart.rows[4] == ("Produits exceptionnels", f"+5{NNBSP}000,00{NBSP}€", f"−5{NNBSP}000,00{NBSP}€")
    assert chart.rows[5] == ("Résultat net", f"−5{NNBSP}000,00{NBSP}€", f"−5{NNBSP}000,00{NBSP}€")


def test_labels_are_escaped_and_the_svg_scales_to_its_box() -> None:
    chart = charts.bars('<script>alert("x")</script> & Cie', ["<b>janv.</b>"], [Series("N & <i>N-1</i>", [Decimal(1)])])
    svg = str(chart.svg)
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "<i>" not in svg
    root = parse(chart)  # still well-formed XML
    assert root.get("viewBox") == f"0 0 {charts.WIDTH} {charts.HEIGHT}"
    assert root.get("width") == "100%"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == '<script>alert("x")</script> & Cie'
    assert root.find(f"{SVG}desc") is not None
    assert texts(root, "category") == ["<b>janv.</b>"]


def test_large_amounts_in_millions_and_small_ones_in_euros() -> None:
    big = charts.bars("CA", ["2025"], [Series("N", [Decimal(12500000)])])
    assert texts(parse(big), "tick")[-1].endswith(f"{NBSP}M€")
    small = charts.bars("CA", ["2025"], [Series("N", [Decimal(850)])])
    ticks = texts(parse(small), "tick")
    assert ticks[-1] == f"1{NNBSP}000{NBSP}€"


def test_nice_ticks_are_round_and_cover_zero() -> None:
    assert charts.nice_ticks(Decimal(0), Decimal(93)) == [Decimal(v) for v in (0, 20, 40, 60, 80, 100)]
    assert charts.nice_ticks(Decimal(-30), Decimal(70)) == [Decimal(v) for v in (-40, -20, 0, 20, 40, 60, 80)]
    assert charts.nice_ticks(Decimal(20), Decimal(45))[0] == 0
    assert charts.nice_ticks(Decimal(0), Decimal(0)) == [
        Decimal(0),
        Decimal("0.2"),
        Decimal("0.4"),
        Decimal("0.6"),
        Decimal("0.8"),
        Decimal(1),
    ]


def test_the_macro_shows_the_figure_and_its_table() -> None:
    env = Environment(loader=FileSystemLoader("templates"), autoescape=True, extensions=["jinja2.ext.i18n"])
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    chart = charts.bars("CA <N>", ["janv."], [Series("N", [Decimal("1234.5")])])
    html = env.from_string('{% from "_macros/charts.html" import chart %}{{ chart(c) }}').render(c=chart)
    assert html.count("<figure") == 1
    assert 'role="img"' in html
    assert "<summary>Voir les données</summary>" in html
    assert "CA &lt;N&gt;" in html
    assert f'<td class="num nowrap">1{NNBSP}234,50{NBSP}€</td>' in html
