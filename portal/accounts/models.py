"""The people who sign in, the roles they hold (firm-wide and on dossiers), their sign-in attempts, web
sessions, signed-in browsers and password reset links."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.audit.mixins import Audited
from portal.auth.roles import DossierRole, FirmRole
from portal.db.base import Base
from portal.db.encrypted import EncryptedText


class User(Audited, Base):
    """A person who signs in. Email is stored lower-cased and is unique."""

    __tablename__ = "user_account"
    __audit_exclude__ = frozenset({"password_hash", "session_epoch", "last_login_at", "second_factor_grace_from"})

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    # Bumped to end every session of this person at once (sign-out everywhere, deactivation).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # When the firm's rule requiring a second factor started to apply to this person (their first
    # sign-in under it): their grace period runs from here.
    second_factor_grace_from: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    roles: Mapped[list[UserRole]] = relationship(back_populates="user", lazy="selectin", cascade="all, delete-orphan")

    @property
    def firm_roles(self) -> frozenset[FirmRole]:
        return frozenset(role.role for role in self.roles)

    @property
    def audit_person_id(self) -> uuid.UUID | None:
        return self.id


class UserRole(Audited, Base):
    """One firm-wide role held by a person."""

    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[FirmRole] = mapped_column(
        Enum(FirmRole, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    user: Mapped[User] = relationship(back_populates="roles")

    @property
    def audit_person_id(self) -> uuid.UUID | None:
        # Added through ``user.roles``, the key is set by the flush: the person is known before.
        return self.user_id or (self.user.id if self.user is not None else None)


class DossierMembership(Audited, Base):
    """A person's role on a dossier: Comptable, Employé, Gestionnaire de facturation, Utilisateur client.

    Members see the dossier (confidential or not), and dossier-level permissions come from
    these roles (``portal.auth.roles.DOSSIER_ROLE_PERMISSIONS``).
    """

    __tablename__ = "dossier_membership"
    __table_args__ = (
        UniqueConstraint("dossier_id", "user_id", "role"),
        Index("ix_dossier_membership_user", "user_id", "role"),
    )

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[DossierRole] = mapped_column(
        Enum(DossierRole, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    granted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id

    @property
    def audit_person_id(self) -> uuid.UUID | None:
        return self.user_id


class LoginAttempt(Base):
    """One sign-in attempt, successful or not. Purged daily by a periodic job."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_created", "email", "created_at"),
        Index("ix_login_attempt_ip_created", "ip_address", "created_at"),
    )

    email: Mapped[str] = mapped_column(String(320))
    ip_address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class SignInCounter(Base):
    """Sign-in attempts not proven right, for one (account, address) pair or one address.

    Counted by one statement each (``portal.accounts.throttle``): an upsert that adds one only
    while the count is under its limit, so concurrent attempts never go past it. Times are epoch
    seconds, computed inside that statement the same way on SQLite and PostgreSQL.
    """

    __tablename__ = "sign_in_counter"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(16))  # "pair" (email and address) or "address"
    key: Mapped[str] = mapped_column(String(400))
    # Places taken: attempts being checked, and those that failed, in the window.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # The count starts again after this moment: the window's end, or the end of a refusal.
    reset_at: Mapped[int] = mapped_column(BigInteger)
    # How long the next refusal lasts: the window at first, doubled each time the limit is reached again.
    penalty_seconds: Mapped[int] = mapped_column(Integer)


class WebSession(StoreModelMixin):
    """Server-side session data when sessions live in the database (PostgreSQL deployments)."""

    __tablename__ = "web_session"
    __table_args__ = (UniqueConstraint("key", "namespace", name="uq_web_session_key_namespace"),)


class UserSession(Base):
    """One signed-in browser of a person (Mon compte › Mes sessions), written by ``finish_sign_in``.

    The server-side session holds this row's id; a session whose row is ended, missing or older
    than the absolute lifetime is refused on its next request. ``epoch`` is the person's session
    epoch at sign-in: a row of an older epoch is over too (signed out everywhere, deactivated).
    ``created_at`` is the sign-in; ``last_seen_at`` is written at most once a minute.
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user", "user_id", "ended_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    last_seen_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    ip_address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    ended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class PasswordReset(Base):
    """One "Mot de passe oublié ?" request, and the link it sends when the address has an account.

    Every request is a row (``user_id`` None when the address has no account that may reset its
    password): requests are throttled per address and per IP address by counting them. A link
    is drawn by the sending job, which keeps only its SHA-256 (``token_hash``); it serves once
    (``used_at``, set by one conditional UPDATE) until ``expires_at``. Purged daily.
    """

    __tablename__ = "password_reset"
    __table_args__ = (
        Index("ix_password_reset_email_created", "email", "created_at"),
        Index("ix_password_reset_ip_created", "ip_address", "created_at"),
    )

    email: Mapped[str] = mapped_column(String(320))
    ip_address: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), default=None, index=True
    )
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class SecondFactor(Base):
    """A person's authenticator app (TOTP, RFC 6238): one per person, active once confirmed with a code.

    The secret is encrypted at rest (``PORTAL_ENCRYPTION_KEYS``). ``last_used_step`` is the time
    step of the last code accepted: a code is accepted only by raising it in one conditional
    UPDATE, so one code (or an older one) never passes twice, even sent twice at once.
    ``failures`` counts wrong codes since ``last_failure_at``, in the same way.
    """

    __tablename__ = "second_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_used_step: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class RecoveryCode(Base):
    """One single-use recovery code, kept as the SHA-256 of a code of 80 random bits.

    Spent by one conditional UPDATE (``used_at IS NULL``): two uses at once spend it once.
    """

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class TrustedBrowser(Base):
    """A browser the person asked to remember for 30 days after a right code: sign-in there asks for
    the password alone. Only the SHA-256 of the cookie's token is kept; it is bound to the person's
    session epoch, so signing out everywhere, deactivation, disabling or resetting the second factor,
    or « Oublier ces navigateurs » ends it."""

    __tablename__ = "trusted_browser"
    __table_args__ = (Index("ix_trusted_browser_user", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_epoch: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    label: Mapped[str] = mapped_column(String(200), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
