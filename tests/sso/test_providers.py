"""Which providers the sign-in page offers, from the settings, and when each vouches for an address."""

from __future__ import annotations

from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from portal.sso import providers

TENANT = "https://login.microsoftonline.com/0d1b6f1e-7f1c-4a54-9c7e-3e6a2d1c9b10/v2.0"


def test_a_provider_is_offered_only_with_its_issuer_client_and_secret(settings: Settings) -> None:
    assert providers.configured(settings) == []
    half = settings.with_overrides(oidc_google_client_id="id.apps.googleusercontent.com")
    assert providers.configured(half) == []
    full = half.with_overrides(oidc_google_client_secret="secret", oidc_microsoft_issuer=TENANT,
                               oidc_microsoft_client_id="app", oidc_microsoft_client_secret="secret")  # fmt: skip
    offered = providers.configured(full)
    assert [(p.key, p.issuer, p.button_text) for p in offered] == [
        ("microsoft", TENANT, "Se connecter avec Microsoft"),
        ("google", "https://accounts.google.com", "Se connecter avec Google"),
    ]
    assert offered[0].redirect_uri(full) == "http://127.0.0.1:8000/connexion/oidc/microsoft/retour"
    assert providers.find(full, "oidc") is None


def test_the_other_provider_is_named_by_its_label_or_is_the_sandbox(settings: Settings) -> None:
    sandboxed = settings.with_overrides(
        sandbox=True,
        oidc_issuer=f"{settings.base_url}/sandbox/oidc",
        oidc_client_id=SANDBOX_CLIENT_ID,
        oidc_client_secret=SANDBOX_CLIENT_SECRET,
    )
    [demo] = providers.configured(sandboxed)
    assert demo.button_text == "Se connecter avec le fournisseur de démonstration"
    named = sandboxed.with_overrides(sandbox=False, oidc_issuer="https://sso.cabinet.fr", oidc_label="Keycloak")
    assert providers.configured(named)[0].button_text == "Se connecter avec Keycloak"
    unnamed = named.with_overrides(oidc_label="")
    assert providers.configured(unnamed)[0].button_text == "Se connecter avec l'authentification unique du cabinet"


def test_only_a_true_email_verified_vouches_for_an_address(settings: Settings) -> None:
    google = providers.Provider("google", "https://accounts.google.com", "id", "secret", "")
    microsoft = providers.Provider("microsoft", TENANT, "id", "secret", "")
    assert google.email_verified({"email_verified": True})
    assert google.email_verified({"email_verified": "true"})
    for unsure in (False, "false", 1, None, "yes"):
        assert not google.email_verified({"email_verified": unsure})
    assert not google.email_verified({"xms_edov": True})
    assert microsoft.email_verified({"xms_edov": True})
    assert microsoft.email_verified({"xms_edov": "1"})
    assert not microsoft.email_verified({"email": "a@b.fr"})


def test_google_tokens_may_name_their_issuer_without_the_scheme() -> None:
    google = providers.Provider("google", "https://accounts.google.com", "id", "secret", "")
    assert google.token_issuers == ["https://accounts.google.com", "accounts.google.com"]
    assert providers.Provider("oidc", "https://sso.cabinet.fr", "id", "secret", "").token_issuers == [
        "https://sso.cabinet.fr"
    ]
