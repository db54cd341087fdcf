"""What the Pennylane sandbox remembers: codes and tokens (``TokenIssuer``, of the OAuth server
both sandboxes share), personal tokens, exports, download links, request counts.

Everything lives in memory and is lost at restart, as a stand-in's state may be. The
methods never await, so within one event loop each runs whole: that is all the locking
the sandbox needs. Tokens are kept as SHA-256 digests only, like a real provider's database.

One instance is current for the process (``current_state``); tests install a fresh one
with ``reset_state`` and tune its lifetimes and limits directly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from portal.sandbox.oauth_server import TokenIssuer, digest
from portal.sandbox.pennylane.data import COMPANIES, Company, FiscalYear
from portal.sandbox.rate import RateDecision, RateWindow, count_request


@dataclass(frozen=True)
class Consented:
    """What an OAuth consent grants: one company, some scopes."""

    company_id: int
    scopes: frozenset[str]


@dataclass
class ApiToken:
    """A personal API token, made on the tokens page."""

    id: int
    name: str
    company_id: int
    scopes: frozenset[str]
    key: str
    created_at: datetime
    expires_at: float | None
    active: bool = True


@dataclass
class Export:
    id: int
    company_id: int
    period_start: date
    period_end: date
    created_at: datetime
    updated_at: datetime
    created_clock: float
    polls: int = 0
    status: str = "pending"


@dataclass
class FileLink:
    export_id: int
    expires_at: float


@dataclass
class Caller:
    """Who an API request speaks for, once its bearer token is known."""

    key: str
    company_id: int
    scopes: frozenset[str]


@dataclass
class SandboxState(TokenIssuer[Consented]):
    # Tunables: tests lower them to make things expire or limits bite.
    access_token_seconds: float = 86_400
    export_polls_before_ready: int = 2
    export_seconds_before_ready: float | None = None
    export_fails: bool = False
    file_link_seconds: float = 600
    rate_limit: int = 25
    rate_window_seconds: float = 5
    max_page_size: int = 100

    companies: tuple[Company, ...] = COMPANIES
    api_tokens: dict[str, ApiToken] = field(default_factory=dict)
    exports: dict[int, Export] = field(default_factory=dict)
    links: dict[str, FileLink] = field(default_factory=dict)
    windows: dict[str, RateWindow] = field(default_factory=dict)
    # When each fiscal year last changed at Pennylane (``updated_at``), by id; unlisted: ``fiscal_year_updated_at``.
    year_changes: dict[int, datetime] = field(default_factory=dict)

    def company(self, company_id: int) -> Company | None:
        return next((found for found in self.companies if found.id == company_id), None)

    def fiscal_year_updated_at(self, year: FiscalYear) -> datetime:
        """When Pennylane says the year last changed: a closed year at its closing (three months after its end),
        an open one now (its entries keep coming), or when a test said it changed (``change_fiscal_year``)."""
        if year.id in self.year_changes:
            return self.year_changes[year.id]
        if year.status in {"open", "reopen"}:
            return datetime.now(UTC).replace(microsecond=0)
        return datetime.combine(year.finish + timedelta(days=90), time(18, 0), tzinfo=UTC)

    def change_fiscal_year(self, year_id: int, at: datetime | None = None) -> None:
        """An accountant changed an entry of the year at Pennylane (even a closed one, reopened then closed)."""
        self.year_changes[year_id] = at or datetime.now(UTC).replace(microsecond=0)

    # --- personal API tokens ---

    def create_api_token(
        self, *, name: str, company_id: int, scopes: frozenset[str], lifetime_days: int | None
    ) -> tuple[str, ApiToken]:
        token = secrets.token_urlsafe(32)
        record = ApiToken(
            id=len(self.api_tokens) + 1,
            name=name,
            company_id=company_id,
            scopes=scopes,
            key=digest(token),
            created_at=datetime.now(UTC),
            expires_at=self.clock() + lifetime_days * 86_400 if lifetime_days else None,
        )
        self.api_tokens[record.key] = record
        return token, record

    def delete_api_token(self, token_id: int) -> None:
        for record in self.api_tokens.values():
            if record.id == token_id:
                record.active = False

    # --- API callers and their rate ---

    def caller(self, bearer: str) -> Caller | None:
        """Who a bearer token speaks for, or None: unknown, expired or revoked."""
        key = digest(bearer)
        now = self.clock()
        grant = self.grants.get(key)
        if grant is not None:
            if grant.active and now < grant.access_expires_at:
                return Caller(key, grant.subject.company_id, grant.subject.scopes)
            return None
        record = self.api_tokens.get(key)
        if record is not None and record.active and (record.expires_at is None or now < record.expires_at):
            return Caller(key, record.company_id, record.scopes)
        return None

    def count_request(self, key: str) -> RateDecision:
        """A fixed window per token: ``rate_limit`` requests per ``rate_window_seconds``.

        A window opens with a token's first request and closes on a whole second at least
        ``rate_window_seconds`` later, so that ``ratelimit-reset`` (whole seconds) is exact.
        """
        return count_request(
            self.windows, self.counters, key,
            now=self.clock(), limit=self.rate_limit, window_seconds=self.rate_window_seconds,
        )  # fmt: skip

    # --- FEC exports ---

    def create_export(self, company_id: int, period_start: date, period_end: date) -> Export:
        stamp = datetime.now(UTC)
        export = Export(
            id=len(self.exports) + 1001,
            company_id=company_id,
            period_start=period_start,
            period_end=period_end,
            created_at=stamp,
            updated_at=stamp,
            created_clock=self.clock(),
        )
        self.exports[export.id] = export
        return export

    def poll_export(self, export: Export) -> str | None:
        """Advance the export by one look; when ready, the token of a new download link (each look
        gives a fresh one, as a store's signed links are)."""
        export.polls += 1
        if export.status == "pending":
            waited = self.clock() - export.created_clock
            by_time = self.export_seconds_before_ready is not None and waited >= self.export_seconds_before_ready
            if export.polls >= self.export_polls_before_ready or by_time:
                export.status = "error" if self.export_fails else "ready"
                export.updated_at = datetime.now(UTC)
        if export.status != "ready":
            return None
        token = secrets.token_urlsafe(24)
        self.links[digest(token)] = FileLink(export.id, self.clock() + self.file_link_seconds)
        return token

    def resolve_link(self, token: str) -> tuple[Export | None, bool]:
        """The export a download token points at, and whether the link is still alive."""
        link = self.links.get(digest(token))
        if link is None:
            return None, False
        return self.exports.get(link.export_id), self.clock() < link.expires_at


_current = SandboxState()


def current_state() -> SandboxState:
    return _current


def use_state(state: SandboxState) -> SandboxState:
    """Make ``state`` the one the sandbox's routes read and write (tests)."""
    global _current  # noqa: PLW0603 - the process-wide stand-in is the point
    _current = state
    return state


def reset_state(**tunables: Any) -> SandboxState:
    """A fresh state, made current: ``reset_state(rate_limit=3, file_link_seconds=0)``."""
    return use_state(SandboxState(**tunables))
