"""The identities at OpenID providers linked to the people who sign in with them."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db.base import Base


class SsoIdentity(Base):
    """A person's identity at one provider: its issuer and its subject (``sub``), which never change.

    Linked at the person's first sign-in there (matched then by verified email), it is how later
    sign-ins find them, whatever their email has become. One identity is one person, and a person
    has at most one identity per provider. Linking is audited (``auth.sso_link``).
    """

    __tablename__ = "sso_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject"),
        UniqueConstraint("user_id", "issuer"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    # The provider's key in the settings (microsoft, google, oidc), for the audit log and the person's page.
    provider: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(320))
