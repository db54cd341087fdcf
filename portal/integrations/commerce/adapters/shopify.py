"""Shopify Admin REST orders and refunds → ``CommerceOrder`` / ``CommerceRefund``.

Shapes as in Shopify's own fixtures (``tests/data/pos/shopify``): ``line_items`` with
``price`` × ``quantity``, ``total_discount`` (or ``discount_allocations``) and
``tax_lines`` (``price``, ``rate`` as a fraction: ``0.06`` is 6 %); ``shipping_lines``;
``taxes_included`` (whether prices include tax); refunds with ``refund_line_items``
(``line_item_id``, ``quantity``, the ``line_item`` itself), ``order_adjustments`` and
``transactions``.

What is done with the sample's inconsistencies (the lines are the truth, see the package):

- ``order.json``'s ``subtotal_price`` and ``total_line_items_price`` say 398.00 while its
  three lines are 3 × 199.00 = 597.00: the order is read as its lines, 597.00 untaxed.
- Its lines carry no ``tax_lines``; the order's ``tax_lines`` (11.94 at 6 %) are then
  spread over the taxable lines in proportion (3.98 each, which is what the refund of two
  of those lines says they carried). The order is 597.00 + 11.94 = 608.94, not the
  ``total_price`` of 409.94.
- Its ``discount_codes`` list TENOFF 10.00 but ``total_discounts`` is 0.00 and no line
  has a discount allocation: no discount is deducted (a code applied is in the lines).
- ``orders.json`` lists orders without their lines: such an order is read as one line of
  what the customer paid (``total_price`` − tax − shipping), not its ``subtotal_price``.
- ``refund.json`` refunds two lines (2 × 199.00 + 2 × 3.98 = 405.96) by a transaction of
  209.00, with no ``order_adjustments`` to explain the gap: the refund is read as its
  lines, 405.96, like the order. (A refund with neither lines nor adjustments is an
  amount: its successful refund transactions, spread over the order's lines.)

Money: Shopify's ``financial_status`` says whether the order was paid. Only a paid order
(``paid``, ``partially_refunded``, ``refunded``) names its payment method (the gateway),
so its payment is posted; an ``authorized`` card is not money received until captured,
``pending`` and ``voided`` orders are not sales (status ``pending`` / ``cancelled``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
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
PAID = frozenset({"paid", "partially_refunded", "refunded"})


def _percent(tax_lines: list[dict[str, Any]]) -> Decimal:
    """The rate of a line's taxes, in percent: Shopify's rates are fractions (``0.06``), summed when stacked."""
    rate = sum((money(tax.get("rate")) for tax in tax_lines), ZERO) * HUNDRED
    return rate.normalize() if rate else ZERO


def _tax(tax_lines: list[dict[str, Any]]) -> Decimal:
    return sum((money(tax.get("price")) for tax in tax_lines), ZERO)


def _discount(item: dict[str, Any]) -> Decimal:
    allocations = item.get("discount_allocations") or []
    if allocations:
        return sum((money(allocation.get("amount")) for allocation in allocations), ZERO)
    return money(item.get("total_discount"))


def _country(data: dict[str, Any]) -> str | None:
    for name in ("shipping_address", "billing_address"):
        address = data.get(name) or {}
        code = address.get("country_code")
        if code:
            return str(code).upper()
    return None


def _customer(data: dict[str, Any]) -> CommerceCustomer:
    customer = data.get("customer") or {}
    address = data.get("billing_address") or data.get("shipping_address") or {}
    first = customer.get("first_name") or address.get("first_name") or ""
    last = customer.get("last_name") or address.get("last_name") or ""
    name = f"{first} {last}".strip() or str(address.get("name") or "")
    email = customer.get("email") or data.get("email") or data.get("contact_email")
    return CommerceCustomer(id=str(customer["id"]) if customer.get("id") else None, name=name,
                            email=str(email) if email else None)  # fmt: skip


def _line(
    item: dict[str, Any], *, taxes_included: bool, kind: str, category: str | None, quantity: Decimal | None = None
) -> tuple[CommerceLine, bool]:
    """A line, and whether it carried its own tax lines."""
    tax_lines = item.get("tax_lines") or []
    gift_card = bool(item.get("gift_card"))
    if kind == "shipping":
        gross = money(item.get("discounted_price") or item.get("price"))
    else:
        gross = money(item.get("price")) * (quantity if quantity is not None else money(item.get("quantity", 1)))
        gross -= _discount(item)
    tax = ZERO if gift_card else _tax(tax_lines)
    untaxed = gross - tax if taxes_included else gross
    line = CommerceLine(
        id=str(item.get("id") or ""),
        description=str(item.get("name") or item.get("title") or ""),
        quantity=money(item.get("quantity", 1)),
        untaxed_amount=untaxed,
        tax_rate=_percent(tax_lines),
        tax_amount=tax,
        total=untaxed + tax,
        category_id=category,
        kind="gift_card" if gift_card else kind,
        gift_card=gift_card,
    )
    return line, bool(tax_lines)


def _spread_order_tax(lines: list[CommerceLine], data: dict[str, Any], *, taxes_included: bool) -> list[CommerceLine]:
    """The order's tax lines spread over its taxable product lines when none of them carries its own."""
    tax = _tax(data.get("tax_lines") or [])
    taxable = [index for index, line in enumerate(lines) if line.kind == "product" and line.untaxed_amount]
    if not tax or not taxable:
        return lines
    rate = _percent(data.get("tax_lines") or [])
    shares = allocate(tax, [lines[index].untaxed_amount for index in taxable])
    result = list(lines)
    for index, share in zip(taxable, shares, strict=True):
        line = lines[index]
        untaxed = line.untaxed_amount - share if taxes_included else line.untaxed_amount
        result[index] = CommerceLine(line.id, line.description, line.quantity, untaxed, rate, share, untaxed + share,
                                     line.category_id, line.kind, line.gift_card)  # fmt: skip
    return result


def _summary_lines(data: dict[str, Any]) -> list[CommerceLine]:
    """An order listed without its lines (a ``fields=`` query): one line of its money, shipping apart.

    ``orders.json`` is such a list: its ``subtotal_price`` (597.00) ignores its 10.00 of
    discounts, so the line is what the customer paid: ``total_price`` − tax − shipping.
    """
    tax = money(data.get("total_tax"))
    shipping = money(((data.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount"))
    untaxed = money(data.get("total_price")) - tax - shipping
    rate = _percent(data.get("tax_lines") or [])
    if not rate and tax and untaxed:
        rate = (tax / untaxed * HUNDRED).quantize(CENT).normalize()
    lines = [CommerceLine("order", "Commande", Decimal(1), untaxed, rate, tax, untaxed + tax)]
    if shipping:
        lines.append(CommerceLine("shipping", "Livraison", Decimal(1), shipping, ZERO, ZERO, shipping, kind="shipping"))
    return lines


def _status(data: dict[str, Any]) -> str:
    financial = str(data.get("financial_status") or "paid").lower()
    if data.get("cancelled_at") or financial == "voided":
        return "cancelled"
    return "pending" if financial == "pending" else financial


def order_from_api(data: dict[str, Any], *, product_categories: Mapping[str, str] | None = None) -> CommerceOrder:
    """A Shopify order (the object, or ``{"order": {...}}``) as a ``CommerceOrder``.

    ``product_categories`` (product id → category id) is what a connector reads from the
    products (Shopify's product type or collection), for the sales-by-category mapping.
    """
    data = data.get("order", data)
    categories = product_categories or {}
    taxes_included = bool(data.get("taxes_included"))
    lines: list[CommerceLine] = []
    own_taxes = False
    for item in data.get("line_items") or []:
        category = categories.get(str(item.get("product_id")))
        line, taxed = _line(item, taxes_included=taxes_included, kind="product", category=category)
        lines.append(line)
        own_taxes = own_taxes or taxed
    if not own_taxes:
        lines = _spread_order_tax(lines, data, taxes_included=taxes_included)
    for shipping in data.get("shipping_lines") or []:
        lines.append(_line(shipping, taxes_included=taxes_included, kind="shipping", category=None)[0])
    if "line_items" not in data:
        lines = _summary_lines(data)
    kept = tuple(line for line in lines if line.total)
    untaxed, tax, total = totals(kept)
    status = _status(data)
    gateways = data.get("payment_gateway_names") or [data.get("gateway")]
    gateway = str(gateways[0]) if gateways and gateways[0] and status in PAID else None
    return CommerceOrder(
        id=str(data["id"]),
        number=str(data.get("order_number") or str(data.get("name") or data["id"]).lstrip("#")),
        status=status,
        created=timestamp(data.get("processed_at") or data["created_at"]),
        currency=str(data.get("currency") or "EUR").upper(),
        untaxed_amount=untaxed,
        tax_amount=tax,
        total=total,
        lines=kept,
        country=_country(data),
        customer=_customer(data),
        payment_method_id=gateway,
        payment_method_name=gateway,
        discount_amount=money(data.get("total_discounts")),
    )


def refund_from_api(data: dict[str, Any], order: CommerceOrder) -> CommerceRefund:
    """A Shopify refund (the object, or ``{"refund": {...}}``) of ``order`` as a ``CommerceRefund``.

    A refunded line is read from the refund (``subtotal``/``total_tax`` when Shopify gives
    them) or else from the order's line, scaled to the quantity refunded; shipping
    refunds come from ``order_adjustments``; the money went back through the gateway of
    its refund transactions (else the order's).
    """
    data = data.get("refund", data)
    by_id = {line.id: line for line in order.lines}
    lines = [_refunded_line(refunded, by_id) for refunded in data.get("refund_line_items") or []]
    for adjustment in data.get("order_adjustments") or []:
        if str(adjustment.get("kind")) == "shipping_refund":
            amount = -money(adjustment.get("amount"))
            tax = -money(adjustment.get("tax_amount"))
            lines.append(CommerceLine(str(adjustment.get("id") or "shipping"), "Livraison", ZERO, amount, ZERO, tax,
                                      amount + tax, kind="shipping"))  # fmt: skip
    refunds = [tx for tx in data.get("transactions") or []
               if str(tx.get("kind")) == "refund" and str(tx.get("status")) == "success"]  # fmt: skip
    kept = tuple(line for line in lines if line.total)
    if not kept:
        amount = sum((money(tx.get("amount")) for tx in refunds), ZERO)
        kept = amount_lines(amount, order, "Remboursement")
    untaxed, tax, total = totals(kept)
    gateway = str(refunds[0]["gateway"]) if refunds and refunds[0].get("gateway") else order.payment_method_id
    return CommerceRefund(
        id=str(data["id"]),
        order_id=str(data.get("order_id") or order.id),
        created=timestamp(data.get("processed_at") or data["created_at"]),
        currency=order.currency,
        untaxed_amount=untaxed,
        tax_amount=tax,
        total=total,
        lines=kept,
        country=order.country,
        payment_method_id=gateway,
        customer=order.customer,
    )


def _refunded_line(refunded: dict[str, Any], by_id: dict[str, CommerceLine]) -> CommerceLine:
    item = refunded.get("line_item") or {}
    line_id = str(refunded.get("line_item_id") or item.get("id") or "")
    quantity = money(refunded.get("quantity", 1))
    original = by_id.get(line_id)
    if refunded.get("subtotal") is not None:
        untaxed = money(refunded.get("subtotal"))
        tax = money(refunded.get("total_tax"))
        rate = _percent(item.get("tax_lines") or []) or (original.tax_rate if original else ZERO)
    elif original is not None:  # the order's line already settled taxes_included and any tax spread
        share = quantity / (original.quantity or 1)
        untaxed = (original.untaxed_amount * share).quantize(CENT)
        tax = (original.tax_amount * share).quantize(CENT)
        rate = original.tax_rate
    else:  # a line the order read does not have: its own price and taxes, prices taken as excluding tax
        share = quantity / (money(item.get("quantity", 1)) or 1)
        untaxed = (money(item.get("price")) * quantity - _discount(item) * share).quantize(CENT)
        tax = (_tax(item.get("tax_lines") or []) * share).quantize(CENT)
        rate = _percent(item.get("tax_lines") or [])
    gift_card = bool(item.get("gift_card")) or bool(original and original.gift_card)
    return CommerceLine(
        id=line_id,
        description=str(item.get("name") or item.get("title") or (original.description if original else "")),
        quantity=quantity,
        untaxed_amount=untaxed,
        tax_rate=rate,
        tax_amount=tax,
        total=untaxed + tax,
        category_id=original.category_id if original else None,
        kind="gift_card" if gift_card else (original.kind if original else "product"),
        gift_card=gift_card,
    )
