"""The email of a notice, and the purge of old notices.

``send_email`` is requested once per notice (a dedupe key on its id) in the transaction that
wrote it. It checks again, when it runs, that the person is active and still sees the dossier
the notice is about, sends the email in the person's language and marks the notice emailed: a
retry after that sends nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio
from sqlalchemy import delete, or_, select, union, update

from portal.accounts.models import DossierMembership, User
from portal.clients.models import Dossier, DossierAccess
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver
from portal.notifications.kinds import sentence
from portal.notifications.models import Notification

RESULT = N_("Résultat")
SENT = N_("Envoyé")
ALREADY = N_("Déjà envoyé, ou pas demandé : rien à faire.")
GONE = N_("La personne ou la notification n'existe plus : rien à faire.")
WITHDRAWN = N_("La personne ne voit plus ce dossier : rien n'a été envoyé.")
DELETED = N_("Supprimées")

READ_RETENTION = dt.timedelta(days=90)
"""Read notices (and notices sent by email only) are deleted this long after they were written."""
UNREAD_RETENTION = dt.timedelta(days=365)
"""Unread notices are kept a year."""


async def sees(session: Any, person_id: uuid.UUID, dossier: Dossier) -> bool:
    """The dossier is not hidden from the person: not confidential, or granted to them."""
    if not dossier.is_confidential:
        return True
    listed = select(DossierAccess.user_id).where(DossierAccess.dossier_id == dossier.id)
    members = select(DossierMembership.user_id).where(DossierMembership.dossier_id == dossier.id)
    found = await session.scalar(select(User.id).where(User.id == person_id, User.id.in_(union(listed, members))))
    return found is not None


@job("notifications.send_email", title=N_("Notification par e-mail"))
async def send_email(ctx: JobContext, notification_id: str) -> dict[str, Any]:
    key = uuid.UUID(notification_id)
    async with ctx.reader() as session:
        notice = await session.get(Notification, key)
        person = await session.get(User, notice.recipient_id) if notice is not None else None
        if notice is None or person is None or not person.is_active:
            return {RESULT: GONE}
        if not notice.by_email or notice.emailed_at is not None:
            return {RESULT: ALREADY}
        dossier = await session.get(Dossier, notice.dossier_id) if notice.dossier_id is not None else None
        if notice.dossier_id is not None and (dossier is None or not await sees(session, person.id, dossier)):
            return {RESULT: WITHDRAWN}
    base = ctx.settings.base_url
    message = messages.build(
        ctx.settings, to_email=person.email, to_name=person.name, template="notification", locale=person.locale,
        name=person.name, sentence=sentence, kind=notice.kind, params=notice.params,
        dossier_name=dossier.name if dossier is not None else None, link=f"{base}{notice.target}",
        preferences_link=f"{base}/compte#notifications",
    )  # fmt: skip
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    async with ctx.session() as session, session.begin():
        await session.execute(
            update(Notification)
            .where(Notification.id == key, Notification.emailed_at.is_(None))
            .values(emailed_at=dt.datetime.now(dt.UTC))
        )
    return {RESULT: SENT}


@job("notifications.purge", title=N_("Purge des anciennes notifications"))
async def purge(ctx: JobContext) -> dict[str, Any]:
    """Delete notices read (or sent by email only) more than 90 days ago, and unread ones after a year."""
    now = dt.datetime.now(dt.UTC)
    async with ctx.session() as session, session.begin():
        result = await session.execute(
            delete(Notification).where(
                or_(
                    (Notification.read_at.is_not(None)) & (Notification.read_at < now - READ_RETENTION),
                    (Notification.in_app.is_(False)) & (Notification.created_at < now - READ_RETENTION),
                    Notification.created_at < now - UNREAD_RETENTION,
                )
            )
        )
    return {DELETED: int(result.rowcount or 0)}  # type: ignore[attr-defined]
