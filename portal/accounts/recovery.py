"""Mot de passe oublié ? A link by email that sets a new password, once, for a short while.

Asking answers the same whether or not the address has an account (and whether or not the
link can be sent): the page, the status and the work done in the request are the same, bar
the email itself. Only an active account that already has a password gets a link: an
invitation not accepted yet goes through its own link. Requests are counted per address and
per IP address (``PasswordReset`` rows, whatever the address), so neither a mailbox nor the
portal's mail server can be flooded.

Like an invitation's, the link's token is drawn by the sending job
(``portal.accounts.tasks.send_password_reset``), which keeps only its SHA-256: the token is
in clear in the email alone. A new request kills the links sent before it. Using the link
checks the password policy, spends the link by one conditional UPDATE (of two concurrent
uses, one wins), gives the password, ends every session of the person and leaves the caller
to sign this browser in (``finish_sign_in``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from portal.accounts.models import PasswordReset, User
from portal.accounts.passwords import hash_password_off_loop, new_password_problem
from portal.accounts.services import normalise_email, set_password
from portal.accounts.tasks import send_password_changed, send_password_reset
from portal.accounts.tokens import token_digest
from portal.audit.context import acting_as, current_actor
from portal.audit.recorder import record
from portal.i18n import N_

# Requests counted over the last hour: per address asked for, and per IP address.
WINDOW = dt.timedelta(hours=1)
PER_EMAIL = 3
PER_IP_ADDRESS = 20

SENT = N_("Si un compte existe pour cette adresse, un e-mail vient d'être envoyé.")
THROTTLED = N_("Trop de demandes de réinitialisation. Réessayez dans une heure.")


class ResetThrottled(Exception):  # noqa: N818 - a refusal, like SignInError's
    """Too many requests for this address or from this IP address."""


class ResetLinkError(Exception):
    """A reset link that cannot be used; ``title`` and ``message`` are msgids, ``status`` HTTP."""

    def __init__(self, title: str, message: str, status: int) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


class ResetPasswordError(Exception):
    """The new password refused: ``field`` is the form field, ``message`` is translated."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


UNKNOWN = ResetLinkError(
    N_("Lien de réinitialisation invalide"),
    N_("Ce lien n'est pas valide : il a peut-être été remplacé par un lien plus récent. Utilisez le dernier "
       "courriel reçu, ou demandez un nouveau lien depuis « Mot de passe oublié ? »."),
    404,
)  # fmt: skip
EXPIRED = ResetLinkError(
    N_("Lien de réinitialisation expiré"),
    N_("Ce lien a expiré. Demandez un nouveau lien depuis « Mot de passe oublié ? » sur la page de connexion."),
    410,
)
USED = ResetLinkError(
    N_("Lien de réinitialisation déjà utilisé"),
    N_("Ce lien a déjà servi. Connectez-vous avec votre nouveau mot de passe, ou demandez un nouveau lien."),
    410,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _recent(session: AsyncSession, column: InstrumentedAttribute[str], value: str) -> int:
    statement = select(func.count()).where(column == value, PasswordReset.created_at >= _now() - WINDOW)
    return int((await session.execute(statement)).scalar_one())


async def request_reset(session: AsyncSession, *, email: str, ip_address: str) -> None:
    """Ask for a link for ``email``: sent (by a job) if it is an active account with a password.

    Raises ``ResetThrottled``, for any address alike. The caller answers ``SENT`` either way.
    """
    email = normalise_email(email)
    if (
        await _recent(session, PasswordReset.email, email) >= PER_EMAIL
        or await _recent(session, PasswordReset.ip_address, ip_address) >= PER_IP_ADDRESS
    ):
        raise ResetThrottled
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    eligible = user is not None and user.is_active and user.password_hash is not None
    reset = PasswordReset(email=email, ip_address=ip_address, user_id=user.id if eligible and user else None)
    session.add(reset)
    await session.flush()
    if not eligible or user is None:
        # The same event, about no one: the log counts the requests and tells nobody who has an account.
        record(session, "auth.password_reset_request", object_type="user_account", object_id=None)
        return
    record(session, "auth.password_reset_request", object_type="user_account", object_id=str(user.id))
    await _spend_others(session, user, but=reset)
    # The run is about the person (person_id): hidden with them from whoever may not see them.
    await send_password_reset.options(person_id=user.id).enqueue(session, reset_id=str(reset.id))


async def _spend_others(session: AsyncSession, user: User, *, but: PasswordReset | None = None) -> None:
    """The person's links not used yet stop working (a newer one was asked for, or the password set)."""
    statement = update(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
    if but is not None:
        statement = statement.where(PasswordReset.id != but.id)
    await session.execute(statement.values(used_at=_now()).execution_options(synchronize_session=False))


async def open_link(session: AsyncSession, token: str) -> tuple[PasswordReset, User]:
    """The request whose link this is and its person, if it can still be used; else ``ResetLinkError``."""
    reset = (
        await session.execute(select(PasswordReset).where(PasswordReset.token_hash == token_digest(token)))
    ).scalar_one_or_none()
    if reset is None or reset.user_id is None:
        raise UNKNOWN
    user = await session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise UNKNOWN
    if reset.used_at is not None:
        raise USED
    if reset.expires_at is None or reset.expires_at <= _now():
        raise EXPIRED
    return reset, user


async def reset_password(session: AsyncSession, token: str, *, password: str, confirmation: str) -> User:
    """Set the person's password through their link and spend it; every session of theirs ends.

    Raises ``ResetLinkError`` or ``ResetPasswordError``; the caller signs this browser in.
    """
    reset, user = await open_link(session, token)
    refused = new_password_problem(password, confirmation, email=user.email, name=user.name)
    if refused:
        raise ResetPasswordError(*refused)
    # Nothing written yet: hashing (slow by design) holds no pooled connection, nor SQLite's lock.
    await session.commit()
    password_hash = await hash_password_off_loop(password)
    now = _now()
    spent = await session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.id == reset.id,
            PasswordReset.token_hash == token_digest(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise USED
    await set_password(session, user, password_hash)
    await _spend_others(session, user)
    user.last_login_at = now
    # The person is the author from here on, as at the sign-in page.
    with acting_as(replace(current_actor(), user_id=user.id, label=user.email)):
        record(session, "auth.password_reset", object_type="user_account", object_id=str(user.id))
        record(session, "auth.sign_in", object_type="user_account", object_id=str(user.id), method="reset")
        await session.flush()
    await send_password_changed.options(person_id=user.id).enqueue(session, user_id=str(user.id))
    return user


class PasswordResetService:
    """Mot de passe oublié ?, on the request's session (the controllers' dependency)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def request(self, *, email: str, ip_address: str) -> None:
        await request_reset(self.session, email=email, ip_address=ip_address)

    async def open(self, token: str) -> User:
        """The person whose link this is, if it can still be used; else ``ResetLinkError``."""
        _reset, user = await open_link(self.session, token)
        return user

    async def reset(self, token: str, *, password: str, confirmation: str) -> User:
        return await reset_password(self.session, token, password=password, confirmation=confirmation)
