"""Password hashing with argon2id."""

from __future__ import annotations

import os

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portal.web.forms import PASSWORD_MAX_LENGTH

_hasher = PasswordHasher()  # argon2id with the RFC 9106 low-memory profile
# Verified against when the email is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("portal-timing-equaliser")

MIN_LENGTH = 12
# Generous for a passphrase; forms refuse longer before this module is reached, and a megabyte
# never costs argon2's time here either.
MAX_LENGTH = PASSWORD_MAX_LENGTH


def hash_password(password: str) -> str:
    if len(password) > MAX_LENGTH:
        message = f"a password is at most {MAX_LENGTH} characters"
        raise ValueError(message)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# argon2id is slow and memory-hungry by design (tenths of a second, 64 MiB per hash). Run in the
# event loop, a burst of sign-ins stalled every request of the process; in unbounded threads it
# would take memory without bound. So: in threads, a few at a time.
_HASHING = anyio.CapacityLimiter(min(4, os.cpu_count() or 1))


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """``verify_password`` in a worker thread, a few at a time: the event loop keeps serving."""
    return await anyio.to_thread.run_sync(verify_password, password_hash, password, limiter=_HASHING)


async def hash_password_off_loop(password: str) -> str:
    """``hash_password`` in a worker thread, a few at a time: the event loop keeps serving."""
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_HASHING)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str) -> str | None:
    """A French message explaining why ``password`` is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"Le mot de passe doit contenir au moins {MIN_LENGTH} caractères."
    if password.strip() != password:
        return "Le mot de passe ne doit pas commencer ni finir par une espace."
    return None
