"""Housekeeping jobs run on a schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete

from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.models import OutboxMessage
from portal.jobs.registry import job

OUTBOX_RETENTION = dt.timedelta(days=30)


@job("jobs.purge_outbox", title=N_("Purge des messages envoyés"))
async def purge_outbox(ctx: JobContext) -> dict[str, Any]:
    """Delete outbox messages sent more than 30 days ago (their runs stay as history)."""
    cutoff = dt.datetime.now(dt.UTC) - OUTBOX_RETENTION
    async with ctx.session() as session, session.begin():
        result = await session.execute(
            delete(OutboxMessage).where(OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < cutoff)
        )
    return {N_("Supprimés"): int(result.rowcount or 0)}  # type: ignore[attr-defined]
