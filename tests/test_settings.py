"""Settings declared once: every field is read from its own variable, and the defaults derive as documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from portal.settings import OUTBOX, PENNYLANE_OAUTH_URL, SANDBOX_CLIENT_ID, Settings, load_settings

SAMPLES = {"str": "x-portal", "int": "7", "float": "2.5", "bool": "1"}
EXPECTED = {"str": "x-portal", "int": 7, "float": 2.5, "bool": True}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for item in dataclasses.fields(Settings):
        monkeypatch.delenv(f"PORTAL_{item.name.upper()}", raising=False)
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path))
    return monkeypatch


@pytest.mark.parametrize(
    "item",
    [item for item in dataclasses.fields(Settings) if item.metadata["env"] and str(item.type) in SAMPLES],
    ids=lambda item: item.name,
)
def test_every_setting_is_read_from_its_own_variable(
    environment: pytest.MonkeyPatch, item: dataclasses.Field[Any]
) -> None:
    # The dead-worker delay must stay at least three heartbeats.
    environment.setenv("PORTAL_JOB_HEARTBEAT_SECONDS", "0.5")
    environment.setenv("PORTAL_JOB_DEAD_AFTER_SECONDS", "100")
    environment.setenv(f"PORTAL_{item.name.upper()}", SAMPLES[str(item.type)])
    assert getattr(load_settings(), item.name) == EXPECTED[str(item.type)]


def test_the_defaults_derive_from_the_settings_above_them(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'portal.sqlite3'}"
    # The development mail page is never on by default, outbox or not: only the demo turns it on.
    assert (settings.base_url, settings.smtp_url, settings.dev_mail_page) == ("http://127.0.0.1:8000", OUTBOX, False)
    assert settings.mail_page_dir is None
    assert (settings.pennylane_oauth_url, settings.pennylane_client_id) == (PENNYLANE_OAUTH_URL, "")
    assert (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_google_issuer) == (
        "",
        "",
        "https://accounts.google.com",
    )
    assert settings.secret_key == (tmp_path / "secret_key").read_text(encoding="ascii")
    assert settings.encryption_keys == ((tmp_path / "encryption_key").read_text(encoding="ascii"),)
    environment.setenv("PORTAL_PORT", "9000")
    environment.setenv("PORTAL_SANDBOX", "1")
    environment.setenv("PORTAL_SMTP_URL", "smtp://mail:25")
    environment.setenv("PORTAL_ENCRYPTION_KEYS", " a, b ,")
    sandboxed = load_settings()
    assert sandboxed.pennylane_oauth_url == "http://127.0.0.1:9000/sandbox/pennylane/oauth"
    assert sandboxed.commerce_api_url == "http://127.0.0.1:9000/sandbox/commerce/api"
    assert (sandboxed.oidc_issuer, sandboxed.oidc_client_id) == (
        "http://127.0.0.1:9000/sandbox/oidc",
        SANDBOX_CLIENT_ID,
    )
    assert (sandboxed.pennylane_client_id, sandboxed.dev_mail_page) == (SANDBOX_CLIENT_ID, False)
    assert sandboxed.encryption_keys == ("a", "b")
    environment.setenv("PORTAL_BASE_URL", "https://portail.example.fr/")
    assert load_settings().base_url == "https://portail.example.fr"
