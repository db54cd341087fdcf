"""Client dossiers."""

from __future__ import annotations

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit.mixins import Audited
from portal.db.base import Base


class Dossier(Audited, Base):
    """A company the firm keeps the books of (the firm's own dossier included)."""

    __tablename__ = "dossier"

    name: Mapped[str] = mapped_column(String(200), index=True)
    siren: Mapped[str | None] = mapped_column(String(9), unique=True, default=None)
    nic: Mapped[str | None] = mapped_column(String(5), default=None)
    legal_form: Mapped[str | None] = mapped_column(String(60), default=None)
    is_firm_dossier: Mapped[bool] = mapped_column(Boolean, default=False)
