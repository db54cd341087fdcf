"""Expense categories, the PCG account each is booked to, and how much of its VAT may be recovered.

Recoverable VAT (domain notes §8): business meals, tolls and most purchases carry
deductible VAT; staff accommodation, train, air and taxi fares and mileage allowances
carry none; fuel for passenger cars is 80 % deductible. The recoverable amount is what
the employee types from the receipt; these rules bound it. Labels and notes are msgids
shown through the templates' ``_()``, hence ``%%`` for a percent sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from portal.i18n import N_


class ExpenseCategory(StrEnum):
    BUSINESS_MEAL = "business_meal"
    TRAVEL_MEAL = "travel_meal"
    LODGING = "lodging"
    TRANSPORT = "transport"
    TOLLS_PARKING = "tolls_parking"
    FUEL = "fuel"
    SUPPLIES = "supplies"
    TELECOM = "telecom"
    MILEAGE = "mileage"
    OTHER = "other"

    @property
    def rule(self) -> CategoryRule:
        return RULES[self]

    @property
    def label(self) -> str:
        return RULES[self].label


# The highest French VAT rate: the VAT a TTC amount contains is at most TTC × 20/120.
HIGHEST_VAT_SHARE = Decimal(20) / Decimal(120)


@dataclass(frozen=True)
class CategoryRule:
    """What a category means for the books. Labels are French msgids."""

    label: str
    account: str
    account_label: str
    # Share of the receipt's VAT that may be recovered: 1, 0 (none) or 0.8 (fuel).
    vat_share: Decimal
    vat_note: str | None = None

    @property
    def vat_recoverable(self) -> bool:
        return self.vat_share > 0

    def max_vat(self, amount_ttc: Decimal) -> Decimal:
        """The most recoverable VAT a receipt of ``amount_ttc`` can carry (at 20 %), rounded up to the cent."""
        ceiling = amount_ttc * HIGHEST_VAT_SHARE * self.vat_share
        return ceiling.quantize(Decimal("0.01"), rounding=ROUND_CEILING)


_NO_VAT = Decimal(0)
_FULL = Decimal(1)

RULES: dict[ExpenseCategory, CategoryRule] = {
    ExpenseCategory.BUSINESS_MEAL: CategoryRule(N_("Repas d'affaires"), "6257", "Réceptions", _FULL),
    ExpenseCategory.TRAVEL_MEAL: CategoryRule(N_("Repas en déplacement"), "6256", "Missions", _FULL),
    ExpenseCategory.LODGING: CategoryRule(
        N_("Hébergement"), "6256", "Missions", _NO_VAT, N_("TVA non récupérable sur l'hébergement du personnel.")
    ),
    ExpenseCategory.TRANSPORT: CategoryRule(
        N_("Transport (train, avion, taxi)"),
        "6251",
        "Voyages et déplacements",
        _NO_VAT,
        N_("TVA non récupérable sur les billets de train, d'avion et les taxis."),
    ),
    ExpenseCategory.TOLLS_PARKING: CategoryRule(
        N_("Péages et stationnement"), "6251", "Voyages et déplacements", _FULL
    ),
    ExpenseCategory.FUEL: CategoryRule(
        N_("Carburant"),
        "6061",
        "Fournitures non stockables (eau, énergie)",
        Decimal("0.8"),
        N_("80 %% de la TVA du ticket est récupérable pour un véhicule de tourisme."),
    ),
    ExpenseCategory.SUPPLIES: CategoryRule(N_("Fournitures"), "6064", "Fournitures administratives", _FULL),
    ExpenseCategory.TELECOM: CategoryRule(
        N_("Télécommunications"), "626", "Frais postaux et de télécommunications", _FULL
    ),
    ExpenseCategory.MILEAGE: CategoryRule(
        N_("Indemnités kilométriques"),
        "6251",
        "Voyages et déplacements",
        _NO_VAT,
        N_("Les indemnités kilométriques ne portent pas de TVA."),
    ),
    ExpenseCategory.OTHER: CategoryRule(N_("Autres"), "6288", "Autres services extérieurs divers", _FULL),
}

# Categories of a line typed from a receipt (mileage lines have their own form).
RECEIPT_CATEGORIES = tuple(category for category in ExpenseCategory if category is not ExpenseCategory.MILEAGE)

DEDUCTIBLE_VAT_ACCOUNT = ("44566", "TVA sur autres biens et services")
