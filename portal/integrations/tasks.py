"""Background work every source shares: a lost authorisation marked on its connection, and the
notice that tells the dossier's people.

When a source no longer accepts a connection's authorisation, ``authorization_lost`` marks
the connection (unless the credentials changed meanwhile: a reconnection) and, in the same
transaction, notifies its people once per lost authorisation (in the portal, by email, or both,
as each chose: ``portal.notifications``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.roles import DossierRole
from portal.i18n import N_
from portal.integrations.commerce.sources import get_source
from portal.integrations.models import Connection, ConnectionStatus
from portal.jobs.context import JobContext
from portal.notifications.kinds import Kind
from portal.notifications.recipients import holders, members_as
from portal.notifications.services import Event, notify

RESULT = N_("Résultat")
GONE = N_("La connexion n'existe plus ou a été déconnectée : rien à faire.")


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
            await tell_authorization_lost(session, connection)


async def tell_authorization_lost(session: AsyncSession, connection: Connection) -> None:
    """In the transaction that marks it: the dossier's Comptables and whoever connected it are told, once per
    lost authorisation, if they still manage the dossier's connections (a confidential one: only if granted)."""
    accountants = await members_as(session, connection.dossier_id, DossierRole.ACCOUNTANT)
    recipients = await holders(
        session, Permission.CONNECTIONS_MANAGE, connection.dossier_id, among=[*accountants, connection.connected_by_id]
    )
    source = get_source(connection.provider.value)
    target = f"/entreprises/{connection.dossier_id}/connexions"
    event = Event(
        kind=Kind.CONNECTION_LOST, key=f"authorization-lost:{connection.id}:{connection.credentials_version}",
        target=f"{target}/sources/{source.code}" if source is not None else target, dossier_id=connection.dossier_id,
        params={"source": source.name if source is not None else "Pennylane"},
    )  # fmt: skip
    await notify(session, event, recipients)
