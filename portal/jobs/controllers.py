"""Travaux: the background work a person started, with live progress."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Controller, MediaType, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Template
from litestar_htmx import HTMXRequest, HTMXTemplate

from portal.auth.guards import principal_of, signed_in
from portal.jobs.services import JobRunService
from portal.web.deps import provide


class JobRunController(Controller):
    path = "/travaux"
    guards = (signed_in,)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"job_runs": provide(JobRunService)}

    @get("/", name="jobs:list")
    async def index(self, request: HTMXRequest, job_runs: NamedDependency[JobRunService]) -> Template:
        runs = await job_runs.recent_for(principal_of(request))
        return Template(template_name="jobs/list.html", context={"runs": runs})

    @get("/{run_id:uuid}", name="jobs:detail", media_type=MediaType.HTML)
    async def detail(
        self, request: HTMXRequest, job_runs: NamedDependency[JobRunService], run_id: FromPath[uuid.UUID]
    ) -> Any:
        run = await job_runs.get_for(principal_of(request), run_id)
        if request.htmx:
            return HTMXTemplate(template_name="jobs/_partials/run.html", context={"run": run})
        return Template(template_name="jobs/detail.html", context={"run": run})
