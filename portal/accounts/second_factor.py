"""The second factor: an authenticator app (TOTP) and ten single-use recovery codes.

A code is checked against the person's secret for the time steps just before, at and just
after now (``valid_window=1``), and accepted only by raising ``last_used_step`` to its step in
one conditional UPDATE: a code, or an older one, passes once, even sent twice at once. A
recovery code is spent the same way (``used_at IS NULL``). Every check first takes one attempt
from the person's allowance (``failures``, counted in the same kind of statement), so guesses
are limited across sign-ins, browsers and processes; a right code gives the allowance back.

Secrets and codes never reach the audit log, a log line or a job's arguments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyotp
import segno
from markupsafe import Markup
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import RecoveryCode, SecondFactor, TrustedBrowser, User
from portal.accounts.passwords import verify_password_off_loop
from portal.audit.recorder import record
from portal.auth.roles import FirmRole
from portal.i18n import N_, NP_

ISSUER = "Portail Cabinet"
RECOVERY_CODES = 10
TRUST_LIFETIME = dt.timedelta(days=30)
# 16 characters of a 32-letter alphabet (no 0/o, 1/l/i): 80 random bits, so a plain SHA-256 is enough.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 16
_SIX_DIGITS = re.compile(r"^\d{6}$")
# Firm roles the firm's rule may oblige to use a second factor.
REQUIRED_OF = frozenset({FirmRole.PARTNER, FirmRole.ADMIN})


class Outcome(StrEnum):
    """What a code (or a password, where one is accepted instead) turned out to be."""

    TOTP = "totp"
    RECOVERY = "recovery"
    PASSWORD = "password"  # noqa: S105 - the kind of proof, not a password
    REUSED = "reused"
    WRONG = "wrong"
    LOCKED = "locked"

    @property
    def accepted(self) -> bool:
        return self in {Outcome.TOTP, Outcome.RECOVERY, Outcome.PASSWORD}


WRONG_CODE = N_("Code incorrect.")
REUSED_CODE = N_("Ce code a déjà été utilisé : attendez le suivant dans votre application.")
LOCKED_OUT = NP_(
    "Trop de codes incorrects. Réessayez dans %(minutes)s minute.",
    "Trop de codes incorrects. Réessayez dans %(minutes)s minutes.",
)


def normalise_code(raw: str) -> str:
    """A code as typed, without spaces or dashes, lower-cased."""
    return "".join(raw.split()).replace("-", "").lower()


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "ignore")).hexdigest()


def draw_recovery_codes() -> list[str]:
    """Ten new codes, shown once, as ``abcd-efgh-jkmn-pqrs``."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    return codes


_TOKEN_MAX_LENGTH = 100


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "ignore")).hexdigest()


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The QR code of ``uri`` as inline SVG, drawn here (no outside service, no script, no style attribute)."""
    qr = segno.make(uri, error="m")
    return Markup(qr.svg_inline(scale=1, border=2, omitsize=True, svgclass="qr-code", lineclass=None))  # noqa: S704 - segno's own SVG of our URI


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step (before, at or after now) whose code ``code`` is, or None."""
    if not _SIX_DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


@dataclass(frozen=True)
class Status:
    """The person's second factor as Mon compte shows it."""

    active: bool
    confirmed_at: dt.datetime | None
    recovery_codes_left: int
    trusted_browsers: int = 0


@dataclass(frozen=True)
class Requirement:
    """The firm's rule: since when partners and administrators must have a second factor, and their grace."""

    since: dt.datetime
    grace: dt.timedelta

    def applies_to(self, roles: frozenset[FirmRole]) -> bool:
        return bool(roles & REQUIRED_OF)


RequirementReader = Callable[[AsyncSession], Awaitable[Requirement | None]]


class RequirementSource:
    """Where the firm's rule is read from. The firm (a domain above this one) keeps it with its
    settings and provides the reader through its plugin; without it, a second factor is optional."""

    def __init__(self) -> None:
        self._reader: RequirementReader | None = None

    def provided_by(self, reader: RequirementReader) -> _Provider:
        return _Provider(self, reader)

    async def read(self, session: AsyncSession) -> Requirement | None:
        return await self._reader(session) if self._reader is not None else None


@dataclass(frozen=True)
class _Provider:
    source: RequirementSource
    reader: RequirementReader

    def register(self) -> None:
        self.source._reader = self.reader  # noqa: SLF001 - the source's own slot


REQUIREMENT = RequirementSource()


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the QR code and the secret for typing by hand."""

    secret: str
    uri: str

    @property
    def grouped(self) -> str:
        return grouped(self.secret)

    @property
    def qr(self) -> Markup:
        return qr_svg(self.uri)


class SecondFactorService:
    """Enrolment, codes at sign-in, recovery codes, disabling and resetting."""

    def __init__(self, session: AsyncSession, *, max_failures: int = 5, window_seconds: int = 900) -> None:
        self.session = session
        self.max_failures = max_failures
        self.window = dt.timedelta(seconds=window_seconds)

    async def keep(self) -> None:
        """Commit what a refusal wrote (the attempt counted, its audit event): the error status rolls back."""
        await self.session.commit()

    # --- reading -----------------------------------------------------------------------

    async def _factor(self, user_id: uuid.UUID) -> SecondFactor | None:
        factor: SecondFactor | None = (
            await self.session.execute(select(SecondFactor).where(SecondFactor.user_id == user_id))
        ).scalar_one_or_none()
        return factor

    async def is_active(self, user_id: uuid.UUID) -> bool:
        statement = select(SecondFactor.id).where(
            SecondFactor.user_id == user_id, SecondFactor.confirmed_at.is_not(None)
        )
        return (await self.session.execute(statement)).first() is not None

    async def required_of(self, user: User) -> bool:
        """Whether the firm's rule obliges ``user`` to have a second factor."""
        requirement = await REQUIREMENT.read(self.session)
        return requirement is not None and requirement.applies_to(user.firm_roles)

    async def status(self, user_id: uuid.UUID) -> Status:
        factor = await self._factor(user_id)
        active = factor is not None and factor.confirmed_at is not None
        left = 0
        if active:
            left = int(
                (
                    await self.session.execute(
                        select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
                    )
                ).scalar_one()
            )
        trusted = 0
        if active:
            trusted = int(
                (
                    await self.session.execute(
                        select(func.count())
                        .select_from(TrustedBrowser)
                        .join(User, User.id == TrustedBrowser.user_id)
                        .where(
                            TrustedBrowser.user_id == user_id,
                            TrustedBrowser.session_epoch == User.session_epoch,
                            TrustedBrowser.expires_at > dt.datetime.now(dt.UTC),
                        )
                    )
                ).scalar_one()
            )
        return Status(active=active, confirmed_at=factor.confirmed_at if active and factor else None,
                      recovery_codes_left=left, trusted_browsers=trusted)  # fmt: skip

    # --- enrolment ---------------------------------------------------------------------

    async def start(self, user: User) -> Enrolment | None:
        """A new secret waiting for its first code (the previous unconfirmed one is dropped); None if active."""
        factor = await self._factor(user.id)
        if factor is not None and factor.confirmed_at is not None:
            return None
        secret = pyotp.random_base32()
        if factor is None:
            self.session.add(SecondFactor(user_id=user.id, secret=secret))
        else:
            factor.secret = secret
        await self.session.flush()
        return Enrolment(secret=secret, uri=provisioning_uri(secret, user.email))

    async def pending(self, user: User) -> Enrolment | None:
        """The enrolment under way (secret not confirmed yet), or None."""
        factor = await self._factor(user.id)
        if factor is None or factor.confirmed_at is not None or not factor.secret:
            return None
        return Enrolment(secret=factor.secret, uri=provisioning_uri(factor.secret, user.email))

    async def confirm(self, user: User, code: str, now: dt.datetime | None = None) -> list[str] | None:
        """Activate the pending secret if ``code`` is its current code: the ten recovery codes, or None."""
        now = now or dt.datetime.now(dt.UTC)
        factor = await self._factor(user.id)
        if factor is None or factor.confirmed_at is not None or not factor.secret:
            return None
        step = matching_step(factor.secret, normalise_code(code), now)
        if step is None:
            record(self.session, "second_factor.enrol_failed", object_type="user_account", object_id=str(user.id))
            return None
        factor.confirmed_at = now
        factor.last_used_step = step
        factor.failures = 0
        codes = await self._replace_recovery_codes(user.id)
        record(self.session, "second_factor.enrol", object_type="user_account", object_id=str(user.id))
        await self.session.flush()
        return codes

    async def _replace_recovery_codes(self, user_id: uuid.UUID) -> list[str]:
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        codes = draw_recovery_codes()
        self.session.add_all(RecoveryCode(user_id=user_id, code_hash=hash_recovery_code(code)) for code in codes)
        await self.session.flush()
        return codes

    # --- codes -------------------------------------------------------------------------

    async def _take_attempt(self, user_id: uuid.UUID, now: dt.datetime) -> bool:
        """Count one more attempt in one statement; False when the allowance is spent for this window."""
        window_start = now - self.window
        fresh = or_(SecondFactor.last_failure_at.is_(None), SecondFactor.last_failure_at < window_start)
        result = await self.session.execute(
            update(SecondFactor)
            .where(
                SecondFactor.user_id == user_id,
                SecondFactor.confirmed_at.is_not(None),
                or_(fresh, SecondFactor.failures < self.max_failures),
            )
            .values(
                failures=case((fresh, 1), else_=SecondFactor.failures + 1),
                last_failure_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _give_attempts_back(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            update(SecondFactor)
            .where(SecondFactor.user_id == user_id)
            .values(failures=0, last_failure_at=None)
            .execution_options(synchronize_session=False)
        )

    async def _spend_step(self, user_id: uuid.UUID, step: int) -> bool:
        result = await self.session.execute(
            update(SecondFactor)
            .where(SecondFactor.user_id == user_id, SecondFactor.last_used_step < step)
            .values(last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _spend_recovery_code(self, user_id: uuid.UUID, code: str, now: dt.datetime) -> bool:
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def check(
        self,
        user: User,
        raw: str,
        *,
        recovery: bool = True,
        password: bool = False,
        now: dt.datetime | None = None,
    ) -> Outcome:
        """Check a code from the app (or a recovery code, or the password, where allowed) and spend it.

        Audited either way (never the code). The caller commits even when it refuses.
        """
        now = now or dt.datetime.now(dt.UTC)
        factor = await self._factor(user.id)
        if factor is None or factor.confirmed_at is None or not factor.secret:
            return Outcome.WRONG
        if not await self._take_attempt(user.id, now):
            self._audit(user, "second_factor.locked")
            return Outcome.LOCKED
        code = normalise_code(raw)
        outcome = Outcome.WRONG
        step = matching_step(factor.secret, code, now)
        if step is not None:
            outcome = Outcome.TOTP if await self._spend_step(user.id, step) else Outcome.REUSED
        elif recovery and code and await self._spend_recovery_code(user.id, code, now):
            outcome = Outcome.RECOVERY
        elif password and raw and await verify_password_off_loop(user.password_hash, raw):
            outcome = Outcome.PASSWORD
        if outcome.accepted:
            await self._give_attempts_back(user.id)
            if outcome is Outcome.RECOVERY:
                self._audit(user, "second_factor.recovery_code_used", left=await self._codes_left(user.id))
            else:
                self._audit(user, "second_factor.verified", proof=outcome.value)
        else:
            self._audit(user, "second_factor.failed", reason=outcome.value)
        await self.session.flush()
        return outcome

    async def _codes_left(self, user_id: uuid.UUID) -> int:
        statement = select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        return int((await self.session.execute(statement)).scalar_one())

    def _audit(self, user: User, action: str, **details: Any) -> None:
        record(self.session, action, object_type="user_account", object_id=str(user.id), **details)

    # --- changes once active -----------------------------------------------------------

    async def regenerate_recovery_codes(self, user: User) -> list[str]:
        """Ten new recovery codes; the previous ones stop working (the caller checked a proof)."""
        codes = await self._replace_recovery_codes(user.id)
        self._audit(user, "second_factor.recovery_codes_regenerate")
        await self.session.flush()
        return codes

    # --- browsers remembered for 30 days ----------------------------------------------------

    async def trust_browser(self, user: User, label: str, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
        """Remember this browser: the token for its cookie (kept here only as a hash), and until when."""
        now = now or dt.datetime.now(dt.UTC)
        token = secrets.token_urlsafe(32)
        expires = now + TRUST_LIFETIME
        self.session.add(
            TrustedBrowser(user_id=user.id, token_hash=_digest(token), session_epoch=user.session_epoch,
                           expires_at=expires, label=label[:200])
        )  # fmt: skip
        self._audit(user, "second_factor.trust_browser", browser=label[:200])
        await self.session.flush()
        return token, expires

    async def trusts(self, user: User, token: str | None, now: dt.datetime | None = None) -> bool:
        """Whether ``token`` (this browser's cookie) is one of ``user``'s remembered browsers, still valid."""
        if not token or len(token) > _TOKEN_MAX_LENGTH:
            return False
        now = now or dt.datetime.now(dt.UTC)
        result = await self.session.execute(
            update(TrustedBrowser)
            .where(
                TrustedBrowser.user_id == user.id,
                TrustedBrowser.token_hash == _digest(token),
                TrustedBrowser.session_epoch == user.session_epoch,
                TrustedBrowser.expires_at > now,
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        self._audit(user, "second_factor.trusted_browser_used")
        await self.session.flush()
        return True

    async def forget_browsers(self, user: User) -> int:
        """Every remembered browser of the person asks for a code again."""
        result = await self.session.execute(delete(TrustedBrowser).where(TrustedBrowser.user_id == user.id))
        forgotten = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if forgotten:
            self._audit(user, "second_factor.forget_browsers", count=forgotten)
        await self.session.flush()
        return forgotten

    async def remove(self, user: User, action: str) -> bool:
        """Drop the person's second factor, recovery codes and remembered browsers (disable, or a reset)."""
        found = await self._factor(user.id)
        if found is None:
            return False
        was_active = found.confirmed_at is not None
        await self.session.execute(delete(TrustedBrowser).where(TrustedBrowser.user_id == user.id))
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        await self.session.delete(found)
        if was_active:
            self._audit(user, action)
        await self.session.flush()
        return was_active


# --- the firm's rule ---------------------------------------------------------------------


@dataclass(frozen=True)
class Obligation:
    """Where a person stands with the firm's rule at sign-in: nothing, a reminder until ``due``, or now."""

    due: dt.datetime | None = None
    overdue: bool = False


async def obligation_at_sign_in(session: AsyncSession, user: User, now: dt.datetime | None = None) -> Obligation:
    """Whether the firm's rule asks ``user`` (who has no second factor) to enrol, and by when.

    Each person's grace period runs from their first sign-in under the rule (kept on their
    account), so someone away when it was switched on, or made partner later, gets the same days.
    """
    requirement = await REQUIREMENT.read(session)
    if requirement is None or not requirement.applies_to(user.firm_roles):
        return Obligation()
    now = now or dt.datetime.now(dt.UTC)
    start = user.second_factor_grace_from
    if start is None or start < requirement.since:
        start = now
        user.second_factor_grace_from = now
        await session.flush()
    due = start + requirement.grace
    return Obligation(due=due, overdue=due <= now)
