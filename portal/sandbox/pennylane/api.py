"""The sandbox's API v2: fiscal years, asynchronous FEC exports and their download links.

Every call names its bearer token (an OAuth access token or a personal one) and is
counted against that token's rate: 25 requests per 5 seconds unless tuned, with the
``ratelimit-*`` headers on each answer and 429 + ``retry-after`` beyond. A token speaks
for one company and carries its scopes; a call outside them gets 403.

The export's ``file_url`` points at a download route outside the API, like a storage
provider's signed link: it needs no bearer, and its random part dies after
``file_link_seconds`` (10 minutes unless tuned).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, date, datetime, time
from typing import Any

import anyio
from litestar import MediaType, Request, Response, Router, get, post
from litestar.params import FromPath

from portal.sandbox.oauth_server import OUTSIDE
from portal.sandbox.pennylane.data import fec_file_name, fec_text
from portal.sandbox.pennylane.state import Caller, Export, current_state
from portal.sandbox.rate import rate_headers

FISCAL_YEARS = "fiscal_years:readonly"
EXPORT_FEC = "exports:fec"
DEFAULT_PAGE_SIZE = 20
SORTS = {"start", "-start", "id", "-id"}
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ApiError(Exception):
    """An API answer other than success, in the sandbox's JSON error shape."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


def api_error_response(_request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    body = {"error": exc.error, "message": exc.message}
    return Response(body, status_code=exc.status, media_type=MediaType.JSON, headers=exc.headers)


def authenticate(request: Request[Any, Any, Any], scope: str) -> tuple[Caller, dict[str, str]]:
    """The caller and the rate headers for its answer, or the ApiError that answers instead."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    state = current_state()
    caller = state.caller(bearer.strip()) if scheme.lower() == "bearer" and bearer.strip() else None
    if caller is None:
        raise ApiError(
            401,
            "unauthorized",
            "Jeton d'accès inconnu, expiré ou révoqué.",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    decision = state.count_request(caller.key)
    headers = rate_headers(decision)
    if not decision.allowed:
        raise ApiError(429, "too_many_requests", "Trop de requêtes : réessayez après le délai indiqué.", headers)
    if scope not in caller.scopes:
        challenge = f'Bearer error="insufficient_scope", scope="{scope}"'
        raise ApiError(
            403, "forbidden", f"Ce jeton ne porte pas le droit « {scope} ».", headers | {"WWW-Authenticate": challenge}
        )
    return caller, headers


def _json(body: Any, headers: dict[str, str], status_code: int = 200) -> Response[Any]:
    return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=headers)


# --- fiscal years ---


def _encode_cursor(sort: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{sort}|{last_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str, headers: dict[str, str]) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raw = ""
    cursor_sort, _, last_id = raw.partition("|")
    # A cursor is only good for the order it was made in.
    if cursor_sort != sort or not last_id.isdigit():
        raise ApiError(400, "bad_request", "Curseur de pagination invalide.", headers)
    return int(last_id)


@get("/fiscal_years", name="sandbox_pennylane:fiscal_years", opt=OUTSIDE, include_in_schema=False)
async def fiscal_years(request: Request[Any, Any, Any]) -> Response[Any]:
    caller, headers = authenticate(request, FISCAL_YEARS)
    state = current_state()
    company = state.company(caller.company_id)
    params = request.query_params
    sort = params.get("sort") or "start"
    raw_limit = params.get("limit") or str(DEFAULT_PAGE_SIZE)
    if sort not in SORTS or not raw_limit.isdigit() or int(raw_limit) < 1:
        raise ApiError(400, "bad_request", "Paramètres sort ou limit invalides.", headers)
    limit = min(int(raw_limit), 100, state.max_page_size)
    years = sorted(company.fiscal_years if company else (), key=lambda year: getattr(year, sort.lstrip("-")))
    if sort.startswith("-"):
        years.reverse()
    start = 0
    if cursor := params.get("cursor"):
        last_id = _decode_cursor(cursor, sort, headers)
        start = next((index + 1 for index, year in enumerate(years) if year.id == last_id), len(years))
    page = years[start : start + limit]
    has_more = start + limit < len(years)
    body = {
        "items": [
            {
                "id": year.id,
                "start": year.start.isoformat(),
                "finish": year.finish.isoformat(),
                "status": year.status,
                # The 2026 behaviour: when the year was created, and last changed (an entry, its status).
                "created_at": datetime.combine(year.start, time(9, 0), tzinfo=UTC).isoformat(),
                "updated_at": state.fiscal_year_updated_at(year).isoformat(),
            }
            for year in page
        ],
        "has_more": has_more,
        "next_cursor": _encode_cursor(sort, page[-1].id) if has_more and page else None,
    }
    return _json(body, headers)


# --- FEC exports ---


def _date(body: dict[str, Any], name: str, headers: dict[str, str]) -> date:
    value = body.get(name)
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ApiError(422, "unprocessable_entity", f"{name} : date attendue au format AAAA-MM-JJ.", headers)


def _period(body: Any, headers: dict[str, str]) -> tuple[date, date]:
    if not isinstance(body, dict):
        raise ApiError(422, "unprocessable_entity", "Corps JSON attendu : {period_start, period_end}.", headers)
    start, end = _date(body, "period_start", headers), _date(body, "period_end", headers)
    if start > end:
        raise ApiError(422, "unprocessable_entity", "period_start doit précéder period_end.", headers)
    return start, end


def _export_body(export: Export, file_url: str | None = None) -> dict[str, Any]:
    return {
        "id": export.id,
        "status": export.status,
        "file_url": file_url,
        "created_at": export.created_at.isoformat(),
        "updated_at": export.updated_at.isoformat(),
    }


@post("/exports/fecs", name="sandbox_pennylane:create_fec", opt=OUTSIDE, include_in_schema=False, status_code=201)
async def create_fec_export(request: Request[Any, Any, Any]) -> Response[Any]:
    caller, headers = authenticate(request, EXPORT_FEC)
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        body = None
    start, end = _period(body, headers)
    export = current_state().create_export(caller.company_id, start, end)
    answer = _export_body(export)
    del answer["file_url"]
    return _json(answer, headers, status_code=201)


@get("/exports/fecs/{export_id:int}", name="sandbox_pennylane:fec", opt=OUTSIDE, include_in_schema=False)
async def fec_export(request: Request[Any, Any, Any], export_id: FromPath[int]) -> Response[Any]:
    caller, headers = authenticate(request, EXPORT_FEC)
    state = current_state()
    export = state.exports.get(export_id)
    if export is None or export.company_id != caller.company_id:
        raise ApiError(404, "not_found", "Export introuvable.", headers)
    token = state.poll_export(export)
    file_url = request.url_for("sandbox_pennylane:file", token=token) if token else None
    return _json(_export_body(export, file_url), headers)


@get("/fichiers/{token:str}", name="sandbox_pennylane:file", opt=OUTSIDE, include_in_schema=False)
async def download_file(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    state = current_state()
    if request.headers.get("authorization"):
        state.counters["file_url_with_credentials"] += 1  # a client leaking its token to a storage host
    export, alive = state.resolve_link(token)
    if export is None:
        return Response("Accès refusé : lien inconnu.", status_code=403, media_type=MediaType.TEXT)
    if not alive:
        return Response("Ce lien de téléchargement a expiré.", status_code=410, media_type=MediaType.TEXT)
    company = state.company(export.company_id)
    if company is None:
        return Response("Accès refusé.", status_code=403, media_type=MediaType.TEXT)
    text = await anyio.to_thread.run_sync(fec_text, company.id, export.period_start, export.period_end)
    state.counters["downloads"] += 1
    name = fec_file_name(company, export.period_end)
    return Response(
        text.encode("utf-8"),
        media_type=MediaType.TEXT,  # Litestar adds "; charset=utf-8"
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def api_router() -> Router:
    return Router(
        path="/api/external/v2",
        route_handlers=[fiscal_years, create_fec_export, fec_export],
        exception_handlers={ApiError: api_error_response},
        include_in_schema=False,
    )


FILE_ROUTES = [download_file]
