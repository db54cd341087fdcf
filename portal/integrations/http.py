"""What the API clients of Pennylane and of the POS / e-commerce sources share about HTTP answers.

Both providers say how long to wait the same way (``retry-after``, a number of seconds or
an HTTP date, on a 429; ``ratelimit-remaining`` / ``ratelimit-reset`` on every answer), so
reading those headers and pacing the next request live here once. What an answer means
(which error, which message) stays with each client.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import anyio
import httpx2

# Longer waits are not spent holding a worker: the error goes up and the job retries later.
MAX_WAIT_SECONDS = 60.0
# ratelimit-reset is a Unix time, as documented; a number below this is read as seconds from now.
UNIX_TIME = 1e9


def retry_after(response: httpx2.Response) -> float:
    """``retry-after`` in seconds (a number or an HTTP date); 1 s when missing or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 1.0


def detail(response: httpx2.Response) -> str:
    """An answer, shortly, for the ``detail`` of an error (logged, never shown)."""
    return f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text[:200]}"


class RatePacer:
    """Holds the next request of one client while the rate window's budget is spent."""

    def __init__(self) -> None:
        self.not_before = 0.0  # time.monotonic() before which no request is sent

    async def pace(self) -> None:
        delay = self.not_before - time.monotonic()
        if delay > 0:
            await anyio.sleep(delay)

    def note(self, response: httpx2.Response) -> None:
        """When the window's budget is spent, hold the next request until it resets."""
        if response.headers.get("ratelimit-remaining", "").strip() != "0":
            return
        try:
            reset = float(response.headers.get("ratelimit-reset", ""))
        except ValueError:
            return
        wait = reset - time.time() if reset > UNIX_TIME else reset
        if 0 < wait <= MAX_WAIT_SECONDS:
            self.not_before = max(self.not_before, time.monotonic() + wait)
