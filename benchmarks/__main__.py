"""``python -m benchmarks``: every benchmark in turn, figures on standard output."""

from __future__ import annotations

import logging

from benchmarks import foundation

logging.basicConfig(level=logging.WARNING)
for noisy in ("httpx", "dramatiq"):
    logging.getLogger(noisy).setLevel(logging.WARNING)

foundation.run()
