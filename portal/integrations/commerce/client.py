"""Reading a POS or e-commerce source through the unified API: reference data, tickets, day
closings, web orders and refunds, as the records of ``records.py``.

One client speaks for one connection, with the credential its source uses: an API key
(a static bearer) or an OAuth token (refreshed by authlib before it runs out, and once more
when the API answers 401 anyway; every new token goes to ``on_token`` at once, since
refresh tokens rotate and the old one is dead)::

    async with CommerceClient(settings, source=zelty, credentials={"api_key": key}) as client:
        async for orders in client.orders(consumer_id, day, day):
            ...

Long lists come page by page (1,000 records a page), so that a sync can post and commit as
it reads rather than hold 100,000 tickets; the next page is asked for before the current
one is read, so the source makes it meanwhile (reading 100,000 tickets from a sandbox in
another process takes about 9 s instead of 15). Numbers are decoded as ``Decimal``
straight from the JSON text (msgspec's ``float_hook``), never through a float; the only
per-record work is the records' own ``from_api``.

Failures are sorted for the caller (``errors``): a revoked key, a refused refresh or a 401
after a refresh is ``AuthorizationLost``; 5xx answers, timeouts and network errors are
retried a couple of times here, then ``SourceUnavailable`` (the job retries later); 429 is
waited out (``retry-after``, bounded) and retried, then ``RateLimited``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import httpx2
import msgspec

from portal.i18n import N_
from portal.integrations.commerce.errors import (
    AuthorizationLost,
    CommerceError,
    RateLimited,
    SourceUnavailable,
)
from portal.integrations.commerce.oauth import PROVIDER, revoke
from portal.integrations.commerce.records import (
    Closure,
    CommerceOrder,
    CommerceRefund,
    Consumer,
    Country,
    Location,
    Order,
    PaymentMethod,
    ProductCategory,
    ReferenceData,
    TaxRate,
)
from portal.integrations.commerce.sources import Source, SourceKind
from portal.integrations.http import ApiClient, Retries, TokenCallback, detail
from portal.settings import Settings

__all__ = ["CommerceClient", "TokenCallback"]

T = TypeVar("T")

PAGE_SIZE = 1000  # the API's largest page
MAX_PAGES = 100_000  # a list that never ends is a fault, not a long list
SEND_STEPS = 2  # loop steps for the request of the next page to go out before this one is read
DECODER = msgspec.json.Decoder(float_hook=Decimal)
UNEXPECTED = N_("La source a donné une réponse inattendue.")
NOT_FOUND = N_("La source ne trouve pas ce compte ou cette donnée.")
REFUSED = N_("La source a refusé la demande.")
# What an unusable answer looks like while it is read into records.
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError, InvalidOperation)


class CommerceClient(ApiClient):
    """``async with CommerceClient(settings, source=source, credentials=stored, on_token=save) as client: ...``

    ``credentials`` is ``{"api_key": "..."}`` or ``{"token": {access_token, refresh_token,
    expires_at, consumer_id…}}``.
    """

    provider = PROVIDER
    static_headers = (("Accept", "application/json"),)

    def __init__(
        self,
        settings: Settings,
        *,
        source: Source,
        credentials: Mapping[str, Any],
        on_token: TokenCallback | None = None,
        max_retries_on_429: int = 5,
        max_retries_on_failure: int = 2,
        retry_delay: float = 0.5,
        page_size: int = PAGE_SIZE,
        timeout: httpx2.Timeout | None = None,
    ) -> None:
        api_key, token = credentials.get("api_key"), credentials.get("token")
        if bool(api_key) == bool(token):
            raise ValueError("CommerceClient needs exactly one of api_key or token in its credentials")
        self.source = source
        self._page_size = page_size
        self._consumer_id: str | None = credentials.get("consumer_id")
        if token:
            self._consumer_id = token.get("consumer_id") or self._consumer_id
        retries = Retries(on_429=max_retries_on_429, on_failure=max_retries_on_failure, delay=retry_delay)
        super().__init__(
            settings, token=dict(token) if token else None, bearer=api_key, on_token=on_token, retries=retries,
            timeout=timeout,
        )  # fmt: skip

    @property
    def consumer_id(self) -> str | None:
        """The consumer the credential speaks for, when it says so (an OAuth token does)."""
        return self._consumer_id

    async def _token_updated(self, token: dict[str, Any], **_hints: Any) -> None:
        # A refresh answer may leave out which consumer the token is for: it has not changed.
        if not token.get("consumer_id") and self._consumer_id:
            token["consumer_id"] = self._consumer_id
        await super()._token_updated(token)

    def _error(self, cls: type[CommerceError], message: str | None = None, **options: Any) -> CommerceError:
        return cls(message, source=self.source.name, **options)

    def _lost(self, detail: str, status: int | None = None) -> CommerceError:
        return self._error(AuthorizationLost, detail=detail, status=status)

    def _unavailable(self, detail: str, status: int | None = None) -> CommerceError:
        return self._error(SourceUnavailable, detail=detail, status=status)

    def _limited(self, retry_after: float, detail: str) -> CommerceError:
        return RateLimited(source=self.source.name, retry_after=retry_after, detail=detail)

    def _refused(self, detail: str) -> CommerceError:
        return self._error(CommerceError, N_("La source a refusé les identifiants de l'application du portail."),
                           detail=detail)  # fmt: skip

    def _unexpected(self, detail: str) -> CommerceError:
        return self._error(CommerceError, UNEXPECTED, detail=detail)

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` of the API, decoded (numbers as Decimal), after the waits and retries it takes."""
        response = await self._request("GET", path, params=params)
        status = response.status_code
        if status == httpx2.codes.FORBIDDEN:
            raise self._error(AuthorizationLost, detail=detail(response), status=status)
        if status == httpx2.codes.NOT_FOUND:
            raise self._error(CommerceError, NOT_FOUND, detail=detail(response), status=status)
        if status >= httpx2.codes.BAD_REQUEST:
            raise self._error(CommerceError, REFUSED, detail=detail(response), status=status)
        try:
            return DECODER.decode(response.content)
        except msgspec.DecodeError as exc:
            raise self._error(CommerceError, UNEXPECTED, detail=detail(response)) from exc

    def _read(self, build: Callable[[Any], T], items: Any, what: str) -> list[T]:
        try:
            return [build(item) for item in items]
        except UNREADABLE as exc:
            raise self._error(CommerceError, UNEXPECTED, detail=f"{what}: {exc!r}") from exc

    async def _pages(self, path: str, params: Mapping[str, Any], build: Callable[[Any], T]) -> AsyncIterator[list[T]]:
        """Each page of a paged list (``{items, total, page, size}``), read into records.

        The next page is asked for before this one is read and handed over, so that the
        source makes it while the portal reads and posts this one.
        """
        size = self._page_size
        ahead: asyncio.Task[Any] | None = None
        try:
            body = await self._get(path, {**params, "page": 1, "size": size})
            for number in range(1, MAX_PAGES + 1):
                items = body.get("items") if isinstance(body, dict) else body if isinstance(body, list) else None
                if not isinstance(items, list):
                    raise self._error(CommerceError, UNEXPECTED, detail=f"{path}: no items")
                total = body.get("total") if isinstance(body, dict) else None
                if items and isinstance(total, int) and number * size < total:
                    ahead = asyncio.ensure_future(self._get(path, {**params, "page": number + 1, "size": size}))
                    for _ in range(SEND_STEPS):  # reading holds the loop: the request must be out before
                        await asyncio.sleep(0)
                if items:
                    yield self._read(build, items, path)
                if ahead is None:
                    return
                body, ahead = await ahead, None
        finally:
            if ahead is not None:  # the caller stopped reading, or failed: the page asked for is not wanted
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, CommerceError):
                    await ahead
        raise self._error(CommerceError, UNEXPECTED, detail=f"{path}: more than {MAX_PAGES} pages")

    async def _all(self, path: str, build: Callable[[Any], T]) -> tuple[T, ...]:
        found: list[T] = []
        async for page in self._pages(path, {}, build):
            found += page
        return tuple(found)

    @staticmethod
    def _period(day_from: dt.date, day_to: dt.date, **extra: str | None) -> dict[str, str]:
        params = {"date_from": day_from.isoformat(), "date_to": day_to.isoformat()}
        return params | {key: value for key, value in extra.items() if value}

    # --- what the portal reads ---

    async def consumers(self) -> list[Consumer]:
        """The accounts the credential speaks for (one, for the sources the portal connects)."""
        body = await self._get("consumers")
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise self._error(CommerceError, UNEXPECTED, detail="consumers: not a list")
        return self._read(Consumer.from_api, items, "consumers")

    async def reference(self, consumer_id: str, kind: SourceKind | None = None) -> ReferenceData:
        """What the source lists for the mapping: registers, payment methods, VAT rates, categories
        (POS); payment methods, categories, taxes (as VAT rates) and delivery countries (e-commerce)."""
        base = f"consumers/{consumer_id}"
        if (kind or self.source.kind) is SourceKind.POS:
            categories = (
                await self._all(f"{base}/pos/product-categories", ProductCategory.from_api)
                if self.source.categories
                else ()
            )
            return ReferenceData(
                locations=await self._all(f"{base}/pos/locations", Location.from_api),
                payment_methods=await self._all(f"{base}/pos/payment-methods", PaymentMethod.from_api),
                tax_rates=await self._all(f"{base}/pos/tax-rates", TaxRate.from_api),
                categories=categories,
            )
        return ReferenceData(
            payment_methods=await self._all(f"{base}/commerce/payment-methods", PaymentMethod.from_api),
            tax_rates=await self._all(f"{base}/commerce/taxes", TaxRate.from_api),
            categories=await self._all(f"{base}/commerce/product-categories", ProductCategory.from_api),
            countries=await self._all(f"{base}/commerce/countries", Country.from_api),
        )

    async def orders(
        self, consumer_id: str, day_from: dt.date, day_to: dt.date, location_id: str | None = None
    ) -> AsyncIterator[list[Order]]:
        """POS tickets of ``day_from``..``day_to`` (the source's days), a page at a time."""
        params = self._period(day_from, day_to, location_id=location_id)
        async for page in self._pages(f"consumers/{consumer_id}/pos/orders", params, Order.from_api):
            yield page

    async def closure(self, consumer_id: str, day: dt.date, location_id: str | None = None) -> Closure:
        """Whether ``day`` is closed (final) at the source and, then, each register's closing."""
        params = {"location_id": location_id} if location_id else None
        body = await self._get(f"consumers/{consumer_id}/pos/closures/{day.isoformat()}", params)
        try:
            return Closure.from_api(body)
        except UNREADABLE as exc:
            raise self._error(CommerceError, UNEXPECTED, detail=f"closure {day}: {exc!r}") from exc

    async def web_orders(
        self, consumer_id: str, day_from: dt.date, day_to: dt.date
    ) -> AsyncIterator[list[CommerceOrder]]:
        """Web orders placed ``day_from``..``day_to``, a page at a time (cancelled ones included)."""
        params = self._period(day_from, day_to)
        async for page in self._pages(f"consumers/{consumer_id}/commerce/orders", params, CommerceOrder.from_api):
            yield page

    async def web_refunds(
        self, consumer_id: str, day_from: dt.date, day_to: dt.date
    ) -> AsyncIterator[list[CommerceRefund]]:
        """Refunds made ``day_from``..``day_to`` (of orders of any day), a page at a time."""
        params = self._period(day_from, day_to)
        async for page in self._pages(f"consumers/{consumer_id}/commerce/refunds", params, CommerceRefund.from_api):
            yield page

    async def revoke(self) -> bool:
        """End an OAuth authorization at the source (best effort); an API key is deleted by its owner."""
        token = self.token
        return await revoke(self._settings, token) if token else False
