"""The Pennylane sandbox served by uvicorn on a loopback port, and settings that point the client at it.

The server lives for the whole run (one event loop for the session); each test gets a
fresh sandbox state, so codes, tokens, exports and rate counts never leak between tests.
``tests/conftest.py`` loads these fixtures for the whole suite (the portal's clients and the
sandbox's own tests use them); the server starts only when a test asks for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from portal.sandbox import create_sandbox_app
from portal.sandbox.oidc import OidcState
from portal.sandbox.oidc import reset_state as reset_oidc_state
from portal.sandbox.pennylane import SandboxState, reset_state
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from portal.sso import openid
from tests.browsing import loopback_listener, serving


@pytest.fixture(scope="session")
async def sandbox_url(settings: Settings) -> AsyncIterator[str]:
    """Where the standalone sandbox listens: ``http://127.0.0.1:<port>``."""
    async with loopback_listener() as (listener, base), serving(create_sandbox_app(settings), listener):
        yield base


@pytest.fixture
def sandbox() -> SandboxState:
    """A fresh sandbox state for this test, to read and tune."""
    return reset_state()


@pytest.fixture
def pennylane_settings(settings: Settings, sandbox_url: str, sandbox: SandboxState) -> Settings:
    base = f"{sandbox_url}/sandbox/pennylane"
    return settings.with_overrides(
        pennylane_oauth_url=f"{base}/oauth",
        pennylane_api_url=f"{base}/api/external/v2",
        pennylane_client_id=SANDBOX_CLIENT_ID,
        pennylane_client_secret=SANDBOX_CLIENT_SECRET,
        pennylane_poll_seconds=0.05,
        pennylane_export_timeout_seconds=5.0,
    )


@pytest.fixture
def oidc_sandbox() -> OidcState:
    """A fresh OpenID sandbox state for this test (the portal forgets the discovery and keys it kept)."""
    openid.forget()
    return reset_oidc_state()
