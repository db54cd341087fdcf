"""Background work every source shares: a lost authorisation marked on its connection, and the
email that tells the dossier's people.

When a source no longer accepts a connection's authorisation, ``authorization_lost`` marks
the connection (unless the credentials changed meanwhile: a reconnection) and requests
``notify_authorization_lost``, once per lost authorisation.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership, User
from portal.auth.roles import DossierRole
from portal.clients.models import Dossier
from portal.i18n import N_
from portal.integrations.commerce.sources import get_source
from portal.integrations.models import Connection, ConnectionStatus
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver

RESULT = N_("Résultat")
GONE = N_("La connexion n'existe plus ou a été déconnectée : rien à faire.")
NOTIFIED = N_("Personnes prévenues")


async def authorization_lost(
    ctx: JobContext,
    connection: Connection,
    message: str,
    *,
    also: Callable[[AsyncSession], Awaitable[Any]] | None = None,
) -> None:
    """Unless the credentials changed meanwhile (a reconnection), mark the connection and tell its people.

    ``message`` (a msgid) is kept as the connection's last error; ``also`` runs in the same
    transaction (a source noting the error on its own rows).
    """
    async with ctx.session() as session, session.begin():
        result = await session.execute(
            update(Connection)
            .where(
                Connection.id == connection.id,
                Connection.status == ConnectionStatus.CONNECTED,
                Connection.credentials_version == connection.credentials_version,
            )
            .values(status=ConnectionStatus.AUTHORIZATION_LOST, last_error=message)
        )
        if also is not None:
            await also(session)
        if result.rowcount:  # type: ignore[attr-defined]
            await notify_authorization_lost.options(dossier_id=connection.dossier_id).enqueue_once(
                session,
                f"authorization-lost:{connection.id}:{connection.credentials_version}",
                connection_id=str(connection.id),
            )


@job("integrations.notify_authorization_lost", title=N_("Avis d'autorisation expirée"))
async def notify_authorization_lost(ctx: JobContext, connection_id: str) -> dict[str, Any]:
    """Email the dossier's Comptables (and whoever connected it) that the connection needs them."""
    async with ctx.reader() as session:
        connection = await session.get(Connection, uuid.UUID(connection_id))
        if connection is None:
            return {RESULT: GONE}
        dossier = await session.get(Dossier, connection.dossier_id)
        accountants = select(DossierMembership.user_id).where(
            DossierMembership.dossier_id == connection.dossier_id, DossierMembership.role == DossierRole.ACCOUNTANT
        )
        people = list(
            (
                await session.execute(
                    select(User).where(
                        User.is_active.is_(True),
                        (User.id.in_(accountants)) | (User.id == connection.connected_by_id),
                    )
                )
            ).scalars()
        )
    if dossier is None:
        return {RESULT: GONE}
    link = f"{ctx.settings.base_url}/entreprises/{dossier.id}/connexions"
    source = get_source(connection.provider.value)
    source_name = source.name if source is not None else "Pennylane"
    if source is not None:
        link += f"/sources/{source.code}"
    for person in people:
        message = messages.build(
            ctx.settings, to_email=person.email, to_name=person.name, template="authorization_lost",
            locale=person.locale, name=person.name, dossier_name=dossier.name, link=link, source=source_name,
        )  # fmt: skip
        await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    return {NOTIFIED: len(people)}
