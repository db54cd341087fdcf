"""Sales made up on demand: a day of an account is the same every time it is asked for.

Nothing is stored. A day is generated from a ``random.Random`` seeded with the account and
the date, so an account can have years of history and 100,000+ orders at no cost until
someone reads them, and every run (every machine) sees the same tickets. Each day comes in
two steps: a *plan*, cheap (how many tickets per register, which web orders are cancelled
or refunded later, and when), which is enough to count a day without generating it; and
the orders themselves, generated only for the days a page needs, kept in a small LRU cache
already encoded to JSON, so that paging through a day generates it once.

Amounts are ``Decimal`` throughout, rounded the way a till does it:

- a ticket line's ``total`` includes VAT (and the line's discount), its ``tax_amount`` is
  the VAT inside it, rounded half-up to the cent line by line; the ticket's ``total`` and
  ``tax_amount`` are the sums of its lines, ``taxes[]`` the same sums per rate;
- payments add up to the ticket's total; tips are on the side (``tip``, ``total_tip``);
- a refund ticket is a negative ticket (``refund_of`` names the ticket it refunds) paid
  back by a negative payment;
- a web line (and the shipping) has ``untaxed_amount + tax_amount = total``, and so has the
  order; the VAT is the destination country's, none for an export.

JSON is written by msgspec with ``decimal_format="number"``: amounts are JSON numbers with
two decimals, straight from the Decimal's text, never through a float.
"""

from __future__ import annotations

import bisect
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import accumulate
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from portal.sandbox.commerce.catalogue import (
    COUNTRY_NAMES,
    FIRST_NAMES,
    LAST_NAMES,
    Account,
    Destination,
    Method,
    PosProfile,
    Product,
    Rate,
    Register,
    ShopProfile,
    Window,
)

PARIS = ZoneInfo("Europe/Paris")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
DAY_SECONDS = 86_400
SPLIT_FROM = Decimal(20)  # a bill is shared between two people's cards from this much
LUNCH = (11 * 3600, 15 * 3600)  # meal vouchers are taken at lunch, Monday to Saturday
MAX_REFUND_DELAY = 21  # days between a web order and its refund, at most
ENCODER = msgspec.json.Encoder(decimal_format="number")
# A web shop's day: a little at night, more in the evening.
WEB_WINDOWS = (Window(0, 7 * 60, 1), Window(7 * 60, 12 * 60, 3), Window(12 * 60, 18 * 60, 4),
               Window(18 * 60, 24 * 60, 5))  # fmt: skip
REFUND_REASONS = ("Retour client", "Article arrivé cassé", "Erreur de commande", "Colis perdu")

Json = dict[str, Any]
T = TypeVar("T")


def vat_in(total: Decimal, rate: Decimal) -> Decimal:
    """The VAT inside an amount that includes it, rounded half-up to the cent."""
    if not rate:
        return ZERO
    return (total * rate / (HUNDRED + rate)).quantize(CENT, ROUND_HALF_UP)


@lru_cache(maxsize=8192)
def line_amounts(price: Decimal, rate: Decimal, quantity: int, percent: int) -> tuple[Decimal, Decimal, Decimal]:
    """``(gross, total, tax)`` of ``quantity`` × ``price`` (VAT included) less ``percent`` %."""
    gross = price * quantity
    total = gross if not percent else (gross * (100 - percent) / HUNDRED).quantize(CENT, ROUND_HALF_UP)
    return gross, total, vat_in(total, rate)


@lru_cache(maxsize=8192)
def _offset(day: date, hour: int) -> str:
    """Paris's UTC offset on ``day`` at ``hour``, as ISO 8601 writes it (``+01:00``, ``+02:00``)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).isoformat()[19:]


def stamp(day: date, second: int) -> str:
    """``day`` at ``second`` after midnight, Paris time, ISO 8601 with its offset."""
    hour, rest = divmod(min(max(second, 0), DAY_SECONDS - 1), 3600)
    minute, sec = divmod(rest, 60)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{sec:02d}{_offset(day, hour)}"


def _rng(account: Account, day: date, purpose: str) -> random.Random:
    # A string seed is hashed with SHA-512 by random: the same on every run, unlike hash().
    return random.Random(f"{account.seed}/{day.isoformat()}/{purpose}")  # noqa: S311 - made-up data, not secrets


def pick(rng: random.Random, items: Sequence[T], cumulative: Sequence[int]) -> T:
    """One of ``items`` drawn by weight (``rng.choices`` for one, without its overhead)."""
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _draw_second(rng: random.Random, windows: Sequence[Window], cumulative: Sequence[int]) -> int:
    window = pick(rng, windows, cumulative)
    return rng.randrange(window.start * 60, window.end * 60)


def _split(total: int, shares: Sequence[float]) -> tuple[int, ...]:
    counts = [int(total * share) for share in shares]
    counts[0] += total - sum(counts)
    return tuple(counts)


def encode(value: Any) -> bytes:
    return ENCODER.encode(value)


# --- POS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PosSetup:
    """A POS profile made ready for drawing: cumulative weights, lookups (once per account)."""

    profile: PosProfile
    rates: dict[str, Rate]
    methods: dict[str, Method]
    products: dict[str, Product]
    any_time: tuple[tuple[Method, ...], tuple[int, ...]]
    lunch_time: tuple[tuple[Method, ...], tuple[int, ...]]
    direct: tuple[Method, ...]  # what pays the rest of a voucher, or a second share: cash and card
    cash: Method | None
    per_register: dict[str, tuple[tuple[Product, ...], tuple[int, ...], tuple[int, ...]]]
    rate_order: dict[str, int]


def _weights(items: Sequence[Any], weight: Any) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    chosen = tuple(items)
    return chosen, tuple(accumulate(weight(item) for item in chosen))


@lru_cache(maxsize=256)
def pos_setup(account: Account) -> PosSetup:
    profile = account.profile
    if not isinstance(profile, PosProfile):
        raise TypeError(f"{account.slug} is not a POS account")
    methods = profile.methods
    per_register = {}
    for register in profile.registers:
        products, cumulative = _weights(
            [p for p in profile.products if not p.registers or register.id in p.registers], lambda p: p.weight
        )
        per_register[register.id] = (products, cumulative, tuple(accumulate(w.weight for w in register.windows)))
    return PosSetup(
        profile=profile,
        rates={rate.id: rate for rate in profile.rates},
        methods={method.id: method for method in methods},
        products={product.id: product for product in profile.products},
        any_time=_weights([m for m in methods if m.kind != "voucher"], lambda m: m.weight),
        lunch_time=_weights(methods, lambda m: m.weight),
        direct=tuple(m for m in methods if m.kind in {"cash", "card"}),
        cash=next((m for m in methods if m.kind == "cash"), None),
        per_register=per_register,
        rate_order={rate.id: index for index, rate in enumerate(profile.rates)},
    )


@lru_cache(maxsize=16384)
def pos_plan(account: Account, day: date) -> tuple[int, ...]:
    """Tickets per register that day (refund tickets included), without generating them."""
    profile = account.profile
    assert isinstance(profile, PosProfile)  # noqa: S101 - callers check the kind
    shares = [register.share for register in profile.registers]
    if account.uniform:
        return _split(account.orders_per_day, shares)
    factor = profile.weekday_factors[day.weekday()]
    if factor <= 0:
        return (0,) * len(shares)
    rng = _rng(account, day, "plan")
    return _split(round(account.orders_per_day * factor * rng.uniform(0.85, 1.15)), shares)


@dataclass(frozen=True, slots=True)
class Spec:
    """A ticket line before it is written: what, how many, at which discount."""

    product: Product
    quantity: int
    percent: int = 0  # discount
    offered: bool = False


@dataclass(slots=True)
class Ticket:
    """A generated ticket: its JSON, its lines, and when it was opened and paid."""

    order: Json
    specs: list[Spec]
    opened: int  # second of the day
    closed: int
    refunded: bool = False


def assemble_ticket(
    setup: PosSetup,
    *,
    order_id: str,
    number: str,
    register: Register,
    day: date,
    opened: int,
    closed: int,
    specs: Sequence[Spec],
    payments: Sequence[tuple[Method, Decimal, Decimal]] | None = None,
    method: Method | None = None,
    customer: tuple[str, str] | None = None,
    refund_of: str | None = None,
    sign: int = 1,
) -> Json:
    """A ticket's JSON from its lines: totals, VAT per rate, payments (given, or all by ``method``).

    ``sign=-1`` writes a refund ticket: the same lines, negative.
    """
    items: list[Json] = []
    total = tax_total = discount = ZERO
    per_rate: dict[str, list[Decimal]] = {}
    takeaway = True
    for index, spec in enumerate(specs, start=1):
        product = spec.product
        rate = setup.rates[product.vat]
        gross, line_total, line_tax = line_amounts(product.price, rate.rate, spec.quantity, spec.percent)
        if spec.offered:
            line_total = line_tax = ZERO
        if sign < 0:
            gross, line_total, line_tax = -gross, -line_total, -line_tax
        item: Json = {
            "id": f"{order_id}-{index}",
            "type": "product",
            "product_id": product.id,
            "description": product.name,
            "quantity": spec.quantity * sign,
            "unit_price": product.price,
            "total": line_total,
            "tax_amount": line_tax,
            "tax_rate": rate.rate,
            "tax_id": rate.id,
            "product_category_id": product.category_id,
        }
        if gross != line_total:
            label = "Offert" if spec.offered else f"Remise fidélité {spec.percent} %"
            item["discounts"] = [{"name": label, "total": gross - line_total}]
            discount += gross - line_total
        items.append(item)
        total += line_total
        tax_total += line_tax
        sums = per_rate.setdefault(rate.id, [ZERO, ZERO])
        sums[0] += line_tax
        sums[1] += line_total
        takeaway = takeaway and product.takeaway
    taxes = [
        {"tax_id": rate_id, "tax_rate": setup.rates[rate_id].rate, "tax_amount": sums[0], "total": sums[1]}
        for rate_id, sums in sorted(per_rate.items(), key=lambda pair: setup.rate_order[pair[0]])
    ]
    paid_at = stamp(day, closed)
    if payments is None:
        chosen = method or setup.cash or next(iter(setup.methods.values()))
        payments = [(chosen, total, ZERO)]
    payment_list = [
        {
            "id": f"{order_id}-P{index}",
            "order_id": order_id,
            "payment_method_id": paid_by.id,
            "payment_method_name": paid_by.name,
            "total": amount,
            "tip": tip,
            "status": "Completed",
            "currency": "EUR",
            "date": paid_at,
        }
        for index, (paid_by, amount, tip) in enumerate(payments, start=1)
    ]
    order: Json = {
        "id": order_id,
        "order_number": number,
        "creation_date": stamp(day, opened),
        "closing_date": paid_at,
        "location_id": register.id,
        "mode": "TAKEAWAY" if takeaway and items else register.mode,
        "source": "POS",
        "currency": "EUR",
        "total": total,
        "tax_amount": tax_total,
        "total_discount": discount,
        "total_refund": -total if sign < 0 else ZERO,
        "total_tip": sum((tip for _, _, tip in payments), ZERO),
        "items": items,
        "taxes": taxes,
        "payments": payment_list,
    }
    if customer:
        order["customer_id"], order["customer_name"] = customer
    if refund_of:
        order["refund_of"] = refund_of
    return order


def _draw_payments(
    setup: PosSetup, rng: random.Random, total: Decimal, lunch: bool
) -> list[tuple[Method, Decimal, Decimal]]:
    profile = setup.profile
    methods, cumulative = setup.lunch_time if lunch else setup.any_time
    method = pick(rng, methods, cumulative)
    parts: list[tuple[Method, Decimal]]
    if method.kind == "voucher":
        face = rng.choice(profile.voucher_faces)
        covered = min(total, face * min(2, max(1, int(total // face))))
        parts = [(method, covered)]
        if covered < total:
            parts.append((rng.choice(setup.direct), total - covered))
    elif method.kind == "card" and total >= SPLIT_FROM and rng.random() < profile.split_rate:
        first = (total / 2).quantize(CENT, ROUND_DOWN)
        parts = [(method, first), (rng.choice(setup.direct), total - first)]
    else:
        parts = [(method, total)]
    return [
        (paid_by, amount, rng.choice(profile.tips) if paid_by.kind == "card" and profile.tips
         and rng.random() < profile.tip_rate else ZERO)
        for paid_by, amount in parts
    ]  # fmt: skip


def _draw_specs(setup: PosSetup, rng: random.Random, register: Register) -> tuple[list[Spec], tuple[str, str] | None]:
    profile = setup.profile
    products, cumulative, _ = setup.per_register[register.id]
    wanted = rng.randint(*register.items)
    quantities: dict[str, int] = {}
    for _ in range(wanted):
        product = pick(rng, products, cumulative)
        quantities[product.id] = quantities.get(product.id, 0) + (1 if rng.random() < 0.8 else 2)  # noqa: PLR2004
    customer = rng.choice(profile.regulars) if profile.regulars and rng.random() < profile.customer_rate else None
    percent = profile.loyalty_percent if customer else 0
    specs = [Spec(setup.products[product_id], quantity, percent) for product_id, quantity in quantities.items()]
    if profile.complimentary and rng.random() < profile.complimentary_rate:
        specs.append(Spec(setup.products[profile.complimentary], 1, offered=True))
    return specs, customer


def _refund_ticket(
    setup: PosSetup,
    rng: random.Random,
    original: Ticket,
    *,
    order_id: str,
    number: str,
    register: Register,
    day: date,
    second: int,
) -> Ticket:
    """A refund of ``original``: all of it, or one unit of one line, paid back the way it was paid."""
    paid = [spec for spec in original.specs if not spec.offered]
    if len(paid) > 1 and rng.random() < 0.6:  # noqa: PLR2004 - most refunds are of one dish sent back
        spec = rng.choice(paid)
        specs = [Spec(spec.product, 1, spec.percent)]
    else:
        specs = paid
    first = original.order["payments"][0]
    method = setup.methods[first["payment_method_id"]]
    if method.kind == "voucher" and setup.cash:  # a voucher is never given back: cash is
        method = setup.cash
    closed = min(second + 60, DAY_SECONDS - 1)
    order = assemble_ticket(
        setup, order_id=order_id, number=number, register=register, day=day, opened=second, closed=closed,
        specs=specs, method=method, refund_of=original.order["id"], sign=-1,
        customer=(original.order["customer_id"], original.order["customer_name"])
        if "customer_id" in original.order else None,
    )  # fmt: skip
    original.refunded = True
    return Ticket(order, specs, second, closed, refunded=True)


def pos_tickets(account: Account, day: date) -> list[Ticket]:
    """Every ticket of the day, all registers, ordered by opening time then id (not cached)."""
    setup = pos_setup(account)
    profile = setup.profile
    rng = _rng(account, day, "orders")
    weekday_lunch = day.weekday() < 6  # noqa: PLR2004 - Sunday
    tickets: list[Ticket] = []
    for register, count in zip(profile.registers, pos_plan(account, day), strict=True):
        if not count:
            continue
        _, _, window_weights = setup.per_register[register.id]
        seconds = sorted(_draw_second(rng, register.windows, window_weights) for _ in range(count))
        made: list[Ticket] = []
        for seq, second in enumerate(seconds, start=1):
            order_id = f"{day:%Y%m%d}-{register.code}{seq:04d}"
            number = f"{register.code}{day:%y%m%d}-{seq:04d}"
            if made and rng.random() < profile.refund_rate:
                candidates = [t for t in made[-40:] if not t.refunded and t.closed <= second]
                if candidates:
                    original = rng.choice(candidates)
                    made.append(_refund_ticket(
                        setup, rng, original, order_id=order_id, number=number, register=register, day=day,
                        second=second,
                    ))  # fmt: skip
                    continue
            specs, customer = _draw_specs(setup, rng, register)
            closed = min(second + rng.randint(*register.stay), DAY_SECONDS - 1)
            lunch = weekday_lunch and LUNCH[0] <= closed < LUNCH[1]
            total = sum((line_amounts(s.product.price, setup.rates[s.product.vat].rate, s.quantity, s.percent)[1]
                         for s in specs if not s.offered), ZERO)  # fmt: skip
            order = assemble_ticket(
                setup, order_id=order_id, number=number, register=register, day=day, opened=second, closed=closed,
                specs=specs, payments=_draw_payments(setup, rng, total, lunch), customer=customer,
            )  # fmt: skip
            made.append(Ticket(order, specs, second, closed))
        tickets.extend(made)
    tickets.sort(key=lambda ticket: (ticket.opened, ticket.order["id"]))
    return tickets


def pos_closures(account: Account, day: date, tickets: Sequence[Ticket]) -> list[Json]:
    """Each register's closing (Z) of the day: takings per payment method, recorded and counted.

    Cash is counted at closing and is sometimes a few euros short or over (the same each
    time the day is asked for); the other methods are counted as recorded.
    """
    setup = pos_setup(account)
    profile = setup.profile
    closures: list[Json] = []
    for register in profile.registers:
        orders = [ticket.order for ticket in tickets if ticket.order["location_id"] == register.id]
        if not orders:
            continue
        total = tax = ZERO
        per_rate: dict[str, list[Decimal]] = {}
        per_method: dict[str, list[Decimal]] = {}
        for order in orders:
            total += order["total"]
            tax += order["tax_amount"]
            for line in order["taxes"]:
                sums = per_rate.setdefault(line["tax_id"], [ZERO, ZERO])
                sums[0] += line["tax_amount"]
                sums[1] += line["total"]
            for payment in order["payments"]:
                sums = per_method.setdefault(payment["payment_method_id"], [ZERO, ZERO])
                sums[0] += payment["total"]
                sums[1] += payment["tip"]
        rng = _rng(account, day, f"till/{register.id}")
        difference = rng.choice(profile.cash_differences) if rng.random() < profile.cash_difference_rate else ZERO
        payments = []
        for method in profile.methods:
            if method.id not in per_method:
                continue
            recorded, tips = per_method[method.id]
            counted = recorded + difference if method.kind == "cash" else recorded
            payments.append({"payment_method_id": method.id, "payment_method_name": method.name, "total": recorded,
                             "tip": tips, "counted": counted})  # fmt: skip
        taxes = [
            {
                "tax_id": rate.id,
                "tax_rate": rate.rate,
                "tax_amount": per_rate[rate.id][0],
                "total": per_rate[rate.id][1],
            }
            for rate in profile.rates
            if rate.id in per_rate
        ]
        closures.append({
            "id": f"Z-{register.code}-{day:%Y%m%d}", "location_id": register.id, "date": day.isoformat(),
            "total": total, "tax_amount": tax, "payments": payments, "taxes": taxes,
        })  # fmt: skip
    return closures


@dataclass(frozen=True, slots=True)
class PosDay:
    """A POS day ready to serve: each ticket's JSON, when it was paid and where, the closings."""

    encoded: tuple[bytes, ...]
    closed: tuple[int, ...]  # second of the day each ticket was paid
    locations: tuple[str, ...]
    closures: tuple[Json, ...]
    ids: tuple[str, ...] = ()

    def indexes(self, location_id: str | None, cutoff: int | None) -> list[int]:
        """The tickets of ``location_id`` (None: all) paid by ``cutoff`` (None: the whole day)."""
        return [
            index
            for index in range(len(self.encoded))
            if (location_id is None or self.locations[index] == location_id)
            and (cutoff is None or self.closed[index] <= cutoff)
        ]


def pos_day_of(account: Account, day: date, tickets: Sequence[Ticket]) -> PosDay:
    return PosDay(
        encoded=tuple(ENCODER.encode(ticket.order) for ticket in tickets),
        closed=tuple(ticket.closed for ticket in tickets),
        locations=tuple(ticket.order["location_id"] for ticket in tickets),
        closures=tuple(pos_closures(account, day, tickets)),
        ids=tuple(ticket.order["id"] for ticket in tickets),
    )


@lru_cache(maxsize=24)
def pos_day(account: Account, day: date) -> PosDay:
    """The generated day, encoded (cached: a day's pages are cut from one generation)."""
    return pos_day_of(account, day, pos_tickets(account, day))


# --- E-commerce ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedRefund:
    index: int  # of the order in its day
    day: date  # when the refund is made
    second: int
    full: bool
    pick: int  # which line a partial refund is of


@dataclass(frozen=True, slots=True)
class WebPlan:
    count: int
    cancelled: frozenset[int]
    refunds: tuple[PlannedRefund, ...]


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    first_name: str
    last_name: str
    email: str
    destination: Destination
    postal_code: str
    city: str


@dataclass(frozen=True)
class ShopSetup:
    profile: ShopProfile
    taxes: dict[str, Rate]
    categories: dict[str, str]
    products: tuple[tuple[Product, ...], tuple[int, ...]]
    methods: tuple[tuple[Method, ...], tuple[int, ...]]
    destinations: tuple[tuple[Destination, ...], tuple[int, ...]]
    french: Destination
    windows: tuple[int, ...]
    customers: dict[int, Customer] = field(default_factory=dict)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


@lru_cache(maxsize=256)
def shop_setup(account: Account) -> ShopSetup:
    profile = account.profile
    if not isinstance(profile, ShopProfile):
        raise TypeError(f"{account.slug} is not an e-commerce account")
    return ShopSetup(
        profile=profile,
        taxes={tax.id: tax for tax in profile.taxes},
        categories={category.id: category.name for category in profile.categories},
        products=_weights(profile.products, lambda p: p.weight),
        methods=_weights(profile.methods, lambda m: m.weight),
        destinations=_weights(profile.destinations, lambda d: d.weight),
        french=next(d for d in profile.destinations if d.country == "FR"),
        windows=tuple(accumulate(window.weight for window in WEB_WINDOWS)),
    )


def _customer(account: Account, setup: ShopSetup, number: int) -> Customer:
    """The shop's customer ``number``: always the same person, in the same country."""
    known = setup.customers.get(number)
    if known is not None:
        return known
    rng = random.Random(f"{account.seed}/customer/{number}")  # noqa: S311 - made-up data
    destinations, cumulative = setup.destinations
    destination = pick(rng, destinations, cumulative)
    country = destination.country
    first, last = rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])
    postal_code, city = rng.choice(destination.cities)
    domain = {"FR": "example.fr", "BE": "example.be", "DE": "example.de", "ES": "example.es", "CH": "example.ch"}
    customer = Customer(
        id=f"cus-{number:05d}",
        first_name=first,
        last_name=last,
        email=f"{_ascii(first)}.{_ascii(last)}{number}@{domain[country]}",
        destination=destination,
        postal_code=postal_code,
        city=city,
    )
    setup.customers[number] = customer
    return customer


@lru_cache(maxsize=16384)
def web_plan(account: Account, day: date) -> WebPlan:
    """How many orders that day, which are cancelled, which are refunded later (and when)."""
    profile = account.profile
    assert isinstance(profile, ShopProfile)  # noqa: S101 - callers check the kind
    rng = _rng(account, day, "plan")
    if account.uniform:
        count = account.orders_per_day
    else:
        count = round(account.orders_per_day * profile.weekday_factors[day.weekday()] * rng.uniform(0.7, 1.3))
    cancelled = frozenset(index for index in range(count) if rng.random() < profile.cancel_rate)
    refunds = []
    for index in range(count):
        if index in cancelled or rng.random() >= profile.refund_rate:
            continue
        refunds.append(PlannedRefund(
            index=index, day=day + timedelta(days=rng.randint(1, MAX_REFUND_DELAY)),
            second=rng.randrange(9 * 3600, 18 * 3600), full=rng.random() < 0.55, pick=rng.randrange(1000),  # noqa: PLR2004
        ))  # fmt: skip
    return WebPlan(count, cancelled, tuple(refunds))


def _address(customer: Customer, kind: str) -> Json:
    return {
        "address_type": kind,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "country": customer.destination.country,
    }


def _web_line(
    setup: ShopSetup, destination: Destination, product: Product, *, quantity: int, percent: int, line_id: str
) -> Json:
    """A web order line at the destination's VAT: French prices kept VAT included in the EU
    (the shop's prices do not change with the country), the price before French VAT for an export."""
    if product.gift_card:
        tax_id, rate, price, percent = None, ZERO, product.price, 0
    elif destination.export:
        tax_id, rate = destination.tax_id(product.vat), ZERO
        french_rate = setup.taxes[setup.french.tax_id(product.vat) or ""].rate
        price = (product.price * HUNDRED / (HUNDRED + french_rate)).quantize(CENT, ROUND_HALF_UP)
    else:
        tax_id = destination.tax_id(product.vat)
        rate = setup.taxes[tax_id or ""].rate
        price = product.price
    gross, total, tax = line_amounts(price, rate, quantity, percent)
    unit_total = line_amounts(price, rate, 1, 0)
    return {
        "id": line_id,
        "product_id": product.id,
        "description": product.name,
        "quantity": quantity,
        "unit_price": unit_total[1] - unit_total[2],
        "untaxed_amount": total - tax,
        "tax_rate": rate,
        "tax_id": tax_id,
        "tax_amount": tax,
        "total": total,
        "discount": gross - total,
        "categories": [{"id": product.category_id, "name": setup.categories[product.category_id]}],
        "gift_card": product.gift_card,
    }


def _sum(lines: Sequence[Json], name: str) -> Decimal:
    return sum((line[name] for line in lines), ZERO)


def _web_order(
    account: Account, setup: ShopSetup, rng: random.Random, day: date, *, index: int, second: int, cancelled: bool
) -> Json:
    profile = setup.profile
    order_id = f"{day:%Y%m%d}{index + 1:05d}"
    customer = _customer(account, setup, rng.randint(1, profile.customers))
    destination = customer.destination
    products, cumulative = setup.products
    quantities: dict[str, tuple[Product, int]] = {}
    for product in [pick(rng, products, cumulative) for _ in range(rng.randint(*profile.items))]:
        known = quantities.get(product.id)
        quantities[product.id] = (product, (known[1] if known else 0) + (1 if rng.random() < 0.75 else 2))  # noqa: PLR2004
    percent = 10 if rng.random() < profile.discount_rate else 0
    lines = [
        _web_line(setup, destination, product, quantity=quantity, percent=percent, line_id=f"{order_id}-{number}")
        for number, (product, quantity) in enumerate(quantities.values(), start=1)
    ]
    goods = [line for line in lines if not line["gift_card"]]
    shipping: Json | None = None
    if goods and not (destination.free_above is not None and _sum(goods, "total") >= destination.free_above):
        # The shipping follows the VAT of the main thing shipped.
        main = max(goods, key=lambda line: (line["total"], line["id"]))
        rate = main["tax_rate"]
        tax = vat_in(destination.shipping, rate)
        shipping = {
            "description": profile.shipping_name,
            "untaxed_amount": destination.shipping - tax,
            "tax_rate": rate,
            "tax_id": main["tax_id"],
            "tax_amount": tax,
            "total": destination.shipping,
        }
    everything = [*lines, shipping] if shipping else lines
    methods, method_weights = setup.methods
    method = pick(rng, methods, method_weights)
    created = stamp(day, second)
    order: Json = {
        "id": order_id,
        "order_number": f"{profile.number_prefix}{day:%y%m%d}{index + 1:04d}",
        "status": "cancelled" if cancelled else "confirmed",
        "created_on": created,
        "last_updated_on": created,
        "currency": "EUR",
        "untaxed_amount": _sum(everything, "untaxed_amount"),
        "tax_amount": _sum(everything, "tax_amount"),
        "total": _sum(everything, "total"),
        "discount_amount": _sum(lines, "discount"),
        "refunded_amount": ZERO,
        "customer": {"id": customer.id, "first_name": customer.first_name, "last_name": customer.last_name,
                     "email": customer.email},
        "billing_address": _address(customer, "billing"),
        "shipping_address": _address(customer, "shipping"),
        "payment_method_id": method.id,
        "payment_method_name": method.name,
        "lines": lines,
    }  # fmt: skip
    if shipping:
        order["shipping"] = shipping
    if percent:
        order["discount_code"] = profile.discount_code
    if cancelled:
        order["cancelled_on"] = stamp(day, min(second + 3600, DAY_SECONDS - 1))
    return order


def web_refund(order: Json, planned: PlannedRefund) -> Json:
    """The refund ``planned`` of ``order``: all of it (shipping included) or one unit of one line."""
    refundable = [line for line in order["lines"] if not line["gift_card"]] or order["lines"]
    shipping = None
    if planned.full:
        lines = [dict(line, id=f"{line['id']}-R") for line in order["lines"]]
        shipping = order.get("shipping")
    else:
        line = refundable[planned.pick % len(refundable)]
        rate = line["tax_rate"]
        total = (line["total"] / line["quantity"]).quantize(CENT, ROUND_HALF_UP)
        tax = vat_in(total, rate)
        lines = [dict(line, id=f"{line['id']}-R", quantity=1, untaxed_amount=total - tax, tax_amount=tax,
                      total=total, discount=ZERO)]  # fmt: skip
    everything = [*lines, shipping] if shipping else lines
    refund: Json = {
        "id": f"R{order['id']}",
        "order_id": order["id"],
        "order_number": order["order_number"],
        "created_on": stamp(planned.day, planned.second),
        "currency": order["currency"],
        "untaxed_amount": _sum(everything, "untaxed_amount"),
        "tax_amount": _sum(everything, "tax_amount"),
        "total": _sum(everything, "total"),
        "reason": REFUND_REASONS[planned.pick % len(REFUND_REASONS)],
        "lines": lines,
        "customer": order["customer"],
        "billing_address": order["billing_address"],
        "shipping_address": order["shipping_address"],
        "payment_method_id": order["payment_method_id"],
        "payment_method_name": order["payment_method_name"],
    }
    if shipping:
        refund["shipping"] = shipping
    return refund


@dataclass(frozen=True, slots=True)
class WebDay:
    """A web shop's day ready to serve: each order's JSON as first placed, and its refund if any.

    An order's ``refunded_amount`` (and ``status``, for a full refund) change once its refund
    is made: the server writes those few orders again when the clock has passed the refund.
    """

    encoded: tuple[bytes, ...]
    seconds: tuple[int, ...]
    refunded: dict[int, tuple[Json, PlannedRefund, Json]]  # index -> (order, planned refund, refund)

    def served(self, index: int, visible: bool) -> bytes:
        if not visible:
            return self.encoded[index]
        order, planned, refund = self.refunded[index]
        status = "refunded" if planned.full else order["status"]
        return ENCODER.encode(
            dict(order, refunded_amount=refund["total"], status=status, last_updated_on=refund["created_on"])
        )


@lru_cache(maxsize=48)
def web_day(account: Account, day: date) -> WebDay:
    setup = shop_setup(account)
    plan = web_plan(account, day)
    rng = _rng(account, day, "orders")
    seconds = sorted(_draw_second(rng, WEB_WINDOWS, setup.windows) for _ in range(plan.count))
    orders = [
        _web_order(account, setup, rng, day, index=index, second=second, cancelled=index in plan.cancelled)
        for index, second in enumerate(seconds)
    ]
    refunded = {planned.index: (orders[planned.index], planned, web_refund(orders[planned.index], planned))
                for planned in plan.refunds}  # fmt: skip
    return WebDay(tuple(ENCODER.encode(order) for order in orders), tuple(seconds), refunded)


@dataclass(frozen=True, slots=True)
class Landing:
    """A refund made on a day, of an order of an earlier day."""

    second: int
    origin: date
    id: str
    encoded: bytes


@lru_cache(maxsize=48)
def refunds_made(account: Account, day: date) -> tuple[Landing, ...]:
    """The refunds made on ``day`` (of orders of the previous weeks), by time then id."""
    landings = []
    for back in range(1, MAX_REFUND_DELAY + 1):
        origin = day - timedelta(days=back)
        if not any(planned.day == day for planned in web_plan(account, origin).refunds):
            continue
        for _, planned, refund in web_day(account, origin).refunded.values():
            if planned.day == day:
                landings.append(Landing(planned.second, origin, refund["id"], ENCODER.encode(refund)))
    landings.sort(key=lambda landing: (landing.second, landing.id))
    return tuple(landings)


def country_names(account: Account) -> list[tuple[str, str]]:
    profile = account.profile
    assert isinstance(profile, ShopProfile)  # noqa: S101
    return [(d.country, COUNTRY_NAMES.get(d.country, d.name)) for d in profile.destinations]
