"""The barème kilométrique: trips add up to the yearly amount, bands, electric bonus, rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.expenses.mileage import HORSEPOWERS, SCALE_2024, SCALE_2025, scale_for, trip_allowance


def _trip(horsepower: int, prior: int, km: int, *, electric: bool = False) -> Decimal:
    return trip_allowance(SCALE_2024, horsepower, prior_km=prior, km=km, electric=electric).amount


def test_first_trip_of_the_year_is_km_times_the_first_band_rate() -> None:
    assert _trip(5, 0, 120) == Decimal("76.32")  # 120 × 0.636
    assert _trip(3, 0, 100) == Decimal("52.90")  # 100 × 0.529
    assert _trip(7, 0, 10) == Decimal("6.97")  # 10 × 0.697


@pytest.mark.parametrize(
    ("horsepower", "km", "yearly"),
    [
        (3, 5_000, "2645.00"),  # 5000 × 0.529
        (4, 12_000, "5410.00"),  # 12000 × 0.340 + 1330
        (5, 20_000, "8535.00"),  # 20000 × 0.357 + 1395
        (6, 25_000, "11175.00"),  # 25000 × 0.447
        (7, 8_000, "4667.00"),  # 8000 × 0.394 + 1515
    ],
)
def test_the_table_of_the_domain_notes(horsepower: int, km: int, yearly: str) -> None:
    assert SCALE_2024.yearly_amount(horsepower, Decimal(km)) == Decimal(yearly)


def test_trips_of_a_year_add_up_to_the_yearly_amount_whatever_their_split() -> None:
    trips = [1_200, 2_300, 1_600, 9_000, 4_000, 3_100]  # crosses 5,000 and 20,000 km
    declared = 0
    total = Decimal(0)
    for km in trips:
        total += _trip(5, declared, km)
        declared += km
    assert declared == 21_200
    # f(21200) = 21200 × 0.427 = 9052.40; each trip rounded to the cent, so within a few cents.
    assert abs(total - Decimal("9052.40")) <= Decimal("0.01") * len(trips)


def test_a_trip_crossing_a_band_uses_both_formulas() -> None:
    allowance = trip_allowance(SCALE_2024, 5, prior_km=4_950, km=100, electric=False)
    # f(5050) − f(4950) = (5050 × 0.357 + 1395) − 4950 × 0.636 = 3197.85 − 3148.20
    assert allowance.amount == Decimal("49.65")
    assert [band.rate for band in allowance.bands] == [Decimal("0.636"), Decimal("0.357")]
    within = trip_allowance(SCALE_2024, 5, prior_km=6_000, km=100, electric=False)
    assert [band.rate for band in within.bands] == [Decimal("0.357")]
    assert within.amount == Decimal("35.70")


def test_electric_vehicles_get_twenty_percent_more_rounded_half_up() -> None:
    assert _trip(5, 0, 120, electric=True) == Decimal("91.58")  # 76.32 × 1.2 = 91.584
    assert _trip(4, 0, 25, electric=True) == Decimal("18.18")  # 25 × 0.606 × 1.2 = 18.18
    assert _trip(3, 0, 5) == Decimal("2.65")  # 2.645 rounds half up


def test_every_horsepower_class_has_three_bands_and_unknown_ones_are_refused() -> None:
    assert set(SCALE_2024.bands) == set(HORSEPOWERS)
    with pytest.raises(ValueError, match="horsepower"):
        trip_allowance(SCALE_2024, 9, prior_km=0, km=10, electric=False)


def test_the_scale_of_a_trip_is_the_one_published_in_its_year_else_the_latest_before_it() -> None:
    assert scale_for(2024) is SCALE_2024
    assert scale_for(2025) is SCALE_2025
    # No barème published in 2026 yet: the 2025 one applies until the next is published.
    assert scale_for(2026) is SCALE_2025
    assert scale_for(2019) is SCALE_2024  # the oldest known
    assert SCALE_2025.income_year == 2024


def test_the_2025_bareme_has_the_published_figures_unchanged_from_2024() -> None:
    # Domain notes §8 [BK]: the scale for 2024 income (published 2025) is unchanged from the previous year.
    assert SCALE_2025.bands == SCALE_2024.bands
    assert SCALE_2025.yearly_amount(4, Decimal(12_000)) == Decimal("5410.000")  # 12000 × 0.340 + 1330


def test_a_trip_names_its_own_year_beside_its_bareme() -> None:
    allowance = trip_allowance(scale_for(2026), 5, prior_km=0, km=10, electric=False, trip_year=2026)
    assert (allowance.scale_year, allowance.trip_year) == (2025, 2026)
    assert trip_allowance(SCALE_2024, 5, prior_km=0, km=10, electric=False).trip_year == 2024
