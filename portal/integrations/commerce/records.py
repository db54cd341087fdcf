"""The unified records POS and e-commerce sources are read as, and how their JSON reads into them.

The shapes follow the unified API (domain.md §4): ``/consumers/{id}/pos/…`` for POS
(orders with their items, taxes and payments; closures per day; payment methods, VAT
rates, product categories, locations) and ``/consumers/{id}/commerce/…`` for e-commerce
(orders with lines, refunds, countries, taxes, payment methods, categories). Two fields
are additions the portal's sandbox serves and the posting rules use when present:
``refund_of`` on a POS order (a refund ticket, with negative amounts) and ``counted`` on a
closure's payment total (what was counted in the till, for cash differences).

Amounts are ``Decimal`` from the wire on (the client decodes JSON numbers as Decimal),
never float; rates are percentages (``Decimal("5.5")``); accounting dates are dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


def money(value: Any) -> Decimal:
    """A JSON amount (Decimal, int or string; never a float) as Decimal; missing is zero."""
    if value.__class__ is Decimal:  # the usual case first: the client decodes numbers as Decimal
        return value
    if value is None or value == "":
        return ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # a producer that sends floats: go through its shortest repr, never binary
        return Decimal(repr(value))
    return Decimal(str(value))


def timestamp(value: Any) -> dt.datetime:
    """An ISO 8601 date-time (``Z`` accepted); a bare date is midnight UTC."""
    text = str(value).strip()
    if len(text) == 10:  # noqa: PLR2004 - YYYY-MM-DD
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# --- Reference data (POS and e-commerce) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Consumer:
    """The account at the source a credential speaks for (a shop, a restaurant)."""

    id: str
    name: str
    source: str | None = None  # the software the account is on (``zelty``…), when the API says it

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Consumer:
        return cls(id=str(data.get("consumerid") or data["id"]), name=str(data.get("name") or ""),
                   source=_text(data.get("source")))  # fmt: skip


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    name: str
    extra: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> PaymentMethod:
        return cls(id=str(data["id"]), name=str(data.get("name") or data["id"]), extra=_text(data.get("extra")))


@dataclass(frozen=True, slots=True)
class TaxRate:
    id: str
    label: str
    rate: Decimal  # percent
    tax_code: str | None = None
    country: str | None = None  # e-commerce taxes name their country

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TaxRate:
        return cls(
            id=str(data["id"]),
            label=str(data.get("label") or ""),
            rate=money(data.get("rate")),
            tax_code=_text(data.get("tax_code")),
            country=_text(data.get("country")),
        )


@dataclass(frozen=True, slots=True)
class ProductCategory:
    id: str
    name: str
    parent_id: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ProductCategory:
        return cls(id=str(data["id"]), name=str(data.get("name") or data["id"]), parent_id=_text(data.get("id_parent")))


@dataclass(frozen=True, slots=True)
class Location:
    """A shop or a register (cash desk); each one posts into its own journal."""

    id: str
    name: str
    timezone: str = "Europe/Paris"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Location:
        return cls(id=str(data["id"]), name=str(data.get("name") or data["id"]),
                   timezone=str(data.get("timezone") or "Europe/Paris"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Country:
        return cls(code=str(data["code"]).upper(), name=str(data.get("name") or data["code"]))


@dataclass(frozen=True)
class ReferenceData:
    """What a source said it has, as the mapping screen lists it (kept on the connection)."""

    locations: tuple[Location, ...] = ()
    payment_methods: tuple[PaymentMethod, ...] = ()
    tax_rates: tuple[TaxRate, ...] = ()
    categories: tuple[ProductCategory, ...] = ()
    countries: tuple[Country, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "locations": [{"id": x.id, "name": x.name, "timezone": x.timezone} for x in self.locations],
            "payment_methods": [{"id": x.id, "name": x.name, "extra": x.extra} for x in self.payment_methods],
            "tax_rates": [
                {"id": x.id, "label": x.label, "rate": str(x.rate), "tax_code": x.tax_code, "country": x.country}
                for x in self.tax_rates
            ],
            "categories": [{"id": x.id, "name": x.name, "id_parent": x.parent_id} for x in self.categories],
            "countries": [{"code": x.code, "name": x.name} for x in self.countries],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ReferenceData:
        data = data or {}
        return cls(
            locations=tuple(Location.from_api(x) for x in data.get("locations", [])),
            payment_methods=tuple(PaymentMethod.from_api(x) for x in data.get("payment_methods", [])),
            tax_rates=tuple(TaxRate.from_api(x) for x in data.get("tax_rates", [])),
            categories=tuple(ProductCategory.from_api(x) for x in data.get("categories", [])),
            countries=tuple(Country.from_api(x) for x in data.get("countries", [])),
        )


# --- POS ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderItem:
    """A ticket line. ``total`` includes VAT and the line's discounts; ``tax_amount`` is its VAT."""

    id: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal
    tax_amount: Decimal
    tax_rate: Decimal
    tax_id: str | None = None
    category_id: str | None = None
    type: str = "product"  # menu | product | service | general_discount

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> OrderItem:
        return cls(
            id=str(data.get("id") or ""),
            description=str(data.get("description") or ""),
            quantity=money(data.get("quantity", 1)),
            unit_price=money(data.get("unit_price")),
            total=money(data.get("total")),
            tax_amount=money(data.get("tax_amount")),
            tax_rate=money(data.get("tax_rate")),
            tax_id=_text(data.get("tax_id")),
            category_id=_text(data.get("accounting_category_id") or data.get("product_category_id")),
            type=str(data.get("type") or "product"),
        )


@dataclass(frozen=True, slots=True)
class TaxTotal:
    tax_rate: Decimal
    tax_amount: Decimal
    total: Decimal
    tax_id: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TaxTotal:
        return cls(tax_rate=money(data.get("tax_rate")), tax_amount=money(data.get("tax_amount")),
                   total=money(data.get("total")), tax_id=_text(data.get("tax_id")))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment of an order. ``total`` excludes the tip, which ``tip`` carries."""

    id: str
    order_id: str | None
    method_id: str
    method_name: str
    total: Decimal
    tip: Decimal
    status: str
    date: dt.datetime | None
    currency: str = "EUR"

    @property
    def completed(self) -> bool:
        return self.status.lower() in {"completed", "authorised", "authorized", "unknown"}

    @classmethod
    def from_api(cls, data: dict[str, Any], order_id: str | None = None) -> Payment:
        return cls(
            id=str(data["id"]),
            order_id=_text(data.get("order_id")) or order_id,
            method_id=str(data.get("payment_method_id") or ""),
            method_name=str(data.get("payment_method_name") or ""),
            total=money(data.get("total")),
            tip=money(data.get("tip")),
            status=str(data.get("status") or "Completed"),
            date=timestamp(data["date"]) if data.get("date") else None,
            currency=str(data.get("currency") or "EUR"),
        )


@dataclass(frozen=True, slots=True)
class Order:
    """A POS ticket. ``total`` includes VAT, excludes tips; a refund ticket has ``refund_of`` and negative amounts."""

    id: str
    number: str
    created: dt.datetime
    total: Decimal
    tax_amount: Decimal
    items: tuple[OrderItem, ...]
    payments: tuple[Payment, ...]
    taxes: tuple[TaxTotal, ...] = ()
    location_id: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    total_discount: Decimal = ZERO
    total_tip: Decimal = ZERO
    currency: str = "EUR"
    closing_date: dt.datetime | None = None
    refund_of: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Order:
        order_id = str(data["id"])
        return cls(
            id=order_id,
            number=str(data.get("order_number") or order_id),
            created=timestamp(data["creation_date"]),
            total=money(data.get("total")),
            tax_amount=money(data.get("tax_amount")),
            items=tuple(OrderItem.from_api(item) for item in data.get("items") or ()),
            payments=tuple(Payment.from_api(payment, order_id) for payment in data.get("payments") or ()),
            taxes=tuple(TaxTotal.from_api(tax) for tax in data.get("taxes") or ()),
            location_id=_text(data.get("location_id")),
            customer_id=_text(data.get("customer_id")),
            customer_name=_text(data.get("customer_name")),
            total_discount=money(data.get("total_discount")),
            total_tip=money(data.get("total_tip")),
            currency=str(data.get("currency") or "EUR"),
            closing_date=timestamp(data["closing_date"]) if data.get("closing_date") else None,
            refund_of=_text(data.get("refund_of")),
        )


@dataclass(frozen=True, slots=True)
class ClosurePayment:
    """A payment method's takings at closing: ``total`` as recorded, ``counted`` as counted (None: not counted)."""

    method_id: str
    method_name: str
    total: Decimal
    tip: Decimal = ZERO
    counted: Decimal | None = None

    @property
    def difference(self) -> Decimal:
        """Counted minus recorded: negative is a shortage, positive a surplus."""
        return ZERO if self.counted is None else self.counted - self.total

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ClosurePayment:
        counted = data.get("counted")
        return cls(
            method_id=str(data.get("payment_method_id") or ""),
            method_name=str(data.get("payment_method_name") or ""),
            total=money(data.get("total")),
            tip=money(data.get("tip")),
            counted=None if counted is None else money(counted),
        )


@dataclass(frozen=True, slots=True)
class ClosureEntry:
    """One register's closing (Z) of the day."""

    id: str
    total: Decimal
    tax_amount: Decimal
    payments: tuple[ClosurePayment, ...]
    taxes: tuple[TaxTotal, ...] = ()
    location_id: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ClosureEntry:
        return cls(
            id=str(data["id"]),
            total=money(data.get("total")),
            tax_amount=money(data.get("tax_amount")),
            payments=tuple(ClosurePayment.from_api(x) for x in data.get("payments") or ()),
            taxes=tuple(TaxTotal.from_api(x) for x in data.get("taxes") or ()),
            location_id=_text(data.get("location_id")),
        )


@dataclass(frozen=True, slots=True)
class Closure:
    """A day at the source: ``closed`` is final, ``open`` may still change."""

    date: dt.date
    status: str
    closures: tuple[ClosureEntry, ...] = ()

    @property
    def closed(self) -> bool:
        return self.status == "closed"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Closure:
        return cls(
            date=dt.date.fromisoformat(str(data["date"])[:10]),
            status=str(data.get("status") or "open"),
            closures=tuple(ClosureEntry.from_api(x) for x in data.get("closures") or ()),
        )


# --- E-commerce ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommerceLine:
    """An order line (or the shipping, ``kind="shipping"``): amounts excluding and including tax."""

    id: str
    description: str
    quantity: Decimal
    untaxed_amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    total: Decimal
    category_id: str | None = None
    kind: str = "product"  # product | shipping | gift_card | fee
    gift_card: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any], kind: str = "product") -> CommerceLine:
        categories = data.get("categories") or []
        category = _text(data.get("category_id")) or (_text(categories[0].get("id")) if categories else None)
        gift_card = bool(data.get("gift_card"))
        return cls(
            id=str(data.get("id") or ""),
            description=str(data.get("description") or data.get("name") or ""),
            quantity=money(data.get("quantity", 1)),
            untaxed_amount=money(data.get("untaxed_amount")),
            tax_rate=money(data.get("tax_rate")),
            tax_amount=money(data.get("tax_amount")),
            total=money(data.get("total")),
            category_id=category,
            kind="gift_card" if gift_card else str(data.get("kind") or kind),
            gift_card=gift_card,
        )


@dataclass(frozen=True, slots=True)
class CommerceCustomer:
    id: str | None
    name: str
    email: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> CommerceCustomer:
        data = data or {}
        name = " ".join(str(data.get(part) or "") for part in ("first_name", "last_name")).strip()
        return cls(id=_text(data.get("id")), name=name or str(data.get("name") or data.get("company_name") or ""),
                   email=_text(data.get("email")))  # fmt: skip


def _country(address: dict[str, Any] | None) -> str | None:
    if not address:
        return None
    code = address.get("country") or address.get("country_code")
    return str(code).upper() if code else None


@dataclass(frozen=True, slots=True)
class CommerceOrder:
    """An e-commerce order; ``country`` is the delivery country (else the billing one)."""

    id: str
    number: str
    status: str
    created: dt.datetime
    currency: str
    untaxed_amount: Decimal
    tax_amount: Decimal
    total: Decimal
    lines: tuple[CommerceLine, ...]
    country: str | None = None
    customer: CommerceCustomer = field(default_factory=lambda: CommerceCustomer(None, ""))
    payment_method_id: str | None = None
    payment_method_name: str | None = None
    discount_amount: Decimal = ZERO
    refunded_amount: Decimal = ZERO

    @property
    def cancelled(self) -> bool:
        return self.status.lower() in {"cancelled", "canceled", "draft", "failed", "pending"}

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CommerceOrder:
        lines = [CommerceLine.from_api(line) for line in data.get("lines") or ()]
        if data.get("shipping"):
            lines.append(CommerceLine.from_api({"id": "shipping", "description": "Livraison", **data["shipping"]},
                                               kind="shipping"))  # fmt: skip
        return cls(
            id=str(data["id"]),
            number=str(data.get("order_number") or data["id"]),
            status=str(data.get("status") or "confirmed"),
            created=timestamp(data.get("created_on") or data["created"]),
            currency=str(data.get("currency") or "EUR").upper(),
            untaxed_amount=money(data.get("untaxed_amount")),
            tax_amount=money(data.get("tax_amount")),
            total=money(data.get("total")),
            lines=tuple(lines),
            country=_country(data.get("shipping_address")) or _country(data.get("billing_address")),
            customer=CommerceCustomer.from_api(data.get("customer")),
            payment_method_id=_text(data.get("payment_method_id")),
            payment_method_name=_text(data.get("payment_method_name")),
            discount_amount=money(data.get("discount_amount")),
            refunded_amount=money(data.get("refunded_amount")),
        )


@dataclass(frozen=True, slots=True)
class CommerceRefund:
    """A refund of (part of) an order: positive amounts, reversed by the posting rules."""

    id: str
    order_id: str
    created: dt.datetime
    currency: str
    untaxed_amount: Decimal
    tax_amount: Decimal
    total: Decimal
    lines: tuple[CommerceLine, ...]
    country: str | None = None
    payment_method_id: str | None = None
    customer: CommerceCustomer = field(default_factory=lambda: CommerceCustomer(None, ""))

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CommerceRefund:
        lines = [CommerceLine.from_api(line) for line in data.get("lines") or ()]
        if data.get("shipping"):
            lines.append(CommerceLine.from_api({"id": "shipping", "description": "Livraison", **data["shipping"]},
                                               kind="shipping"))  # fmt: skip
        return cls(
            id=str(data["id"]),
            order_id=str(data.get("order_id") or ""),
            created=timestamp(data.get("created_on") or data["created"]),
            currency=str(data.get("currency") or "EUR").upper(),
            untaxed_amount=money(data.get("untaxed_amount")),
            tax_amount=money(data.get("tax_amount")),
            total=money(data.get("total")),
            lines=tuple(lines),
            country=_country(data.get("shipping_address")) or _country(data.get("billing_address")),
            payment_method_id=_text(data.get("payment_method_id")),
            customer=CommerceCustomer.from_api(data.get("customer")),
        )
