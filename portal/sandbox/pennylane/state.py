"""What the Pennylane sandbox remembers: codes, tokens, exports, download links, request counts.

Everything lives in memory and is lost at restart, as a stand-in's state may be. The
methods never await, so within one event loop each runs whole: that is all the locking
the sandbox needs. Tokens and codes are kept as SHA-256 digests only, like a real
provider's database; the plain values exist once, in the answer that hands them out.

One instance is current for the process (``current_state``); tests install a fresh one
with ``reset_state`` and tune its lifetimes and limits directly.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from portal.sandbox.pennylane.data import COMPANIES, Company
from portal.sandbox.rate import RateDecision, RateWindow, count_request


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    company_id: int
    scopes: frozenset[str]
    code_challenge: str
    expires_at: float
    used: bool = False
    grant_key: str | None = None  # the access token it gave, revoked if the code is replayed


@dataclass
class Grant:
    """An OAuth access token and its refresh token: they live and die together."""

    client_id: str
    company_id: int
    scopes: frozenset[str]
    access_key: str
    refresh_key: str
    access_expires_at: float
    refresh_expires_at: float
    active: bool = True


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


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scopes: frozenset[str]


@dataclass
class SandboxState:
    # Tunables: tests lower them to make things expire or limits bite.
    access_token_seconds: float = 86_400
    refresh_token_seconds: float = 90 * 86_400
    code_seconds: float = 120
    export_polls_before_ready: int = 2
    export_seconds_before_ready: float | None = None
    export_fails: bool = False
    file_link_seconds: float = 600
    rate_limit: int = 25
    rate_window_seconds: float = 5
    max_page_size: int = 100
    clock: Callable[[], float] = time.time

    companies: tuple[Company, ...] = COMPANIES
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)  # by access-token digest
    refresh_index: dict[str, str] = field(default_factory=dict)  # refresh digest -> access digest
    api_tokens: dict[str, ApiToken] = field(default_factory=dict)
    exports: dict[int, Export] = field(default_factory=dict)
    links: dict[str, FileLink] = field(default_factory=dict)
    windows: dict[str, RateWindow] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)

    def company(self, company_id: int) -> Company | None:
        return next((found for found in self.companies if found.id == company_id), None)

    # --- OAuth ---

    def issue_code(
        self, *, client_id: str, redirect_uri: str, company_id: int, scopes: frozenset[str], code_challenge: str
    ) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[digest(code)] = AuthorizationCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            company_id=company_id,
            scopes=scopes,
            code_challenge=code_challenge,
            expires_at=self.clock() + self.code_seconds,
        )
        return code

    def redeem_code(self, code: str) -> AuthorizationCode | None:
        """The code's grant, once: a second use fails and revokes what the first one gave."""
        found = self.codes.get(digest(code))
        if found is None:
            return None
        if found.used:
            if found.grant_key:
                self._kill(found.grant_key)
            return None
        found.used = True
        if self.clock() >= found.expires_at:
            return None
        return found

    def issue_grant(self, *, client_id: str, company_id: int, scopes: frozenset[str]) -> IssuedTokens:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        grant = Grant(
            client_id=client_id,
            company_id=company_id,
            scopes=scopes,
            access_key=digest(access),
            refresh_key=digest(refresh),
            access_expires_at=now + self.access_token_seconds,
            refresh_expires_at=now + self.refresh_token_seconds,
        )
        self.grants[grant.access_key] = grant
        self.refresh_index[grant.refresh_key] = grant.access_key
        self.counters["grants"] += 1
        return IssuedTokens(access, refresh, math.ceil(self.access_token_seconds), scopes)

    def rotate(self, refresh_token: str, client_id: str) -> IssuedTokens | None:
        """A new pair for a live refresh token; the old pair dies (a replayed one gets nothing)."""
        access_key = self.refresh_index.get(digest(refresh_token))
        grant = self.grants.get(access_key) if access_key else None
        if grant is None or not grant.active or grant.client_id != client_id:
            return None
        grant.active = False
        if self.clock() >= grant.refresh_expires_at:
            return None
        self.counters["refreshes"] += 1
        return self.issue_grant(client_id=client_id, company_id=grant.company_id, scopes=grant.scopes)

    def revoke(self, token: str) -> bool:
        """Kill the pair one of whose tokens (access or refresh) is given."""
        key = digest(token)
        return self._kill(key if key in self.grants else self.refresh_index.get(key, ""))

    def _kill(self, access_key: str) -> bool:
        grant = self.grants.get(access_key)
        if grant is None:
            return False
        grant.active = False
        self.counters["revocations"] += 1
        return True

    def expire_access_tokens(self) -> None:
        """Let every access token run out now, whatever its holder believes (refresh tokens live on)."""
        now = self.clock()
        for grant in self.grants.values():
            grant.access_expires_at = min(grant.access_expires_at, now)

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
                return Caller(key, grant.company_id, grant.scopes)
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
