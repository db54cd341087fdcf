"""Sign-in attempts, kept to throttle password guessing."""

from __future__ import annotations

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from sqlalchemy import Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db.base import Base


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
