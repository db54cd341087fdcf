"""Reading a company's Pennylane: fiscal years and FEC exports, over its API v2.

One client speaks for one connection (``portal.integrations.http.ApiClient``): an OAuth
token, refreshed and rotated, or a personal API token (a static bearer). Pennylane allows
25 requests per 5 seconds per token: the client waits out a 429's ``retry-after`` and
retries a bounded number of times, and pauses by itself when ``ratelimit-remaining``
reaches 0, until ``ratelimit-reset``. A server error is not retried here: the job is.

A FEC export is asynchronous: created, polled until ready, then its ``file_url`` is
downloaded at once (it expires), streamed to a temporary file renamed into place.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
from authlib.integrations.httpx_client import OAuthError  # type: ignore[import-untyped]

from portal.i18n import N_
from portal.integrations.http import ApiClient, Retries, TokenCallback, detail
from portal.integrations.oauth import revoke_token
from portal.integrations.pennylane.errors import (
    AuthorizationError,
    AuthorizationLost,
    MissingScope,
    PennylaneError,
    RateLimited,
)
from portal.integrations.pennylane.oauth import PROVIDER
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
    # When Pennylane says the year last changed (2026 behaviour); None when it does not say.
    updated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in {"open", "reopen"}


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None  # a date the portal cannot read only means it cannot tell the year changed
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _fiscal_year(item: Any) -> FiscalYearInfo:
    try:
        return FiscalYearInfo(
            id=item["id"],
            start=date.fromisoformat(item["start"]),
            finish=date.fromisoformat(item["finish"]),
            status=str(item["status"]),
            updated_at=_timestamp(item.get("updated_at")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PennylaneError(UNEXPECTED, detail=f"fiscal year {item!r:.200}") from exc


class PennylaneClient(ApiClient):
    """``async with PennylaneClient(settings, token=stored, on_token=save) as pennylane: ...``"""

    provider = PROVIDER

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
        super().__init__(
            settings, token=token, bearer=api_token, on_token=on_token, retries=Retries(on_429=max_retries_on_429)
        )

    def _lost(self, detail: str, status: int | None = None) -> PennylaneError:
        return AuthorizationLost(detail=detail, status=status)

    def _unavailable(self, detail: str, status: int | None = None) -> PennylaneError:
        return PennylaneError(UNREACHABLE, detail=detail, status=status)

    def _limited(self, retry_after: float, detail: str) -> PennylaneError:
        return RateLimited(retry_after=retry_after, detail=detail)

    def _refused(self, detail: str) -> PennylaneError:
        return PennylaneError(N_("Pennylane a refusé les identifiants de l'application."), detail=detail)

    def _unexpected(self, detail: str) -> PennylaneError:
        return PennylaneError(UNEXPECTED, detail=detail)

    async def _checked(self, method: str, path: str, **options: Any) -> httpx2.Response:
        response = await self._request(method, path, **options)
        status = response.status_code
        if status == httpx2.codes.FORBIDDEN:
            raise MissingScope(detail=detail(response), status=status)
        if status == httpx2.codes.NOT_FOUND:
            raise PennylaneError(N_("Pennylane ne trouve pas la donnée demandée."), detail=detail(response))
        if status >= httpx2.codes.BAD_REQUEST:
            raise PennylaneError(N_("Pennylane a refusé la demande."), detail=detail(response), status=status)
        return response

    async def _json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        response = await self._checked(method, path, **options)
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
        try:
            response = await revoke_token(self._oauth, self._endpoints.revoke_url, self._oauth.token)
        except (OAuthError, httpx2.HTTPError) as exc:
            raise self._failure(exc) from exc
        if not response.is_success:
            raise PennylaneError(N_("Pennylane n'a pas confirmé la fin de l'autorisation."), detail=detail(response))
