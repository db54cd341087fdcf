"""Signing in: credentials, throttling, and the person's principal."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import replace

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership, User
from portal.accounts.passwords import hash_password_off_loop, needs_rehash, verify_password_off_loop
from portal.accounts.throttle import LoginThrottle
from portal.audit.context import acting_as, current_actor
from portal.audit.recorder import record
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole
from portal.i18n import N_, _
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
THROTTLED = N_("Trop de tentatives de connexion. Réessayez dans %(minutes)s minutes.")
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
            raise SignInError(_(THROTTLED) % {"minutes": refusal.minutes}, 429)
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
        await session.commit()
        raise SignInError(_(REFUSED), 401)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = await hash_password_off_loop(password)  # still holding no connection
    await throttle.succeeded(email, ip_address)
    await throttle.record(email, ip_address, succeeded=True)
    user.last_login_at = dt.datetime.now(dt.UTC)
    # The person becomes the author from here on, within the same request.
    with acting_as(replace(current_actor(), user_id=user.id, label=user.email)):
        record(session, "auth.sign_in", object_type="user_account", object_id=str(user.id))
        await session.flush()
    return user


class AccountService:
    """The signed-in person's own account: signing in and out, the language they chose."""

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

    def sign_out(self, user_id: uuid.UUID) -> None:
        record(self.session, "auth.sign_out", object_type="user_account", object_id=str(user_id))

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
