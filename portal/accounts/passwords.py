"""Password hashing with argon2id, and the password policy every form that sets a password applies.

The policy follows NIST SP 800-63B: a length (at least 12 characters, at most the forms' limit),
no composition rules, and a refusal of what attackers try first: the common and breached
passwords of zxcvbn's list, anything its estimator finds guessable (repetitions, sequences,
keyboard walks, a word with digits; score under 3), and the person's own name or address.
"""

from __future__ import annotations

import os
import re
import unicodedata

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from portal.i18n import N_, NP_, _, ngettext
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


TOO_SHORT = NP_(
    "Le mot de passe doit contenir au moins %(min)d caractère.",
    "Le mot de passe doit contenir au moins %(min)d caractères.",
)
TOO_LONG = NP_(
    "Le mot de passe ne peut pas dépasser %(max)d caractère.",
    "Le mot de passe ne peut pas dépasser %(max)d caractères.",
)
SPACES = N_("Le mot de passe ne doit pas commencer ni finir par une espace.")
COMMON = N_(
    "Ce mot de passe fait partie des mots de passe les plus courants ou déjà divulgués : choisissez-en un autre."
)
GUESSABLE = N_(
    "Ce mot de passe est trop facile à deviner (répétitions, suites, mot courant) : "
    "allongez-le, par exemple avec une phrase de plusieurs mots."
)
PERSONAL = N_("Le mot de passe ne doit contenir ni votre nom ni votre adresse e-mail.")
MISMATCH = N_("Les deux mots de passe ne correspondent pas.")

# zxcvbn's list of common and breached passwords (30,000 of them), lower-cased as it ships.
COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"])
# zxcvbn's scale: 3 is "safely unguessable: moderate protection from offline slow-hash scenario".
MIN_SCORE = 3
# zxcvbn refuses longer input (its matching grows with the length); 72 characters of a password
# that passed are strength enough, so only its start is estimated.
ESTIMATED_LENGTH = 72
# Parts of a name or an address worth refusing: runs of 3 letters or more.
_PART = re.compile(r"[^\W\d_]{3,}")


def _folded(text: str) -> str:
    """``text`` lower-cased and without accents: "Lefèvre" and "lefevre" are the same name."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def personal_parts(*, email: str = "", name: str = "") -> set[str]:
    """The words a password must not contain (folded): the address's local part (whole, and its
    words) and the words of the name, each of 3 letters or more."""
    local = _folded(email.strip()).partition("@")[0]
    parts = set(_PART.findall(local)) | set(_PART.findall(_folded(name)))
    if len(local) >= 3:  # noqa: PLR2004 - the same 3 letters as the parts
        parts.add(local)
    return parts


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why ``password`` is refused for the person with this ``email`` and ``name`` (in their
    language), or None. The one policy: invitation, change, reset, ``portal user create``."""
    if len(password) < MIN_LENGTH:
        return ngettext(*TOO_SHORT, MIN_LENGTH) % {"min": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return ngettext(*TOO_LONG, MAX_LENGTH) % {"max": MAX_LENGTH}
    if password.strip() != password:
        return _(SPACES)
    return _guessable(password, email=email, name=name)


def _guessable(password: str, *, email: str, name: str) -> str | None:
    """What an attacker tries first: the common lists, the person's own words, patterns."""
    if password.lower() in COMMON_PASSWORDS:
        return _(COMMON)
    folded = _folded(password)
    if any(part in folded for part in personal_parts(email=email, name=name)):
        return _(PERSONAL)
    if zxcvbn(password[:ESTIMATED_LENGTH])["score"] < MIN_SCORE:
        return _(GUESSABLE)
    return None


def new_password_problem(password: str, confirmation: str, *, email: str, name: str) -> tuple[str, str] | None:
    """(form field, message) when a new password typed twice is refused, else None."""
    problem = password_problem(password, email=email, name=name)
    if problem:
        return "password", problem
    if password != confirmation:
        return "confirmation", _(MISMATCH)
    return None
