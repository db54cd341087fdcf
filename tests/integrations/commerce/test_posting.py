"""The posting rules: exact entries for tickets, payments, refunds, closings and web orders; all balance."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from portal.integrations.commerce.entries import DraftEntry, DraftLine, EntryKind
from portal.integrations.commerce.mapping import CountryRule, Mapping, default_mapping, missing
from portal.integrations.commerce.posting import (
    Poster,
    UnbalancedEntryError,
    Unmapped,
    customer_aux,
    spread,
)
from portal.integrations.commerce.records import (
    ClosureEntry,
    ClosurePayment,
    CommerceCustomer,
    CommerceLine,
    CommerceOrder,
    CommerceRefund,
    Country,
    Location,
    Order,
    OrderItem,
    Payment,
    PaymentMethod,
    ProductCategory,
    ReferenceData,
    TaxRate,
)
from portal.integrations.commerce.sources import Source, get_source

DAY = dt.date(2026, 11, 5)
CREATED = dt.datetime(2026, 11, 5, 12, 30, tzinfo=dt.UTC)


def source(code: str) -> Source:
    found = get_source(code)
    assert found is not None
    return found


RESTAURANT = source("zelty")
SHOP = source("shopify")

REFERENCE = ReferenceData(
    locations=(Location("salle", "Salle"), Location("bar", "Bar")),
    payment_methods=(
        PaymentMethod("cash", "Espèces"),
        PaymentMethod("cb", "Carte bancaire"),
        PaymentMethod("lydia", "Lydia"),
    ),
    tax_rates=(
        TaxRate("t55", "TVA 5,5 %", Decimal("5.5")),
        TaxRate("t10", "TVA 10 %", Decimal(10)),
        TaxRate("t20", "TVA 20 %", Decimal(20)),
    ),
    categories=(ProductCategory("boissons", "Boissons"), ProductCategory("plats", "Plats")),
)


def D(text: str) -> Decimal:  # noqa: N802 - reads like the literal it is
    return Decimal(text)


def item(total: str, rate: str, tax: str = "0", *, category: str | None = None, kind: str = "product") -> OrderItem:
    return OrderItem(
        id=f"i{total}{rate}",
        description="x",
        quantity=D("1"),
        unit_price=D(total),
        total=D(total),
        tax_amount=D(tax),
        tax_rate=D(rate),
        category_id=category,
        type=kind,
    )


def pay(
    payment_id: str, method: str, total: str, tip: str = "0", *, status: str = "Completed", name: str = ""
) -> Payment:
    names = {"cash": "Espèces", "cb": "Carte bancaire", "lydia": "Lydia"}
    return Payment(
        id=payment_id,
        order_id=None,
        method_id=method,
        method_name=name or names.get(method, method),
        total=D(total),
        tip=D(tip),
        status=status,
        date=CREATED,
    )


def ticket(*items: OrderItem, payments: tuple[Payment, ...] = (), number: str = "1042", **extra: Any) -> Order:
    total = sum((line.total for line in items), Decimal(0))
    fields: dict[str, Any] = {"location_id": "salle", "total": total} | extra
    return Order(
        id=f"o{number}", number=number, created=CREATED, tax_amount=D("0"), items=items, payments=payments, **fields
    )


def rows(entry: DraftEntry) -> list[tuple[str, str, str, str | None]]:
    """(account, debit, credit, auxiliary) of each line, amounts as text to compare exactly."""
    return [(line.account, f"{line.debit:.2f}", f"{line.credit:.2f}", line.aux_account) for line in entry.lines]


def poster(mapping: Mapping | None = None) -> Poster:
    return Poster(mapping or default_mapping(RESTAURANT, REFERENCE), RESTAURANT, REFERENCE)


# --- POS tickets -----------------------------------------------------------------------------------


def test_a_restaurant_ticket_at_10_and_20_percent_with_a_tip_paid_by_card() -> None:
    order = ticket(
        item("22.00", "10", "2.00"), item("18.00", "20", "3.00"), payments=(pay("p1", "cb", "40.00", tip="4.00"),)
    )
    sale, payment = poster().order(order, DAY)

    assert (sale.kind, sale.record_id, sale.journal, sale.piece_ref) == (EntryKind.ORDER, "o1042", "CA1", "1042")
    assert sale.label == "Vente ticket 1042 – Salle"
    assert (sale.business_date, sale.entry_date) == (DAY, DAY)
    assert rows(sale) == [
        ("411000", "40.00", "0.00", "COMPTOIR"),
        ("7060100", "0.00", "20.00", None),
        ("7060200", "0.00", "15.00", None),
        ("4457100", "0.00", "2.00", None),
        ("4457200", "0.00", "3.00", None),
    ]
    assert sale.lines[0].aux_label == "Clients comptoir"
    assert (payment.kind, payment.record_id, payment.journal) == (EntryKind.PAYMENT, "p1", "CA1")
    assert payment.label == "Règlement Carte bancaire ticket 1042"
    # The card takings are money received (debit), the customer is settled, the tip is owed to the staff.
    assert rows(payment) == [
        ("511500", "44.00", "0.00", None),
        ("411000", "0.00", "40.00", "COMPTOIR"),
        ("428600", "0.00", "4.00", None),
    ]
    assert sale.balanced
    assert payment.balanced


def test_a_split_payment_posts_one_entry_per_payment_and_skips_the_failed_one() -> None:
    order = ticket(
        item("40.00", "10", "3.64"),
        payments=(pay("p1", "cash", "25.00"), pay("p2", "cb", "15.00"), pay("p3", "cb", "15.00", status="Failed")),
    )
    _sale, cash, card = poster().order(order, DAY)

    assert rows(cash) == [("530000", "25.00", "0.00", None), ("411000", "0.00", "25.00", "COMPTOIR")]
    assert rows(card) == [("511500", "15.00", "0.00", None), ("411000", "0.00", "15.00", "COMPTOIR")]
    assert cash.label == "Règlement Espèces ticket 1042"


def test_vat_is_rounded_per_rate_not_per_item() -> None:
    # Three items at 3.33 TTC, 5.5 %, without VAT from the POS: 9.99 TTC holds 0.52 of VAT
    # (rounding each item would give 3 × 0.17 = 0.51).
    (sale,) = poster().order(ticket(item("3.33", "5.5"), item("3.33", "5.5"), item("3.33", "5.5")), DAY)
    assert rows(sale) == [
        ("411000", "9.99", "0.00", "COMPTOIR"),
        ("7060055", "0.00", "9.47", None),
        ("4457055", "0.00", "0.52", None),
    ]


def test_the_vat_the_pos_gives_per_item_is_summed_per_rate() -> None:
    items = [item("3.33", "5.50", "0.17") for _ in range(3)]  # the rate written 5.50 finds the 5.5 accounts
    (sale,) = poster().order(ticket(*items), DAY)
    assert rows(sale) == [
        ("411000", "9.99", "0.00", "COMPTOIR"),
        ("7060055", "0.00", "9.48", None),
        ("4457055", "0.00", "0.51", None),
    ]


EXPECTED_DISCOUNTED = [
    ("411000", "90.00", "0.00", "COMPTOIR"),
    ("7060100", "0.00", "49.10", None),
    ("7060200", "0.00", "30.00", None),
    ("4457100", "0.00", "4.90", None),
    ("4457200", "0.00", "6.00", None),
]


def test_a_general_discount_is_spread_over_the_rates_in_proportion() -> None:
    # 60.00 at 10 % and 40.00 at 20 %, 10.00 off the ticket: 6.00 off the 10 %, the remainder 4.00 off the 20 %.
    discount = item("-10.00", "0", kind="general_discount")
    (sale,) = poster().order(ticket(item("60.00", "10", "5.45"), item("40.00", "20", "6.67"), discount), DAY)
    assert rows(sale) == EXPECTED_DISCOUNTED


def test_an_order_total_discount_not_in_the_items_is_spread_the_same_way() -> None:
    order = ticket(
        item("60.00", "10", "5.45"), item("40.00", "20", "6.67"), total=D("90.00"), total_discount=D("10.00")
    )
    (sale,) = poster().order(order, DAY)
    assert rows(sale) == EXPECTED_DISCOUNTED


def test_a_total_discount_already_in_the_items_is_not_taken_twice() -> None:
    order = ticket(
        item("54.00", "10", "4.91"), item("36.00", "20", "6.00"), total=D("90.00"), total_discount=D("10.00")
    )
    (sale,) = poster().order(order, DAY)
    assert sale.debit == D("90.00")
    assert rows(sale)[1:] == [
        ("7060100", "0.00", "49.09", None),
        ("7060200", "0.00", "30.00", None),
        ("4457100", "0.00", "4.91", None),
        ("4457200", "0.00", "6.00", None),
    ]


def test_a_refund_ticket_is_the_exact_reverse_of_its_sale() -> None:
    rules = poster()
    items = (item("22.00", "10", "2.00"), item("18.00", "20", "3.00"))
    sale, sale_payment = rules.order(ticket(*items, payments=(pay("p1", "cash", "40.00"),)), DAY)
    negative = tuple(
        OrderItem(
            line.id, line.description, line.quantity, -line.unit_price, -line.total, -line.tax_amount, line.tax_rate
        )
        for line in items
    )
    refund, refund_payment = rules.order(
        ticket(*negative, payments=(pay("p2", "cash", "-40.00"),), number="1043", refund_of="o1042"), DAY
    )

    assert (refund.kind, refund.label) == (EntryKind.REFUND, "Remboursement ticket 1043 – Salle")
    assert rows(refund) == [(account, credit, debit, aux) for account, debit, credit, aux in rows(sale)]
    assert refund_payment.label == "Remboursement Espèces ticket 1043"
    assert rows(refund_payment) == [(a, c, d, x) for a, d, c, x in rows(sale_payment)]
    assert all(line.debit >= 0 and line.credit >= 0 for line in refund.lines + refund_payment.lines)


def test_sales_by_category_with_the_rate_account_for_uncategorised_items() -> None:
    mapping = default_mapping(RESTAURANT, REFERENCE)
    mapping.sales_by = "category"
    mapping.sales_by_category = {"boissons": "706100", "plats": "706200"}
    order = ticket(
        item("12.00", "20", "2.00", category="boissons"),
        item("33.00", "10", "3.00", category="plats"),
        item("11.00", "10", "1.00", category="desserts"),
    )
    (sale,) = poster(mapping).order(order, DAY)
    # 10 %: 44.00 TTC, 4.00 VAT, 40.00 HT: 30.00 for the plats (33/44), the rest on the rate's account.
    assert rows(sale) == [
        ("411000", "56.00", "0.00", "COMPTOIR"),
        ("706200", "0.00", "30.00", None),
        ("7060100", "0.00", "10.00", None),
        ("706100", "0.00", "10.00", None),
        ("4457100", "0.00", "4.00", None),
        ("4457200", "0.00", "2.00", None),
    ]


def test_a_rate_without_accounts_blocks_the_ticket() -> None:
    mapping = default_mapping(RESTAURANT, REFERENCE)
    del mapping.sales_by_rate["5.5"]
    order = ticket(item("10.55", "5.5", "0.55"), item("2.10", "2.1", "0.04"))
    with pytest.raises(Unmapped) as raised:
        poster(mapping).order(order, DAY)
    assert [missing.message for missing in raised.value.items] == [
        "Taux de TVA 2,1 % sans compte de ventes",
        "Taux de TVA 2,1 % sans compte de TVA collectée",
        "Taux de TVA 5,5 % sans compte de ventes",
    ]
    assert all(missing.blocking for missing in raised.value.items)
    assert raised.value.items[0].field == "sales_rate.2.1"


def test_an_unknown_register_blocks_its_tickets() -> None:
    with pytest.raises(Unmapped) as raised:
        poster().order(ticket(item("5.00", "10", "0.45"), location_id="terrasse"), DAY)
    assert raised.value.items[0].message == (
        "Caisse « terrasse » sans journal : ses tickets ne peuvent pas être comptabilisés"
    )


def test_a_ticket_without_register_goes_to_the_default_journal() -> None:
    (sale,) = poster().order(ticket(item("5.00", "10", "0.45"), location_id=None), DAY)
    assert sale.journal == "CA"


def test_an_unmapped_payment_method_goes_to_the_fallback_and_is_listed() -> None:
    rules = poster()
    _sale, payment = rules.order(ticket(item("12.00", "10", "1.09"), payments=(pay("p1", "lydia", "12.00"),)), DAY)
    assert rows(payment) == [("471000", "12.00", "0.00", None), ("411000", "0.00", "12.00", "COMPTOIR")]
    assert rules.fallback_methods == {"lydia": "Lydia"}
    (listed,) = missing(default_mapping(RESTAURANT, REFERENCE), RESTAURANT, REFERENCE)
    assert listed.message == "Moyen de paiement « Lydia » sans compte : ses règlements iront au compte d'attente 471000"
    assert not listed.blocking


def test_customers_get_a_deterministic_auxiliary_account_and_are_reported() -> None:
    rules = poster()
    order = ticket(item("12.00", "10", "1.09"), customer_id="4711", customer_name="Jeanne Martin")
    (sale,) = rules.order(order, DAY)
    assert (sale.lines[0].aux_account, sale.lines[0].aux_label) == ("C4711", "Jeanne Martin")
    rules.order(ticket(item("3.00", "10", "0.27"), number="1043"), DAY)
    assert rules.customers_seen == {"C4711": "Jeanne Martin", "COMPTOIR": "Clients comptoir"}
    long_id = "cus_0123456789abcdefghijklmnop"
    assert customer_aux(long_id) == customer_aux(long_id)
    assert len(customer_aux(long_id)) == 17
    assert customer_aux("abc") != customer_aux("ABC")  # a cleaned id is hashed, so ids differing in case stay apart
    assert customer_aux("OMPTOIR", walk_in="COMPTOIR") != "COMPTOIR"


# --- Closing ------------------------------------------------------------------------------------------


def closing(*payments: ClosurePayment) -> ClosureEntry:
    return ClosureEntry(id="z1", total=D("0"), tax_amount=D("0"), payments=payments, location_id="bar")


def test_a_cash_shortage_at_closing() -> None:
    entry = poster().closure(
        closing(
            ClosurePayment("cash", "Espèces", D("500.00"), counted=D("495.50")),
            ClosurePayment("cb", "Carte bancaire", D("300.00"), counted=D("300.00")),
        ),
        DAY,
    )
    assert entry is not None
    assert (entry.kind, entry.journal, entry.record_id) == (EntryKind.CLOSURE, "CA2", "2026-11-05/z1")
    assert entry.label == "Clôture de caisse – Bar 05/11/2026"
    assert entry.lines[0].label == "Écart de caisse Espèces – Bar 05/11/2026"
    assert rows(entry) == [("658000", "4.50", "0.00", None), ("530000", "0.00", "4.50", None)]


def test_a_cash_surplus_at_closing() -> None:
    entry = poster().closure(closing(ClosurePayment("cash", "Espèces", D("500.00"), counted=D("502.00"))), DAY)
    assert entry is not None
    assert rows(entry) == [("530000", "2.00", "0.00", None), ("758000", "0.00", "2.00", None)]


def test_a_closing_without_difference_posts_nothing() -> None:
    rules = poster()
    assert rules.closure(closing(ClosurePayment("cash", "Espèces", D("500.00"), counted=D("500.00"))), DAY) is None
    assert rules.closure(closing(ClosurePayment("cash", "Espèces", D("500.00"))), DAY) is None  # not counted


# --- E-commerce -------------------------------------------------------------------------------------------

WEB_REFERENCE = ReferenceData(
    payment_methods=(PaymentMethod("paypal", "PayPal"), PaymentMethod("stripe", "Stripe")),
    tax_rates=(TaxRate("fr20", "TVA 20 %", D("20"), country="FR"), TaxRate("fr55", "TVA 5,5 %", D("5.5"))),
    countries=(Country("FR", "France"), Country("DE", "Allemagne"), Country("CH", "Suisse")),
)


def web_mapping() -> Mapping:
    mapping = default_mapping(SHOP, WEB_REFERENCE)
    mapping.sales_by_category = {"livres": "707100"}
    mapping.country_rules["DE"] = CountryRule(rate=D("19"), sales_account="707300", vat_account="4457190")
    mapping.currency_rates["USD"] = D("0.92")
    return mapping


def web_line(untaxed: str, rate: str, tax: str, *, kind: str = "product", category: str | None = None) -> CommerceLine:
    return CommerceLine(
        id=f"l{untaxed}",
        description="x",
        quantity=D("1"),
        untaxed_amount=D(untaxed),
        tax_rate=D(rate),
        tax_amount=D(tax),
        total=D(untaxed) + D(tax),
        category_id=category,
        kind=kind,
        gift_card=kind == "gift_card",
    )


def web_order(
    *lines: CommerceLine,
    country: str | None = "FR",
    currency: str = "EUR",
    status: str = "paid",
    method: str | None = "paypal",
) -> CommerceOrder:
    total = sum((line.total for line in lines), Decimal(0))
    return CommerceOrder(
        id="1001",
        number="1001",
        status=status,
        created=CREATED,
        currency=currency,
        untaxed_amount=D("0"),
        tax_amount=D("0"),
        total=total,
        lines=lines,
        country=country,
        customer=CommerceCustomer("55", "Jeanne Martin", "jeanne@example.com"),
        payment_method_id=method,
        payment_method_name="PayPal" if method else None,
    )


def test_a_web_order_books_sales_by_category_shipping_gift_cards_vat_and_its_payment() -> None:
    order = web_order(
        web_line("50.00", "5.5", "2.75", category="livres"),
        web_line("100.00", "20", "20.00"),
        web_line("5.00", "20", "1.00", kind="shipping"),
        web_line("30.00", "0", "0", kind="gift_card"),
    )
    sale, payment = Poster(web_mapping(), SHOP, WEB_REFERENCE).web_order(order)
    assert (sale.kind, sale.record_id, sale.journal, sale.piece_ref) == (EntryKind.WEB_ORDER, "1001", "WEB", "1001")
    assert sale.label == "Commande #1001 – Jeanne Martin"
    assert sale.business_date == DAY
    assert rows(sale) == [
        ("411000", "208.75", "0.00", "C55"),
        ("707100", "0.00", "50.00", None),
        ("7070200", "0.00", "100.00", None),
        ("708500", "0.00", "5.00", None),
        ("419100", "0.00", "30.00", None),
        ("4457055", "0.00", "2.75", None),
        ("4457200", "0.00", "21.00", None),
    ]
    assert (payment.kind, payment.record_id) == (EntryKind.PAYMENT, "web:1001")
    assert payment.label == "Règlement PayPal – Commande #1001 – Jeanne Martin"
    assert rows(payment) == [("517100", "208.75", "0.00", None), ("411000", "0.00", "208.75", "C55")]


def test_a_country_rule_with_its_own_accounts_takes_those_sales_apart() -> None:
    (sale, _payment) = Poster(web_mapping(), SHOP, WEB_REFERENCE).web_order(
        web_order(web_line("100.00", "19", "19.00", category="livres"), country="DE")
    )
    assert rows(sale) == [
        ("411000", "119.00", "0.00", "C55"),
        ("707300", "0.00", "100.00", None),
        ("4457190", "0.00", "19.00", None),
    ]


def test_a_foreign_currency_order_is_converted_line_by_line_and_still_balances() -> None:
    order = web_order(web_line("33.33", "20", "6.67"), web_line("10.01", "20", "2.00", kind="shipping"), currency="USD")
    sale, payment = Poster(web_mapping(), SHOP, WEB_REFERENCE).web_order(order)
    # 33.33 × 0.92 = 30.6636 → 30.66; 10.01 × 0.92 = 9.2092 → 9.21; 8.67 × 0.92 = 7.9764 → 7.98
    assert rows(sale) == [
        ("411000", "47.85", "0.00", "C55"),
        ("7070200", "0.00", "30.66", None),
        ("708500", "0.00", "9.21", None),
        ("4457200", "0.00", "7.98", None),
    ]
    assert sale.label == "Commande #1001 – Jeanne Martin – 52,01 USD"
    assert payment.debit == D("47.85")


def test_a_web_refund_reverses_the_sale_and_reimburses() -> None:
    refund = CommerceRefund(
        id="r1",
        order_id="1001",
        created=CREATED,
        currency="EUR",
        untaxed_amount=D("0"),
        tax_amount=D("0"),
        total=D("120.00"),
        lines=(web_line("100.00", "20", "20.00"),),
        country="FR",
        payment_method_id="stripe",
        customer=CommerceCustomer("55", "Jeanne Martin"),
    )
    entry, reimbursement = Poster(web_mapping(), SHOP, WEB_REFERENCE).web_refund(refund)
    assert (entry.kind, entry.record_id, entry.label) == (
        EntryKind.WEB_REFUND,
        "r1",
        "Remboursement commande 1001 – Jeanne Martin",
    )
    assert rows(entry) == [
        ("411000", "0.00", "120.00", "C55"),
        ("7070200", "100.00", "0.00", None),
        ("4457200", "20.00", "0.00", None),
    ]
    assert (reimbursement.kind, reimbursement.record_id) == (EntryKind.PAYMENT, "web-refund:r1")
    assert rows(reimbursement) == [("517200", "0.00", "120.00", None), ("411000", "120.00", "0.00", "C55")]


def test_cancelled_and_unpaid_web_orders() -> None:
    rules = Poster(web_mapping(), SHOP, WEB_REFERENCE)
    assert rules.web_order(web_order(web_line("10.00", "20", "2.00"), status="cancelled")) == []
    assert rules.web_order(web_order(web_line("10.00", "20", "2.00"), status="pending")) == []
    (sale,) = rules.web_order(web_order(web_line("10.00", "20", "2.00"), method=None))  # not paid yet: no payment
    assert sale.kind is EntryKind.WEB_ORDER


def test_a_country_without_rule_or_a_currency_without_rate_blocks_the_order() -> None:
    rules = Poster(web_mapping(), SHOP, WEB_REFERENCE)
    with pytest.raises(Unmapped) as raised:
        rules.web_order(web_order(web_line("10.00", "0", "0"), country="CH"))
    assert [item.message for item in raised.value.items] == ["Pays de livraison CH sans règle de TVA"]
    with pytest.raises(Unmapped) as raised:
        rules.web_order(web_order(web_line("10.00", "20", "2.00"), currency="GBP"))
    assert [item.message for item in raised.value.items] == ["Devise GBP sans taux de conversion"]


# --- Every entry balances ------------------------------------------------------------------------------


def test_an_unbalanced_entry_is_never_built() -> None:
    lines = [DraftLine("411000", "x", debit=D("10.00")), DraftLine("7070200", "x", credit=D("9.99"))]
    with pytest.raises(UnbalancedEntryError):
        Poster._entry(EntryKind.ORDER, "o1", DAY, "CA1", "x", "1", lines)


def test_spread_gives_the_remainder_to_the_last_share() -> None:
    assert spread(D("10.00"), [D("1"), D("1"), D("1")]) == [D("3.33"), D("3.33"), D("3.34")]
    assert spread(D("-1.00"), [D("0"), D("0")]) == [D("0"), D("-1.00")]


RATES = ["0", "2.1", "5.5", "10", "20"]


def _random_ticket(rng: random.Random, number: int) -> Order:
    items = []
    for index in range(rng.randint(1, 6)):
        rate = rng.choice(RATES)
        total = Decimal(rng.randint(1, 20000)) / 100
        with_tax = rng.random() < 0.5
        tax = (total - total / (1 + Decimal(rate) / 100)).quantize(D("0.01")) if with_tax else D("0")
        category = rng.choice(["boissons", "plats", None])
        items.append(OrderItem(f"i{index}", "x", D("1"), total, total, tax, Decimal(rate), category_id=category))
    if rng.random() < 0.3:
        off = -(sum((x.total for x in items), Decimal(0)) * Decimal(rng.randint(1, 30)) / 100).quantize(D("0.01"))
        items.append(OrderItem("d", "remise", D("1"), D("0"), off, D("0"), D("0"), type="general_discount"))
    refund = rng.random() < 0.2
    if refund:
        items = [
            OrderItem(
                x.id,
                x.description,
                x.quantity,
                -x.unit_price,
                -x.total,
                -x.tax_amount,
                x.tax_rate,
                category_id=x.category_id,
                type=x.type,
            )
            for x in items
        ]
    total = sum((x.total for x in items), Decimal(0))
    first = (total * Decimal(rng.randint(0, 100)) / 100).quantize(D("0.01"))
    payments = (
        pay(
            f"p{number}a", rng.choice(["cash", "cb", "lydia"]), str(first), tip=str(Decimal(rng.randint(0, 300)) / 100)
        ),
        pay(f"p{number}b", rng.choice(["cash", "cb"]), str(total - first)),
    )
    return Order(
        id=f"o{number}",
        number=str(number),
        created=CREATED,
        total=total,
        tax_amount=D("0"),
        items=tuple(items),
        payments=payments,
        location_id=rng.choice(["salle", "bar", None]),
        customer_id=rng.choice([None, "42", "cus_x"]),
        refund_of="o1" if refund else None,
    )


@pytest.mark.parametrize("sales_by", ["vat_rate", "category"])
def test_every_entry_of_many_random_tickets_balances(sales_by: str) -> None:
    mapping = default_mapping(RESTAURANT, REFERENCE)
    mapping.sales_by_rate.update({"0": "7060000", "2.1": "7060021"})
    mapping.vat_accounts["2.1"] = "4457021"
    mapping.sales_by = sales_by
    mapping.sales_by_category = {"boissons": "706100", "plats": "706200"}
    rules = poster(mapping)
    rng = random.Random(20261105)  # noqa: S311 - reproducible test data, not a secret
    for number in range(1500):
        order = _random_ticket(rng, number)
        entries = rules.order(order, DAY)
        for entry in entries:
            assert entry.balanced, entry
            assert entry.lines, entry
            assert all((line.debit > 0) != (line.credit > 0) for line in entry.lines), entry
            assert all(line.debit >= 0 and line.credit >= 0 for line in entry.lines), entry
            assert all(line.debit == line.debit.quantize(D("0.01")) for line in entry.lines)
        sale = entries[0]
        if sale.kind in {EntryKind.ORDER, EntryKind.REFUND}:
            sign = 1 if sale.kind is EntryKind.ORDER else -1
            customer = sale.lines[0]
            assert customer.account == "411000"
            assert sign * (customer.debit - customer.credit) >= 0
