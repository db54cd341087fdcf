"""The KPI alerts' arithmetic: the CA at the same date against N-1, the thresholds."""

from __future__ import annotations

from decimal import Decimal

from portal.home.alerts import Alert, AlertKind, Thresholds, alerts_of, revenue_drop


def figures(*monthly: int, start: int = 1) -> dict[str, object]:
    return {"ca_mensuel": {f"2026-{month:02d}": f"{amount}.00" for month, amount in enumerate(monthly, start=start)}}


def test_the_months_compared_stop_at_the_last_month_with_sales() -> None:
    previous = figures(100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100)
    # Three months in: 240 against 300 over the same three months, not against the whole of N-1.
    assert revenue_drop(figures(80, 80, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0), previous) == Decimal("20.0")
    # A month without sales inside the period counts; after the last one, nothing does.
    assert revenue_drop(figures(100, 0, 50, 0), previous) == Decimal("50.0")
    # Growth is a negative fall.
    assert revenue_drop(figures(150, 150), previous) == Decimal("-50.0")


def test_nothing_to_compare_says_nothing() -> None:
    assert revenue_drop(figures(0, 0, 0), figures(100, 100, 100)) is None  # no sales yet
    assert revenue_drop(figures(100), None) is None  # no N-1
    assert revenue_drop(figures(100), figures(0, 0)) is None  # N-1 without sales: no percentage
    assert revenue_drop({}, figures(100)) is None
    assert revenue_drop({"ca_mensuel": "abc"}, figures(100)) is None


def test_a_shorter_previous_year_limits_the_comparison_to_its_months() -> None:
    assert revenue_drop(figures(50, 50, 50, 50), figures(100, 100)) == Decimal("50.0")


def test_thresholds() -> None:
    default = Thresholds()
    assert alerts_of(tresorerie_cents=-1, dso_days=Decimal("60.0"), figures=figures(80), previous_figures=figures(100),
                     thresholds=default) == (Alert(AlertKind.CASH, Decimal("-0.01")),)  # fmt: skip
    found = alerts_of(tresorerie_cents=0, dso_days=Decimal("60.1"), figures=figures(79), previous_figures=figures(100),
                      thresholds=default)  # fmt: skip
    assert [alert.kind for alert in found] == [AlertKind.REVENUE, AlertKind.DSO]
    quiet = Thresholds(revenue_drop_percent=25, dso_days=90, negative_cash=False)
    assert alerts_of(tresorerie_cents=-500_00, dso_days=Decimal(80), figures=figures(79), previous_figures=figures(100),
                     thresholds=quiet) == ()  # fmt: skip
    assert (
        alerts_of(tresorerie_cents=None, dso_days=None, figures=None, previous_figures=None, thresholds=default) == ()
    )


def test_alerts_read_in_french() -> None:
    assert Alert(AlertKind.REVENUE, Decimal("27.5")).text() == "Chiffre d'affaires en baisse de 27,5 % sur N-1 à date"
    assert Alert(AlertKind.DSO, Decimal("74.5")).text() == "DSO de 74,5 jours"
