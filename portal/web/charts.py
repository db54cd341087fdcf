"""Charts drawn on the server as SVG: the same markup serves the page and a PDF (WeasyPrint runs no JavaScript).

Values come in as ``Decimal`` (``None`` where there is none); only drawing coordinates are floats.
Every chart carries its table (``Chart.headers`` / ``Chart.rows``, numbers formatted the French
way), shown a click away by ``templates/_macros/charts.html`` and read by screen readers.
Colours follow the Okabe–Ito palette, readable by colour-blind people, and every series also
differs by its pattern (bars) or its dash and marker (lines). The SVG has a ``viewBox`` and
``width="100%"``: it scales to its box, from a 390 px phone to an A4 page.

- ``bars``: grouped bars per category, series of kind ``"line"`` drawn over them;
- ``lines``: one line per series;
- ``waterfall``: a cascade (chiffre d'affaires → … → résultat net), each step a rise or a fall,
  the totals as full bars.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from markupsafe import Markup, escape

from portal.i18n import current_babel_locale, gettext

# The Okabe–Ito palette (Okabe & Ito 2008), darkest first so the first series reads best on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
DASHES = ("", "6 3", "2 3", "9 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")
RISE, FALL, TOTAL = "#009E73", "#D55E00", "#0072B2"

WIDTH, HEIGHT = 420, 260
ROW = 24  # the room of one row of a horizontal chart (the waterfall), 6 more when labels take two lines
LABEL_COLUMN = 130.0  # the widest a row's label may be before it wraps
FONT_SIZE = 11
INK, SOFT, GRID = "#1d2433", "#4a5568", "#dfe3ea"
NNBSP, NBSP, MINUS = "\u202f", "\u00a0", "\u2212"
THOUSANDS_FROM, MILLIONS_FROM = 10_000, 10_000_000  # axes of amounts from these in k€, M€


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[Decimal | None]
    kind: str = "bar"  # or "line"


@dataclass(frozen=True)
class Chart:
    title: str
    svg: Markup
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # the text alternative, numbers formatted the French way


# --- numbers ---------------------------------------------------------------------------------------


def format_value(value: Decimal | None, unit: str = "€", *, signed: bool = False) -> str:
    """A value as a reader reads it: ``12 345,67 €``, ``12,3 %``, ``45,2 j``; « — » for none."""
    if value is None:
        return "—"
    locale = current_babel_locale()
    if unit == "€":
        text = format_currency(value, "EUR", locale=locale)
    elif unit == "%":
        text = format_decimal(value, format="#,##0.0", locale=locale) + NNBSP + "%"
    elif unit:
        text = format_decimal(value, format="#,##0.0", locale=locale) + NBSP + unit
    else:
        text = format_decimal(value, locale=locale)
    text = text.replace("-", MINUS)
    if signed and value > 0:
        text = "+" + text
    return text


def _scale(ticks: Sequence[Decimal], unit: str) -> tuple[Decimal, str]:
    """Amounts in thousands or millions on an axis when they are large: ``1 234 k€``."""
    largest = max((abs(tick) for tick in ticks), default=Decimal(0))
    if unit == "€" and largest >= MILLIONS_FROM:
        return Decimal(1_000_000), "M€"
    if unit == "€" and largest >= THOUSANDS_FROM:
        return Decimal(1000), "k€"
    return Decimal(1), unit


def tick_labels(ticks: Sequence[Decimal], unit: str) -> list[str]:
    """The labels of an axis: all with the same decimals, as few as the step needs."""
    divisor, shown = _scale(ticks, unit)
    scaled = [tick / divisor for tick in ticks]
    decimals = max((max(0, -value.normalize().as_tuple().exponent) for value in scaled), default=0)  # type: ignore[operator]
    decimals = min(decimals, 2)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    space, locale = (NNBSP if shown == "%" else NBSP), current_babel_locale()
    suffix = space + shown if shown else ""
    return [(format_decimal(value, format=pattern, locale=locale) + suffix).replace("-", MINUS) for value in scaled]


def nice_ticks(low: Decimal, high: Decimal, count: int = 5) -> list[Decimal]:
    """Round ticks covering ``low``..``high`` and zero, about ``count`` intervals: 0, 250, 500…"""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if low == high:
        high = low + 1
    raw = (high - low) / count
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(
        m * magnitude for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)) if m * magnitude >= raw
    )
    first = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    last = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    ticks: list[Decimal] = []
    value = first
    while value <= last:
        ticks.append(value.normalize() if value else Decimal(0))
        value += step
    return ticks


# --- drawing -------------------------------------------------------------------------------------------


def _f(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    return len(text) * size * 0.58


Symbol = Callable[[float, float], str]  # draws a legend's sample at (x, y), 18 units wide
Legend = tuple[str, Symbol]


class _Canvas:
    """The frame of a chart: the legend on top, then either the value axis on the left and the categories
    below (columns), or the categories down the left and the value axis below (``horizontal``, rows)."""

    def __init__(
        self,
        ident: str,
        title: str,
        *,
        categories: Sequence[str],
        legend: Sequence[Legend],
        ticks: Sequence[Decimal],
        unit: str,
        horizontal: bool = False,
    ) -> None:
        self.ident = ident
        self.title = title
        self.categories = list(categories)
        self.ticks = list(ticks)
        self.labels = tick_labels(self.ticks, unit)
        self.horizontal = horizontal
        self.parts: list[str] = []
        self.defs: list[str] = []
        self.legend_rows = self._legend_rows(legend)
        self.top = 8 + 18 * len(self.legend_rows) + 6
        if horizontal:
            self.wrapped = [_wrap(label, LABEL_COLUMN) for label in self.categories]
            widest = max((_text_width(line) for lines in self.wrapped for line in lines), default=0)
            self.left = 8 + min(widest, LABEL_COLUMN) + 8
            self.right = WIDTH - 10 - max((_text_width(label) for label in self.labels[-1:]), default=0) / 2
            self.row = float(ROW + 6 if any(len(lines) > 1 for lines in self.wrapped) else ROW)
            self.bottom = self.top + self.row * max(len(self.categories), 1)
            self.height = self.bottom + 24
        else:
            self.left = 8 + max((_text_width(label) for label in self.labels), default=0) + 6
            self.right = WIDTH - 10
            self.height = HEIGHT
            self.bottom = HEIGHT - 26

    def _legend_rows(self, legend: Sequence[Legend]) -> list[list[tuple[float, str, Symbol]]]:
        rows: list[list[tuple[float, str, Symbol]]] = [[]]
        x = 8.0
        for label, symbol in legend:
            width = 22 + _text_width(label) + 14
            if rows[-1] and x + width > WIDTH - 8:
                rows.append([])
                x = 8.0
            rows[-1].append((x, label, symbol))
            x += width
        return rows if rows[0] else []

    def at(self, value: Decimal) -> float:
        """Where ``value`` sits on the value axis (a y for columns, an x for rows)."""
        share = float((value - self.ticks[0]) / (self.ticks[-1] - self.ticks[0]))
        if self.horizontal:
            return self.left + share * (self.right - self.left)
        return self.bottom - share * (self.bottom - self.top)

    def slot(self) -> float:
        """The room of one category along its axis."""
        if self.horizontal:
            return self.row
        return (self.right - self.left) / max(len(self.categories), 1)

    def band(self, index: int) -> float:
        """Where the room of category ``index`` starts."""
        return (self.top if self.horizontal else self.left) + self.slot() * index

    def centre(self, index: int) -> float:
        return self.band(index) + self.slot() / 2

    def axes(self) -> None:
        for tick, label in zip(self.ticks, self.labels, strict=True):
            at = self.at(tick)
            colour, width = (SOFT, 1.5) if tick == 0 else (GRID, 1.0)
            if self.horizontal:
                ends = f'x1="{_f(at)}" x2="{_f(at)}" y1="{_f(self.top)}" y2="{_f(self.bottom)}"'
                place = f'x="{_f(at)}" y="{_f(self.bottom + 16)}" text-anchor="middle"'
            else:
                ends = f'x1="{_f(self.left)}" x2="{_f(self.right)}" y1="{_f(at)}" y2="{_f(at)}"'
                place = f'x="{_f(self.left - 6)}" y="{_f(at + 4)}" text-anchor="end"'
            zero = " zero" if tick == 0 else ""
            self.parts.append(f'<line class="grid{zero}" {ends} stroke="{colour}" stroke-width="{width}"/>')
            self.parts.append(f'<text class="tick" {place} fill="{SOFT}">{escape(label)}</text>')
        if self.horizontal:
            for index, lines in enumerate(self.wrapped):
                first = self.centre(index) + 4 - (len(lines) - 1) * 6.5
                spans = "".join(
                    f'<tspan x="{_f(self.left - 8)}" y="{_f(first + 13 * number)}">{escape(line)}</tspan>'
                    for number, line in enumerate(lines)
                )
                self.parts.append(
                    f'<text class="category" text-anchor="end" fill="{INK}" '
                    f'data-label="{escape(self.categories[index])}">{spans}</text>'
                )
            return
        slot = self.slot()
        widest = max((_text_width(label) for label in self.categories), default=0)
        every = max(1, math.ceil((widest + 4) / slot)) if slot else 1
        for index, label in enumerate(self.categories):
            if index % every:
                continue
            self.parts.append(
                f'<text class="category" x="{_f(self.centre(index))}" y="{_f(self.bottom + 16)}" text-anchor="middle" '
                f'fill="{INK}">{escape(label)}</text>'
            )

    def legend(self) -> None:
        for row_index, row in enumerate(self.legend_rows):
            y = 8 + 18 * row_index + 9
            for x, label, symbol in row:
                self.parts.append(f'<g class="legend-item">{symbol(x, y)}')
                self.parts.append(f'<text x="{_f(x + 22)}" y="{_f(y + 4)}" fill="{INK}">{escape(label)}</text></g>')

    def render(self, description: str) -> Markup:
        title_id, desc_id = f"{self.ident}-titre", f"{self.ident}-desc"
        defs = f"<defs>{''.join(self.defs)}</defs>" if self.defs else ""
        return Markup(  # noqa: S704 - every text in it went through escape()
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {WIDTH} {_f(self.height)}" '
            f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="{title_id} {desc_id}" '
            f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif" font-size="{FONT_SIZE}">'
            f'<title id="{title_id}">{escape(self.title)}</title><desc id="{desc_id}">{escape(description)}</desc>'
            f"{defs}{''.join(self.parts)}</svg>"
        )


def _wrap(label: str, width: float) -> list[str]:
    """A row's label on one line, or two when it is wider than ``width`` (the second cut with « … »)."""
    if _text_width(label) <= width:
        return [label]
    words, first = label.split(), ""
    while words and _text_width(f"{first} {words[0]}".strip()) <= width:
        first = f"{first} {words.pop(0)}".strip()
    if not first:  # one long word
        first = words.pop(0)
    rest = " ".join(words)
    while rest and _text_width(rest) > width:
        rest = rest[:-2] + "…"
    return [first, rest] if rest else [first]


def _pattern(ident: str, index: int, colour: str) -> tuple[str, str]:
    """The fill of a bar series: plain, hatched, dotted or cross-hatched, in its colour."""
    kind = index % 4
    if kind == 0:
        return "", colour
    pattern_id = f"{ident}-motif{index}"
    marks = {
        1: f'<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="{colour}" stroke-width="1.6"/>',
        2: f'<circle cx="3" cy="3" r="1.4" fill="{colour}"/>',
        3: f'<path d="M0,0 L6,6 M6,0 L0,6" stroke="{colour}" stroke-width="1.2"/>',
    }[kind]
    background = "#ffffff"
    definition = (
        f'<pattern id="{pattern_id}" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{background}"/>{marks}</pattern>'
    )
    return definition, f"url(#{pattern_id})"


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{_f(x - 3)}" y="{_f(y - 3)}" width="6" height="6" fill="{colour}"/>'
    if kind == "triangle":
        return f'<path d="M{_f(x)},{_f(y - 4)} L{_f(x + 4)},{_f(y + 3)} L{_f(x - 4)},{_f(y + 3)} Z" fill="{colour}"/>'
    if kind == "diamond":
        points = f"M{_f(x)},{_f(y - 4)} L{_f(x + 4)},{_f(y)} L{_f(x)},{_f(y + 4)} L{_f(x - 4)},{_f(y)} Z"
        return f'<path d="{points}" fill="{colour}"/>'
    return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3" fill="{colour}"/>'


def _series_table(
    categories: Sequence[str], series: Sequence[Series], unit: str
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    headers = ("", *(item.label for item in series))
    rows = tuple(
        (category, *(format_value(item.values[index] if index < len(item.values) else None, unit) for item in series))
        for index, category in enumerate(categories)
    )
    return headers, rows


def _describe(kind: str, categories: Sequence[str], series: Sequence[Series]) -> str:
    names = ", ".join(item.label for item in series)
    span = f"{categories[0]} – {categories[-1]}" if categories else ""
    return gettext("%(kind)s : %(series)s ; %(span)s. Les valeurs sont dans le tableau qui suit.") % {
        "kind": kind,
        "series": names,
        "span": span,
    }


def _extent(series: Sequence[Series]) -> tuple[Decimal, Decimal]:
    values = [value for item in series for value in item.values if value is not None]
    return (min(values, default=Decimal(0)), max(values, default=Decimal(0)))


def _ident(*parts: object) -> str:
    """A stable id prefix for a chart's title, description and patterns (several charts share a page)."""
    return "graphique-" + hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


def _bar_symbol(fill: str, colour: str) -> Symbol:
    return lambda x, y: (
        f'<rect x="{_f(x + 1)}" y="{_f(y - 5)}" width="16" height="10" fill="{fill}" stroke="{colour}"/>'
    )


def _line_symbol(colour: str, dash: str, marker: str) -> Symbol:
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return lambda x, y: (
        f'<path d="M{_f(x)},{_f(y)} h18" stroke="{colour}" stroke-width="2.5" fill="none"{dash_attr}/>'
        + _marker(marker, x + 9, y, colour)
    )


@dataclass(frozen=True)
class _Style:
    colour: str
    fill: str = ""  # bars: plain colour or a pattern
    dash: str = ""  # lines
    marker: str = ""


def _styles(ident: str, series: Sequence[Series]) -> tuple[list[_Style], list[Legend], list[str]]:
    """Each series' colour and pattern or dash and marker, the legend, the patterns to define."""
    styles: list[_Style] = []
    legend: list[Legend] = []
    defs: list[str] = []
    bars_seen = lines_seen = 0
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        if item.kind == "line":
            style = _Style(colour, dash=DASHES[lines_seen % len(DASHES)], marker=MARKERS[lines_seen % len(MARKERS)])
            lines_seen += 1
            legend.append((item.label, _line_symbol(colour, style.dash, style.marker)))
        else:
            definition, fill = _pattern(ident, bars_seen, colour)
            bars_seen += 1
            if definition:
                defs.append(definition)
            style = _Style(colour, fill=fill)
            legend.append((item.label, _bar_symbol(fill, colour)))
        styles.append(style)
    return styles, legend, defs


def _draw_bars(canvas: _Canvas, series: Sequence[Series], styles: Sequence[_Style], unit: str) -> None:
    indexes = [index for index, item in enumerate(series) if item.kind != "line"]
    if not indexes:
        return
    slot, zero = canvas.slot(), canvas.at(Decimal(0))
    group = slot * 0.8
    width = group / len(indexes)
    for position, index in enumerate(indexes):
        item, style = series[index], styles[index]
        for category, value in enumerate(list(item.values)[: len(canvas.categories)]):
            if value is None:
                continue
            x = canvas.band(category) + (slot - group) / 2 + width * position
            top = canvas.at(value)
            label = f"{canvas.categories[category]} · {item.label} : {format_value(value, unit)}"
            canvas.parts.append(
                f'<rect class="bar" data-series="{index}" data-category="{category}" x="{_f(x + 0.5)}" '
                f'y="{_f(min(top, zero))}" width="{_f(max(width - 1, 0.5))}" height="{_f(abs(zero - top))}" '
                f'fill="{style.fill}" stroke="{style.colour}" stroke-width="1"><title>{escape(label)}</title></rect>'
            )


def _draw_lines(canvas: _Canvas, series: Sequence[Series], styles: Sequence[_Style], unit: str) -> None:
    for index, item in enumerate(series):
        if item.kind != "line":
            continue
        style = styles[index]
        segments: list[list[tuple[float, float]]] = [[]]
        points: list[tuple[float, float, str]] = []
        for category, value in enumerate(list(item.values)[: len(canvas.categories)]):
            if value is None:  # no value: the line breaks there
                segments.append([])
                continue
            x, y = canvas.centre(category), canvas.at(value)
            segments[-1].append((x, y))
            points.append((x, y, f"{canvas.categories[category]} · {item.label} : {format_value(value, unit)}"))
        path = " ".join("M" + " L".join(f"{_f(x)},{_f(y)}" for x, y in segment) for segment in segments if segment)
        dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
        if path:
            canvas.parts.append(
                f'<path class="line" data-series="{index}" d="{path}" fill="none" stroke="{style.colour}" '
                f'stroke-width="2.5" stroke-linejoin="round"{dash}/>'
            )
        for x, y, label in points:
            canvas.parts.append(
                f'<g class="point">{_marker(style.marker, x, y, style.colour)}<title>{escape(label)}</title></g>'
            )


def _draw(title: str, categories: Sequence[str], series: Sequence[Series], unit: str, *, kind: str) -> Chart:
    categories = list(categories)
    ident = _ident(title, tuple(categories), tuple((item.label, tuple(item.values), item.kind) for item in series))
    styles, legend, defs = _styles(ident, series)
    canvas = _Canvas(ident, title, categories=categories, legend=legend, ticks=nice_ticks(*_extent(series)), unit=unit)
    canvas.defs.extend(defs)
    canvas.axes()
    _draw_bars(canvas, series, styles, unit)
    _draw_lines(canvas, series, styles, unit)
    canvas.legend()
    headers, rows = _series_table(categories, series, unit)
    return Chart(title=title, svg=canvas.render(_describe(kind, categories, series)), headers=headers, rows=rows)


def bars(title: str, categories: Sequence[str], series: Sequence[Series], *, unit: str = "€") -> Chart:
    """Grouped bars, one group per category; series of kind ``"line"`` are drawn over the bars."""
    return _draw(title, categories, series, unit, kind=gettext("Histogramme"))


def lines(title: str, categories: Sequence[str], series: Sequence[Series], *, unit: str = "€") -> Chart:
    """One line per series across the categories; a missing value breaks its line."""
    return _draw(
        title, categories, [Series(item.label, item.values, "line") for item in series], unit, kind=gettext("Courbes")
    )


def waterfall(
    title: str, steps: Sequence[tuple[str, Decimal]], *, unit: str = "€", totals: Collection[int] | None = None
) -> Chart:
    """A cascade, one row per step so that its labels read on a phone: the first and last steps (or the
    indexes in ``totals``) are totals, drawn as full bars from zero to the amount given (a level, e.g. the
    EBE); every other step is a change from the level before it, a rise (positive) or a fall (negative),
    drawn from that level. Negative levels lie left of the zero line.
    """
    total_indexes = set(totals) if totals is not None else {0, len(steps) - 1}
    levels: list[tuple[Decimal, Decimal]] = []  # each step's bar: from, to
    level = Decimal(0)
    for index, (_, amount) in enumerate(steps):
        if index in total_indexes:
            levels.append((Decimal(0), amount))
            level = amount
        else:
            levels.append((level, level + amount))
            level += amount
    ends = [value for pair in levels for value in pair]
    ticks = nice_ticks(min(ends, default=Decimal(0)), max(ends, default=Decimal(0)), count=4)
    labels = [label for label, _ in steps]
    ident = _ident("waterfall", title, tuple(steps), tuple(sorted(total_indexes)))
    rise_def, rise_fill = "", RISE
    fall_def, fall_fill = _pattern(ident, 1, FALL)
    changes = [amount for index, (_, amount) in enumerate(steps) if index not in total_indexes]
    legend: list[Legend] = [(gettext("Total"), _bar_symbol(TOTAL, TOTAL))]
    if any(amount >= 0 for amount in changes):
        legend.append((gettext("Hausse"), _bar_symbol(rise_fill, RISE)))
    if any(amount < 0 for amount in changes):
        legend.append((gettext("Baisse"), _bar_symbol(fall_fill, FALL)))
    canvas = _Canvas(ident, title, categories=labels, legend=legend, ticks=ticks, unit=unit, horizontal=True)
    canvas.defs.extend(item for item in (rise_def, fall_def) if item)
    canvas.axes()
    row = canvas.slot()
    thickness = min(row - 8, ROW * 0.64)
    for index, ((label, amount), (start, end)) in enumerate(zip(steps, levels, strict=True)):
        if index in total_indexes:
            fill, colour, kind = TOTAL, TOTAL, "total"
        elif amount >= 0:
            fill, colour, kind = rise_fill, RISE, "hausse"
        else:
            fill, colour, kind = fall_fill, FALL, "baisse"
        y = canvas.band(index) + (row - thickness) / 2
        x_start, x_end = canvas.at(start), canvas.at(end)
        if index:  # the connector from the level the previous row reached
            reached = _f(canvas.at(levels[index - 1][1]))
            canvas.parts.append(
                f'<line class="connector" x1="{reached}" x2="{reached}" y1="{_f(y - (row - thickness))}" y2="{_f(y)}" '
                f'stroke="{SOFT}" stroke-dasharray="2 2"/>'
            )
        shown = format_value(amount, unit, signed=index not in total_indexes)
        canvas.parts.append(
            f'<rect class="bar step-{kind}" data-step="{index}" x="{_f(min(x_start, x_end))}" y="{_f(y)}" '
            f'width="{_f(abs(x_end - x_start))}" height="{_f(thickness)}" fill="{fill}" stroke="{colour}" '
            'stroke-width="1">'
            f"<title>{escape(label)} : {escape(shown)}</title></rect>"
        )
    canvas.legend()
    rows = tuple(
        (label, format_value(amount, unit, signed=index not in total_indexes), format_value(end, unit))
        for index, ((label, amount), (_, end)) in enumerate(zip(steps, levels, strict=True))
    )
    description = gettext("Cascade : %(first)s → %(last)s. Les valeurs sont dans le tableau qui suit.") % {
        "first": labels[0] if labels else "",
        "last": labels[-1] if labels else "",
    }
    return Chart(
        title=title,
        svg=canvas.render(description),
        headers=(gettext("Étape"), gettext("Montant"), gettext("Cumul")),
        rows=rows,
    )
