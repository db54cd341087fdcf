"""Authentication housekeeping, and the emails about a person's password and second factor.

``accounts.send_password_reset`` draws the link's token, commits its digest, then sends the
email: the token is never in the job's arguments, its summary, a log line or the audit log.
A retry draws a new link (the first one never left, or is killed by the new one). Summaries
name no one: the runs list must not tell who has an account.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio
from litestar.stores.file import FileStore
from sqlalchemy import delete, or_, select

from portal.accounts.models import LoginAttempt, PasswordReset, SignInCounter, User, UserSession, WebSession
from portal.accounts.throttle import MAX_PENALTY_SECONDS
from portal.accounts.tokens import draw_token
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver

ATTEMPT_RETENTION = dt.timedelta(days=7)
# Rows of Mes sessions and reset requests are kept this long after they stop mattering.
SESSION_RETENTION = dt.timedelta(days=30)
RESULT = N_("Résultat")
SENT = N_("Envoyé")
NOT_NEEDED = N_("Lien déjà utilisé ou remplacé, ou compte désactivé : rien à envoyer.")


@job("auth.purge_login_attempts", title=N_("Purge des tentatives de connexion"))
async def purge_login_attempts(ctx: JobContext) -> dict[str, Any]:
    """Delete sign-in attempts older than a week, and the throttle's counters that no longer count."""
    now = dt.datetime.now(dt.UTC)
    async with ctx.session() as session, session.begin():
        result = await session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - ATTEMPT_RETENTION))
        # Over for longer than the longest refusal: the next attempt would start them again anyway.
        stale = int(now.timestamp()) - MAX_PENALTY_SECONDS
        await session.execute(delete(SignInCounter).where(SignInCounter.reset_at < stale))
        # Reset requests too: their links expired long ago, and throttling counts the last hour.
        await session.execute(delete(PasswordReset).where(PasswordReset.created_at < now - ATTEMPT_RETENTION))
    return {N_("Supprimées"): int(result.rowcount or 0)}  # type: ignore[attr-defined]


@job("auth.purge_expired_sessions", title=N_("Purge des sessions expirées"))
async def purge_expired_sessions(ctx: JobContext) -> dict[str, Any]:
    """Delete expired sessions from wherever this deployment keeps them, and the rows of Mes sessions
    ended or past their absolute lifetime for a month."""
    cutoff = dt.datetime.now(dt.UTC) - SESSION_RETENTION
    async with ctx.session() as session, session.begin():
        await session.execute(
            delete(UserSession).where(
                or_(
                    UserSession.ended_at < cutoff,
                    UserSession.created_at < cutoff - dt.timedelta(seconds=ctx.settings.session_absolute_seconds),
                )
            )
        )
    if ctx.settings.is_sqlite:
        folder = ctx.settings.var_dir / "sessions"
        if folder.is_dir():  # else no session was ever stored: nothing to purge
            await FileStore(folder).delete_expired()
        return {}
    async with ctx.session() as session, session.begin():
        result = await session.execute(delete(WebSession).where(WebSession.expires_at < dt.datetime.now(dt.UTC)))
    return {N_("Supprimées"): int(result.rowcount or 0)}  # type: ignore[attr-defined]


@job("accounts.send_password_reset", title=N_("Envoi d'un lien de réinitialisation du mot de passe"))
async def send_password_reset(ctx: JobContext, reset_id: str) -> dict[str, Any]:
    """Draw the link of a reset request and email it, unless it was used, replaced or sent already."""
    validity = dt.timedelta(seconds=ctx.settings.password_reset_seconds)
    async with ctx.session() as session, session.begin():
        statement = select(PasswordReset).where(PasswordReset.id == uuid.UUID(reset_id))
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update()
        reset = (await session.execute(statement)).scalar_one_or_none()
        user = await session.get(User, reset.user_id) if reset and reset.user_id else None
        if reset is None or user is None or reset.used_at or not user.is_active or not user.password_hash:
            return {RESULT: NOT_NEEDED}
        token, digest = draw_token()
        reset.token_hash = digest
        reset.expires_at = dt.datetime.now(dt.UTC) + validity
        recipient = (user.email, user.name, user.locale)
    # Committed: the link works from the moment the email can arrive.
    message = messages.password_reset(
        ctx.settings, to_email=recipient[0], to_name=recipient[1], locale=recipient[2],
        link=f"{ctx.settings.base_url}/mot-de-passe/{token}", valid_minutes=max(1, int(validity.total_seconds()) // 60),
    )  # fmt: skip
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    return {RESULT: SENT}


@job("accounts.send_password_changed", title=N_("Avis de changement du mot de passe"))
async def send_password_changed(ctx: JobContext, user_id: str) -> dict[str, Any]:
    """Tell the person their password changed, so that a change they did not make does not go unnoticed."""
    async with ctx.reader() as session:
        user = await session.get(User, uuid.UUID(user_id))
        if user is None or not user.is_active:
            return {RESULT: NOT_NEEDED}
        recipient = (user.email, user.name, user.locale)
    message = messages.password_changed(ctx.settings, to_email=recipient[0], to_name=recipient[1], locale=recipient[2])
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    return {RESULT: SENT}


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
    return {RESULT: SENT}
