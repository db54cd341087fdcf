"""Reading job runs as the person asking is allowed to."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import cast

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar.exceptions import NotFoundException
from sqlalchemy import Select, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.db.paging import FIRST_PAGE, Page, Paging, Sort, paginate
from portal.jobs import registry
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.registry import Job, P, Request, Shown

RUN_SORTS = ("travail", "date", "statut", "fin")
"""The columns Travaux sorts by (``tri``): the work, when it was asked for, its status, when it ended."""
RUNS_ORDER = Sort("date", descending=True)


class JobRunRepository(SQLAlchemyAsyncRepository[JobRun]):
    model_type = JobRun


class JobRunService(SQLAlchemyAsyncRepositoryService[JobRun, JobRunRepository]):
    repository_type = JobRunRepository

    async def enqueue(self, job: Job[P] | Request[P], /, *args: P.args, **kwargs: P.kwargs) -> JobRun:
        """Request a run of ``job`` (with its options) in the request's transaction: the run the person follows."""
        return await job.enqueue(cast("AsyncSession", self.repository.session), *args, **kwargs)

    def _visible(self, principal: Principal) -> Select[JobRun]:
        return restrict(select(JobRun), principal, Permission.JOBS_READ_ALL, JobRun)

    async def visible_page(
        self, principal: Principal, paging: Paging = FIRST_PAGE, sort: Sort = RUNS_ORDER
    ) -> Page[JobRun]:
        """The runs the person may follow, one sorted page (``RUN_SORTS``; the latest first by default)."""
        column = {
            "travail": JobRun.title, "fin": JobRun.finished_at,
            "statut": case({status: rank for rank, status in enumerate(JobStatus)}, value=JobRun.status),
        }.get(sort.key, JobRun.created_at)  # fmt: skip
        statement = self._visible(principal).order_by(sort.order(column), JobRun.id)
        return await paginate(self.repository.session, statement, paging)

    async def unfinished_about(
        self, principal: Principal, dossier_id: uuid.UUID, jobs: Iterable[Job[...]]
    ) -> list[JobRun]:
        """The runs of ``jobs`` about ``dossier_id`` not finished yet, that the person may follow."""
        statement = self._visible(principal).where(
            JobRun.dossier_id == dossier_id,
            JobRun.actor_name.in_([job.name for job in jobs]),
            JobRun.status.in_([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING]),
        )
        return list((await self.repository.session.execute(statement.order_by(JobRun.created_at))).scalars())

    async def get_for(self, principal: Principal, run_id: uuid.UUID) -> JobRun:
        """The run, or 404 when it does not exist or is not the person's to see."""
        statement = self._visible(principal).where(JobRun.id == run_id)
        run = (await self.repository.session.execute(statement)).scalar_one_or_none()
        if run is None:
            raise NotFoundException
        return run

    async def shown(self, principal: Principal, run: JobRun) -> Shown:
        """The run's summary as ``principal`` may read it (its job's own reading, else its counts)."""
        spec = registry.get(run.actor_name)
        if spec is None or spec.summary is None:
            return Shown(counts=dict(run.counts or {}))
        return await spec.summary(cast("AsyncSession", self.repository.session), principal, run)
