"""Emails about dossiers, in the background.

``clients.notify_siren_referred``: someone typed the SIREN of a dossier they may not open (hidden
from them, or archived); the partners who see that dossier are told who asked and for what name,
and decide. Nobody else is emailed: a partner the dossier is hidden from learns nothing of it.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
from sqlalchemy import exists, or_, select

from portal.accounts.models import DossierMembership, User, UserRole
from portal.auth.roles import FirmRole
from portal.clients.identifiers import format_siren
from portal.clients.models import Dossier, DossierAccess
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver

NOTIFIED = N_("Associés prévenus")
RESULT = N_("Résultat")
GONE = N_("Le dossier n'existe plus : rien à envoyer.")


def partners_who_see(dossier: Dossier) -> Any:
    """The active partners ``dossier`` is visible to: every one, or, confidential, those it is granted to."""
    statement = select(User).where(
        User.is_active.is_(True),
        exists().where(UserRole.user_id == User.id, UserRole.role == FirmRole.PARTNER),
    )
    if dossier.is_confidential:
        statement = statement.where(
            or_(
                exists().where(DossierAccess.user_id == User.id, DossierAccess.dossier_id == dossier.id),
                exists().where(DossierMembership.user_id == User.id, DossierMembership.dossier_id == dossier.id),
            )
        )
    return statement.order_by(User.name, User.id)


@job("clients.notify_siren_referred", title=N_("SIREN à examiner"))
async def notify_siren_referred(
    ctx: JobContext, dossier_id: str, siren: str, requested_name: str, requested_by_id: str
) -> dict[str, Any]:
    """Email the partners who see the dossier holding ``siren`` that someone asked to use it."""
    async with ctx.reader() as session:
        dossier = await session.get(Dossier, uuid.UUID(dossier_id))
        if dossier is None:
            return {RESULT: GONE}
        asker = await session.get(User, uuid.UUID(requested_by_id))
        partners = list((await session.execute(partners_who_see(dossier))).scalars())
        dossier_name, link = dossier.name, f"{ctx.settings.base_url}/entreprises/{dossier.id}"
    for partner in partners:
        message = messages.build(
            ctx.settings, to_email=partner.email, to_name=partner.name, template="siren_referred",
            locale=partner.locale, name=partner.name, siren=format_siren(siren), dossier_name=dossier_name,
            requested_name=requested_name, asker=asker.name if asker else None, link=link,
        )  # fmt: skip
        await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    return {NOTIFIED: len(partners)}
