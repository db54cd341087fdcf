"""``python -m benchmarks [name …]``: every benchmark in turn (or those named), figures on standard output.

They share one database, emptied and migrated first; each benchmark empties it again for itself.
"""

from __future__ import annotations

import logging
import sys

from benchmarks import commerce, dossiers, fec, foundation
from benchmarks.environment import bench_settings

logging.basicConfig(level=logging.WARNING)
for noisy in ("httpx", "dramatiq"):
    logging.getLogger(noisy).setLevel(logging.WARNING)

BENCHMARKS = {"foundation": foundation.run, "dossiers": dossiers.run, "fec": fec.run, "commerce": commerce.run}
chosen = sys.argv[1:] or list(BENCHMARKS)
unknown = sorted(set(chosen) - BENCHMARKS.keys())
if unknown:
    sys.exit(f"unknown benchmark(s): {', '.join(unknown)} (choose from: {', '.join(BENCHMARKS)})")
settings = bench_settings()
for name in chosen:
    BENCHMARKS[name](settings)
