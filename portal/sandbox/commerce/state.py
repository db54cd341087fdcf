"""What the commerce sandbox remembers: its clock, accounts, keys, OAuth grants, rates, and the
changes tests make to a day.

The sales themselves are not here: they are generated from the accounts on demand
(``generate``). The state holds what is not generated: which day it is (the real date in
Paris unless a test sets it), the OAuth codes and tokens (as SHA-256 digests only, like a
provider's database), revoked API keys, request counts per credential, calls told to fail,
and the tickets a test added to or changed on the open day, or a day it closed early.

The methods never await, so within one event loop each runs whole: that is all the locking
the sandbox needs. One instance is current for the process (``current_state``); tests
install a fresh one with ``reset_state`` and tune it directly::

    state = reset_state(today=date(2025, 4, 15), rate_limit=5)
    state.fail_next(2)                       # the next two API calls answer 500
    state.add_order("zelty-le-cedre")        # a new ticket on the open day
    state.close_day("zelty-le-cedre")        # today is closed now, with what it has
    state.revoke_key("zelty-le-cedre")       # the API key stops working
    account = state.add_account("zelty", "Brasserie du Parc", orders_per_day=1000, days=100)
"""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from portal.integrations.commerce.sources import SourceAuth, SourceKind, get_source
from portal.sandbox.commerce.catalogue import ACCOUNTS, PROFILES, Account, Method
from portal.sandbox.commerce.generate import PARIS, Json, Spec, Ticket, assemble_ticket, pos_setup, pos_tickets
from portal.sandbox.oauth_server import IssuedTokens, TokenIssuer, digest
from portal.sandbox.rate import RateDecision, RateWindow, count_request
from portal.settings import SANDBOX_CLIENT_ID

DEFAULT_HISTORY_DAYS = 120
DEFAULT_TIME = dt.time(15, 0)  # with a fixed date, the hour it is


@dataclass(frozen=True)
class Caller:
    """Who an API request speaks for, once its bearer is known."""

    key: str  # what its requests are counted under
    account_id: str


@dataclass
class Overlay:
    """What tests changed on one day of one account: tickets added or rewritten, an early closing."""

    added: list[Ticket] = field(default_factory=list)
    modified: dict[str, Ticket] = field(default_factory=dict)
    closed_at: int | None = None  # second of the day the day was closed


@dataclass
class CommerceState(TokenIssuer[str]):  # an OAuth consent grants one account (its id)
    # The clock: None follows the real date in Paris; a date fixes it, at ``time_of_day``.
    fixed_today: dt.date | None = None
    time_of_day: dt.time = DEFAULT_TIME
    history_days: int = DEFAULT_HISTORY_DAYS
    # Tunables: tests lower them to make things expire or limits bite.
    rate_limit: int = 60
    rate_window_seconds: float = 5
    max_page_size: int = 1000

    accounts: dict[str, Account] = field(default_factory=lambda: {account.id: account for account in ACCOUNTS})
    revoked_keys: set[str] = field(default_factory=set)
    windows: dict[str, RateWindow] = field(default_factory=dict)
    failures: list[int] = field(default_factory=list)  # statuses the next API calls answer with
    overlays: dict[tuple[str, dt.date], Overlay] = field(default_factory=dict)

    # --- the clock ---

    @property
    def today(self) -> dt.date:
        return self.fixed_today or dt.datetime.now(PARIS).date()

    @today.setter
    def today(self, day: dt.date | None) -> None:
        self.fixed_today = day

    def now(self) -> dt.datetime:
        if self.fixed_today is None:
            return dt.datetime.now(PARIS)
        return dt.datetime.combine(self.fixed_today, self.time_of_day, tzinfo=PARIS)

    def now_second(self) -> int:
        now = self.now()
        return now.hour * 3600 + now.minute * 60 + now.second

    def first_day(self, account: Account) -> dt.date:
        """The account's first day of history: its own length, or the state's."""
        days = account.history_days if account.history_days is not None else self.history_days
        return self.today - dt.timedelta(days=days)

    def is_closed(self, account: Account, day: dt.date) -> bool:
        """A day is final once past, or once closed early by a test."""
        if day < self.today:
            return True
        overlay = self.overlays.get((account.id, day))
        return overlay is not None and overlay.closed_at is not None

    # --- accounts and keys ---

    def account(self, ref: str) -> Account:
        """An account by consumer id or slug."""
        found = self.accounts.get(ref) or next((a for a in self.accounts.values() if a.slug == ref), None)
        if found is None:
            raise KeyError(ref)
        return found

    def accounts_of(self, source_code: str) -> list[Account]:
        return [account for account in self.accounts.values() if account.source.code == source_code]

    def add_account(
        self,
        source: str,
        name: str,
        *,
        orders_per_day: int = 100,
        days: int = DEFAULT_HISTORY_DAYS,
        profile: str | None = None,
        slug: str | None = None,
    ) -> Account:
        """A new account with exactly ``orders_per_day`` tickets (or web orders) each of its ``days``
        past days and today (no closing day, for benchmarks). ``profile``: one of ``PROFILES``,
        by default the restaurant for a POS source and the delicatessen for e-commerce."""
        found = get_source(source)
        if found is None:
            raise ValueError(f"unknown source {source!r}")
        chosen = profile or ("restaurant" if found.kind is SourceKind.POS else "delicatessen")
        if PROFILES[chosen].kind is not found.kind:
            raise ValueError(f"profile {chosen!r} does not fit a {found.kind} source")
        base = slug or f"{source}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"
        slug, number = base, 1
        while any(account.slug == slug for account in self.accounts.values()):
            number += 1
            slug = f"{base}-{number}"
        account = Account(slug, found, name, "Lyon", PROFILES[chosen], orders_per_day, history_days=days, uniform=True)
        self.accounts[account.id] = account
        return account

    def revoke_key(self, ref: str) -> None:
        key = self.account(ref).api_key
        if key:
            self.revoked_keys.add(key)

    # --- OAuth ---

    def issue_tokens(self, ref: str, client_id: str | None = None) -> dict[str, Any]:
        """A token dict for an account, as the portal stores it after consent (tests, benchmarks)."""
        issued = self.issue_grant(client_id=client_id or SANDBOX_CLIENT_ID, subject=self.account(ref).id)
        return token_answer(issued) | {"expires_at": int(self.clock()) + issued.expires_in}

    # --- API callers, their rate, failures on demand ---

    def caller(self, bearer: str) -> Caller | None:
        """Who a bearer speaks for (an API key or an access token), or None: unknown, expired, revoked."""
        for account in self.accounts.values():
            key = account.api_key
            if key is not None and secrets.compare_digest(key.encode(), bearer.encode()):
                return None if key in self.revoked_keys else Caller(digest(key), account.id)
        grant = self.grants.get(digest(bearer))
        if grant is not None and grant.active and self.clock() < grant.access_expires_at:
            return Caller(grant.access_key, grant.subject)
        return None

    def count_request(self, key: str) -> RateDecision:
        """A fixed window per credential: ``rate_limit`` requests per ``rate_window_seconds``.

        A window opens with a credential's first request and closes on a whole second at
        least ``rate_window_seconds`` later, so that ``ratelimit-reset`` (whole seconds) is exact.
        """
        return count_request(
            self.windows, self.counters, key,
            now=self.clock(), limit=self.rate_limit, window_seconds=self.rate_window_seconds,
        )  # fmt: skip

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next ``count`` API calls answer ``status`` (a source having a bad moment)."""
        self.failures.extend([status] * count)

    def take_failure(self) -> int | None:
        if not self.failures:
            return None
        self.counters["failures"] += 1
        return self.failures.pop(0)

    # --- changes to the open day (POS) ---

    def _open_overlay(self, account: Account, day: dt.date) -> Overlay:
        if account.kind is not SourceKind.POS:
            raise ValueError(f"{account.slug} is not a POS account")
        if day != self.today or self.is_closed(account, day):
            raise ValueError(f"{day} is closed for {account.slug}: a closed day never changes")
        return self.overlays.setdefault((account.id, day), Overlay())

    def _specs(self, account: Account, lines: Sequence[tuple[str, int]]) -> list[Spec]:
        setup = pos_setup(account)
        return [Spec(setup.products[product_id], quantity) for product_id, quantity in lines]

    def add_order(
        self,
        ref: str,
        *,
        lines: Sequence[tuple[str, int]] | None = None,
        method_id: str | None = None,
        location_id: str | None = None,
        at: dt.time | None = None,
    ) -> Json:
        """A new ticket on the open day, paid at once (``at``, else now) by one method (else card).

        ``lines`` are ``(product id, quantity)``; by default a few products drawn at random.
        Returns the ticket's JSON (amounts as Decimal).
        """
        account = self.account(ref)
        day = self.today
        overlay = self._open_overlay(account, day)
        setup = pos_setup(account)
        profile = setup.profile
        register = next((r for r in profile.registers if r.id == location_id), profile.registers[0])
        number = len(overlay.added) + 1
        if lines is None:
            rng = random.Random(f"{account.seed}/{day}/added/{number}")  # noqa: S311 - made-up data
            products = [p for p in profile.products if not p.registers or register.id in p.registers]
            lines = [(rng.choice(products).id, rng.randint(1, 2)) for _ in range(rng.randint(1, 3))]
        second = (at.hour * 3600 + at.minute * 60 + at.second) if at else self.now_second()
        method = self._method(account, method_id, "card")
        specs = self._specs(account, lines)
        order = assemble_ticket(
            setup,
            order_id=f"{day:%Y%m%d}-{register.code}A{number:03d}",
            number=f"{register.code}{day:%y%m%d}-A{number:03d}",
            register=register,
            day=day,
            opened=second,
            closed=second,
            specs=specs,
            method=method,
        )
        overlay.added.append(Ticket(order, specs, second, second))
        self.counters["orders_added"] += 1
        return order

    def modify_order(
        self, ref: str, order_id: str, *, lines: Sequence[tuple[str, int]] | None = None, method_id: str | None = None
    ) -> Json:
        """Rewrite a ticket of the open day: new ``lines`` and/or paid by ``method_id`` instead.

        Its id, number and times stay; its totals, VAT and payment follow the new lines.
        """
        account = self.account(ref)
        day = self.today
        overlay = self._open_overlay(account, day)
        current = next((t for t in overlay.added if t.order["id"] == order_id), None) or overlay.modified.get(order_id)
        if current is None:
            current = next((t for t in pos_tickets(account, day) if t.order["id"] == order_id), None)
        if current is None or current.order.get("refund_of"):
            raise KeyError(order_id)
        setup = pos_setup(account)
        register = next(r for r in setup.profile.registers if r.id == current.order["location_id"])
        specs = self._specs(account, lines) if lines is not None else current.specs
        method = self._method(account, method_id, current.order["payments"][0]["payment_method_id"])
        customer = (
            (current.order["customer_id"], current.order["customer_name"]) if "customer_id" in current.order else None
        )
        order = assemble_ticket(
            setup, order_id=order_id, number=current.order["order_number"], register=register, day=day,
            opened=current.opened, closed=current.closed, specs=specs, method=method, customer=customer,
        )  # fmt: skip
        ticket = Ticket(order, list(specs), current.opened, current.closed)
        added = [index for index, t in enumerate(overlay.added) if t.order["id"] == order_id]
        if added:
            overlay.added[added[0]] = ticket
        else:
            overlay.modified[order_id] = ticket
        self.counters["orders_modified"] += 1
        return order

    def close_day(self, ref: str, day: dt.date | None = None) -> None:
        """Close the open day now (the register's Z): it becomes final with the tickets paid so far."""
        account = self.account(ref)
        overlay = self._open_overlay(account, day or self.today)
        overlay.closed_at = self.now_second()

    def _method(self, account: Account, method_id: str | None, fallback: str) -> Method:
        methods = pos_setup(account).methods
        if method_id is not None:
            return methods[method_id]
        return methods.get(fallback) or next(m for m in methods.values() if m.kind == fallback)


def token_answer(issued: IssuedTokens[str]) -> dict[str, Any]:
    """The token endpoint's answer: the pair, and which consumer it speaks for."""
    return issued.as_response(consumer_id=issued.subject)


def oauth_accounts(state: CommerceState, source_code: str) -> list[Account]:
    """The accounts a consent page for ``source_code`` offers (an OAuth source's)."""
    source = get_source(source_code)
    if source is None or source.auth is not SourceAuth.OAUTH:
        return []
    return state.accounts_of(source_code)


_current = CommerceState()


def current_state() -> CommerceState:
    return _current


def use_state(state: CommerceState) -> CommerceState:
    """Make ``state`` the one the sandbox's routes read and write (tests)."""
    global _current  # noqa: PLW0603 - the process-wide stand-in is the point
    _current = state
    return state


def reset_state(*, today: dt.date | None = None, **tunables: Any) -> CommerceState:
    """A fresh state, made current: ``reset_state(today=date(2025, 4, 15), rate_limit=3)``."""
    return use_state(CommerceState(fixed_today=today, **tunables))
