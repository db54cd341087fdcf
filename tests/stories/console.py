"""What the browser reports that a person would call broken: script errors."""

from __future__ import annotations

from playwright.async_api import Page


def watch_errors(page: Page) -> list[str]:
    """Collect script errors on ``page``. Deliberate 4xx answers are logged as "resource" errors: not these."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    return errors
