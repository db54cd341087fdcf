"""WooCommerce REST (``wc/v3``) orders and refunds → ``CommerceOrder`` / ``CommerceRefund``.

Shapes as in WooCommerce's API documentation examples (``tests/data/pos/woocommerce``):
``line_items`` whose ``total`` excludes tax whatever ``prices_include_tax`` says (the
flag only tells how the shop displays prices; the API's totals are always before tax),
with ``total_tax`` and per-rate ``taxes`` (``id`` of an order ``tax_lines`` rate, ``total``
unrounded: ``1.125``); ``shipping_lines`` and ``fee_lines`` likewise; ``tax_lines`` with
the order's tax per rate, rounded once per order (``cart_tax`` for items and fees,
``shipping_tax`` for shipping). Refunds list negative ``line_items`` (with the refunded
item's id in ``_refunded_item_id``) or only an ``amount``.

What is done with the samples' quirks:

- Product names carry HTML entities (``Ship Your Idea &ndash; Color: Black``): unescaped.
- Line taxes rounded one by one do not always add up to the order's tax (order 728:
  1.13 + 0.23 + 0.90 = 2.26 for ``cart_tax`` 2.25): the order's tax is spread over the
  lines by their unrounded taxes (``allocate``), so the lines add up to what was charged.
- The rate: the tax line's ``rate_percent`` when WooCommerce gives it, else the line's
  unrounded tax over its amount (0.45 / 6.00 = 7.5 %).
- A refund with no lines (refund 726: 10.00) is an amount, spread over the order's lines
  when the order is given, else one line without tax.

Money: an order with a ``date_paid``, or ``processing`` / ``completed`` / ``refunded``
(WooCommerce's statuses once paid: order 723 is ``completed`` with no ``date_paid``), was
paid with its ``payment_method`` (``bacs`` is a bank transfer), so its payment is posted;
an ``on-hold`` order awaits its payment (the sale is posted, the customer owes it);
``pending``, ``failed``, ``cancelled``, ``trash`` and ``checkout-draft`` orders are not sales.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from portal.integrations.commerce.adapters import ZERO, allocate, amount_lines, totals
from portal.integrations.commerce.entries import CENT
from portal.integrations.commerce.records import (
    CommerceCustomer,
    CommerceLine,
    CommerceOrder,
    CommerceRefund,
    money,
    timestamp,
)

HUNDRED = Decimal(100)
RATE_PLACES = Decimal("0.01")
_STATUSES = {"trash": "cancelled", "checkout-draft": "draft"}
# WooCommerce's statuses after the payment: "processing" is paid and awaiting shipment, "completed" paid and shipped.
PAID = frozenset({"processing", "completed", "refunded"})


def _precise_tax(item: dict[str, Any]) -> Decimal:
    taxes = item.get("taxes") or []
    if taxes:
        return sum((money(tax.get("total")) for tax in taxes), ZERO)
    return money(item.get("total_tax"))


def _rate(item: dict[str, Any], untaxed: Decimal, tax: Decimal, percents: dict[str, Decimal]) -> Decimal:
    ids = [str(tax.get("id")) for tax in item.get("taxes") or [] if money(tax.get("total"))]
    if ids and all(rate_id in percents for rate_id in ids):
        return sum((percents[rate_id] for rate_id in ids), ZERO).normalize()
    if not tax or not untaxed:
        return ZERO
    return (tax / untaxed * HUNDRED).quantize(RATE_PLACES, ROUND_HALF_UP).normalize()


def _lines(
    items: list[dict[str, Any]],
    *,
    kind: str,
    order_tax: Decimal | None,
    percents: dict[str, Decimal],
    categories: Mapping[str, str],
    sign: Decimal = Decimal(1),
) -> list[CommerceLine]:
    """Lines of one kind; their taxes, in cents, add up to ``order_tax`` when it is given."""
    # "+ ZERO": a refund's "-0.00" reads as 0.00
    untaxed = [sign * money(item.get("total")) + ZERO for item in items]
    precise = [sign * _precise_tax(item) + ZERO for item in items]
    if order_tax is not None and any(precise):
        taxes = allocate(order_tax, precise)
    else:
        taxes = [tax.quantize(CENT, ROUND_HALF_UP) for tax in precise]
    lines = []
    for item, amount, exact, tax in zip(items, untaxed, precise, taxes, strict=True):
        name = item.get("name") or item.get("method_title") or ""
        lines.append(
            CommerceLine(
                id=str(item.get("id") or ""),
                description=html.unescape(str(name)),
                quantity=abs(money(item.get("quantity", 1))),
                untaxed_amount=amount,
                tax_rate=_rate(item, amount, exact, percents),
                tax_amount=tax,
                total=amount + tax,
                category_id=categories.get(str(item.get("product_id"))) if kind == "product" else None,
                kind=kind,
            )
        )
    return lines


def _percents(data: dict[str, Any]) -> dict[str, Decimal]:
    """Tax rate id → percent, from the order's tax lines when they say it (``rate_percent``, WooCommerce ≥ 3.7)."""
    return {str(tax.get("rate_id")): money(tax.get("rate_percent")) for tax in data.get("tax_lines") or []
            if tax.get("rate_percent") is not None}  # fmt: skip


def _customer(data: dict[str, Any]) -> CommerceCustomer:
    billing = data.get("billing") or {}
    shipping = data.get("shipping") or {}
    first = billing.get("first_name") or shipping.get("first_name") or ""
    last = billing.get("last_name") or shipping.get("last_name") or ""
    name = f"{first} {last}".strip() or str(billing.get("company") or "")
    customer_id = data.get("customer_id")
    return CommerceCustomer(id=str(customer_id) if customer_id not in {None, 0, "0", ""} else None, name=name,
                            email=str(billing["email"]) if billing.get("email") else None)  # fmt: skip


def order_from_api(data: dict[str, Any], *, product_categories: Mapping[str, str] | None = None) -> CommerceOrder:
    """A WooCommerce order as a ``CommerceOrder``.

    ``product_categories`` (product id → category id) is what a connector reads from the
    products' ``categories``, for the sales-by-category mapping.
    """
    categories = product_categories or {}
    percents = _percents(data)
    cart_tax = money(data["cart_tax"]) if data.get("cart_tax") is not None else None
    shipping_tax = money(data["shipping_tax"]) if data.get("shipping_tax") is not None else None
    goods = [*(data.get("line_items") or []), *(data.get("fee_lines") or [])]
    lines = _lines(goods, kind="product", order_tax=cart_tax, percents=percents, categories=categories)
    fees = len(data.get("fee_lines") or [])
    if fees:  # fee lines share the cart tax with the items; they are fees
        lines[-fees:] = [_as_kind(line, "fee") for line in lines[-fees:]]
    lines += _lines(data.get("shipping_lines") or [], kind="shipping", order_tax=shipping_tax, percents=percents,
                    categories=categories)  # fmt: skip
    kept = tuple(line for line in lines if line.total)
    untaxed, tax, total = totals(kept)
    status = str(data.get("status") or "processing").lower()
    paid = bool(data.get("date_paid") or data.get("date_paid_gmt")) or status in PAID
    method = str(data.get("payment_method") or "") or None
    shipping = data.get("shipping") or {}
    billing = data.get("billing") or {}
    country = shipping.get("country") or billing.get("country")
    return CommerceOrder(
        id=str(data["id"]),
        number=str(data.get("number") or data["id"]),
        status=_STATUSES.get(status, status),
        created=timestamp(data.get("date_created_gmt") or data["date_created"]),
        currency=str(data.get("currency") or "EUR").upper(),
        untaxed_amount=untaxed,
        tax_amount=tax,
        total=total,
        lines=kept,
        country=str(country).upper() if country else None,
        customer=_customer(data),
        payment_method_id=method if paid else None,
        payment_method_name=str(data.get("payment_method_title") or method) if paid and method else None,
        discount_amount=money(data.get("discount_total")),
    )


def _as_kind(line: CommerceLine, kind: str) -> CommerceLine:
    return CommerceLine(line.id, line.description, line.quantity, line.untaxed_amount, line.tax_rate, line.tax_amount,
                        line.total, line.category_id, kind, line.gift_card)  # fmt: skip


def refund_from_api(data: dict[str, Any], order_id: str | int, order: CommerceOrder | None = None) -> CommerceRefund:
    """A WooCommerce refund of order ``order_id`` as a ``CommerceRefund`` (positive amounts).

    Pass the refunded ``order`` (a connector lists refunds under their order): the refund
    takes its currency, country, customer and payment method from it, its lines' rates
    and categories, and an amount-only refund is spread over its lines. Without it, the
    refund is in euros and an amount-only refund carries no tax.
    """
    by_id = {line.id: line for line in order.lines} if order else {}
    lines = _lines(data.get("line_items") or [], kind="product", order_tax=None, percents={}, categories={},
                   sign=Decimal(-1))  # fmt: skip
    lines += _lines(data.get("shipping_lines") or [], kind="shipping", order_tax=None, percents={}, categories={},
                    sign=Decimal(-1))  # fmt: skip
    refunded_ids = [_refunded_item_id(item) for item in data.get("line_items") or []]
    for index, refunded_id in enumerate(refunded_ids):
        original = by_id.get(refunded_id or "")
        if original is not None:
            line = lines[index]
            lines[index] = CommerceLine(line.id, line.description or original.description, line.quantity,
                                        line.untaxed_amount, original.tax_rate if line.tax_amount else line.tax_rate,
                                        line.tax_amount, line.total, original.category_id, original.kind,
                                        original.gift_card)  # fmt: skip
    kept = tuple(line for line in lines if line.total)
    if not kept:
        kept = amount_lines(money(data.get("amount")), order, str(data.get("reason") or "Remboursement"))
    untaxed, tax, total = totals(kept)
    return CommerceRefund(
        id=str(data["id"]),
        order_id=str(order_id),
        created=timestamp(data.get("date_created_gmt") or data["date_created"]),
        currency=order.currency if order else "EUR",
        untaxed_amount=untaxed,
        tax_amount=tax,
        total=total,
        lines=kept,
        country=order.country if order else None,
        payment_method_id=order.payment_method_id if order else None,
        customer=order.customer if order else CommerceCustomer(None, ""),
    )


def _refunded_item_id(item: dict[str, Any]) -> str | None:
    for meta in item.get("meta_data") or []:
        if meta.get("key") == "_refunded_item_id":
            return str(meta.get("value"))
    return None
