"""Authentication housekeeping."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.stores.file import FileStore
from sqlalchemy import delete

from portal.accounts.models import LoginAttempt, SignInCounter, WebSession
from portal.accounts.throttle import MAX_PENALTY_SECONDS
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job

ATTEMPT_RETENTION = dt.timedelta(days=7)


@job("auth.purge_login_attempts", title=N_("Purge des tentatives de connexion"))
async def purge_login_attempts(ctx: JobContext) -> dict[str, Any]:
    """Delete sign-in attempts older than a week, and the throttle's counters that no longer count."""
    now = dt.datetime.now(dt.UTC)
    async with ctx.session() as session, session.begin():
        result = await session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - ATTEMPT_RETENTION))
        # Over for longer than the longest refusal: the next attempt would start them again anyway.
        stale = int(now.timestamp()) - MAX_PENALTY_SECONDS
        await session.execute(delete(SignInCounter).where(SignInCounter.reset_at < stale))
    return {N_("Supprimées"): int(result.rowcount or 0)}  # type: ignore[attr-defined]


@job("auth.purge_expired_sessions", title=N_("Purge des sessions expirées"))
async def purge_expired_sessions(ctx: JobContext) -> dict[str, Any]:
    """Delete expired sessions from wherever this deployment keeps them."""
    if ctx.settings.is_sqlite:
        folder = ctx.settings.var_dir / "sessions"
        if folder.is_dir():  # else no session was ever stored: nothing to purge
            await FileStore(folder).delete_expired()
        return {}
    async with ctx.session() as session, session.begin():
        result = await session.execute(delete(WebSession).where(WebSession.expires_at < dt.datetime.now(dt.UTC)))
    return {N_("Supprimées"): int(result.rowcount or 0)}  # type: ignore[attr-defined]
