"""Waiting for background work the way the person watching the Travaux page does."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.jobs.models import JobRun, JobStatus

FINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED}


async def wait_for_run(
    maker: async_sessionmaker[AsyncSession],
    run_id: uuid.UUID,
    *,
    until: set[JobStatus] = FINAL,
    timeout: float = 30,  # noqa: ASYNC109 - a polling deadline that reports the last status, not a cancel scope
) -> JobRun:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with maker() as session:
            run = (await session.execute(select(JobRun).where(JobRun.id == run_id))).scalar_one()
        if run.status in until:
            return run
        if asyncio.get_running_loop().time() > deadline:
            msg = f"run {run_id} still {run.status} after {timeout}s"
            raise AssertionError(msg)
        await asyncio.sleep(0.05)
