"""The sandbox's unified API: consumers, POS (locations, payment methods, VAT rates, categories,
orders, closures) and e-commerce (orders, refunds, payment methods, categories, countries, taxes).

Paths and shapes follow the unified API (``/consumers/{consumer_id}/pos/…`` and
``…/commerce/…``, pages ``{items, total, page, size}``); ``/commerce/refunds`` is the
sandbox's own, for the refunds the posting rules reverse. Every call names its credential
as a bearer (an account's API key or an OAuth access token), which speaks for one consumer:
another consumer's id is 404, as is a POS path on a web shop and the reverse. Each
credential may make ``rate_limit`` calls per ``rate_window_seconds`` (60 per 5 s unless
tuned), with ``ratelimit-*`` headers and 429 + ``retry-after`` beyond. A test can make the
next calls fail (``CommerceState.fail_next``) before anything else is looked at.

Orders are served from the generated days' cached JSON (``books``), joined into the page
without decoding or encoding them again: a page of 1,000 tickets costs a join.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from litestar import MediaType, Request, Response, Router, get
from litestar.params import FromPath

from portal.integrations.commerce.sources import SourceKind
from portal.sandbox.commerce import books
from portal.sandbox.commerce.catalogue import Account, PosProfile, ShopProfile
from portal.sandbox.commerce.generate import ENCODER, country_names
from portal.sandbox.commerce.state import Caller, current_state
from portal.sandbox.oauth_server import OUTSIDE
from portal.sandbox.rate import rate_headers

DEFAULT_PAGE_SIZE = 50
MAX_RANGE_DAYS = 366
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ADDRESS = re.compile(r"^(?P<street>.+), (?P<postal_code>[0-9]{5}) (?P<city>.+)$")


class ApiError(Exception):
    """An API answer other than success, in the sandbox's JSON error shape."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


def api_error_response(_request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    body = {"error": exc.error, "message": exc.message, "status": exc.status}
    return Response(body, status_code=exc.status, media_type=MediaType.JSON, headers=exc.headers)


def authenticate(request: Request[Any, Any, Any]) -> tuple[Caller, dict[str, str]]:
    """The caller and the rate headers for its answer, or the ApiError that answers instead."""
    state = current_state()
    failure = state.take_failure()
    if failure is not None:
        raise ApiError(failure, "server_error", "Erreur interne de la source (simulée par le bac à sable).")
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    caller = state.caller(bearer.strip()) if scheme.lower() == "bearer" and bearer.strip() else None
    if caller is None:
        raise ApiError(
            401,
            "unauthorized",
            "Clé d'API ou jeton d'accès inconnu, expiré ou révoqué.",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    decision = state.count_request(caller.key)
    headers = rate_headers(decision)
    if not decision.allowed:
        raise ApiError(429, "too_many_requests", "Trop de requêtes : réessayez après le délai indiqué.", headers)
    return caller, headers


def consumer(request: Request[Any, Any, Any], consumer_id: str, kind: SourceKind) -> tuple[Account, dict[str, str]]:
    """The caller's own consumer, of the right kind; anything else is 404, as if it did not exist."""
    caller, headers = authenticate(request)
    account = current_state().accounts.get(consumer_id)
    if account is None or account.id != caller.account_id or account.kind is not kind:
        raise ApiError(404, "not_found", "Consommateur introuvable pour cette API.", headers)
    return account, headers


def _json(body: Any, headers: dict[str, str]) -> Response[bytes]:
    return Response(ENCODER.encode(body), media_type=MediaType.JSON, headers=headers)


def _paging(params: Mapping[str, Any], headers: dict[str, str]) -> tuple[int, int]:
    raw_page, raw_size = str(params.get("page") or "1"), str(params.get("size") or DEFAULT_PAGE_SIZE)
    limit = current_state().max_page_size
    if not raw_page.isdigit() or not raw_size.isdigit() or int(raw_page) < 1 or not 1 <= int(raw_size) <= limit:
        raise ApiError(422, "unprocessable_entity", f"page ≥ 1 et 1 ≤ size ≤ {limit} attendus.", headers)
    return int(raw_page), int(raw_size)


def _listing(request: Request[Any, Any, Any], items: list[dict[str, Any]], headers: dict[str, str]) -> Response[bytes]:
    number, size = _paging(request.query_params, headers)
    chosen = items[(number - 1) * size : number * size]
    return _json({"items": chosen, "total": len(items), "page": number, "size": size}, headers)


def _date(value: str | None, name: str, headers: dict[str, str]) -> dt.date:
    if value and ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ApiError(422, "unprocessable_entity", f"{name} : date attendue au format AAAA-MM-JJ.", headers)


def _period(params: Mapping[str, Any], headers: dict[str, str]) -> list[dt.date]:
    first = _date(params.get("date_from"), "date_from", headers)
    last = _date(params.get("date_to"), "date_to", headers)
    if first > last:
        raise ApiError(422, "unprocessable_entity", "date_from doit précéder date_to.", headers)
    if (last - first).days >= MAX_RANGE_DAYS:
        raise ApiError(422, "unprocessable_entity", f"Période trop longue : {MAX_RANGE_DAYS} jours au plus.", headers)
    return books.days_between(first, last)


def _pos(account: Account) -> PosProfile:
    assert isinstance(account.profile, PosProfile)  # noqa: S101 - consumer() checked the kind
    return account.profile


def _shop(account: Account) -> ShopProfile:
    assert isinstance(account.profile, ShopProfile)  # noqa: S101 - consumer() checked the kind
    return account.profile


# --- consumers ---


@get("/consumers", name="sandbox_commerce:consumers", opt=OUTSIDE, include_in_schema=False)
async def consumers(request: Request[Any, Any, Any]) -> Response[bytes]:
    caller, headers = authenticate(request)
    account = current_state().accounts[caller.account_id]
    return _json([{"consumerid": account.id, "name": account.name, "source": account.source.code}], headers)


# --- POS ---

POS = "/consumers/{consumer_id:str}/pos"


@get(f"{POS}/locations", name="sandbox_commerce:pos_locations", opt=OUTSIDE, include_in_schema=False)
async def pos_locations(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.POS)
    items = []
    for register in _pos(account).registers:
        address = ADDRESS.match(register.street)
        items.append({
            "id": register.id, "name": register.name, "timezone": "Europe/Paris",
            "address": (address.groupdict() if address else {"street": register.street}) | {"country": "FR"},
        })  # fmt: skip
    return _listing(request, items, headers)


@get(f"{POS}/payment-methods", name="sandbox_commerce:pos_payment_methods", opt=OUTSIDE, include_in_schema=False)
async def pos_payment_methods(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.POS)
    items = [{"id": m.id, "name": m.name, "extra": m.extra} for m in _pos(account).methods]
    return _listing(request, items, headers)


@get(f"{POS}/tax-rates", name="sandbox_commerce:pos_tax_rates", opt=OUTSIDE, include_in_schema=False)
async def pos_tax_rates(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.POS)
    items = [{"id": r.id, "label": r.label, "rate": r.rate, "tax_code": r.tax_code} for r in _pos(account).rates]
    return _listing(request, items, headers)


@get(f"{POS}/product-categories", name="sandbox_commerce:pos_categories", opt=OUTSIDE, include_in_schema=False)
async def pos_categories(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.POS)
    items = [{"id": c.id, "name": c.name, "description": c.description, "id_parent": c.parent_id}
             for c in _pos(account).categories]  # fmt: skip
    return _listing(request, items, headers)


@get(f"{POS}/orders", name="sandbox_commerce:pos_orders", opt=OUTSIDE, include_in_schema=False)
async def pos_orders(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    """Tickets paid from ``date_from`` to ``date_to`` (Paris days), by creation time then id."""
    account, headers = consumer(request, consumer_id, SourceKind.POS)
    params = request.query_params
    days = _period(params, headers)
    location_id = params.get("location_id") or None
    if location_id is not None and all(r.id != location_id for r in _pos(account).registers):
        raise ApiError(404, "not_found", "Lieu (caisse) inconnu.", headers)
    number, size = _paging(params, headers)
    state = current_state()
    body = books.page(
        days,
        lambda day: books.pos_count(state, account, day, location_id),
        lambda day, start, stop: books.pos_slice(state, account, day, start, stop, location_id=location_id),
        number,
        size,
    )
    return Response(body, media_type=MediaType.JSON, headers=headers)


@get(f"{POS}/closures/{{day:str}}", name="sandbox_commerce:pos_closure", opt=OUTSIDE, include_in_schema=False)
async def pos_closure(
    request: Request[Any, Any, Any], consumer_id: FromPath[str], day: FromPath[str]
) -> Response[bytes]:
    """Whether the day is final (``closed``) and, then, each register's closing."""
    account, headers = consumer(request, consumer_id, SourceKind.POS)
    when = _date(day, "date", headers)
    location_id = request.query_params.get("location_id") or None
    if location_id is not None and all(r.id != location_id for r in _pos(account).registers):
        raise ApiError(404, "not_found", "Lieu (caisse) inconnu.", headers)
    return _json(books.pos_closure(current_state(), account, when, location_id), headers)


# --- E-commerce ---

SHOP = "/consumers/{consumer_id:str}/commerce"


@get(f"{SHOP}/orders", name="sandbox_commerce:web_orders", opt=OUTSIDE, include_in_schema=False)
async def web_orders(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.ECOMMERCE)
    days = _period(request.query_params, headers)
    number, size = _paging(request.query_params, headers)
    state = current_state()
    body = books.page(
        days,
        lambda day: books.web_count(state, account, day),
        lambda day, start, stop: books.web_slice(state, account, day, start, stop),
        number,
        size,
    )
    return Response(body, media_type=MediaType.JSON, headers=headers)


@get(f"{SHOP}/refunds", name="sandbox_commerce:web_refunds", opt=OUTSIDE, include_in_schema=False)
async def web_refunds(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    """Refunds made from ``date_from`` to ``date_to``, whenever the order was placed."""
    account, headers = consumer(request, consumer_id, SourceKind.ECOMMERCE)
    days = _period(request.query_params, headers)
    number, size = _paging(request.query_params, headers)
    state = current_state()
    body = books.page(
        days,
        lambda day: books.refund_count(state, account, day),
        lambda day, start, stop: books.refund_slice(state, account, day, start, stop),
        number,
        size,
    )
    return Response(body, media_type=MediaType.JSON, headers=headers)


@get(f"{SHOP}/payment-methods", name="sandbox_commerce:web_payment_methods", opt=OUTSIDE, include_in_schema=False)
async def web_payment_methods(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.ECOMMERCE)
    items = [{"id": m.id, "name": m.name, "active": True} for m in _shop(account).methods]
    return _listing(request, items, headers)


@get(f"{SHOP}/product-categories", name="sandbox_commerce:web_categories", opt=OUTSIDE, include_in_schema=False)
async def web_categories(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.ECOMMERCE)
    items = [{"id": c.id, "name": c.name, "description": c.description, "id_parent": c.parent_id}
             for c in _shop(account).categories]  # fmt: skip
    return _listing(request, items, headers)


@get(f"{SHOP}/taxes", name="sandbox_commerce:web_taxes", opt=OUTSIDE, include_in_schema=False)
async def web_taxes(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.ECOMMERCE)
    items = [{"id": t.id, "label": t.label, "rate": t.rate, "country": t.country} for t in _shop(account).taxes]
    return _listing(request, items, headers)


@get(f"{SHOP}/countries", name="sandbox_commerce:web_countries", opt=OUTSIDE, include_in_schema=False)
async def web_countries(request: Request[Any, Any, Any], consumer_id: FromPath[str]) -> Response[bytes]:
    account, headers = consumer(request, consumer_id, SourceKind.ECOMMERCE)
    items = [{"code": code, "name": name} for code, name in country_names(account)]
    return _listing(request, items, headers)


def api_router() -> Router:
    return Router(
        path="/api",
        route_handlers=[
            consumers,
            pos_locations,
            pos_payment_methods,
            pos_tax_rates,
            pos_categories,
            pos_orders,
            pos_closure,
            web_orders,
            web_refunds,
            web_payment_methods,
            web_categories,
            web_taxes,
            web_countries,
        ],
        exception_handlers={ApiError: api_error_response},
        include_in_schema=False,
    )
