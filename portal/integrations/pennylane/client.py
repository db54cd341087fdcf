"""Reading a company's Pennylane: fiscal years and FEC exports, over its API v2.

One client speaks for one connection: an OAuth token (refreshed by authlib before it runs
out, and once more when Pennylane answers 401 anyway; every new pair goes to ``on_token``
at once, since Pennylane's refresh tokens rotate and the old one is dead) or a personal
API token (a static bearer). Pennylane allows 25 requests per 5 seconds per token: the
client waits out a 429's ``retry-after`` and retries a bounded number of times, and pauses
by itself when ``ratelimit-remaining`` reaches 0, until ``ratelimit-reset``.

A FEC export is asynchronous: created, polled until ready, then its ``file_url`` is
downloaded at once (it expires), streamed to a temporary file renamed into place.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import httpx2
from authlib.integrations.httpx_client import OAuthError  # type: ignore[import-untyped]

from portal.i18n import N_
from portal.integrations.http import MAX_WAIT_SECONDS, RatePacer, detail, retry_after
from portal.integrations.pennylane.errors import (
    AuthorizationError,
    AuthorizationLost,
    MissingScope,
    PennylaneError,
    RateLimited,
)
from portal.integrations.pennylane.oauth import (
    TIMEOUT,
    USER_AGENT,
    PennylaneEndpoints,
    oauth_client,
)
from portal.settings import Settings

__all__ = [
    "AuthorizationError",
    "AuthorizationLost",
    "FiscalYearInfo",
    "MissingScope",
    "PennylaneClient",
    "PennylaneError",
    "RateLimited",
    "TokenCallback",
]

TokenCallback = Callable[[dict[str, Any]], Awaitable[None]]
PAGE_SIZE = 100
MAX_PAGES = 1000  # a cursor that never ends is a fault, not a long list
UNREACHABLE = N_("Pennylane ne répond pas pour le moment. Réessayez plus tard.")
UNEXPECTED = N_("Pennylane a donné une réponse inattendue.")


@dataclass(frozen=True)
class FiscalYearInfo:
    id: int | str
    start: date
    finish: date
    status: str  # open | reopen | closed | frozen


def _fiscal_year(item: Any) -> FiscalYearInfo:
    try:
        return FiscalYearInfo(
            id=item["id"],
            start=date.fromisoformat(item["start"]),
            finish=date.fromisoformat(item["finish"]),
            status=str(item["status"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PennylaneError(UNEXPECTED, detail=f"fiscal year {item!r:.200}") from exc


class PennylaneClient:
    """``async with PennylaneClient(settings, token=stored, on_token=save) as pennylane: ...``"""

    def __init__(
        self,
        settings: Settings,
        *,
        token: dict[str, Any] | None = None,
        api_token: str | None = None,
        on_token: TokenCallback | None = None,
        max_retries_on_429: int = 5,
    ) -> None:
        if (token is None) == (api_token is None):
            raise ValueError("PennylaneClient needs exactly one of token (OAuth) or api_token (personal)")
        self._settings = settings
        self._endpoints = PennylaneEndpoints.from_settings(settings)
        self._on_token = on_token
        self._max_retries = max_retries_on_429
        self._rate = RatePacer()
        self._refresh_lock = anyio.Lock()
        self._oauth: Any | None = None
        self._headers: dict[str, str] = {}
        if token is not None:
            self._oauth = oauth_client(settings, token=token, update_token=self._token_updated)
            self._http: httpx2.AsyncClient = self._oauth
        else:
            self._headers = {"Authorization": f"Bearer {api_token}"}
            self._http = httpx2.AsyncClient(timeout=TIMEOUT, headers={"User-Agent": USER_AGENT})

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
        """The OAuth token as it is now (refreshed, perhaps); None with a personal token."""
        return dict(self._oauth.token) if self._oauth is not None else None

    async def _token_updated(self, token: dict[str, Any], **_hints: Any) -> None:
        if self._on_token is not None:
            await self._on_token(dict(token))

    # --- requests ---

    def _lost(self, exc: Exception) -> PennylaneError:
        """authlib's failures, as ours: a refused refresh means the connection is gone."""
        if isinstance(exc, OAuthError):
            if exc.error in {"invalid_grant", "missing_token", "token_invalid", "token_expired"}:
                return AuthorizationLost(detail=str(exc))
            return PennylaneError(N_("Pennylane a refusé les identifiants de l'application."), detail=str(exc))
        if isinstance(exc, httpx2.HTTPError):
            return PennylaneError(UNREACHABLE, detail=repr(exc))
        return PennylaneError(UNEXPECTED, detail=repr(exc))

    async def _send(self, method: str, url: str, **options: Any) -> httpx2.Response:
        try:
            return await self._http.request(method, url, headers=self._headers, **options)
        except (OAuthError, httpx2.HTTPError, ValueError) as exc:
            raise self._lost(exc) from exc

    async def _refresh_after_401(self, rejected: str) -> None:
        """Refresh once for all the requests that got 401 with the ``rejected`` access token."""
        assert self._oauth is not None  # noqa: S101 - only called with an OAuth token
        async with self._refresh_lock:
            if self._oauth.token.get("access_token") != rejected:
                return  # another request refreshed meanwhile
            if not self._oauth.token.get("refresh_token"):
                raise AuthorizationLost(detail="401 and no refresh token")
            try:
                await self._oauth.refresh_token(self._endpoints.token_url)
            except (OAuthError, httpx2.HTTPError, ValueError) as exc:
                raise self._lost(exc) from exc

    async def _request(self, method: str, path: str, **options: Any) -> httpx2.Response:
        url = f"{self._endpoints.api_url}/{path}"
        waits = 0
        refreshed = False
        while True:
            await self._rate.pace()
            sent_with = self._oauth.token.get("access_token") if self._oauth is not None else None
            response = await self._send(method, url, **options)
            self._rate.note(response)
            status = response.status_code
            if status == httpx2.codes.TOO_MANY_REQUESTS:
                wait = retry_after(response)
                if waits >= self._max_retries or wait > MAX_WAIT_SECONDS:
                    raise RateLimited(retry_after=wait, detail=detail(response))
                waits += 1
                await anyio.sleep(wait)
                continue
            if status == httpx2.codes.UNAUTHORIZED:
                # The token may have died early (revoked, or its clock and ours disagree): one refresh, one retry.
                if self._oauth is not None and not refreshed and sent_with:
                    refreshed = True
                    await self._refresh_after_401(sent_with)
                    continue
                raise AuthorizationLost(detail=detail(response), status=status)
            if status == httpx2.codes.FORBIDDEN:
                raise MissingScope(detail=detail(response), status=status)
            if status == httpx2.codes.NOT_FOUND:
                raise PennylaneError(N_("Pennylane ne trouve pas la donnée demandée."), detail=detail(response))
            if status >= httpx2.codes.INTERNAL_SERVER_ERROR:
                raise PennylaneError(UNREACHABLE, detail=detail(response), status=status)
            if status >= httpx2.codes.BAD_REQUEST:
                raise PennylaneError(N_("Pennylane a refusé la demande."), detail=detail(response), status=status)
            return response

    async def _json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        response = await self._request(method, path, **options)
        try:
            body = response.json()
        except ValueError as exc:
            raise PennylaneError(UNEXPECTED, detail=detail(response)) from exc
        if not isinstance(body, dict):
            raise PennylaneError(UNEXPECTED, detail=detail(response))
        return body

    # --- what the portal reads ---

    async def fiscal_years(self) -> list[FiscalYearInfo]:
        """Every fiscal year of the company, all pages followed, oldest first."""
        years: list[FiscalYearInfo] = []
        params: dict[str, Any] = {"limit": PAGE_SIZE, "sort": "start"}
        for _ in range(MAX_PAGES):
            body = await self._json("GET", "fiscal_years", params=params)
            items = body.get("items")
            if not isinstance(items, list):
                raise PennylaneError(UNEXPECTED, detail="fiscal_years without items")
            years += [_fiscal_year(item) for item in items]
            if not body.get("has_more"):
                return sorted(years, key=lambda year: year.start)
            if not body.get("next_cursor"):
                raise PennylaneError(UNEXPECTED, detail="has_more without next_cursor")
            params = {**params, "cursor": body["next_cursor"]}
        raise PennylaneError(UNEXPECTED, detail=f"more than {MAX_PAGES} pages of fiscal years")

    async def download_fec(self, start: date, end: date, destination: Path) -> Path:
        """Export the FEC of ``start``..``end`` and download it to ``destination``; returns it."""
        period = {"period_start": start.isoformat(), "period_end": end.isoformat()}
        created = await self._json("POST", "exports/fecs", json=period)
        export_id = created.get("id")
        if export_id is None:
            raise PennylaneError(UNEXPECTED, detail="export without id")
        try:
            with anyio.fail_after(self._settings.pennylane_export_timeout_seconds):
                file_url = await self._wait_for_export(export_id)
        except TimeoutError as exc:
            raise PennylaneError(
                N_("L'export FEC de Pennylane n'était pas prêt dans le délai prévu. Réessayez plus tard."),
                detail=f"export {export_id}",
            ) from exc
        return await self._fetch(file_url, destination)

    async def _wait_for_export(self, export_id: Any) -> str:
        while True:
            export = await self._json("GET", f"exports/fecs/{export_id}")
            status, file_url = export.get("status"), export.get("file_url")
            if status == "ready" and isinstance(file_url, str) and file_url:
                return file_url
            if status == "error":
                raise PennylaneError(
                    N_("Pennylane n'a pas pu produire l'export FEC."), detail=f"export {export_id}: error"
                )
            await anyio.sleep(self._settings.pennylane_poll_seconds)

    async def _fetch(self, url: str, destination: Path) -> Path:
        target = anyio.Path(destination)
        await target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            await self._save(url, partial)
            await partial.replace(target)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await partial.unlink(missing_ok=True)
            raise
        return destination

    async def _save(self, url: str, partial: anyio.Path) -> None:
        # The link is signed by itself: the bearer token is not sent to wherever it points.
        if self._oauth is not None:
            stream = self._oauth.stream("GET", url, withhold_token=True)
        else:
            stream = self._http.stream("GET", url)
        limit = self._settings.fec_max_bytes
        try:
            async with stream as response:
                if response.status_code in {httpx2.codes.FORBIDDEN, httpx2.codes.GONE}:
                    raise PennylaneError(
                        N_("Le lien de téléchargement du FEC a expiré avant d'être utilisé. Relancez l'import."),
                        detail=f"file_url -> {response.status_code}",
                        status=response.status_code,
                    )
                if not response.is_success:
                    raise PennylaneError(UNREACHABLE, detail=f"file_url -> {response.status_code}")
                size = 0
                async with await anyio.open_file(partial, "xb") as handle:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise PennylaneError(
                                N_("Le FEC reçu de Pennylane dépasse la taille maximale acceptée."),
                                detail=f"more than {math.ceil(limit / 1_048_576)} Mio",
                            )
                        await handle.write(chunk)
        except httpx2.HTTPError as exc:
            raise PennylaneError(UNREACHABLE, detail=repr(exc)) from exc

    async def revoke(self) -> None:
        """End the OAuth authorization on Pennylane's side (both tokens die). A personal token
        is deleted by its owner in Pennylane: nothing to call."""
        if self._oauth is None:
            return
        token = self._oauth.token
        value, hint = (
            (token["refresh_token"], "refresh_token")
            if token.get("refresh_token")
            else (token.get("access_token"), "access_token")
        )
        try:
            response = await self._oauth.revoke_token(self._endpoints.revoke_url, token=value, token_type_hint=hint)
        except (OAuthError, httpx2.HTTPError) as exc:
            raise self._lost(exc) from exc
        if not response.is_success:
            raise PennylaneError(N_("Pennylane n'a pas confirmé la fin de l'autorisation."), detail=detail(response))
