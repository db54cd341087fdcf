"""The OpenID providers the portal offers on its sign-in page, from the settings.

Three at most: Microsoft (Entra ID, the firm's tenant), Google, and one other provider the
settings name (``PORTAL_OIDC_LABEL``), which is the local OpenID sandbox's with
``PORTAL_SANDBOX=1``. A provider is offered when its issuer, client id and secret are all set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal.i18n import N_, _
from portal.settings import GOOGLE_ISSUER, Settings

SANDBOX_PATH = "/sandbox/oidc"
KEYS = ("microsoft", "google", "oidc")
# Microsoft's tokens carry no ``email_verified``: with the optional claim ``xms_edov`` ("email domain
# owner verified") requested in the application's token configuration, that one says it.
MICROSOFT_VERIFIED = "xms_edov"


@dataclass(frozen=True)
class Provider:
    """One provider: its key in addresses and settings, the portal's client there, its button."""

    key: str
    issuer: str
    client_id: str
    client_secret: str
    button: str  # French, translated when shown
    name: str = ""  # for a provider named by the settings: said in the button

    @property
    def button_text(self) -> str:
        return _(self.button) % {"provider": self.name} if self.name else _(self.button)

    @property
    def token_issuers(self) -> list[str]:
        """The ``iss`` its id tokens may carry: the issuer, and for Google its older spelling without the scheme."""
        if self.issuer == GOOGLE_ISSUER:
            return [self.issuer, GOOGLE_ISSUER.removeprefix("https://")]
        return [self.issuer]

    def redirect_uri(self, settings: Settings) -> str:
        """Where the provider sends the person back: registered with it as is."""
        return f"{settings.base_url}/connexion/oidc/{self.key}/retour"

    def email_verified(self, claims: Mapping[str, Any]) -> bool:
        """Whether the provider vouches for the address in ``claims``: ``email_verified`` true (a boolean, or the
        string some providers send), or for Microsoft ``xms_edov``. Anything else (absent, false, 1) is no."""
        if claims.get("email_verified") is True or claims.get("email_verified") == "true":
            return True
        return self.key == "microsoft" and claims.get(MICROSOFT_VERIFIED) in {True, "1", "true"}


def configured(settings: Settings) -> list[Provider]:
    """The providers whose issuer, client id and secret are set, in the order the page shows them."""
    candidates = [
        Provider("microsoft", settings.oidc_microsoft_issuer, settings.oidc_microsoft_client_id,
                 settings.oidc_microsoft_client_secret, N_("Se connecter avec Microsoft")),
        Provider("google", settings.oidc_google_issuer, settings.oidc_google_client_id,
                 settings.oidc_google_client_secret, N_("Se connecter avec Google")),
        _other(settings),
    ]  # fmt: skip
    return [provider for provider in candidates if provider.issuer and provider.client_id and provider.client_secret]


def _other(settings: Settings) -> Provider:
    credentials = (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
    if settings.oidc_label:
        return Provider("oidc", *credentials, N_("Se connecter avec %(provider)s"), settings.oidc_label)
    if settings.sandbox and settings.oidc_issuer == settings.base_url + SANDBOX_PATH:
        return Provider("oidc", *credentials, N_("Se connecter avec le fournisseur de démonstration"))
    return Provider("oidc", *credentials, N_("Se connecter avec l'authentification unique du cabinet"))


def find(settings: Settings, key: str) -> Provider | None:
    return next((provider for provider in configured(settings) if provider.key == key), None)
