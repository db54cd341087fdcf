"""Travaux: the background work a person started, with live progress; and the health check (database, broker)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from litestar_htmx import HTMXRequest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.sentences import DOSSIER, names_of
from portal.auth.guards import PUBLIC, principal_of, signed_in
from portal.db.paging import Paging, Sort
from portal.jobs import runtime
from portal.jobs.services import RUN_SORTS, RUNS_ORDER, JobRunService
from portal.web.deps import PAGING, provide
from portal.web.htmx import page_or_partial

log = logging.getLogger(__name__)


class JobRunController(Controller):
    path = "/travaux"
    guards = (signed_in,)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"job_runs": provide(JobRunService)}

    @get("/", name="jobs:list", dependencies=PAGING)
    async def index(
        self,
        request: HTMXRequest,
        job_runs: NamedDependency[JobRunService],
        paging: NamedDependency[Paging],
        tri: FromQuery[str] = "",
    ) -> Template:
        """Travaux: the runs the person may follow, paged and sorted by any column, each with its dossier."""
        principal = principal_of(request)
        sort = Sort.read(tri, RUN_SORTS, RUNS_ORDER)
        result = await job_runs.visible_page(principal, paging, sort)
        # Each run's dossier by name, only when the person may see it (the dossiers' domain decides).
        runs = result.items
        session = job_runs.repository.session
        dossiers = await names_of(session, principal, DOSSIER, (run.dossier_id for run in runs))  # type: ignore[arg-type]
        return Template(template_name="jobs/list.html", context={"result": result, "sort": sort, "dossiers": dossiers})

    @get("/{run_id:uuid}", name="jobs:detail", media_type=MediaType.HTML)
    async def detail(
        self, request: HTMXRequest, job_runs: NamedDependency[JobRunService], run_id: FromPath[uuid.UUID]
    ) -> Any:
        principal = principal_of(request)
        run = await job_runs.get_for(principal, run_id)
        context = {"run": run, "shown": await job_runs.shown(principal, run)}
        return page_or_partial(request, "jobs/detail.html", "jobs/_partials/run.html", context)


def broker_status() -> dict[str, Any]:
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


@get("/healthz", opt=PUBLIC, name="health", media_type=MediaType.JSON, include_in_schema=False)
async def health(db_session: NamedDependency[AsyncSession]) -> Response[dict[str, Any]]:
    """Database and broker status, for load balancers and operators (given the session itself: it checks it)."""
    try:
        await db_session.execute(text("SELECT 1"))
        database: dict[str, Any] = {"status": "ok", "dialect": db_session.get_bind().dialect.name}
    except Exception as exc:  # noqa: BLE001
        log.warning("health check: database unavailable: %s", exc)
        database = {"status": "down", "error": type(exc).__name__}
    broker = await anyio.to_thread.run_sync(broker_status)
    healthy = database["status"] == "ok" and broker["status"] == "ok"
    return Response(
        {"status": "ok" if healthy else "degraded", "database": database, "broker": broker},
        status_code=200 if healthy else 503,
    )
