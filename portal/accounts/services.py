"""Signing in: credentials, throttling, and the person's principal."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import replace

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts import user_sessions
from portal.accounts.models import DossierMembership, User, UserSession
from portal.accounts.passwords import (
    hash_password_off_loop,
    needs_rehash,
    new_password_problem,
    verify_password_off_loop,
)
from portal.accounts.tasks import send_password_changed
from portal.accounts.throttle import LoginThrottle
from portal.audit.context import acting_as, current_actor
from portal.audit.recorder import record
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole
from portal.i18n import N_, NP_, _, ngettext
from portal.settings import Settings
from portal.web.forms import EMAIL_MAX_LENGTH, PASSWORD_MAX_LENGTH


class SignInError(Exception):
    """Sign-in refused; ``message`` is shown to the person, ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def normalise_email(email: str) -> str:
    return email.strip().lower()


REFUSED = N_("Adresse e-mail ou mot de passe incorrect.")
THROTTLED = NP_(
    "Trop de tentatives de connexion. Réessayez dans %(minutes)s minute.",
    "Trop de tentatives de connexion. Réessayez dans %(minutes)s minutes.",
)
TOO_LONG = N_("Adresse e-mail ou mot de passe trop long.")


# A burst of sign-ins (the places of a pair taken by attempts still being checked) waits this long at
# most, trying again this often, before it is refused: a password check takes a fraction of a second.
BUSY_WAIT_SECONDS = 10.0
BUSY_RETRY_SECONDS = 0.1


async def _take_a_place(session: AsyncSession, throttle: LoginThrottle, email: str, ip_address: str) -> None:
    """The attempt's place in the throttle's counters, or ``SignInError`` (429)."""
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        refusal = await throttle.reserve(email, ip_address)
        if refusal is None:
            return
        if not refusal.busy or time.monotonic() >= deadline:
            raise SignInError(ngettext(*THROTTLED, refusal.minutes) % {"minutes": refusal.minutes}, 429)
        # Let go of the counters' rows (and SQLite's write lock) while the attempts ahead finish.
        await session.rollback()
        await anyio.sleep(BUSY_RETRY_SECONDS)


async def authenticate(
    session: AsyncSession, settings: Settings, *, email: str, password: str, ip_address: str
) -> User:
    """Return the active user whose credentials these are, or raise ``SignInError``.

    Over-long input is refused before anything else (no hash, no write). Then the attempt takes
    its place in the throttle's counters (``portal.accounts.throttle``), committed before the
    password is checked; a wrong password keeps it, and is recorded.
    """
    email = normalise_email(email)
    # Lower-casing may lengthen an address (``İ`` becomes two characters): checked after it.
    if len(email) > EMAIL_MAX_LENGTH or len(password) > PASSWORD_MAX_LENGTH:
        raise SignInError(_(TOO_LONG), 422)
    throttle = LoginThrottle(
        session, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
    )
    await _take_a_place(session, throttle, email, ip_address)
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    # The reservation is the attempt's place in the count: committed now, so that concurrent attempts
    # see it, and so that the password check (slow by design) holds no pooled connection meanwhile.
    await session.commit()
    valid = await verify_password_off_loop(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        await throttle.failed(email, ip_address)
        await throttle.record(email, ip_address, succeeded=False)
        if user is not None:  # on the account tried, never what was typed as its password
            record(session, "auth.sign_in_failed", object_type="user_account", object_id=str(user.id))
        await session.commit()
        raise SignInError(_(REFUSED), 401)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = await hash_password_off_loop(password)  # still holding no connection
    await throttle.succeeded(email, ip_address)
    await throttle.record(email, ip_address, succeeded=True)
    user.last_login_at = dt.datetime.now(dt.UTC)
    # The person becomes the author from here on, within the same request.
    with acting_as(replace(current_actor(), user_id=user.id, label=user.email)):
        record(session, "auth.sign_in", object_type="user_account", object_id=str(user.id), method="password")
        await session.flush()
    return user


class PasswordChangeError(Exception):
    """A password change refused: ``field`` is the form field, ``message`` is translated."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


WRONG_CURRENT = N_("Le mot de passe actuel est incorrect.")


async def set_password(session: AsyncSession, user: User, password_hash: str) -> None:
    """Give ``user`` this password and end every session of theirs (their epoch moves on, their
    rows of Mes sessions end); the caller signs this browser in again (``finish_sign_in``)."""
    user.password_hash = password_hash
    user.session_epoch += 1
    await user_sessions.end_all(session, user.id)
    await session.flush()


class AccountService:
    """The signed-in person's own account: signing in and out, the language they chose, their password."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sign_in(self, settings: Settings, *, email: str, password: str, ip_address: str) -> User:
        """``authenticate`` on this session."""
        return await authenticate(self.session, settings, email=email, password=password, ip_address=ip_address)

    async def person(self, user_id: uuid.UUID) -> User:
        """The signed-in person's own row (they are signed in, so it exists)."""
        user = await self.session.get(User, user_id)
        assert user is not None  # noqa: S101 - authentication loaded this person a moment ago
        return user

    async def sign_out(self, user_id: uuid.UUID, row_id: uuid.UUID | None) -> None:
        """This browser's session ends: its row of Mes sessions too."""
        if row_id is not None:
            await user_sessions.end_one(self.session, user_id, row_id)
        record(self.session, "auth.sign_out", object_type="user_account", object_id=str(user_id))

    async def change_password(
        self, settings: Settings, user_id: uuid.UUID, *, current: str, new: str, confirmation: str, ip_address: str
    ) -> User:
        """Change the person's password (their current one proves it is them); every session of
        theirs ends. Raises ``PasswordChangeError``; the caller signs this browser in again.

        A wrong current password counts as a failed sign-in (the same throttle): a borrowed
        session cannot try passwords faster than the sign-in page allows.
        """
        user = await self.person(user_id)
        throttle = LoginThrottle(
            self.session, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
        )
        refusal = await throttle.reserve(user.email, ip_address)
        if refusal is not None:
            raise PasswordChangeError("actuel", ngettext(*THROTTLED, refusal.minutes) % {"minutes": refusal.minutes})
        # The attempt's place is committed (as at sign-in); the slow checks hold no pooled connection.
        await self.session.commit()
        if not await verify_password_off_loop(user.password_hash, current):
            await throttle.failed(user.email, ip_address)
            await throttle.record(user.email, ip_address, succeeded=False)
            await self.session.commit()  # the refusal rolls the request back
            raise PasswordChangeError("actuel", _(WRONG_CURRENT))
        # The right current password gives the place back, whatever the new one turns out to be.
        await throttle.succeeded(user.email, ip_address)
        await self.session.commit()
        refused = new_password_problem(new, confirmation, email=user.email, name=user.name)
        if refused:
            raise PasswordChangeError(*refused)
        password_hash = await hash_password_off_loop(new)
        await set_password(self.session, user, password_hash)
        record(self.session, "auth.password_change", object_type="user_account", object_id=str(user.id))
        await send_password_changed.options(created_by_id=user.id, person_id=user.id).enqueue(
            self.session, user_id=str(user.id)
        )
        return user

    async def sessions(self, user: User, settings: Settings) -> list[UserSession]:
        """The person's sessions that still work (Mes sessions)."""
        return await user_sessions.active_sessions(
            self.session, user,
            idle=dt.timedelta(seconds=settings.session_max_age_seconds),
            absolute=dt.timedelta(seconds=settings.session_absolute_seconds),
        )  # fmt: skip

    async def end_session(self, user_id: uuid.UUID, row_id: uuid.UUID) -> bool:
        """End one of the person's sessions (that browser is signed out on its next request)."""
        ended = await user_sessions.end_one(self.session, user_id, row_id)
        if ended:
            record(self.session, "auth.session_end", object_type="user_account", object_id=str(user_id))
        return ended

    async def end_other_sessions(self, user_id: uuid.UUID, current: uuid.UUID | None) -> int:
        """End every session of the person's but this browser's; how many there were."""
        ended = await user_sessions.end_all(self.session, user_id, but=current)
        if ended:
            record(self.session, "auth.session_end", object_type="user_account", object_id=str(user_id),
                   sessions=ended)  # fmt: skip
        return ended

    async def set_locale(self, user_id: uuid.UUID, locale: str) -> None:
        """Keep the language the person chose on their account."""
        await self.session.execute(update(User).where(User.id == user_id).values(locale=locale))


async def load_principal(session: AsyncSession, user_id: uuid.UUID, epoch: int) -> Principal | None:
    """The principal for a session, or None when the person is gone, inactive or signed out everywhere."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return Principal.build(
        user_id=user.id,
        email=user.email,
        name=user.name,
        locale=user.locale,
        roles=user.firm_roles,
        dossier_roles=await dossier_roles_of(session, user.id),
    )


async def dossier_roles_of(session: AsyncSession, user_id: uuid.UUID) -> dict[uuid.UUID, frozenset[DossierRole]]:
    """The person's roles, dossier by dossier (one indexed read)."""
    rows = await session.execute(
        select(DossierMembership.dossier_id, DossierMembership.role).where(DossierMembership.user_id == user_id)
    )
    roles: dict[uuid.UUID, set[DossierRole]] = {}
    for dossier_id, role in rows:
        roles.setdefault(dossier_id, set()).add(role)
    return {dossier_id: frozenset(held) for dossier_id, held in roles.items()}
