"""The portal's POS and e-commerce client against the commerce sandbox, over real HTTP."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.integrations.commerce.client import CommerceClient
from portal.integrations.commerce.errors import (
    AuthorizationError,
    AuthorizationLost,
    CommerceError,
    RateLimited,
    SourceUnavailable,
)
from portal.integrations.commerce.oauth import CommerceEndpoints, finish_authorization, revoke, start_authorization
from portal.integrations.commerce.records import (
    Closure,
    CommerceLine,
    CommerceOrder,
    CommerceRefund,
    Consumer,
    Country,
    Location,
    Order,
    PaymentMethod,
    TaxRate,
)
from portal.integrations.commerce.sources import SourceKind
from portal.sandbox.commerce import CommerceState
from portal.sandbox.oauth_server import s256
from portal.settings import SANDBOX_CLIENT_ID, Settings
from tests import commerce_fixtures
from tests.commerce_fixtures import REDIRECT_URI, TODAY, connect, consent, source

commerce = commerce_fixtures.commerce
commerce_settings = commerce_fixtures.commerce_settings

CEDRE, EPICERIE, CERAMIQUE = "zelty-le-cedre", "woocommerce-epicerie-fine", "shopify-atelier-ceramique"
ZELTY, LIGHTSPEED, WOOCOMMERCE, SHOPIFY = (source(c) for c in ("zelty", "lightspeed", "woocommerce", "shopify"))


class Saved:
    """An ``on_token`` that keeps what it is given, as the portal persists it."""

    def __init__(self) -> None:
        self.tokens: list[dict[str, Any]] = []

    async def __call__(self, token: dict[str, Any]) -> None:
        self.tokens.append(token)


def _key(state: CommerceState, slug: str) -> dict[str, str]:
    key = state.account(slug).api_key
    assert key
    return {"api_key": key}


def test_endpoints_follow_the_settings(commerce_settings: Settings) -> None:
    endpoints = CommerceEndpoints.from_settings(commerce_settings)
    assert endpoints.authorize_url.endswith("/sandbox/commerce/oauth/authorize")
    assert endpoints.token_url.endswith("/sandbox/commerce/oauth/token")
    assert endpoints.revoke_url.endswith("/sandbox/commerce/oauth/revoke")
    assert endpoints.api_url.endswith("/sandbox/commerce/api")


def test_credentials_are_one_of_a_key_or_a_token(commerce_settings: Settings) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        CommerceClient(commerce_settings, source=ZELTY, credentials={})
    with pytest.raises(ValueError, match="exactly one"):
        CommerceClient(commerce_settings, source=ZELTY, credentials={"api_key": "k", "token": {"access_token": "t"}})
    with pytest.raises(ValueError, match="API key"):
        start_authorization(commerce_settings, ZELTY, REDIRECT_URI)


async def test_pos_reference_data(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with CommerceClient(commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE)) as client:
        consumers = await client.consumers()
        reference = await client.reference(consumers[0].id)
    assert consumers == [Consumer(commerce.account(CEDRE).id, "Restaurant Le Cèdre", source="zelty")]
    assert reference.locations == (Location("loc-salle", "Salle"), Location("loc-bar", "Bar"))
    assert [m.name for m in reference.payment_methods] == [
        "Espèces", "Carte bancaire", "Ticket restaurant", "Chèque", "Lydia"
    ]  # fmt: skip
    assert PaymentMethod("lydia", "Lydia", "Paiement mobile") in reference.payment_methods
    assert TaxRate("tva-5.5", "TVA 5,5 %", Decimal("5.5"), "FR_55") in reference.tax_rates
    assert {c.parent_id for c in reference.categories} == {None, "boissons"}
    assert reference.countries == ()


async def test_web_reference_data(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with CommerceClient(commerce_settings, source=WOOCOMMERCE, credentials=_key(commerce, EPICERIE)) as client:
        reference = await client.reference(commerce.account(EPICERIE).id)
    assert reference.countries[-1] == Country("CH", "Suisse")
    assert [c.code for c in reference.countries] == ["FR", "BE", "DE", "ES", "CH"]
    assert TaxRate("tax-be-6", "TVA Belgique 6 %", Decimal(6), None, "BE") in reference.tax_rates
    assert {m.id for m in reference.payment_methods} == {"stripe", "paypal", "bacs"}
    assert reference.locations == ()


async def test_orders_page_by_page_as_records(commerce_settings: Settings, commerce: CommerceState) -> None:
    consumer = commerce.account(CEDRE).id
    async with CommerceClient(commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE)) as client:
        pages: list[list[Order]] = [
            page async for page in client.orders(consumer, dt.date(2025, 3, 1), dt.date(2025, 3, 31))
        ]
        bar = [o async for page in client.orders(consumer, TODAY, TODAY, location_id="loc-bar") for o in page]
        closure = await client.closure(consumer, dt.date(2025, 3, 15))
        open_day = await client.closure(consumer, TODAY)
    orders = [order for page in pages for order in page]
    assert len(pages) > 1
    assert [len(page) for page in pages[:-1]] == [1000] * (len(pages) - 1)
    assert len({order.id for order in orders}) == len(orders)
    for order in orders:
        assert type(order.total) is Decimal
        assert order.total == sum(item.total for item in order.items)
        assert order.tax_amount == sum(item.tax_amount for item in order.items)
        assert sum(payment.total for payment in order.payments) == order.total
        assert order.total_tip == sum(payment.tip for payment in order.payments)
        assert order.created.tzinfo is not None
        assert all(payment.completed and payment.order_id == order.id for payment in order.payments)
    refunds = [order for order in orders if order.refund_of]
    assert refunds
    assert all(order.total < 0 for order in refunds)
    assert {order.customer_name for order in orders if order.customer_id} <= {
        "Karim Haddad", "Sophie Lefèvre", "Cabinet Rousseau & Associés", "Julien Moreau", "Nadia Khoury"
    }  # fmt: skip
    assert bar
    assert {order.location_id for order in bar} == {"loc-bar"}
    assert isinstance(closure, Closure)
    assert closure.closed
    assert closure.date == dt.date(2025, 3, 15)
    march_15 = [o for o in orders if o.created.date() == dt.date(2025, 3, 15)]
    assert sum(entry.total for entry in closure.closures) == sum(o.total for o in march_15)
    cash = [p for entry in closure.closures for p in entry.payments if p.method_name == "Espèces"]
    assert all(p.counted is not None for p in cash)
    assert all(p.difference == 0 for entry in closure.closures for p in entry.payments if p.method_id != "esp")
    assert not open_day.closed
    assert open_day.closures == ()


async def test_web_orders_and_refunds_as_records(commerce_settings: Settings, commerce: CommerceState) -> None:
    token = commerce.issue_tokens(CERAMIQUE)
    consumer = token["consumer_id"]
    async with CommerceClient(commerce_settings, source=SHOPIFY, credentials={"token": token}) as client:
        assert client.consumer_id == consumer
        orders = [o async for page in client.web_orders(consumer, dt.date(2025, 1, 1), TODAY) for o in page]
        refunds = [r async for page in client.web_refunds(consumer, dt.date(2025, 2, 1), TODAY) for r in page]
    assert all(isinstance(order, CommerceOrder) for order in orders)
    for order in orders:
        assert order.untaxed_amount + order.tax_amount == order.total
        assert order.total == sum(line.total for line in order.lines)
        assert all(line.untaxed_amount + line.tax_amount == line.total for line in order.lines)
    assert {order.country for order in orders} == {"FR", "BE", "DE", "ES", "CH"}
    assert any(order.cancelled for order in orders)
    shipping = [line for order in orders for line in order.lines if line.kind == "shipping"]
    assert shipping
    assert all(isinstance(line, CommerceLine) and line.description == "Colissimo" for line in shipping)
    assert any(line.gift_card for order in orders for line in order.lines)
    assert {line.category_id for order in orders for line in order.lines if line.kind == "product"} == {
        "arts-de-la-table", "decoration"
    }  # fmt: skip
    assert refunds
    by_id = {order.id: order for order in orders}
    for refund in refunds:
        assert isinstance(refund, CommerceRefund)
        assert refund.untaxed_amount + refund.tax_amount == refund.total > 0
        assert by_id[refund.order_id].refunded_amount == refund.total
        assert refund.country == by_id[refund.order_id].country


async def test_a_429_is_waited_out(commerce_settings: Settings, commerce: CommerceState) -> None:
    commerce.rate_limit = 2
    commerce.rate_window_seconds = 1
    started = time.monotonic()
    async with CommerceClient(commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE)) as client:
        # Spend the window behind the client's back: its own pacing cannot see it coming.
        caller = commerce.caller(_key(commerce, CEDRE)["api_key"])
        assert caller is not None
        commerce.count_request(caller.key)
        commerce.count_request(caller.key)
        consumers = await client.consumers()
    assert consumers[0].name == "Restaurant Le Cèdre"
    assert commerce.counters["rate_limited"] >= 1
    assert time.monotonic() - started < 10


async def test_still_limited_is_rate_limited(commerce_settings: Settings, commerce: CommerceState) -> None:
    commerce.rate_limit = 0
    commerce.rate_window_seconds = 120  # longer than the client waits
    async with CommerceClient(commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE)) as client:
        with pytest.raises(RateLimited) as limited:
            await client.consumers()
    assert limited.value.retryable
    assert limited.value.retry_after is not None
    assert limited.value.retry_after > 60


async def test_a_revoked_key_is_authorization_lost(commerce_settings: Settings, commerce: CommerceState) -> None:
    commerce.revoke_key(CEDRE)
    async with CommerceClient(commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE)) as client:
        with pytest.raises(AuthorizationLost) as lost:
            await client.consumers()
    assert lost.value.status == 401
    assert not lost.value.retryable
    assert lost.value.text() == "L'accès à la source a expiré ou a été retiré : reconnectez-la."
    assert str(lost.value).startswith("Zelty : ")
    assert "sk_sandbox" not in str(lost.value)


async def test_server_errors_are_retried_then_unavailable(commerce_settings: Settings, commerce: CommerceState) -> None:
    credentials = _key(commerce, CEDRE)
    async with CommerceClient(
        commerce_settings, source=ZELTY, credentials=credentials, retry_delay=0.01, max_retries_on_failure=2
    ) as client:
        commerce.fail_next(2)
        assert (await client.consumers())[0].name == "Restaurant Le Cèdre"
        commerce.fail_next(3, status=502)
        with pytest.raises(SourceUnavailable) as unavailable:
            await client.consumers()
    assert unavailable.value.status == 502
    assert unavailable.value.retryable
    assert commerce.counters["failures"] == 5


async def test_an_unreachable_source_is_unavailable(commerce_settings: Settings) -> None:
    settings = commerce_settings.with_overrides(commerce_api_url="http://127.0.0.1:9/api")
    async with CommerceClient(
        settings, source=ZELTY, credentials={"api_key": "sk"}, retry_delay=0.01, max_retries_on_failure=1
    ) as client:
        with pytest.raises(SourceUnavailable):
            await client.consumers()


async def test_another_consumer_is_not_found(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with CommerceClient(commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE)) as client:
        with pytest.raises(CommerceError) as missing:
            await client.reference(commerce.account(EPICERIE).id, SourceKind.ECOMMERCE)
    assert missing.value.status == 404
    assert not isinstance(missing.value, (AuthorizationLost, SourceUnavailable))


async def test_errors_speak_the_accountants_language(commerce_settings: Settings, commerce: CommerceState) -> None:
    commerce.fail_next(5)
    async with CommerceClient(
        commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE), retry_delay=0.01
    ) as client:
        with pytest.raises(SourceUnavailable) as unavailable:
            await client.consumers()
    assert unavailable.value.message == "La source ne répond pas pour le moment. Nouvel essai plus tard."
    assert unavailable.value.text() == unavailable.value.message
    assert unavailable.value.source == "Zelty"
    # A stored message is translated where it is shown, with nothing to fill in.
    assert "%" not in unavailable.value.message


# --- OAuth ---


async def test_authorization_code_flow_with_pkce(commerce_settings: Settings, commerce: CommerceState) -> None:
    start = start_authorization(commerce_settings, LIGHTSPEED, REDIRECT_URI)
    url, state, verifier = start
    asked = {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
    assert asked["client_id"] == SANDBOX_CLIENT_ID
    assert asked["source"] == "lightspeed"
    assert asked["state"] == state
    assert asked["code_challenge_method"] == "S256"
    assert asked["code_challenge"] == s256(verifier)

    token = await connect(commerce_settings, account="Pâtisserie Lemoine")
    assert {"access_token", "refresh_token", "expires_at", "consumer_id"} <= set(token)
    assert token["consumer_id"] == commerce.account("lightspeed-patisserie-lemoine").id
    assert token["expires_at"] == pytest.approx(time.time() + 3600, abs=5)
    async with CommerceClient(commerce_settings, source=LIGHTSPEED, credentials={"token": token}) as client:
        consumers = await client.consumers()
        reference = await client.reference(token["consumer_id"])
    assert [c.name for c in consumers] == ["Pâtisserie Lemoine"]
    assert [c.name for c in reference.categories] == ["Pains", "Viennoiseries", "Pâtisseries", "Boissons"]


async def test_refusal_wrong_state_and_spent_code(commerce_settings: Settings) -> None:
    start, denied = await consent(commerce_settings, decision="deny")
    finish: dict[str, Any] = {"redirect_uri": REDIRECT_URI, "code_verifier": start.code_verifier, "source": LIGHTSPEED}
    with pytest.raises(AuthorizationError) as refused:
        await finish_authorization(
            commerce_settings, authorization_response=denied, expected_state=start.state, **finish
        )
    assert refused.value.text() == "L'accès a été refusé sur la source : la connexion n'a pas été faite."
    assert refused.value.source == "Lightspeed"

    start, callback = await consent(commerce_settings)
    finish = {"redirect_uri": REDIRECT_URI, "code_verifier": start.code_verifier, "source": LIGHTSPEED}
    with pytest.raises(AuthorizationError, match="ne correspond pas"):
        await finish_authorization(
            commerce_settings, authorization_response=callback, expected_state=start.state + "x", **finish
        )
    await finish_authorization(commerce_settings, authorization_response=callback, expected_state=start.state, **finish)
    with pytest.raises(AuthorizationError, match="invalid_grant"):
        await finish_authorization(
            commerce_settings, authorization_response=callback, expected_state=start.state, **finish
        )


async def test_refresh_rotates_and_every_new_token_is_saved(
    commerce_settings: Settings, commerce: CommerceState
) -> None:
    token = await connect(commerce_settings)
    saved = Saved()
    consumer = token["consumer_id"]
    async with CommerceClient(
        commerce_settings, source=LIGHTSPEED, credentials={"token": token}, on_token=saved
    ) as client:
        await client.reference(consumer)
        assert saved.tokens == []
        # The source lets the access token die early: a 401, one refresh, one retry.
        commerce.expire_access_tokens()
        await client.consumers()
        assert len(saved.tokens) == 1
        # Expired by the client's own clock: authlib refreshes before sending.
        assert client._oauth is not None
        client._oauth.token["expires_at"] = int(time.time()) - 10
        await client.consumers()
        assert len(saved.tokens) == 2
        assert client.token == saved.tokens[-1]
    first, second = saved.tokens
    assert first["refresh_token"] != token["refresh_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert all(saved_token["consumer_id"] == consumer for saved_token in saved.tokens)
    assert commerce.counters["refreshes"] == 2
    # The old refresh tokens are dead: a client that did not keep the new one has lost the connection.
    async with CommerceClient(commerce_settings, source=LIGHTSPEED, credentials={"token": token}) as stale:
        commerce.expire_access_tokens()
        with pytest.raises(AuthorizationLost):
            await stale.consumers()


async def test_revoked_authorization_is_lost(commerce_settings: Settings, commerce: CommerceState) -> None:
    token = await connect(commerce_settings)
    assert await revoke(commerce_settings, token) is True
    async with CommerceClient(commerce_settings, source=LIGHTSPEED, credentials={"token": token}) as client:
        with pytest.raises(AuthorizationLost):
            await client.consumers()
    assert commerce.counters["revocations"] == 1
    # Best effort: an unreachable source is not an error.
    gone = commerce_settings.with_overrides(commerce_oauth_url="http://127.0.0.1:9/oauth")
    assert await revoke(gone, token) is False


async def test_client_revoke(commerce_settings: Settings, commerce: CommerceState) -> None:
    token = commerce.issue_tokens("shopify-atelier-ceramique")
    async with CommerceClient(commerce_settings, source=SHOPIFY, credentials={"token": token}) as client:
        assert await client.revoke() is True
        with pytest.raises(AuthorizationLost):
            await client.consumers()
    async with CommerceClient(commerce_settings, source=ZELTY, credentials=_key(commerce, CEDRE)) as keyed:
        assert await keyed.revoke() is False


async def test_many_orders_through_the_client(commerce_settings: Settings, commerce: CommerceState) -> None:
    account = commerce.add_account("zelty", "Brasserie du Parc", orders_per_day=2000, days=5)
    assert account.api_key
    counted = 0
    async with CommerceClient(commerce_settings, source=ZELTY, credentials={"api_key": account.api_key}) as client:
        async for page in client.orders(account.id, TODAY - dt.timedelta(days=5), TODAY - dt.timedelta(days=1)):
            counted += len(page)
    assert counted == 10_000


async def test_stopping_early_drops_the_page_asked_ahead(commerce_settings: Settings, commerce: CommerceState) -> None:
    account = commerce.add_account("zelty", "Brasserie du Parc", orders_per_day=1500, days=2)
    assert account.api_key
    day = TODAY - dt.timedelta(days=1)
    async with CommerceClient(commerce_settings, source=ZELTY, credentials={"api_key": account.api_key}) as client:
        async with contextlib.aclosing(client.orders(account.id, day, day)) as pages:
            async for page in pages:
                assert len(page) == 1000
                break
        # The client still works after: nothing was left half-read.
        assert (await client.consumers())[0].name == "Brasserie du Parc"
    assert commerce.counters["api_requests"] <= 3
