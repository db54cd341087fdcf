"""Source connections of a dossier: a provider, how the portal is authorised there, and its state."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit.mixins import Audited
from portal.db.base import Base, JsonB, string_enum
from portal.db.encrypted import EncryptedJSON
from portal.i18n import N_


class Provider(StrEnum):
    """Where a connection reads from: Pennylane, or a POS / e-commerce source of the catalogue
    (``portal.integrations.commerce.sources``, whose codes these are)."""

    PENNYLANE = "pennylane"
    CASHPAD = "cashpad"
    CLYO = "clyo"
    HIBOUTIK = "hiboutik"
    INNOVORDER = "innovorder"
    LIGHTSPEED = "lightspeed"
    POPINA = "popina"
    SQUARE = "square"
    TRIVEC = "trivec"
    ZELTY = "zelty"
    ZETTLE = "zettle"
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


class AuthMethod(StrEnum):
    OAUTH = "oauth"  # authorisation code with PKCE, refreshed tokens
    API_TOKEN = "api_token"  # a personal token the person pasted once  # noqa: S105 - a kind, not a secret
    API_KEY = "api_key"  # a POS or e-commerce source's API key, pasted once

    @property
    def label(self) -> str:
        return _METHOD_LABELS[self]


_METHOD_LABELS = {
    AuthMethod.OAUTH: N_("Connexion OAuth"),
    AuthMethod.API_TOKEN: N_("Jeton d'API personnel"),
    AuthMethod.API_KEY: N_("Clé d'API"),
}


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    # The provider no longer accepts the authorisation (revoked, expired): reconnect.
    AUTHORIZATION_LOST = "authorization_lost"
    DISCONNECTED = "disconnected"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    ConnectionStatus.CONNECTED: N_("Connecté"),
    ConnectionStatus.AUTHORIZATION_LOST: N_("Autorisation expirée ou révoquée"),
    ConnectionStatus.DISCONNECTED: N_("Déconnecté"),
}


class Connection(Audited, Base):
    """A dossier's connection to a provider (one per provider and dossier).

    ``credentials`` is encrypted at rest (tokens, or the personal token) and never leaves
    the server: pages show ``token_hint`` at most, the audit log never copies it.
    ``fiscal_years`` is what the provider last said it holds, for the person to choose from.
    """

    __tablename__ = "integration_connection"
    __table_args__ = (UniqueConstraint("dossier_id", "provider"),)
    __audit_exclude__ = frozenset({"credentials", "fiscal_years", "fiscal_years_checked_at"})

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    provider: Mapped[Provider] = mapped_column(string_enum(Provider, 24))
    auth_method: Mapped[AuthMethod] = mapped_column(string_enum(AuthMethod, 24))
    status: Mapped[ConnectionStatus] = mapped_column(
        string_enum(ConnectionStatus, 24), default=ConnectionStatus.CONNECTED
    )
    credentials: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, default=None)
    token_hint: Mapped[str | None] = mapped_column(String(16), default=None)
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    fiscal_years: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonB, default=None)
    fiscal_years_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    connected_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    connected_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # Bumped at each change of credentials: a refresh racing a reconnection never overwrites the newer pair.
    credentials_version: Mapped[int] = mapped_column(default=0)

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id
