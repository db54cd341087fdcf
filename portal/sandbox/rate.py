"""The rate limit both sandboxes (Pennylane, the commerce sources) apply to their APIs.

A fixed window per credential, as both providers document theirs: ``limit`` requests per
``window_seconds``, announced by ``ratelimit-*`` headers on every answer and, beyond,
refused with 429 and ``retry-after``. Each sandbox keeps its own tunables and counters in
its state; the counting and the headers are the same and live here.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass


@dataclass
class RateWindow:
    ends: int  # Unix time
    count: int = 0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # Unix time
    retry_after: int


def count_request(
    windows: dict[str, RateWindow], counters: Counter[str], key: str, *, now: float, limit: int, window_seconds: float
) -> RateDecision:
    """Count one request of ``key`` against its window, opened if none is running.

    A window opens with a credential's first request and closes on a whole second at
    least ``window_seconds`` later, so that ``ratelimit-reset`` (whole seconds) is exact.
    """
    window = windows.get(key)
    if window is None or now >= window.ends:
        window = windows[key] = RateWindow(ends=math.ceil(now + window_seconds))
    if window.count >= limit:
        counters["rate_limited"] += 1
        retry_after = max(1, math.ceil(window.ends - now))
        return RateDecision(allowed=False, limit=limit, remaining=0, reset=window.ends, retry_after=retry_after)
    window.count += 1
    counters["api_requests"] += 1
    return RateDecision(allowed=True, limit=limit, remaining=limit - window.count, reset=window.ends, retry_after=0)


def rate_headers(decision: RateDecision) -> dict[str, str]:
    """The ``ratelimit-*`` headers of an answer, and ``retry-after`` on a refusal."""
    headers = {
        "ratelimit-limit": str(decision.limit),
        "ratelimit-remaining": str(decision.remaining),
        "ratelimit-reset": str(decision.reset),
    }
    if not decision.allowed:
        headers["retry-after"] = str(decision.retry_after)
    return headers
