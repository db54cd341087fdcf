"""The barème kilométrique (cars), as data, and the allowance of one trip.

A barème is named by the year it is published in and applies to trips from then on: the one
published in 2025 (for the 2024 income, unchanged from the one published in 2024, domain notes
§8) applies to the trips of 2025 and, until the next one is published, to those of 2026. A trip
takes the barème of its own year, else the latest published before it (else the oldest known).

The official scale gives a yearly amount f(d) for the d kilometres driven in a calendar
year. A trip of ``km`` kilometres, after ``prior`` kilometres already declared by the
same person that year, is worth f(prior + km) − f(prior): trips add up to the yearly
amount whatever their number, and the band change at 5,000 and 20,000 km falls on the
trip that crosses it. Fully electric vehicles get 20 % more. The amount is rounded to
the cent (half up) once, on the trip, and frozen on the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ELECTRIC_BONUS = Decimal("1.20")
HORSEPOWERS = (3, 4, 5, 6, 7)
"""Fiscal horsepower classes of the scale: 3 stands for "3 CV and less", 7 for "7 CV and more"."""


@dataclass(frozen=True)
class Band:
    """f(d) = d × rate + fixed, for d up to ``up_to`` km (None: no upper bound)."""

    up_to: int | None
    rate: Decimal
    fixed: Decimal = Decimal(0)

    def amount(self, distance: Decimal) -> Decimal:
        return distance * self.rate + self.fixed


@dataclass(frozen=True)
class Scale:
    """One year's barème: three bands per horsepower class.

    ``year`` is the year it is published in (and applies from); ``income_year`` the income it was
    published for (the year before).
    """

    year: int
    bands: dict[int, tuple[Band, Band, Band]]

    @property
    def income_year(self) -> int:
        return self.year - 1

    def band_for(self, horsepower: int, distance: Decimal) -> Band:
        for band in self.bands[horsepower]:
            if band.up_to is None or distance <= band.up_to:
                return band
        raise AssertionError("the last band has no upper bound")  # pragma: no cover

    def yearly_amount(self, horsepower: int, distance: Decimal) -> Decimal:
        """f(d): the yearly allowance for ``distance`` km (not rounded)."""
        if distance <= 0:
            return Decimal(0)
        return self.band_for(horsepower, distance).amount(distance)


def _bands(first: str, middle: str, middle_fixed: int, last: str) -> tuple[Band, Band, Band]:
    return (
        Band(5_000, Decimal(first)),
        Band(20_000, Decimal(middle), Decimal(middle_fixed)),
        Band(None, Decimal(last)),
    )


# The cars scale, as published (domain notes §8 [BK]): the same figures in 2024 (2023 income) and 2025 (2024
# income). No later barème is known: the 2025 one applies to 2026 trips until the next is published.
_FIGURES = {
    3: _bands("0.529", "0.316", 1_065, "0.370"),
    4: _bands("0.606", "0.340", 1_330, "0.407"),
    5: _bands("0.636", "0.357", 1_395, "0.427"),
    6: _bands("0.665", "0.374", 1_457, "0.447"),
    7: _bands("0.697", "0.394", 1_515, "0.470"),
}
SCALE_2024 = Scale(year=2024, bands=_FIGURES)
SCALE_2025 = Scale(year=2025, bands=_FIGURES)
CURRENT_SCALE = SCALE_2025

SCALES: dict[int, Scale] = {scale.year: scale for scale in (SCALE_2024, SCALE_2025)}


def scale_for(year: int) -> Scale:
    """The scale for trips of ``year``: the one published that year, else the latest published before it (else the
    oldest known)."""
    earlier = [known for known in SCALES if known <= year]
    return SCALES[max(earlier) if earlier else min(SCALES)]


@dataclass(frozen=True)
class TripAllowance:
    """A trip's amount and how it was reached (what the note page shows as "the rate used")."""

    scale_year: int
    # The year of the trip: later than ``scale_year`` while that year's barème is not published.
    trip_year: int
    horsepower: int
    electric: bool
    prior_km: int
    km: int
    amount: Decimal
    # The bands the trip's kilometres fall in (two when it crosses 5,000 or 20,000 km).
    bands: tuple[Band, ...]


def trip_allowance(
    scale: Scale, horsepower: int, *, prior_km: int, km: int, electric: bool, trip_year: int | None = None
) -> TripAllowance:
    """f(prior + km) − f(prior), +20 % when electric, rounded half up to the cent."""
    if horsepower not in scale.bands:
        raise ValueError(f"unknown horsepower class {horsepower}")
    before = Decimal(prior_km)
    after = Decimal(prior_km + km)
    raw = scale.yearly_amount(horsepower, after) - scale.yearly_amount(horsepower, before)
    if electric:
        raw *= ELECTRIC_BONUS
    bands = scale.bands[horsepower]
    used = tuple(
        band for band in bands if after > _lower_bound(bands, band) and (band.up_to is None or before < band.up_to)
    )
    return TripAllowance(
        scale_year=scale.year,
        trip_year=trip_year or scale.year,
        horsepower=horsepower,
        electric=electric,
        prior_km=prior_km,
        km=km,
        amount=raw.quantize(CENT, rounding=ROUND_HALF_UP),
        bands=used,
    )


def _lower_bound(bands: tuple[Band, Band, Band], band: Band) -> int:
    index = bands.index(band)
    return (bands[index - 1].up_to or 0) if index else 0
