"""The commerce sandbox for tests: a fresh state on a fixed date, settings that point the client
at it, and its consent page answered over HTTP as the merchant's browser would.

A test module makes the fixtures its own by naming them (``commerce = commerce_fixtures.commerce``).
The sandbox itself is the one ``tests/sandboxes.py`` serves (``sandbox_url``):
the commerce routes are mounted next to Pennylane's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from portal.integrations.commerce.oauth import AuthorizationStart, finish_authorization, start_authorization
from portal.integrations.commerce.sources import Source, get_source
from portal.sandbox.commerce import CommerceState, reset_state
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from tests.consent import answer_consent, consent_form

# A Tuesday at 15:00: its history crosses the new year and the change to summer time (30 March).
TODAY = dt.date(2025, 4, 15)
# The portal's callback; never fetched: the tests stop at the redirect and hand its URL over.
REDIRECT_URI = "http://127.0.0.1:9/connexions/caisse/retour"


@pytest.fixture
def commerce() -> CommerceState:
    """A fresh commerce sandbox state for this test, on ``TODAY`` at 15:00, to read and tune."""
    return reset_state(today=TODAY)


@pytest.fixture
def commerce_settings(settings: Settings, sandbox_url: str, commerce: CommerceState) -> Settings:
    base = f"{sandbox_url}/sandbox/commerce"
    return settings.with_overrides(
        commerce_api_url=f"{base}/api",
        commerce_oauth_url=f"{base}/oauth",
        commerce_client_id=SANDBOX_CLIENT_ID,
        commerce_client_secret=SANDBOX_CLIENT_SECRET,
    )


def source(code: str) -> Source:
    found = get_source(code)
    assert found is not None
    return found


def form_of(page: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The consent form's action, hidden fields, and accounts (name → consumer id)."""
    return consent_form(page, "consumer_id")


async def consent(
    settings: Settings, *, code: str = "lightspeed", account: str = "Boulangerie Martin", decision: str = "allow"
) -> tuple[AuthorizationStart, str]:
    """Start an authorization, answer the consent page; the start and the URL the source sends back to."""
    start = start_authorization(settings, source(code), REDIRECT_URI)
    location = await answer_consent(start.url, REDIRECT_URI, field="consumer_id", choice=account, decision=decision)
    return start, location


async def connect(
    settings: Settings, *, code: str = "lightspeed", account: str = "Boulangerie Martin"
) -> dict[str, Any]:
    """The whole authorization: the token dict the portal would store."""
    start, callback = await consent(settings, code=code, account=account)
    return await finish_authorization(
        settings,
        redirect_uri=REDIRECT_URI,
        authorization_response=callback,
        expected_state=start.state,
        code_verifier=start.code_verifier,
        source=source(code),
    )
