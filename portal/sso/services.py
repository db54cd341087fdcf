"""Who gets in by single sign-on: people the firm already knows, and nobody else.

A provider's identity (issuer, subject) already linked to a person signs that person in. The
first time, the verified email finds the person: an active account, or a pending invitation,
which the sign-in accepts. The identity is then linked to them (``sso_identity``, audited
``auth.sso_link``), once: a person keeps one identity per provider. Nothing is ever created
for an address the firm does not know, and an address the provider does not vouch for is
refused. Every sign-in and every refusal is in the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.accounts.services import normalise_email
from portal.audit.context import acting_as, current_actor
from portal.audit.recorder import record
from portal.firm.invitations import InvitationService
from portal.firm.models import Invitation
from portal.firm.services import PersonStatus, status_of
from portal.i18n import N_
from portal.sso.models import SsoIdentity
from portal.sso.openid import Identity, SignOnError
from portal.sso.providers import Provider

NO_ACCOUNT = N_(
    "Aucun compte du cabinet n'est associé à cette adresse e-mail. Demandez au cabinet de vous inviter, "
    "puis reconnectez-vous."
)
UNVERIFIED = N_(
    "Votre fournisseur d'identité n'indique pas que cette adresse e-mail est vérifiée : "
    "la connexion est refusée. Vérifiez l'adresse chez lui, ou connectez-vous avec votre mot de passe."
)
INVITATION_OVER = N_(
    "Votre invitation a expiré ou a été révoquée. Demandez au cabinet de vous renvoyer une invitation."
)
OTHER_IDENTITY = N_(
    "Ce compte est déjà lié à une autre identité chez ce fournisseur. Connectez-vous avec celle-ci, "
    "ou avec votre mot de passe."
)
METHOD = "oidc"
# The provider said who the person is, and the firm said no (the others: the flow itself failed).
REFUSALS = frozenset({"email_unverified", "no_account", "account_inactive", "invitation_over", "other_identity"})


class SignOnService:
    """Signing in with a provider's identity, and the audit of every attempt."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sign_in(self, provider: Provider, identity: Identity) -> User:
        """The person ``identity`` is, signed in (last sign-in, audit); ``SignOnError`` if none may be."""
        linked = await self._linked(identity)
        if linked is not None:
            user = await self.session.get(User, linked.user_id)
            if user is None or not user.is_active:
                raise SignOnError("account_inactive", NO_ACCOUNT, user_id=linked.user_id)
        else:
            user = await self._first_time(provider, identity)
        user.last_login_at = dt.datetime.now(dt.UTC)
        with acting_as(replace(current_actor(), user_id=user.id, label=user.email)):
            record(self.session, "auth.sign_in", object_type="user_account", object_id=str(user.id),
                   method=METHOD, provider=provider.key)  # fmt: skip
            await self.session.flush()
        return user

    async def _linked(self, identity: Identity) -> SsoIdentity | None:
        statement = select(SsoIdentity).where(
            SsoIdentity.issuer == identity.issuer, SsoIdentity.subject == identity.subject
        )
        found: SsoIdentity | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def _first_time(self, provider: Provider, identity: Identity) -> User:
        """The person whose verified address this is, their pending invitation accepted, their identity linked."""
        if not identity.email or not identity.email_verified:
            raise SignOnError("email_unverified", UNVERIFIED)
        email = normalise_email(identity.email)
        user = (await self.session.execute(select(User).where(User.email == email))).scalar_one_or_none()
        if user is None:
            raise SignOnError("no_account", NO_ACCOUNT)
        if not user.is_active:
            raise SignOnError("account_inactive", NO_ACCOUNT, user_id=user.id)
        invitation = (
            await self.session.execute(select(Invitation).where(Invitation.user_id == user.id))
        ).scalar_one_or_none()
        status = status_of(user, invitation)
        if status is PersonStatus.INVITED:
            if not await InvitationService(session=self.session).accept_by_sign_on(user):
                raise SignOnError("invitation_over", INVITATION_OVER, user_id=user.id)
        elif status is not PersonStatus.ACTIVE:
            raise SignOnError("invitation_over", INVITATION_OVER, user_id=user.id)
        await self._link(provider, identity, user)
        return user

    async def _link(self, provider: Provider, identity: Identity, user: User) -> None:
        """Link the identity to ``user``, once; a concurrent first sign-in may have done it a moment ago."""
        link = SsoIdentity(user_id=user.id, issuer=identity.issuer, subject=identity.subject,
                           provider=provider.key, email=identity.email)  # fmt: skip
        try:
            async with self.session.begin_nested():
                self.session.add(link)
        except IntegrityError:
            if (await self._linked(identity)) is None:  # another identity of this provider holds the account
                raise SignOnError("other_identity", OTHER_IDENTITY, user_id=user.id) from None
            return
        with acting_as(replace(current_actor(), user_id=user.id, label=user.email)):
            record(self.session, "auth.sso_link", object_type="user_account", object_id=str(user.id),
                   provider=provider.key, issuer=identity.issuer, subject=identity.subject)  # fmt: skip

    async def refused(self, provider: Provider | None, failure: SignOnError, identity: Identity | None) -> None:
        """Record a refused or failed attempt, committed now: the refusal's answer rolls its transaction back.

        It names the person it was about when there is one (their row decides who reads it), and the
        address only when the firm knows nobody by it.
        """
        await self.session.rollback()
        details: dict[str, Any] = {"method": METHOD, "provider": provider.key if provider else None,
                                   "reason": failure.reason}  # fmt: skip
        if failure.reason == "no_account" and identity is not None:
            details["email"] = identity.email
        record(self.session, "auth.sign_in_failed", object_type="user_account",
               object_id=str(failure.user_id) if failure.user_id else None, **details)  # fmt: skip
        await self.session.commit()
