"""The system diagnostic: a job an administrator starts to check the whole job path end to end."""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, func, select, table

from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun, JobStatus, OutboxMessage
from portal.jobs.registry import job

# The firm's people (those holding a firm role), named rather than imported: the job runtime sits below the
# domains. Never every account: a client user of a confidential dossier is counted by no one it is hidden from,
# and the firm's people are seen by everyone who may run this (``portal.firm.policy``).
FIRM_ROLES = table("user_role", column("user_id"))
STEPS = (N_("Base de données"), N_("File de travaux"), N_("Synthèse"))


@job("jobs.diagnostic", title=N_("Diagnostic du système"))
async def diagnostic(ctx: JobContext) -> dict[str, Any]:
    """Read the database from the worker and report what it sees, step by step."""
    total = len(STEPS)
    await ctx.progress(0, total, step=STEPS[0])
    async with ctx.reader() as session:
        users = (await session.execute(select(func.count(FIRM_ROLES.c.user_id.distinct())))).scalar_one()
        await ctx.progress(1, total, step=STEPS[1])
        pending = (
            await session.execute(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            )
        ).scalar_one()
        failed = (
            await session.execute(select(func.count()).select_from(JobRun).where(JobRun.status == JobStatus.FAILED))
        ).scalar_one()
    await ctx.progress(2, total, step=STEPS[2])
    counts = {N_("Membres du cabinet"): users, N_("Messages en attente"): pending, N_("Travaux en échec"): failed}
    await ctx.count(**counts)
    await ctx.progress(total, total, step=N_("Terminé"))
    return {}
