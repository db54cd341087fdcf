"""Vendor JSON → the unified e-commerce records, as a connector reads Shopify and WooCommerce.

The unified API normally hands the portal ``CommerceOrder`` / ``CommerceRefund`` already;
these adapters read the vendors' own REST shapes (the public samples in
``tests/data/pos``) into the same records, so that a shop connected directly posts
through the same rules, and so that real vendor data, quirks included, tests them.

What every adapter holds to:

- amounts are Decimal from the JSON strings, never floats (read files with
  ``json.loads(text, parse_float=Decimal)``; ``records.money`` goes through ``repr`` for a
  float that slips through);
- **the lines are the truth**: the order's untaxed amount, tax and total are the sums of
  the lines the adapter built, whatever the vendor's order-level totals say (they can be
  stale or inconsistent, see each adapter), because the lines are what the posting books;
- each line's tax is in cents and the lines' taxes add up to the tax the order charged
  (``allocate``: vendors round tax per order, not per line);
- a refund of an amount with no lines is split over the refunded order's lines in
  proportion (``amount_lines``), so its VAT is reversed at the order's rates.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from portal.integrations.commerce.entries import CENT
from portal.integrations.commerce.records import CommerceLine, CommerceOrder

ZERO = Decimal(0)
ONE = Decimal(1)


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``total`` (in cents) split over ``weights`` in cents, largest remainders first: the shares add up exactly.

    Used to turn unrounded per-line taxes (WooCommerce's ``1.125``) into cents that add up
    to the tax the order charged (``2.25``, not the ``2.26`` of rounding each line).
    """
    if not weights:
        return []
    base = sum(weights, ZERO)
    if not base:
        return [ZERO] * (len(weights) - 1) + [total]
    exact = [total * weight / base for weight in weights]
    shares = [share.quantize(CENT, ROUND_DOWN) for share in exact]
    left = int(((total - sum(shares, ZERO)) / CENT).to_integral_value())
    step = CENT if left >= 0 else -CENT
    order = sorted(range(len(weights)), key=lambda index: abs(exact[index] - shares[index]), reverse=True)
    for index in order[: abs(left)]:
        shares[index] += step
    return shares


def amount_lines(amount: Decimal, order: CommerceOrder | None, description: str) -> tuple[CommerceLine, ...]:
    """Lines for a refunded ``amount`` (TTC) without detail: the order's lines scaled to it, else one line at 0 %."""
    if not amount:
        return ()
    lines = [line for line in order.lines if line.total] if order else []
    if not lines:
        return (CommerceLine("amount", description, ONE, amount, ZERO, ZERO, amount),)
    shares = allocate(amount, [line.total for line in lines])
    result = []
    for line, total in zip(lines, shares, strict=True):
        tax = (line.tax_amount * total / line.total).quantize(CENT) if line.total else ZERO
        result.append(
            CommerceLine(
                id=f"{line.id}",
                description=description or line.description,
                quantity=ONE,
                untaxed_amount=total - tax,
                tax_rate=line.tax_rate,
                tax_amount=tax,
                total=total,
                category_id=line.category_id,
                kind=line.kind,
                gift_card=line.gift_card,
            )
        )
    return tuple(line for line in result if line.total)


def totals(lines: tuple[CommerceLine, ...]) -> tuple[Decimal, Decimal, Decimal]:
    """(untaxed, tax, total) of ``lines``: the order's amounts, from its lines."""
    untaxed = sum((line.untaxed_amount for line in lines), ZERO)
    tax = sum((line.tax_amount for line in lines), ZERO)
    return untaxed, tax, untaxed + tax
