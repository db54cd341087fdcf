"""The commerce sandbox over HTTP: the unified API's answers, its amounts that add up, its days,
its OAuth and its limits."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portal.integrations.commerce.oauth import start_authorization
from portal.sandbox.commerce import CommerceState
from portal.sandbox.commerce import generate as generated
from portal.sandbox.commerce.catalogue import api_key
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from tests import commerce_fixtures
from tests.commerce_fixtures import REDIRECT_URI, TODAY, consent, form_of, source

commerce = commerce_fixtures.commerce
commerce_settings = commerce_fixtures.commerce_settings

CLIENT = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}
CEDRE, MARTIN, CERAMIQUE, EPICERIE = (
    "zelty-le-cedre",
    "lightspeed-boulangerie-martin",
    "shopify-atelier-ceramique",
    "woocommerce-epicerie-fine",
)
CENT = Decimal("0.01")
ZERO = Decimal(0)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _decimal(answer: httpx.Response) -> Any:
    return json.loads(answer.content, parse_float=Decimal)


def _query(url: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}


def _vat_in(total: Decimal, rate: Decimal) -> Decimal:
    return (total * rate / (100 + rate)).quantize(CENT, ROUND_HALF_UP)


class Api:
    """The API as one account's credential sees it (its API key, or a token as if consent was given)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, state: CommerceState, slug: str) -> None:
        self.base = settings.commerce_api_url
        self.http = http
        self.account = state.account(slug)
        self.headers = _bearer(self.account.api_key or state.issue_tokens(slug)["access_token"])

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(
            f"{self.base}/consumers/{self.account.id}/{path}", params=params, headers=self.headers
        )

    async def all(self, path: str, size: int = 1000, **params: Any) -> list[Any]:
        items: list[Any] = []
        page = 1
        while True:
            answer = await self.get(path, page=page, size=size, **params)
            assert answer.status_code == 200, answer.text
            body = _decimal(answer)
            items += body["items"]
            if page * size >= body["total"]:
                assert len(items) == body["total"]
                return items
            page += 1


# --- the index page and the credentials ---


async def test_index_lists_the_accounts_with_their_keys(commerce_settings: Settings, sandbox_url: str) -> None:
    async with httpx.AsyncClient() as browser:
        page = await browser.get(f"{sandbox_url}/sandbox/commerce/")
    assert page.status_code == 200
    text = page.text
    for name in ("Restaurant Le Cèdre", "Boulangerie Martin", "Atelier Céramique", "Épicerie fine en ligne"):
        assert name in text
    assert api_key(CEDRE) in text
    assert api_key(EPICERIE) in text
    assert "Autorisation OAuth" in text
    assert "Salle, Bar" in text
    assert "15/04/2025" in text


async def test_unknown_or_revoked_credentials_are_401(commerce_settings: Settings, commerce: CommerceState) -> None:
    url = f"{commerce_settings.commerce_api_url}/consumers"
    async with httpx.AsyncClient() as http:
        none = await http.get(url)
        unknown = await http.get(url, headers=_bearer("sk_sandbox_nope"))
        good = await http.get(url, headers=_bearer(api_key(CEDRE)))
        commerce.revoke_key(CEDRE)
        revoked = await http.get(url, headers=_bearer(api_key(CEDRE)))
    assert [a.status_code for a in (none, unknown, good, revoked)] == [401, 401, 200, 401]
    assert revoked.json()["error"] == "unauthorized"
    assert revoked.headers["www-authenticate"].startswith("Bearer")
    assert good.json() == [{"consumerid": commerce.account(CEDRE).id, "name": "Restaurant Le Cèdre", "source": "zelty"}]


async def test_a_credential_sees_only_its_own_consumer_and_kind(
    commerce_settings: Settings, commerce: CommerceState
) -> None:
    async with httpx.AsyncClient() as http:
        cedre = Api(commerce_settings, http, commerce, CEDRE)
        epicerie = Api(commerce_settings, http, commerce, EPICERIE)
        other = await http.get(
            f"{cedre.base}/consumers/{commerce.account(MARTIN).id}/pos/locations", headers=cedre.headers
        )
        web_on_pos = await cedre.get("commerce/orders", date_from="2025-04-01", date_to="2025-04-01")
        pos_on_web = await epicerie.get("pos/orders", date_from="2025-04-01", date_to="2025-04-01")
        own = await cedre.get("pos/locations")
    assert [a.status_code for a in (other, web_on_pos, pos_on_web, own)] == [404, 404, 404, 200]
    assert other.json()["error"] == "not_found"


# --- POS ---


async def test_restaurant_reference_data(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        locations = await api.all("pos/locations")
        methods = await api.all("pos/payment-methods")
        rates = await api.all("pos/tax-rates")
        categories = await api.all("pos/product-categories")
        small = _decimal(await api.get("pos/payment-methods", size=2, page=2))
    assert [(x["id"], x["name"], x["timezone"]) for x in locations] == [
        ("loc-salle", "Salle", "Europe/Paris"),
        ("loc-bar", "Bar", "Europe/Paris"),
    ]
    assert locations[0]["address"] == {
        "street": "12 rue Mercière", "postal_code": "69002", "city": "Lyon", "country": "FR"
    }  # fmt: skip
    assert [x["name"] for x in methods] == ["Espèces", "Carte bancaire", "Ticket restaurant", "Chèque", "Lydia"]
    assert {x["rate"] for x in rates} == {Decimal(10), Decimal(20), Decimal("5.5")}
    assert {x["id_parent"] for x in categories} == {None, "boissons"}
    assert (small["total"], small["page"], small["size"], [x["id"] for x in small["items"]]) == (5, 2, 2, ["tr", "chq"])


def _check_ticket(order: dict[str, Any], rates: dict[str, Decimal]) -> None:
    """Everything a ticket says adds up, to the cent."""
    items = order["items"]
    for item in items:
        assert item["tax_rate"] == rates[item["tax_id"]]
        if item["total"]:
            assert item["tax_amount"] == _vat_in(item["total"], item["tax_rate"])
        discount = sum((d["total"] for d in item.get("discounts", ())), ZERO)
        assert item["unit_price"] * item["quantity"] == item["total"] + discount  # a refund's discount is negative too
    assert order["total"] == sum(item["total"] for item in items)
    assert order["tax_amount"] == sum(item["tax_amount"] for item in items)
    assert order["total"] == sum(tax["total"] for tax in order["taxes"])
    assert order["tax_amount"] == sum(tax["tax_amount"] for tax in order["taxes"])
    assert len({tax["tax_id"] for tax in order["taxes"]}) == len(order["taxes"])
    assert sum(payment["total"] for payment in order["payments"]) == order["total"]
    assert sum(payment["tip"] for payment in order["payments"]) == order["total_tip"]
    for amount in (order["total"], order["tax_amount"], *(p["total"] for p in order["payments"])):
        assert amount == amount.quantize(CENT)


async def test_tickets_add_up_and_have_what_a_restaurant_has(
    commerce_settings: Settings, commerce: CommerceState
) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        rates = {x["id"]: x["rate"] for x in await api.all("pos/tax-rates")}
        orders = await api.all("pos/orders", date_from="2025-03-24", date_to="2025-04-06")
    assert len(orders) > 1000
    by_id = {order["id"]: order for order in orders}
    methods: Counter[str] = Counter()
    for order in orders:
        _check_ticket(order, rates)
        methods.update(payment["payment_method_name"] for payment in order["payments"])
        created = dt.datetime.fromisoformat(order["creation_date"])
        assert dt.date(2025, 3, 24) <= created.date() <= dt.date(2025, 4, 6)
        assert created.utcoffset() == dt.timedelta(hours=1 if created.date() < dt.date(2025, 3, 30) else 2)
        if "refund_of" in order:
            original = by_id[order["refund_of"]]
            assert original["creation_date"] < order["creation_date"]
            assert order["total"] < 0
            assert all(payment["total"] < 0 for payment in order["payments"])
            assert {item["product_id"] for item in order["items"]} <= {item["product_id"] for item in original["items"]}
    # Sorted by creation date then id, across days and registers.
    keys = [(dt.datetime.fromisoformat(o["creation_date"]), o["id"]) for o in orders]
    assert keys == sorted(keys)
    assert set(methods) == {"Espèces", "Carte bancaire", "Ticket restaurant", "Chèque", "Lydia"}
    assert sum(1 for o in orders if "refund_of" in o) >= 5
    assert sum(1 for o in orders if o["total_tip"] > 0) >= 50
    assert sum(1 for o in orders if len(o["payments"]) > 1) >= 20
    assert 0 < sum(1 for o in orders if o.get("customer_name")) < len(orders) / 5
    assert any(o["mode"] == "TAKEAWAY" for o in orders)
    assert any(o["total_discount"] > 0 for o in orders)
    assert {tax["tax_rate"] for o in orders for tax in o["taxes"]} == {Decimal(10), Decimal(20), Decimal("5.5")}
    # Closed on Mondays.
    assert not any(dt.date.fromisoformat(o["creation_date"][:10]).weekday() == 0 for o in orders)


async def test_paging_and_filters(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        whole = await api.all("pos/orders", date_from="2025-04-08", date_to="2025-04-12")
        paged = await api.all("pos/orders", size=37, date_from="2025-04-08", date_to="2025-04-12")
        bar = await api.all("pos/orders", date_from="2025-04-08", date_to="2025-04-12", location_id="loc-bar")
        beyond = _decimal(await api.get("pos/orders", date_from="2025-04-08", date_to="2025-04-08", page=99, size=50))
        too_big = await api.get("pos/orders", date_from="2025-04-08", date_to="2025-04-08", size=1001)
        bad_date = await api.get("pos/orders", date_from="2025-02-30", date_to="2025-04-08")
        backwards = await api.get("pos/orders", date_from="2025-04-09", date_to="2025-04-08")
        unknown_place = await api.get("pos/orders", date_from="2025-04-08", date_to="2025-04-08", location_id="x")
    assert [o["id"] for o in paged] == [o["id"] for o in whole]
    assert [o["id"] for o in bar] == [o["id"] for o in whole if o["location_id"] == "loc-bar"]
    assert beyond["items"] == []
    assert beyond["total"] > 0
    assert [a.status_code for a in (too_big, bad_date, backwards, unknown_place)] == [422, 422, 422, 404]


async def test_days_are_closed_before_today_and_closures_add_up(
    commerce_settings: Settings, commerce: CommerceState
) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        past = {}
        for offset in range(1, 15):
            day = TODAY - dt.timedelta(days=offset)
            past[day] = (_decimal(await api.get(f"pos/closures/{day}")), await api.all("pos/orders", date_from=day,
                                                                                        date_to=day))  # fmt: skip
        today = _decimal(await api.get(f"pos/closures/{TODAY}"))
        tomorrow = _decimal(await api.get(f"pos/closures/{TODAY + dt.timedelta(days=1)}"))
        orders_today = await api.all("pos/orders", date_from=TODAY, date_to=TODAY)
        bar_only = _decimal(await api.get(f"pos/closures/{TODAY - dt.timedelta(days=2)}", location_id="loc-bar"))
    assert today == {"date": "2025-04-15", "status": "open", "closures": []}
    assert tomorrow["status"] == "open"
    # Today's tickets so far: paid by 15:00.
    assert orders_today
    assert all(o["closing_date"] <= "2025-04-15T15:00:00+02:00" for o in orders_today)
    differences = []
    for day, (closure, orders) in past.items():
        assert closure["status"] == "closed"
        assert closure["date"] == day.isoformat()
        if day.weekday() == 0:
            assert closure["closures"] == []
            assert orders == []
            continue
        assert [c["location_id"] for c in closure["closures"]] == ["loc-salle", "loc-bar"]
        for entry in closure["closures"]:
            mine = [o for o in orders if o["location_id"] == entry["location_id"]]
            assert entry["total"] == sum(o["total"] for o in mine)
            assert entry["tax_amount"] == sum(o["tax_amount"] for o in mine)
            recorded: dict[str, Decimal] = defaultdict(Decimal)
            for order in mine:
                for payment in order["payments"]:
                    recorded[payment["payment_method_id"]] += payment["total"]
            assert {p["payment_method_id"]: p["total"] for p in entry["payments"]} == recorded
            assert sum(p["total"] for p in entry["payments"]) == entry["total"]
            assert sum(t["total"] for t in entry["taxes"]) == entry["total"]
            for payment in entry["payments"]:
                if payment["payment_method_id"] != "esp":
                    assert payment["counted"] == payment["total"]
                else:
                    differences.append(payment["counted"] - payment["total"])
    assert any(d < 0 for d in differences)
    assert all(abs(d) <= 10 for d in differences)
    assert [c["location_id"] for c in bar_only["closures"]] == ["loc-bar"]


async def test_history_starts_at_its_first_day(commerce_settings: Settings, commerce: CommerceState) -> None:
    first = TODAY - dt.timedelta(days=120)
    assert commerce.first_day(commerce.account(CEDRE)) == first
    assert CommerceState().today == dt.datetime.now(generated.PARIS).date()  # the real date unless set
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        before = await api.all(
            "pos/orders", date_from=first - dt.timedelta(days=7), date_to=first - dt.timedelta(days=1)
        )
        since = await api.all("pos/orders", date_from=first, date_to=first + dt.timedelta(days=6))
        closure = _decimal(await api.get(f"pos/closures/{first - dt.timedelta(days=1)}"))
        commerce.today = TODAY + dt.timedelta(days=1)  # a day later: the 15th is closed now, whole
        closed = _decimal(await api.get(f"pos/closures/{TODAY}"))
        whole = await api.all("pos/orders", date_from=TODAY, date_to=TODAY)
    assert before == []
    assert since
    assert closure == {"date": str(first - dt.timedelta(days=1)), "status": "closed", "closures": []}
    assert closed["status"] == "closed"
    assert sum(entry["total"] for entry in closed["closures"]) == sum(order["total"] for order in whole)
    assert max(order["closing_date"] for order in whole) > "2025-04-15T15:00:00+02:00"


async def test_bakery_one_register_two_rates(commerce_settings: Settings, commerce: CommerceState) -> None:
    token = commerce.issue_tokens(MARTIN)
    api_url = commerce_settings.commerce_api_url
    consumer = token["consumer_id"]
    async with httpx.AsyncClient(headers=_bearer(token["access_token"])) as http:
        categories = (await http.get(f"{api_url}/consumers/{consumer}/pos/product-categories")).json()["items"]
        orders = _decimal(
            await http.get(
                f"{api_url}/consumers/{consumer}/pos/orders",
                params={"date_from": "2025-04-10", "date_to": "2025-04-12", "size": 1000},
            )
        )
    assert [c["name"] for c in categories] == ["Pains", "Viennoiseries", "Pâtisseries", "Boissons"]
    assert {o["location_id"] for o in orders["items"]} == {"loc-boutique"}
    assert {t["tax_rate"] for o in orders["items"] for t in o["taxes"]} == {Decimal("5.5"), Decimal(20)}
    assert orders["total"] > 300


async def test_generation_is_deterministic(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        first = (await api.get("pos/orders", date_from="2025-04-01", date_to="2025-04-03", size=1000)).content
        generated.pos_day.cache_clear()
        generated.pos_plan.cache_clear()
        again = (await api.get("pos/orders", date_from="2025-04-01", date_to="2025-04-03", size=1000)).content
        closure = (await api.get("pos/closures/2025-04-02")).content
        generated.pos_day.cache_clear()
        closure_again = (await api.get("pos/closures/2025-04-02")).content
    assert first == again
    assert closure == closure_again
    assert b'"total":' in first


async def test_hooks_add_modify_and_close_the_open_day(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        before = await api.all("pos/orders", date_from=TODAY, date_to=TODAY)
        added = commerce.add_order(CEDRE, lines=[("p-chawarma", 2), ("p-almaza", 1)], method_id="lydia")
        changed = commerce.modify_order(CEDRE, before[0]["id"], lines=[("p-arak", 3)], method_id="esp")
        after = await api.all("pos/orders", date_from=TODAY, date_to=TODAY)
        commerce.close_day(CEDRE)
        closure = _decimal(await api.get(f"pos/closures/{TODAY}"))
    assert added["total"] == Decimal("33.00")
    assert added["tax_amount"] == Decimal("2.55") + Decimal("0.83")
    assert [o["id"] for o in after] == [o["id"] for o in before] + [added["id"]]
    assert after[0]["total"] == changed["total"] == Decimal("21.00")
    assert after[0]["payments"][0]["payment_method_name"] == "Espèces"
    assert closure["status"] == "closed"
    assert sum(c["total"] for c in closure["closures"]) == sum(o["total"] for o in after)
    with pytest.raises(ValueError, match="closed"):
        commerce.add_order(CEDRE)
    with pytest.raises(ValueError, match="closed"):
        commerce.modify_order(CEDRE, before[1]["id"], method_id="cb")


async def test_a_big_account_for_benchmarks(commerce_settings: Settings, commerce: CommerceState) -> None:
    account = commerce.add_account("zelty", "Brasserie du Parc", orders_per_day=1500, days=3)
    assert account.api_key
    async with httpx.AsyncClient(headers=_bearer(account.api_key)) as http:
        url = f"{commerce_settings.commerce_api_url}/consumers/{account.id}/pos/orders"
        period = {"date_from": str(TODAY - dt.timedelta(days=3)), "date_to": str(TODAY - dt.timedelta(days=1))}
        first = _decimal(await http.get(url, params={**period, "size": 1000}))
        last = _decimal(await http.get(url, params={**period, "size": 1000, "page": 5}))
    assert first["total"] == 4500
    assert len(first["items"]) == 1000
    assert len(last["items"]) == 500
    assert commerce.add_account("zelty", "Brasserie du Parc").slug == "zelty-brasserie-du-parc-2"


# --- e-commerce ---


def _check_web(document: dict[str, Any], taxes: dict[str, dict[str, Any]]) -> None:
    lines = list(document["lines"]) + ([document["shipping"]] if "shipping" in document else [])
    country = document["shipping_address"]["country"]
    for line in lines:
        assert line["untaxed_amount"] + line["tax_amount"] == line["total"]
        if line.get("gift_card"):
            assert line["tax_amount"] == 0
            continue
        tax = taxes[line["tax_id"]]
        assert tax["country"] == country
        assert line["tax_rate"] == tax["rate"]
        assert line["tax_amount"] == _vat_in(line["total"], line["tax_rate"])
    for name in ("untaxed_amount", "tax_amount", "total"):
        assert document[name] == sum(line[name] for line in lines)


async def test_web_orders_add_up_per_line_and_per_order(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, EPICERIE)
        taxes = {x["id"]: x for x in await api.all("commerce/taxes")}
        countries = await api.all("commerce/countries")
        methods = await api.all("commerce/payment-methods")
        categories = await api.all("commerce/product-categories")
        orders = await api.all("commerce/orders", date_from="2025-02-01", date_to="2025-03-31")
    assert [c["code"] for c in countries] == ["FR", "BE", "DE", "ES", "CH"]
    assert [m["name"] for m in methods] == ["Carte bancaire", "PayPal", "Virement bancaire"]
    assert len(categories) == 6
    assert len(orders) > 600
    for order in orders:
        _check_web(order, taxes)
        assert order["currency"] == "EUR"
    shipped_to = Counter(o["shipping_address"]["country"] for o in orders)
    assert set(shipped_to) == {"FR", "BE", "DE", "ES", "CH"}
    assert shipped_to["FR"] > len(orders) / 2
    swiss = [o for o in orders if o["shipping_address"]["country"] == "CH"]
    assert all(o["tax_amount"] == 0 for o in swiss)
    assert any(o["status"] == "cancelled" for o in orders)
    assert any(o["discount_amount"] > 0 for o in orders)
    assert any("shipping" in o for o in orders)
    assert any("shipping" not in o for o in orders)  # free shipping in France above 60 €


async def test_refunds_come_later_partial_or_full(commerce_settings: Settings, commerce: CommerceState) -> None:
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CERAMIQUE)
        taxes = {x["id"]: x for x in await api.all("commerce/taxes")}
        orders = {o["id"]: o for o in await api.all("commerce/orders", date_from="2025-01-01", date_to=TODAY)}
        refunds = await api.all("commerce/refunds", date_from="2025-02-01", date_to=TODAY)
        today_refunds = await api.all("commerce/refunds", date_from=TODAY, date_to=TODAY)
    assert len(refunds) > 10
    kinds: Counter[bool] = Counter()
    for refund in refunds:
        _check_web(refund, taxes)
        order = orders[refund["order_id"]]
        assert order["created_on"][:10] < refund["created_on"][:10]
        assert order["status"] in {"confirmed", "refunded"}
        assert order["refunded_amount"] == refund["total"]
        full = refund["total"] == order["total"]
        kinds[full] += 1
        assert order["status"] == ("refunded" if full else "confirmed")
    assert kinds[True]
    assert kinds[False]
    assert all(r["created_on"] <= "2025-04-15T15:00:00+02:00" for r in today_refunds)
    # A refund not made yet does not show on its order.
    pending = [o for o in orders.values() if o["refunded_amount"] == 0 and o["status"] == "refunded"]
    assert pending == []


# --- OAuth ---


async def test_consent_page_names_the_source_and_its_accounts(commerce_settings: Settings) -> None:
    start = start_authorization(commerce_settings, source("lightspeed"), REDIRECT_URI)
    assert _query(start.url)["source"] == "lightspeed"
    async with httpx.AsyncClient() as browser:
        page = await browser.get(start.url)
    assert page.status_code == 200
    assert "Autoriser Portail Cabinet à lire les ventes de votre compte Lightspeed" in page.text
    _, hidden, accounts = form_of(page.text)
    assert set(accounts) == {"Boulangerie Martin", "Pâtisserie Lemoine"}
    assert hidden["code_challenge_method"] == "S256"
    assert hidden["state"] == start.state


async def test_authorize_refusals(commerce_settings: Settings) -> None:
    url = f"{commerce_settings.commerce_oauth_url}/authorize"
    base = {
        "client_id": SANDBOX_CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "state": "s",
        "code_challenge": "x" * 43, "code_challenge_method": "S256", "source": "shopify",
    }  # fmt: skip
    async with httpx.AsyncClient() as browser:
        fine = await browser.get(url, params=base)
        unknown = await browser.get(url, params={**base, "client_id": "someone-else"})
        foreign = await browser.get(url, params={**base, "redirect_uri": "https://attacker.example/cb"})
        key_source = await browser.get(url, params={**base, "source": "zelty"})
        no_pkce = await browser.get(url, params={**base, "code_challenge_method": "plain"})
    assert fine.status_code == 200
    assert "Atelier Céramique" in fine.text
    assert "Shopify" in fine.text
    assert (unknown.status_code, foreign.status_code) == (400, 400)
    assert "Adresse de retour refusée" in foreign.text
    assert key_source.status_code == no_pkce.status_code == 303
    assert _query(key_source.headers["location"])["error"] == "invalid_request"
    assert _query(no_pkce.headers["location"])["error"] == "invalid_request"


async def test_refusing_sends_access_denied(commerce_settings: Settings) -> None:
    start, callback = await consent(commerce_settings, decision="deny")
    assert _query(callback) == {
        "error": "access_denied", "error_description": "Accès refusé.", "state": start.state
    }  # fmt: skip


async def test_code_pkce_rotation_and_revocation(commerce_settings: Settings, commerce: CommerceState) -> None:
    token_url = f"{commerce_settings.commerce_oauth_url}/token"
    start, callback = await consent(commerce_settings, account="Pâtisserie Lemoine")
    grant = {
        **CLIENT,
        "grant_type": "authorization_code",
        "code": _query(callback)["code"],
        "redirect_uri": REDIRECT_URI,
    }
    lemoine = commerce.account("lightspeed-patisserie-lemoine").id
    async with httpx.AsyncClient() as http:
        wrong_uri = await http.post(token_url, data={**grant, "redirect_uri": REDIRECT_URI + "x",
                                                     "code_verifier": start.code_verifier})  # fmt: skip
        # The code was spent by that failed try.
        spent = await http.post(token_url, data={**grant, "code_verifier": start.code_verifier})
        start, callback = await consent(commerce_settings, account="Pâtisserie Lemoine")
        grant["code"] = _query(callback)["code"]
        wrong_verifier = await http.post(token_url, data={**grant, "code_verifier": "v" * 64})
        start, callback = await consent(commerce_settings, account="Pâtisserie Lemoine")
        grant["code"] = _query(callback)["code"]
        first = await http.post(token_url, data={**grant, "code_verifier": start.code_verifier})
        tokens = first.json()
        api = f"{commerce_settings.commerce_api_url}/consumers/{lemoine}/pos/locations"
        works = await http.get(api, headers=_bearer(tokens["access_token"]))
        refresh = {**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        rotated = await http.post(token_url, data=refresh)
        replay = await http.post(token_url, data=refresh)
        old_access = await http.get(api, headers=_bearer(tokens["access_token"]))
        new = rotated.json()
        basic = await http.post(
            token_url,
            data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
            auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
        )
        newest = basic.json()
        revoked = await http.post(
            f"{commerce_settings.commerce_oauth_url}/revoke", data={**CLIENT, "token": newest["refresh_token"]}
        )
        after = await http.get(api, headers=_bearer(newest["access_token"]))
    assert [r.json()["error"] for r in (wrong_uri, spent, wrong_verifier)] == ["invalid_grant"] * 3
    assert first.status_code == 200
    assert tokens["consumer_id"] == lemoine
    assert tokens["expires_in"] == 3600
    assert first.headers["cache-control"] == "no-store"
    assert works.status_code == 200
    assert rotated.status_code == 200
    assert new["consumer_id"] == lemoine
    assert new["refresh_token"] != tokens["refresh_token"]
    assert replay.json()["error"] == "invalid_grant"
    assert old_access.status_code == 401
    assert basic.status_code == 200
    assert revoked.status_code == 200
    assert after.status_code == 401
    assert commerce.counters["refreshes"] == 2


async def test_an_oauth_token_sees_only_its_account(commerce_settings: Settings, commerce: CommerceState) -> None:
    token = commerce.issue_tokens(MARTIN)
    other = commerce.account("lightspeed-patisserie-lemoine").id
    async with httpx.AsyncClient(headers=_bearer(token["access_token"])) as http:
        consumers = (await http.get(f"{commerce_settings.commerce_api_url}/consumers")).json()
        foreign = await http.get(f"{commerce_settings.commerce_api_url}/consumers/{other}/pos/locations")
        commerce.expire_access_tokens()
        expired = await http.get(f"{commerce_settings.commerce_api_url}/consumers")
    assert [c["name"] for c in consumers] == ["Boulangerie Martin"]
    assert foreign.status_code == 404
    assert expired.status_code == 401


# --- limits and failures ---


async def test_rate_limit_429_with_retry_after(commerce_settings: Settings, commerce: CommerceState) -> None:
    commerce.rate_limit = 2
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        answers = [await api.get("pos/locations") for _ in range(3)]
        other = await Api(commerce_settings, http, commerce, EPICERIE).get("commerce/countries")
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert [answer.headers["ratelimit-remaining"] for answer in answers] == ["1", "0", "0"]
    assert int(answers[2].headers["retry-after"]) in range(1, 7)
    assert answers[2].json()["error"] == "too_many_requests"
    assert other.status_code == 200  # per credential
    assert commerce.counters["rate_limited"] == 1


async def test_fail_next_calls(commerce_settings: Settings, commerce: CommerceState) -> None:
    commerce.fail_next(2, status=503)
    async with httpx.AsyncClient() as http:
        api = Api(commerce_settings, http, commerce, CEDRE)
        answers = [await api.get("pos/locations") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [503, 503, 200]
    assert answers[0].json()["error"] == "server_error"
