"""The API client every source's client is built on (``ApiClient``), and what they share about HTTP answers.

One client speaks for one connection, with an OAuth token (refreshed by authlib before it
runs out, and once more when the API answers 401 anyway; every new pair goes to
``on_token`` at once, since refresh tokens rotate and the old one is dead) or a static
bearer (a personal token, an API key).

Both providers say how long to wait the same way (``retry-after``, a number of seconds or
an HTTP date, on a 429; ``ratelimit-remaining`` / ``ratelimit-reset`` on every answer): a
429 is waited out as it asks, a bounded number of times, and the client pauses by itself
when the window's budget is spent. Server errors and network failures are retried with
exponential back-off when the client's ``Retries`` allow it. The retrying is stamina's
(on tenacity); what an answer means (which error, which message) stays with each client.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, ClassVar, Self

import anyio
import httpx2
import stamina
from authlib.integrations.httpx_client import OAuthError  # type: ignore[import-untyped]

from portal.integrations.oauth import OAuthProvider
from portal.settings import Settings

TokenCallback = Callable[[dict[str, Any]], Awaitable[None]]

# Longer waits are not spent holding a worker: the error goes up and the job retries later.
MAX_WAIT_SECONDS = 60.0
# ratelimit-reset is a Unix time, as documented; a number below this is read as seconds from now.
UNIX_TIME = 1e9


def retry_after(response: httpx2.Response) -> float:
    """``retry-after`` in seconds (a number or an HTTP date); 1 s when missing or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 1.0


def detail(response: httpx2.Response) -> str:
    """An answer, shortly, for the ``detail`` of an error (logged, never shown)."""
    return f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text[:200]}"


class RatePacer:
    """Holds the next request of one client while the rate window's budget is spent."""

    def __init__(self) -> None:
        self.not_before = 0.0  # time.monotonic() before which no request is sent

    async def pace(self) -> None:
        delay = self.not_before - time.monotonic()
        if delay > 0:
            await anyio.sleep(delay)

    def note(self, response: httpx2.Response) -> None:
        """When the window's budget is spent, hold the next request until it resets."""
        if response.headers.get("ratelimit-remaining", "").strip() != "0":
            return
        try:
            reset = float(response.headers.get("ratelimit-reset", ""))
        except ValueError:
            return
        wait = reset - time.time() if reset > UNIX_TIME else reset
        if 0 < wait <= MAX_WAIT_SECONDS:
            self.not_before = max(self.not_before, time.monotonic() + wait)


@dataclass(frozen=True)
class Retries:
    """How many times a request is tried again, by cause; ``delay`` is the first back-off after a failure."""

    on_429: int = 5
    on_failure: int = 0  # 5xx answers, timeouts, refused connections
    delay: float = 0.5


class _Again(Exception):  # noqa: N818 - a signal between one attempt and the retrying, never seen outside
    """This attempt did not work out; ``error`` is what the caller gets if no other attempt is made."""

    LIMITED, FAILED, REFRESHED = "limited", "failed", "refreshed"

    def __init__(self, kind: str, error: Exception, wait: float = 0.0) -> None:
        super().__init__(kind)
        self.kind, self.error, self.wait = kind, error, wait


class _Tries:
    """The budget of one request's retries, spent as stamina asks whether to go on."""

    def __init__(self, retries: Retries) -> None:
        self.retries = retries
        self.waits = self.failures = 0
        self.refreshed = False

    def again(self, exc: Exception) -> bool | float:
        """stamina's backoff hook: False to give up, True for the exponential back-off, or the wait asked for."""
        if not isinstance(exc, _Again):
            return False
        if exc.kind == _Again.LIMITED:
            if self.waits >= self.retries.on_429 or exc.wait > MAX_WAIT_SECONDS:
                return False
            self.waits += 1
            return exc.wait
        if exc.kind == _Again.FAILED:
            if self.failures >= self.retries.on_failure:
                return False
            self.failures += 1
            return True
        return 0.0  # refreshed after a 401: at once


class ApiClient:
    """``async with SomeClient(settings, token=stored, on_token=save) as client: ...``

    A source's client says who it is (``provider``) and how its failures read, by overriding
    the ``_lost``, ``_unavailable``, ``_limited``, ``_refused`` and ``_unexpected`` error makers;
    ``_request`` does the rest.
    """

    provider: ClassVar[OAuthProvider]
    static_headers: ClassVar[tuple[tuple[str, str], ...]] = ()  # sent along a static bearer

    def __init__(
        self,
        settings: Settings,
        *,
        token: dict[str, Any] | None = None,
        bearer: str | None = None,
        on_token: TokenCallback | None = None,
        retries: Retries,
        timeout: httpx2.Timeout | None = None,
    ) -> None:
        self._settings = settings
        self._endpoints = self.provider.endpoints(settings)
        self._on_token = on_token
        self._retries = retries
        self._rate = RatePacer()
        self._refresh_lock = anyio.Lock()
        self._oauth: Any | None = None
        self._headers: dict[str, str] = {}
        if token is not None:
            self._oauth = self.provider.oauth_client(settings, token=token, update_token=self._token_updated)
            self._http: httpx2.AsyncClient = self._oauth
        else:
            headers = {"User-Agent": self.provider.user_agent, **dict(self.static_headers)}
            self._headers = {"Authorization": f"Bearer {bearer}"}
            self._http = httpx2.AsyncClient(timeout=timeout or self.provider.timeout, headers=headers)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def token(self) -> dict[str, Any] | None:
        """The OAuth token as it is now (refreshed, perhaps); None with a static bearer."""
        return dict(self._oauth.token) if self._oauth is not None else None

    async def _token_updated(self, token: dict[str, Any], **_hints: Any) -> None:
        if self._on_token is not None:
            await self._on_token(dict(token))

    # --- what each source's client says ---

    def _lost(self, detail: str, status: int | None = None) -> Exception:
        """The authorization is gone: connect again."""
        raise NotImplementedError

    def _unavailable(self, detail: str, status: int | None = None) -> Exception:
        """The source failed or did not answer."""
        raise NotImplementedError

    def _limited(self, retry_after: float, detail: str) -> Exception:
        """Still limited after the waits allowed."""
        raise NotImplementedError

    def _refused(self, detail: str) -> Exception:
        """The token endpoint refused the application's own credentials."""
        raise NotImplementedError

    def _unexpected(self, detail: str) -> Exception:
        """An answer the client cannot read."""
        raise NotImplementedError

    def _failure(self, exc: Exception) -> Exception:
        """authlib's and httpx's failures, as the source's: a refused refresh means the connection is gone."""
        if isinstance(exc, OAuthError):
            if exc.error in self.provider.lost_grant_errors:
                return self._lost(str(exc))
            return self._refused(str(exc))
        if isinstance(exc, httpx2.HTTPError):
            return self._unavailable(repr(exc))
        return self._unexpected(repr(exc))

    # --- requests ---

    async def _refresh_after_401(self, rejected: str) -> None:
        """Refresh once for all the requests that got 401 with the ``rejected`` access token."""
        assert self._oauth is not None  # noqa: S101 - only called with an OAuth token
        async with self._refresh_lock:
            if self._oauth.token.get("access_token") != rejected:
                return  # another request refreshed meanwhile
            if not self._oauth.token.get("refresh_token"):
                raise self._lost("401 and no refresh token")
            try:
                await self._oauth.refresh_token(self._endpoints.token_url)
            except (OAuthError, httpx2.HTTPError, ValueError) as exc:
                raise self._failure(exc) from exc

    async def _send(self, method: str, url: str, **options: Any) -> httpx2.Response:
        try:
            return await self._http.request(method, url, headers=self._headers, **options)
        except httpx2.TransportError as exc:  # timeouts, refused connections, broken answers
            if self._retries.on_failure:
                raise _Again(_Again.FAILED, self._unavailable(f"{method} {url}: {exc!r}")) from exc
            raise self._failure(exc) from exc
        except (OAuthError, httpx2.HTTPError, ValueError) as exc:
            raise self._failure(exc) from exc

    async def _attempt(self, method: str, url: str, tries: _Tries, **options: Any) -> httpx2.Response:
        await self._rate.pace()
        sent_with = self._oauth.token.get("access_token") if self._oauth is not None else None
        response = await self._send(method, url, **options)
        self._rate.note(response)
        status = response.status_code
        if status == httpx2.codes.TOO_MANY_REQUESTS:
            wait = retry_after(response)
            raise _Again(_Again.LIMITED, self._limited(wait, detail(response)), wait=wait)
        if status == httpx2.codes.UNAUTHORIZED:
            # The token may have died early (revoked, or its clock and ours disagree): one refresh, one retry.
            if self._oauth is not None and not tries.refreshed and sent_with:
                tries.refreshed = True
                await self._refresh_after_401(sent_with)
                raise _Again(_Again.REFRESHED, self._lost(detail(response), status))
            raise self._lost(detail(response), status)
        if status >= httpx2.codes.INTERNAL_SERVER_ERROR:
            raise _Again(_Again.FAILED, self._unavailable(detail(response), status))
        return response

    async def _request(self, method: str, path: str, **options: Any) -> httpx2.Response:
        """``method`` on ``path`` of the API, after the waits and retries it takes; 4xx answers are the caller's."""
        url = f"{self._endpoints.api_url}/{path}"
        tries = _Tries(self._retries)
        delay = self._retries.delay
        try:
            async for attempt in stamina.retry_context(
                on=tries.again, attempts=None, timeout=None, wait_initial=delay, wait_jitter=delay,
                wait_max=MAX_WAIT_SECONDS,
            ):  # fmt: skip
                with attempt:
                    return await self._attempt(method, url, tries, **options)
        except _Again as given_up:
            raise given_up.error from given_up.__cause__
        raise AssertionError  # pragma: no cover - stamina either returns the answer or raises
