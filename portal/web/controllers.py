"""Pages that belong to no domain: home, language switch, health."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.guards import PUBLIC, principal_of, signed_in
from portal.firm.services import UserService
from portal.i18n import LOCALES
from portal.jobs import runtime
from portal.web import forms
from portal.web.context import LOCALE_COOKIE
from portal.web.deps import provide
from portal.web.redirects import local_path

log = logging.getLogger(__name__)


@dataclass
class LocaleForm:
    langue: str = forms.text(forms.CHOICE_MAX_LENGTH, "fr")
    retour: str = forms.text(forms.NEXT_MAX_LENGTH, "/")


class WebController(Controller):
    path = "/"
    include_in_schema = False

    @get("/", guards=[signed_in], name="web:home")
    async def home(self) -> Redirect:
        return Redirect("/entreprises")

    @post("/langue", opt=PUBLIC, name="web:locale")
    async def switch_locale(self, data: Annotated[LocaleForm, forms.POSTED]) -> Redirect:
        """Language for visitors not signed in: remembered in a cookie."""
        return _locale_redirect(data)

    @post("/compte/langue", guards=[signed_in], name="web:account_locale", dependencies={"users": provide(UserService)})
    async def switch_account_locale(
        self,
        request: Request[Any, Any, Any],
        users: NamedDependency[UserService],
        data: Annotated[LocaleForm, forms.POSTED],
    ) -> Redirect:
        """Language of the signed-in person: kept on their account and in a cookie."""
        response = _locale_redirect(data)
        await users.set_locale(principal_of(request).user_id, _supported(data.langue))
        return response


def _supported(locale: str) -> str:
    return locale if locale in LOCALES else "fr"


def _locale_redirect(data: LocaleForm) -> Redirect:
    forms.clip(data)  # nothing to show again: a value too long is only cut
    response = Redirect(local_path(data.retour), status_code=303)
    response.set_cookie(LOCALE_COOKIE, _supported(data.langue), max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return response


def _broker_status() -> dict[str, Any]:
    broker = runtime.current().broker
    kind = type(broker).__name__.removesuffix("Broker").lower()
    try:
        if kind == "redis":
            broker.client.ping()  # type: ignore[attr-defined]
        elif kind == "rabbitmq":
            broker.connection  # type: ignore[attr-defined]  # noqa: B018 - opens or reuses the connection
    except Exception as exc:  # noqa: BLE001 - any failure is "down"
        return {"status": "down", "kind": kind, "error": type(exc).__name__}
    return {"status": "ok", "kind": kind}


@get("/healthz", opt=PUBLIC, name="web:health", media_type=MediaType.JSON, include_in_schema=False)
async def health(db_session: NamedDependency[AsyncSession]) -> Response[dict[str, Any]]:
    """Database and broker status, for load balancers and operators (given the session itself: it checks it)."""
    try:
        await db_session.execute(text("SELECT 1"))
        database: dict[str, Any] = {"status": "ok", "dialect": db_session.get_bind().dialect.name}
    except Exception as exc:  # noqa: BLE001
        log.warning("health check: database unavailable: %s", exc)
        database = {"status": "down", "error": type(exc).__name__}
    broker = await anyio.to_thread.run_sync(_broker_status)
    healthy = database["status"] == "ok" and broker["status"] == "ok"
    return Response(
        {"status": "ok" if healthy else "degraded", "database": database, "broker": broker},
        status_code=200 if healthy else 503,
    )
