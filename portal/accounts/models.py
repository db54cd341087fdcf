"""The people who sign in, the roles they hold (firm-wide and on dossiers), their sign-in attempts and web sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.audit.mixins import Audited
from portal.auth.roles import DossierRole, FirmRole
from portal.db.base import Base


class User(Audited, Base):
    """A person who signs in. Email is stored lower-cased and is unique."""

    __tablename__ = "user_account"
    __audit_exclude__ = frozenset({"password_hash", "session_epoch", "last_login_at"})

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    # Bumped to end every session of this person at once (sign-out everywhere, deactivation).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

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


class WebSession(StoreModelMixin):
    """Server-side session data when sessions live in the database (PostgreSQL deployments)."""

    __tablename__ = "web_session"
    __table_args__ = (UniqueConstraint("key", "namespace", name="uq_web_session_key_namespace"),)
