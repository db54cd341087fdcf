"""The browser stories' fixtures: Chromium through Playwright, and the portal served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from playwright.async_api import Browser, Playwright, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.jobs.runtime import Runtime
from portal.settings import Settings
from tests.browsing import loopback_listener, serving
from tests.smtp import Inbox, smtp_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXPECT_TIMEOUT_MS = 15_000


@pytest.fixture
async def live_url(committed: async_sessionmaker[AsyncSession], settings: Settings) -> AsyncIterator[str]:
    """The portal served by uvicorn on loopback, with the outbox relay and the test workers.

    On a socket bound before the server starts: no other test process can take its port.
    """
    app = create_app(settings, background=True, embedded_worker=False, migrate_on_start=False)
    async with loopback_listener() as (listener, base), serving(app, listener):
        yield base


@pytest.fixture(scope="session")
async def _playwright() -> AsyncIterator[Playwright]:
    """Playwright's driver, started once per test process."""
    if not await anyio.Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test installs it)")
    # Playwright's 5 s default for expect() assumes a machine of its own; here Chromium, the
    # portal and its workers share the CPU with the other test processes (make test runs -n).
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    async with async_playwright() as playwright:
        yield playwright
        if _CHROMIUM.instance is not None and _CHROMIUM.instance.is_connected():
            await _CHROMIUM.instance.close()


class _Chromium:
    """One Chromium per test process (starting it costs about a CPU-second), launched again if it died."""

    def __init__(self) -> None:
        self.instance: Browser | None = None

    async def get(self, playwright: Playwright) -> Browser:
        if self.instance is None or not self.instance.is_connected():
            self.instance = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self.instance


_CHROMIUM = _Chromium()


@pytest.fixture
async def browser(_playwright: Playwright) -> AsyncIterator[Browser]:
    """The process's Chromium; every context a test opened (cookies, storage, pages) is closed after it,
    so each test starts as in a fresh browser."""
    instance = await _CHROMIUM.get(_playwright)
    yield instance
    for context in list(instance.contexts):
        await context.close()


@pytest.fixture
def inbox(jobs: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server the test workers send through."""
    with smtp_server() as (url, received):
        monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(smtp_url=url, dev_mail_page=False))
        yield received
