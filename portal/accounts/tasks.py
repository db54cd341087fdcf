"""Authentication housekeeping, and the notice of a second factor reset by an administrator."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio
from litestar.stores.file import FileStore
from sqlalchemy import delete

from portal.accounts.models import LoginAttempt, User, WebSession
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver

ATTEMPT_RETENTION = dt.timedelta(days=7)


@job("auth.purge_login_attempts", title=N_("Purge des tentatives de connexion"))
async def purge_login_attempts(ctx: JobContext) -> dict[str, Any]:
    """Delete sign-in attempts older than a week: throttling only looks at the last minutes."""
    cutoff = dt.datetime.now(dt.UTC) - ATTEMPT_RETENTION
    async with ctx.session() as session, session.begin():
        result = await session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < cutoff))
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


RECIPIENT = N_("Destinataire")
RESULT = N_("Résultat")
SENT = N_("Envoyé")
GONE = N_("La personne n'existe plus : rien à envoyer.")


@job("accounts.send_second_factor_reset", title=N_("Avis de réinitialisation de la double authentification"))
async def send_second_factor_reset(ctx: JobContext, user_id: str) -> dict[str, Any]:
    """Tell the person an administrator reset their second factor (and whom to ask if it was not them)."""
    async with ctx.reader() as session:
        user = await session.get(User, uuid.UUID(user_id))
        if user is None:
            return {RESULT: GONE}
        admin = await session.get(User, ctx.created_by_id) if ctx.created_by_id else None
        recipient = (user.email, user.name, user.locale)
        admin_name = admin.name if admin else None
    message = messages.build(
        ctx.settings, to_email=recipient[0], to_name=recipient[1], template="second_factor_reset",
        locale=recipient[2], name=recipient[1], admin_name=admin_name,
        sign_in_url=f"{ctx.settings.base_url}/connexion",
    )  # fmt: skip
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    return {RECIPIENT: recipient[0], RESULT: SENT}
