"""Sending invitations and notices of new access, in the background.

``firm.send_invitation`` is idempotent on the invitation's delivery counters: each
"invite" or "resend" asks for one more delivery (``deliveries_requested``); the job
draws a token, commits its digest, sends the email, then records the delivery
(``deliveries_sent``). A retry after a successful send finds nothing owed and sends
nothing; a crash between the commit and the send draws a new link on the retry, which is
fine (the first one never left). The token is never in the job's arguments, its summary,
a log line or the audit log: only in the email. Summaries name the recipient, never a
dossier.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, cast

import anyio
from sqlalchemy import Select, select

from portal.accounts.addresses import InvalidEmailError, checked_email
from portal.accounts.models import DossierMembership, User
from portal.accounts.services import dossier_roles_of
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.firm.links import VALIDITY, draw_token
from portal.firm.models import Firm, Invitation
from portal.firm.services import current_firm
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver

RECIPIENT = N_("Destinataire")
RESULT = N_("Résultat")
SENT = N_("Envoyée")
NOTHING_OWED = N_("Déjà envoyée : rien à faire.")
NOT_NEEDED = N_("Invitation acceptée ou révoquée, ou compte désactivé : rien à envoyer.")
GONE = N_("La personne n'existe plus : rien à envoyer.")
UNUSABLE = N_("Adresse e-mail inutilisable : rien n'est envoyé. Invitez la personne avec une adresse valide.")


@dataclass(frozen=True)
class Access:
    """What a person may open, for their emails: firm role labels, and (role label, dossier names) per dossier role."""

    firm_roles: list[str]
    dossiers: list[tuple[str, list[str]]]


async def access_of(session: Any, user: User) -> Access:
    """``user``'s roles, and the dossiers of each dossier role among those ``user`` sees (msgid labels)."""
    principal = Principal.build(
        user_id=user.id, email=user.email, name=user.name, locale=user.locale, roles=user.firm_roles,
        dossier_roles=await dossier_roles_of(session, user.id),
    )  # fmt: skip
    held = cast(
        "Select[Any]",
        select(Dossier.name, DossierMembership.role)
        .join(DossierMembership, DossierMembership.dossier_id == Dossier.id)
        .where(DossierMembership.user_id == user.id)
        .order_by(Dossier.sort_name, Dossier.id),
    )
    seen = restrict(held, principal, Permission.DOSSIERS_READ, Dossier)
    names: dict[DossierRole, list[str]] = {}
    for name, role in await session.execute(seen):
        names.setdefault(DossierRole(role), []).append(name)
    firm_roles = [role.label for role in FirmRole if role in user.firm_roles]
    return Access(firm_roles, [(role.label, names[role]) for role in DossierRole if role in names])


async def _names(session: Any, inviter_id: uuid.UUID | None) -> tuple[str | None, str | None]:
    inviter = await session.get(User, inviter_id) if inviter_id else None
    firm: Firm | None = (await session.execute(current_firm())).scalar_one_or_none()
    return (inviter.name if inviter else None), (firm.name if firm else None)


def _usable(email: str) -> bool:
    """An address stored before addresses were checked may not be sendable: such a run ends, never retried."""
    try:
        checked_email(email)
    except InvalidEmailError:
        return False
    return True


@job("firm.send_invitation", title=N_("Envoi d'une invitation"))
async def send_invitation(ctx: JobContext, invitation_id: str) -> dict[str, Any]:
    """Draw a new link for the invitation and email it, unless every delivery asked for was made."""
    async with ctx.session() as session, session.begin():
        statement = select(Invitation).where(Invitation.id == uuid.UUID(invitation_id))
        if session.get_bind().dialect.name == "postgresql":
            # Two runs for one invitation (invite, then resend) draw one after the other.
            statement = statement.with_for_update(of=Invitation)
        invitation = (await session.execute(statement)).scalar_one_or_none()
        if invitation is None:
            return {RESULT: GONE}
        user = invitation.user
        summary: dict[str, Any] = {RECIPIENT: user.email}
        if invitation.accepted_at or invitation.revoked_at or not user.is_active or user.password_hash:
            return summary | {RESULT: NOT_NEEDED}
        if invitation.deliveries_sent >= invitation.deliveries_requested:
            return summary | {RESULT: NOTHING_OWED}
        if not _usable(user.email):
            return summary | {RESULT: UNUSABLE}
        token, digest = draw_token()
        invitation.token_hash = digest
        invitation.expires_at = dt.datetime.now(dt.UTC) + VALIDITY
        delivery = invitation.deliveries_requested
        inviter_name, firm_name = await _names(session, invitation.invited_by_id)
        recipient = (user.email, user.name, user.locale)
        access = await access_of(session, user)
    # Committed: the link works from the moment the email can arrive.
    message = messages.invitation(
        ctx.settings, to_email=recipient[0], to_name=recipient[1], locale=recipient[2],
        link=f"{ctx.settings.base_url}/invitation/{token}", inviter_name=inviter_name, firm_name=firm_name,
        valid_days=VALIDITY.days, firm_roles=access.firm_roles, dossiers=access.dossiers,
    )  # fmt: skip
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    async with ctx.session() as session, session.begin():
        invitation = await session.get(Invitation, uuid.UUID(invitation_id))
        if invitation is not None and invitation.deliveries_sent < delivery:
            invitation.deliveries_sent = delivery
            invitation.sent_at = dt.datetime.now(dt.UTC)
    return summary | {RESULT: SENT}


@job("firm.send_access_notice", title=N_("Avis de nouveaux accès"))
async def send_access_notice(ctx: JobContext, user_id: str, roles: list[str]) -> dict[str, Any]:
    """Tell someone who already signs in that they were given ``roles`` (labels; the arguments never name a dossier),
    with their access as it stands: the dossiers they see, by role."""
    async with ctx.reader() as session:
        user = await session.get(User, uuid.UUID(user_id))
        if user is None:
            return {RESULT: GONE}
        if not user.is_active:
            return {RECIPIENT: user.email, RESULT: NOT_NEEDED}
        if not _usable(user.email):
            return {RECIPIENT: user.email, RESULT: UNUSABLE}
        inviter_name, firm_name = await _names(session, ctx.created_by_id)
        recipient = (user.email, user.name, user.locale)
        access = await access_of(session, user)
    message = messages.access_notice(
        ctx.settings, to_email=recipient[0], to_name=recipient[1], locale=recipient[2], roles=roles,
        inviter_name=inviter_name, firm_name=firm_name, firm_roles=access.firm_roles, dossiers=access.dossiers,
    )  # fmt: skip
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    return {RECIPIENT: recipient[0], RESULT: SENT}
