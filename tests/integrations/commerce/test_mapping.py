"""The mapping of a connection: PCG defaults, what is still missing, the screen's form, JSON storage."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from portal.i18n import set_locale
from portal.integrations.commerce.mapping import (
    CountryRule,
    Mapping,
    account_label,
    check_account,
    complete,
    default_mapping,
    missing,
    parse_form,
    rate_key,
    rate_label,
    recognise_payment_method,
)
from portal.integrations.commerce.records import (
    Country,
    Location,
    PaymentMethod,
    ProductCategory,
    ReferenceData,
    TaxRate,
)
from portal.integrations.commerce.sources import Source, get_source


def source(code: str) -> Source:
    found = get_source(code)
    assert found is not None
    return found


RESTAURANT, SHOP_POS, SHOPIFY, POPINA = source("zelty"), source("hiboutik"), source("shopify"), source("popina")

POS_REFERENCE = ReferenceData(
    locations=(Location("salle", "Salle"), Location("bar", "Bar")),
    payment_methods=(
        PaymentMethod("1", "Espèces"),
        PaymentMethod("2", "Carte bancaire"),
        PaymentMethod("3", "Chèque"),
        PaymentMethod("4", "Ticket Restaurant"),
        PaymentMethod("5", "Virement"),
        PaymentMethod("6", "Carte cadeau"),
        PaymentMethod("7", "Lydia"),
    ),
    tax_rates=(
        TaxRate("a", "20 %", Decimal(20)),
        TaxRate("b", "10 %", Decimal("10.00")),
        TaxRate("c", "5,5 %", Decimal("5.50")),
        TaxRate("d", "2,1 %", Decimal("2.1")),
    ),
    categories=(ProductCategory("boissons", "Boissons"), ProductCategory("plats", "Plats")),
)
WEB_REFERENCE = ReferenceData(
    payment_methods=(PaymentMethod("paypal", "PayPal"), PaymentMethod("shopify_payments", "Shopify Payments"),
                     PaymentMethod("authorize_net", "authorize_net")),
    tax_rates=(TaxRate("fr", "FR TVA", Decimal(20), country="FR"), TaxRate("de", "DE MwSt", Decimal(19), country="DE")),
    countries=(Country("FR", "France"), Country("CH", "Suisse")),
)  # fmt: skip


# --- Rates and accounts ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [Decimal("5.50"), Decimal("5.5"), "5.5", "5,5", "5,50 %", " 5.5 "])
def test_rates_normalise_to_one_key(value: Decimal | str) -> None:
    assert rate_key(value) == "5.5"


def test_rate_keys_and_labels() -> None:
    assert [rate_key(x) for x in (Decimal(20), Decimal("20.0"), "10", Decimal("0.00"), Decimal("2.10"))] == [
        "20", "20", "10", "0", "2.1"]  # fmt: skip
    assert rate_label(Decimal("5.50")) == "5,5 %"
    with pytest.raises(ValueError, match="abc"):
        rate_key("abc")


def test_accounts_are_checked_by_class() -> None:
    assert check_account("706000", "sales") is None
    assert check_account("4457200", "sales") == "Un compte de ventes commence par 70."
    assert check_account("70A000", "sales") == "Numéro de compte invalide : des chiffres uniquement (ex. 706000)."
    assert check_account("70", "sales") == "Numéro de compte invalide : de 3 à 12 chiffres."
    assert check_account("445660", "vat") == "Un compte de TVA collectée commence par 4457."
    assert check_account("530000", "payment") is None
    assert check_account("471000", "payment") is None
    assert check_account("411000", "payment") is not None
    assert account_label("511500") == "Cartes bancaires à encaisser"
    assert account_label("7070200") == "Ventes de marchandises"


def test_payment_methods_recognised_by_name() -> None:
    assert recognise_payment_method("Espèces") == ("530000", "Caisse")
    assert recognise_payment_method("CB sans contact") == ("511500", "Cartes bancaires à encaisser")
    assert recognise_payment_method("Carte cadeau")[0] == "419100"  # type: ignore[index]
    assert recognise_payment_method("Chèque")[0] == "511200"  # type: ignore[index]
    assert recognise_payment_method("Swile")[0] == "511800"  # type: ignore[index]
    assert recognise_payment_method("Direct Bank Transfer", "bacs")[0] == "512000"  # type: ignore[index]
    assert recognise_payment_method("Shopify Payments", "shopify_payments")[0] == "517300"  # type: ignore[index]
    assert recognise_payment_method("Lydia") is None
    assert recognise_payment_method("authorize_net") is None


# --- Defaults --------------------------------------------------------------------------------------


def test_restaurant_defaults_from_the_reference_data() -> None:
    mapping = default_mapping(RESTAURANT, POS_REFERENCE)
    assert mapping.journals == {"salle": "CA1", "bar": "CA2"}
    assert mapping.payment_accounts == {"1": "530000", "2": "511500", "3": "511200", "4": "511800", "5": "512000",
                                        "6": "419100"}  # fmt: skip
    assert "7" not in mapping.payment_accounts  # Lydia: no default, it goes to the waiting account until mapped
    assert mapping.fallback_payment_account == "471000"
    assert mapping.sales_by == "vat_rate"
    assert mapping.sales_by_rate == {"20": "7060200", "10": "7060100", "5.5": "7060055", "2.1": "7060021"}
    assert mapping.vat_accounts == {"20": "4457200", "10": "4457100", "5.5": "4457055", "2.1": "4457021"}
    assert (mapping.tips_account, mapping.customer_account, mapping.walk_in_aux) == ("428600", "411000", "COMPTOIR")
    assert (mapping.shortage_account, mapping.surplus_account) == ("658000", "758000")


def test_a_shop_sells_goods_on_707() -> None:
    assert default_mapping(SHOP_POS, POS_REFERENCE).sales_by_rate["20"] == "7070200"


def test_e_commerce_defaults() -> None:
    mapping = default_mapping(SHOPIFY, WEB_REFERENCE)
    assert mapping.web_journal == "WEB"
    assert mapping.country_rules == {"FR": CountryRule(rate=None)}  # at the rates the shop charged
    assert mapping.sales_by_rate == {"20": "7070200"}  # the German 19 % is not a French rate
    assert mapping.payment_accounts == {"paypal": "517100", "shopify_payments": "517300"}
    assert (mapping.shipping_account, mapping.gift_card_account) == ("708500", "419100")
    assert mapping.currency_rates == {}


def test_complete_adds_defaults_for_new_items_and_keeps_choices() -> None:
    mapping = default_mapping(RESTAURANT, POS_REFERENCE)
    mapping.payment_accounts["1"] = "531000"
    mapping.journals["salle"] = "CA2"
    mapping.journals["bar"] = "BAR"
    more = ReferenceData(locations=(*POS_REFERENCE.locations, Location("terrasse", "Terrasse")),
                         payment_methods=(*POS_REFERENCE.payment_methods, PaymentMethod("8", "Amex")),
                         tax_rates=POS_REFERENCE.tax_rates)  # fmt: skip
    completed = complete(mapping, RESTAURANT, more)
    assert completed.payment_accounts["1"] == "531000"
    assert completed.payment_accounts["8"] == "511500"
    assert completed.journals == {"salle": "CA2", "bar": "BAR", "terrasse": "CA1"}
    assert mapping.journals == {"salle": "CA2", "bar": "BAR"}  # the original is untouched


# --- Missing -----------------------------------------------------------------------------------------


def test_the_restaurant_defaults_miss_only_the_unknown_payment_method() -> None:
    (item,) = missing(default_mapping(RESTAURANT, POS_REFERENCE), RESTAURANT, POS_REFERENCE)
    assert item.message == "Moyen de paiement « Lydia » sans compte : ses règlements iront au compte d'attente 471000"
    assert (item.field, item.blocking) == ("payment.7", False)


def test_missing_lists_blocking_items_first() -> None:
    mapping = default_mapping(RESTAURANT, POS_REFERENCE)
    del mapping.sales_by_rate["2.1"]
    del mapping.journals["bar"]
    mapping.sales_by = "category"
    mapping.sales_by_category = {"plats": "706200"}
    items = missing(mapping, RESTAURANT, POS_REFERENCE)
    assert [(item.message, item.blocking) for item in items] == [
        ("Caisse « Bar » sans journal : ses tickets ne peuvent pas être comptabilisés", True),
        ("Taux de TVA 2,1 % sans compte de ventes", True),
        ("Catégorie « Boissons » sans compte de ventes : ses ventes iront au compte de leur taux de TVA", False),
        ("Moyen de paiement « Lydia » sans compte : ses règlements iront au compte d'attente 471000", False),
    ]


def test_e_commerce_missing_countries_currencies_and_rates() -> None:
    mapping = default_mapping(SHOPIFY, WEB_REFERENCE)
    mapping.country_rules["US"] = CountryRule(rate=Decimal(0))
    items = missing(mapping, SHOPIFY, WEB_REFERENCE, currencies=["EUR", "usd"])
    assert [(item.message, item.field, item.blocking) for item in items] == [
        ("Pays de livraison CH sans règle de TVA", "country_rate.CH", True),
        ("Taux de TVA 0 % sans compte de ventes", "sales_rate.0", True),
        ("Devise USD sans taux de conversion", "currency.USD", True),
        ("Moyen de paiement « authorize_net » sans compte : ses règlements iront au compte d'attente 471000",
         "payment.authorize_net", False),
    ]  # fmt: skip
    mapping.country_rules["US"] = CountryRule(rate=Decimal(0), sales_account="707400")
    mapping.country_rules["CH"] = CountryRule(rate=Decimal(0), sales_account="707400")
    mapping.currency_rates["USD"] = Decimal("0.92")
    mapping.payment_accounts["authorize_net"] = "511500"
    assert missing(mapping, SHOPIFY, WEB_REFERENCE, currencies=["USD"]) == []


def test_a_missing_item_speaks_the_current_language() -> None:
    (item,) = missing(default_mapping(RESTAURANT, POS_REFERENCE), RESTAURANT, POS_REFERENCE)
    set_locale("fr")
    assert item.text() == item.message


# --- The form ------------------------------------------------------------------------------------------


def test_a_valid_form_is_applied() -> None:
    current = default_mapping(RESTAURANT, POS_REFERENCE)
    form: dict[str, str | list[str]] = {
        "journal.salle": "sal",
        "journal.bar": "bar1",
        "payment.7": "512 100",
        "payment.4": "",
        "sales_by": "category",
        "sales_category.boissons": "706100",
        "sales_rate.5,50": "706055",
        "vat.2.1": "44571021",
        "tips": ["428600", "428610"],
        "walk_in": "divers",
        "_csrf_token": "x",
    }
    mapping, errors = parse_form(form, RESTAURANT, POS_REFERENCE, current)
    assert errors == {}
    assert mapping.journals == {"salle": "SAL", "bar": "BAR1"}
    assert mapping.payment_accounts["7"] == "512100"
    assert "4" not in mapping.payment_accounts  # cleared: back to the waiting account
    assert mapping.sales_by == "category"
    assert mapping.sales_by_category == {"boissons": "706100"}
    assert mapping.sales_by_rate["5.5"] == "706055"
    assert mapping.vat_accounts["2.1"] == "44571021"
    assert mapping.tips_account == "428610"
    assert mapping.walk_in_aux == "DIVERS"
    assert mapping.customer_account == "411000"  # absent from the form: kept
    assert current.journals == {"salle": "CA1", "bar": "CA2"}  # the current mapping is not changed in place


def test_form_errors_are_french_and_nothing_is_half_applied() -> None:
    current = default_mapping(RESTAURANT, POS_REFERENCE)
    before = current.to_json()
    form: dict[str, str | list[str]] = {
        "payment.7": "512100",  # valid, yet not applied: the form is taken whole or not at all
        "payment.2": "51A",
        "sales_rate.20": "4457200",
        "vat.10": "706100",
        "journal.salle": "CAISSE1",
        "journal.bar": "ca3",
        "tips": "",
        "customer": "401000",
        "shortage": "758000",
        "sales_rate.abc": "706000",
        "sales_by": "par produit",
    }
    mapping, errors = parse_form(form, RESTAURANT, POS_REFERENCE, current)
    assert mapping is current
    assert current.to_json() == before
    assert errors == {
        "payment.2": "Numéro de compte invalide : des chiffres uniquement (ex. 706000).",
        "sales_rate.20": "Un compte de ventes commence par 70.",
        "vat.10": "Un compte de TVA collectée commence par 4457.",
        "journal.salle": "Code journal invalide : de 2 à 5 lettres majuscules ou chiffres (ex. CA1).",
        "tips": "Ce compte est obligatoire.",
        "customer": "Le compte collectif des clients commence par 411.",
        "shortage": "Un manquant de caisse va à un compte de charges, classe 6 (ex. 658000).",
        "sales_rate.abc": "Taux de TVA invalide (ex. 20 ou 5,5).",
        "sales_by": "Choisissez la ventilation des ventes : par taux de TVA ou par catégorie de produits.",
    }


def test_each_register_keeps_its_own_journal() -> None:
    current = default_mapping(RESTAURANT, POS_REFERENCE)
    _mapping, errors = parse_form({"journal.bar": "CA1"}, RESTAURANT, POS_REFERENCE, current)
    assert errors == {"journal.bar": "Chaque caisse a son propre journal : ce code est déjà pris par une autre caisse."}


def test_sales_by_category_needs_a_source_that_sends_categories() -> None:
    current = default_mapping(POPINA, POS_REFERENCE)
    _mapping, errors = parse_form({"sales_by": "category"}, POPINA, POS_REFERENCE, current)
    assert errors == {"sales_by": "Ce logiciel ne transmet pas de catégories de produits : ventilez les ventes par "
                                  "taux de TVA."}  # fmt: skip


def test_the_e_commerce_form() -> None:
    current = default_mapping(SHOPIFY, WEB_REFERENCE)
    form: dict[str, str | list[str]] = {
        "web_journal": "boutq",
        "country_rate.us": "0",
        "country_sales.US": "707400",
        "country_vat.US": "447100",
        "country_rate.DE": "19",
        "country_sales.DE": "707300",
        "country_vat.DE": "4457190",
        "country_rate.FR": "lines",
        "currency.usd": "0,92",
        "shipping": "708500",
        "gift_cards": "419100",
    }
    mapping, errors = parse_form(form, SHOPIFY, WEB_REFERENCE, current)
    assert errors == {}
    assert mapping.web_journal == "BOUTQ"
    assert mapping.country_rules == {
        "FR": CountryRule(rate=None),
        "US": CountryRule(rate=Decimal(0), sales_account="707400", vat_account="447100"),
        "DE": CountryRule(rate=Decimal(19), sales_account="707300", vat_account="4457190"),
    }
    assert mapping.currency_rates == {"USD": Decimal("0.92")}

    # A country's fields all empty remove its rule; an empty currency removes its rate.
    cleared, errors = parse_form({"country_rate.DE": "", "country_sales.DE": "", "country_vat.DE": "",
                                  "currency.USD": ""}, SHOPIFY, WEB_REFERENCE, mapping)  # fmt: skip
    assert errors == {}
    assert set(cleared.country_rules) == {"FR", "US"}
    assert cleared.currency_rates == {}


def test_e_commerce_form_errors() -> None:
    current = default_mapping(SHOPIFY, WEB_REFERENCE)
    form: dict[str, str | list[str]] = {
        "country_sales.CH": "707400",
        "country_rate.USA": "0",
        "country_rate.DE": "deux",
        "country_vat.DE": "512000",
        "currency.USD": "-1",
        "currency.DOLLAR": "1",
        "shipping": "601000",
        "gift_cards": "706000",
    }
    mapping, errors = parse_form(form, SHOPIFY, WEB_REFERENCE, current)
    assert mapping is current
    assert errors == {
        "country_rate.CH": "Indiquez le taux de TVA appliqué aux commandes livrées dans ce pays.",
        "country_rate.USA": "Code pays invalide : deux lettres (ex. DE).",
        "country_rate.DE": "Taux de TVA invalide (ex. 20 ou 5,5).",
        "country_vat.DE": "Un compte de taxe commence par 44.",
        "currency.USD": "Taux de conversion invalide : le nombre d'euros pour une unité de la devise (ex. 0,92).",
        "currency.DOLLAR": "Code devise invalide : trois lettres (ex. USD).",
        "shipping": "Un compte de ventes commence par 70.",
        "gift_cards": "Les cartes cadeaux vendues vont à un compte de tiers, classe 4 (ex. 419100).",
    }


# --- Storage -------------------------------------------------------------------------------------------


def test_a_mapping_survives_a_json_round_trip() -> None:
    mapping = default_mapping(RESTAURANT, POS_REFERENCE)
    mapping.sales_by = "category"
    mapping.sales_by_category = {"boissons": "706100"}
    mapping.country_rules = {"FR": CountryRule(), "US": CountryRule(Decimal(0), "707400", "447100"),
                             "DE": CountryRule(Decimal("19.0"), None, "4457190")}  # fmt: skip
    mapping.currency_rates = {"USD": Decimal("0.9234"), "CHF": Decimal("1.05")}
    stored = json.loads(json.dumps(mapping.to_json()))
    assert Mapping.from_json(stored) == mapping
    assert Mapping.from_json(stored).to_json() == stored
    assert Mapping.from_json(None) == Mapping()
    assert Mapping.from_json({"sales_by_rate": {"5.50": "706055"}}).sales_by_rate == {"5.5": "706055"}
