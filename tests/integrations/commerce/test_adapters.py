"""Real Shopify and WooCommerce JSON (tests/data/pos, read as they are) booked in French accounts.

The samples are US shops' orders in dollars with US sales tax: no French VAT anywhere. What
makes them French entries is the connection's mapping, set here through the mapping
screen's form as a person would: a rule for the delivery countries (exports: 0 %, sales
to an export account, the US tax collected on its own tax account), a dollar rate,
category and payment accounts.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from portal.integrations.commerce.adapters import shopify, woocommerce
from portal.integrations.commerce.entries import DraftEntry, EntryKind
from portal.integrations.commerce.mapping import Mapping, default_mapping, missing, parse_form
from portal.integrations.commerce.posting import Poster
from portal.integrations.commerce.records import Country, PaymentMethod, ReferenceData
from portal.integrations.commerce.sources import Source, get_source
from tests.samples import DATA

POS_DATA = DATA / "pos"


def load(name: str) -> Any:
    """A sample as a connector reads it: JSON numbers as Decimal, never float."""
    return json.loads((POS_DATA / name).read_text(encoding="utf-8"), parse_float=Decimal)


def source(code: str) -> Source:
    found = get_source(code)
    assert found is not None
    return found


def configured(code: str, reference: ReferenceData, form: dict[str, str | list[str]]) -> Mapping:
    current = default_mapping(source(code), reference)
    mapping, errors = parse_form(form, source(code), reference, current)
    assert errors == {}
    return mapping


def rows(entry: DraftEntry) -> list[tuple[str, str, str]]:
    return [(line.account, f"{line.debit:.2f}", f"{line.credit:.2f}") for line in entry.lines]


def reversed_rows(entry: DraftEntry) -> list[tuple[str, str, str]]:
    return [(account, credit, debit) for account, debit, credit in rows(entry)]


# --- Shopify ---------------------------------------------------------------------------------------

SHOPIFY_REFERENCE = ReferenceData(
    payment_methods=(PaymentMethod("bogus", "Bogus Gateway"), PaymentMethod("authorize_net", "Authorize.Net")),
    countries=(Country("US", "United States"),),
)
SHOPIFY_FORM: dict[str, str | list[str]] = {
    "country_rate.US": "0",  # an export: no French VAT
    "country_vat.US": "447100",  # the state's sales tax the shop collected, owed to it
    "sales_rate.0": "707400",  # exports without a category of their own
    "sales_category.ipod": "707100",
    "currency.USD": "0,92",
    "payment.bogus": "511500",
}
IPOD = {"632910392": "ipod"}  # product → category, as a connector reads the products


def shopify_poster() -> Poster:
    mapping = configured("shopify", SHOPIFY_REFERENCE, SHOPIFY_FORM)
    return Poster(mapping, source("shopify"), SHOPIFY_REFERENCE)


def test_the_shopify_order_is_read_from_its_lines() -> None:
    order = shopify.order_from_api(load("shopify/order.json"), product_categories=IPOD)
    # Its subtotal_price says 398.00 for three lines of 199.00: the lines win; the order's tax (11.94 at 6 %)
    # is spread over them, 3.98 each, as the refund of two of them confirms.
    assert [(line.untaxed_amount, line.tax_amount, line.tax_rate) for line in order.lines] == [
        (Decimal("199.00"), Decimal("3.98"), Decimal(6))] * 3  # fmt: skip
    assert (order.untaxed_amount, order.tax_amount, order.total) == (
        Decimal("597.00"), Decimal("11.94"), Decimal("608.94"))  # fmt: skip
    assert (order.number, order.country, order.currency, order.status) == ("1001", "US", "USD", "authorized")
    assert (order.customer.id, order.customer.name) == ("207119551", "Bob Norman")
    assert order.payment_method_id is None  # authorised, not captured: no money received yet
    assert {line.category_id for line in order.lines} == {"ipod"}
    assert all(line.kind == "product" for line in order.lines)  # the free shipping line is dropped


def test_the_shopify_order_in_euros_on_french_accounts() -> None:
    order = shopify.order_from_api(load("shopify/order.json"), product_categories=IPOD)
    rules = shopify_poster()
    (entry,) = rules.web_order(order)
    assert (entry.kind, entry.journal, entry.record_id, entry.piece_ref) == (EntryKind.WEB_ORDER, "WEB", "450789469",
                                                                             "1001")  # fmt: skip
    assert entry.business_date == dt.date(2008, 1, 10)
    assert entry.label == "Commande #1001 – Bob Norman – 608,94 USD"
    # 597.00 × 0.92 = 549.24; 11.94 × 0.92 = 10.9848 → 10.98; the customer is their sum.
    assert rows(entry) == [("411000", "560.22", "0.00"), ("707100", "0.00", "549.24"), ("447100", "0.00", "10.98")]
    assert (entry.lines[0].aux_account, entry.lines[0].aux_label) == ("C207119551", "Bob Norman")
    assert rules.customers_seen == {"C207119551": "Bob Norman"}
    assert entry.balanced


def test_the_shopify_refund_reverses_its_lines_and_is_reimbursed() -> None:
    order = shopify.order_from_api(load("shopify/order.json"), product_categories=IPOD)
    refund = shopify.refund_from_api(load("shopify/refund.json"), order)
    # Two lines of 199.00 + 3.98 come back; its transaction says 209.00, but the lines are the truth.
    assert (refund.untaxed_amount, refund.tax_amount, refund.total) == (
        Decimal("398.00"), Decimal("7.96"), Decimal("405.96"))  # fmt: skip
    assert (refund.order_id, refund.currency, refund.country, refund.payment_method_id) == (
        "450789469", "USD", "US", "bogus")  # fmt: skip

    rules = shopify_poster()
    (sale,) = rules.web_order(order)
    entry, reimbursement = rules.web_refund(refund)
    assert (entry.kind, entry.record_id) == (EntryKind.WEB_REFUND, "509562969")
    assert entry.label == "Remboursement commande 450789469 – Bob Norman – 405,96 USD"
    assert rows(entry) == [("411000", "0.00", "373.48"), ("707100", "366.16", "0.00"), ("447100", "7.32", "0.00")]
    # The same accounts as the sale, on the other side.
    assert [(account, side == "0.00") for account, side, _ in rows(entry)] == [
        (account, side != "0.00") for account, side, _ in rows(sale)]  # fmt: skip
    assert (reimbursement.kind, reimbursement.record_id) == (EntryKind.PAYMENT, "web-refund:509562969")
    assert rows(reimbursement) == [("511500", "0.00", "373.48"), ("411000", "373.48", "0.00")]
    assert entry.balanced
    assert reimbursement.balanced


def test_shopify_orders_listed_without_lines_and_their_payment() -> None:
    (listed,) = load("shopify/orders.json")["orders"]
    order = shopify.order_from_api(listed)
    # Its subtotal_price (597.00) ignores the 10.00 of discounts: the line is what was paid, 598.94 − 11.94.
    assert (order.untaxed_amount, order.tax_amount, order.total) == (
        Decimal("587.00"), Decimal("11.94"), Decimal("598.94"))  # fmt: skip
    sale, payment = shopify_poster().web_order(order)
    assert rows(sale) == [("411000", "551.02", "0.00"), ("707400", "0.00", "540.04"), ("447100", "0.00", "10.98")]
    assert (payment.record_id, rows(payment)) == ("web:450789469", [("511500", "551.02", "0.00"),
                                                                    ("411000", "0.00", "551.02")])  # fmt: skip


def test_shopify_mapping_left_incomplete_is_listed() -> None:
    mapping = default_mapping(source("shopify"), SHOPIFY_REFERENCE)
    messages = [item.message for item in missing(mapping, source("shopify"), SHOPIFY_REFERENCE, currencies=["USD"])]
    assert messages[:2] == ["Pays de livraison US sans règle de TVA", "Devise USD sans taux de conversion"]


# --- WooCommerce ------------------------------------------------------------------------------------

WOO_REFERENCE = ReferenceData(
    payment_methods=(PaymentMethod("bacs", "Direct Bank Transfer"),),
    countries=(Country("US", "United States"), Country("BR", "Brazil")),
)
WOO_FORM: dict[str, str | list[str]] = {
    "country_rate.US": "0",
    "country_sales.US": "707400",  # exports on their own account, whatever the product
    "country_vat.US": "447100",
    "country_rate.BR": "0",
    "country_sales.BR": "707400",
    "currency.USD": "0.92",
}
WOO_CATEGORIES = {"93": "singles", "22": "posters", "87": "albums", "34": "posters", "79": "posters"}


def woo_poster() -> Poster:
    mapping = configured("woocommerce", WOO_REFERENCE, WOO_FORM)
    assert mapping.payment_accounts == {"bacs": "512000"}  # a bank transfer, recognised by its name
    return Poster(mapping, source("woocommerce"), WOO_REFERENCE)


def woo_orders() -> dict[str, Any]:
    listed = {str(data["id"]): data for data in load("woocommerce/wp-api-v3_orders_list-all-orders.json")}
    batch = load("woocommerce/wp-api-v3_orders_batch-update-orders.json")
    return listed | {str(data["id"]): data for data in batch["create"]}


def test_the_woocommerce_order_in_euros_with_its_bank_transfer() -> None:
    order = woocommerce.order_from_api(woo_orders()["727"], product_categories=WOO_CATEGORIES)
    assert order.lines[1].description == "Ship Your Idea – Color: Black, Size: M Test"  # &ndash; unescaped
    assert [line.category_id for line in order.lines] == ["singles", "posters", None]
    assert [line.tax_rate for line in order.lines] == [Decimal("7.5"), Decimal("7.5"), Decimal(0)]
    assert order.total == Decimal("29.35")
    assert (order.customer.id, order.customer.name, order.payment_method_id) == (None, "John Doe", "bacs")

    sale, payment = woo_poster().web_order(order)
    assert sale.label == "Commande #727 – John Doe – 29,35 USD"
    assert sale.business_date == dt.date(2017, 3, 22)
    # 18.00 × 0.92 = 16.56; the 10.00 shipping 9.20; 1.35 of tax 1.242 → 1.24.
    assert rows(sale) == [("411000", "27.00", "0.00"), ("707400", "0.00", "16.56"), ("708500", "0.00", "9.20"),
                          ("447100", "0.00", "1.24")]  # fmt: skip
    guest = sale.lines[0].aux_account
    assert guest is not None
    assert guest.startswith("C")
    assert len(guest) <= 17  # a guest: told apart by the e-mail
    assert rows(payment) == [("512000", "27.00", "0.00"), ("411000", "0.00", "27.00")]
    assert payment.lines[1].aux_account == guest


def test_woocommerce_line_taxes_add_up_to_the_order_tax() -> None:
    order = woocommerce.order_from_api(woo_orders()["728"])
    # Unrounded 1.125 + 0.225 + 0.9: rounded one by one they make 2.26, the order charged 2.25.
    assert [line.tax_amount for line in order.lines] == [Decimal("1.13"), Decimal("0.22"), Decimal("0.90"),
                                                         Decimal("0.00")]  # fmt: skip
    assert order.total == Decimal(woo_orders()["728"]["total"])
    assert order.status == "pending"
    assert woo_poster().web_order(order) == []  # awaiting its payment: not a sale yet


def test_the_woocommerce_refunds_reverse_the_sale_to_brazil() -> None:
    rules = woo_poster()
    order = woocommerce.order_from_api(woo_orders()["723"], product_categories=WOO_CATEGORIES)
    sale, payment = rules.web_order(order)
    assert rows(sale) == [("411000", "35.88", "0.00"), ("707400", "0.00", "26.68"), ("708500", "0.00", "9.20")]
    assert (sale.lines[0].aux_account, sale.lines[0].aux_label) == ("C26", "João Silva")
    assert rows(payment) == [("512000", "35.88", "0.00"), ("411000", "0.00", "35.88")]

    amount_only, one_line = load("woocommerce/wp-api-v3_order-refunds_list-all-refunds.json")
    refund = woocommerce.refund_from_api(one_line, 723, order)
    assert [(line.description, line.total, line.category_id) for line in refund.lines] == [
        ("Woo Album #2", Decimal("9.00"), "albums")]  # fmt: skip
    entry, reimbursement = rules.web_refund(refund)
    assert entry.kind is EntryKind.WEB_REFUND
    assert rows(entry) == [("411000", "0.00", "8.28"), ("707400", "8.28", "0.00")]
    assert rows(reimbursement) == [("512000", "0.00", "8.28"), ("411000", "8.28", "0.00")]

    # 10.00 refunded without lines: spread over the order's lines (2.31 + 5.13 of goods, 2.56 of shipping).
    refund = woocommerce.refund_from_api(amount_only, 723, order)
    assert sum((line.total for line in refund.lines), Decimal(0)) == Decimal("10.00")
    entry, reimbursement = rules.web_refund(refund)
    assert rows(entry) == [("411000", "0.00", "9.20"), ("707400", "6.84", "0.00"), ("708500", "2.36", "0.00")]
    assert reimbursement.credit == Decimal("9.20")
    # Both refunds together give back 19.00 × 0.92 of the 35.88 received.
    assert Decimal("8.28") + Decimal("9.20") == Decimal("19.00") * Decimal("0.92")


def test_every_sample_books_balanced_entries() -> None:
    entries: list[DraftEntry] = []
    rules = woo_poster()
    for data in woo_orders().values():
        entries += rules.web_order(woocommerce.order_from_api(data, product_categories=WOO_CATEGORIES))
    order = woocommerce.order_from_api(woo_orders()["723"])
    for data in [load("woocommerce/wp-api-v3_order-refunds_create-a-refund.json"),
                 *load("woocommerce/wp-api-v3_order-refunds_list-all-refunds.json")]:  # fmt: skip
        entries += rules.web_refund(woocommerce.refund_from_api(data, 723, order))
    shop = shopify_poster()
    shopify_order = shopify.order_from_api(load("shopify/order.json"), product_categories=IPOD)
    entries += shop.web_order(shopify_order)
    entries += shop.web_refund(shopify.refund_from_api(load("shopify/refund.json"), shopify_order))
    assert len(entries) == 15  # 727, 723 and 729 with their payments (728 is pending); 3 refunds; Shopify 3
    for entry in entries:
        assert entry.balanced, entry
        assert all(line.account.isdigit() for line in entry.lines)
        assert all(line.debit >= 0 and line.credit >= 0 for line in entry.lines)
