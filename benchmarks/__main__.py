"""``python -m benchmarks [name …]``: every benchmark in turn (or those named), figures on standard output.

Each benchmark runs in a process of its own (``python -m benchmarks NAME``), so that none inherits
another's job runtime, broker, worker threads or loggers: a stub broker's queue joined by one
benchmark is not the one a worker thread of the previous benchmark still consumes. They share one
database: each process empties and migrates it first. The run goes on after a benchmark that
fails and exits non-zero at the end, naming those that failed.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time

from benchmarks import commerce, dashboard, dossiers, fec, foundation, invoices, report
from benchmarks.environment import bench_settings

BENCHMARKS = {
    "foundation": foundation.run, "dossiers": dossiers.run, "fec": fec.run, "commerce": commerce.run,
    "report": report.run, "dashboard": dashboard.run, "invoices": invoices.run,
}  # fmt: skip


def run_each_in_its_own_process(names: list[str]) -> int:
    """Every benchmark named, one child process each, in turn; the exit code: 0 when all ended well."""
    failed = []
    for name in names:
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-m", "benchmarks", name], check=False).returncode  # noqa: S603
        print(
            f"[{name}: {'done' if code == 0 else f'FAILED (exit code {code})'} in {time.monotonic() - started:.0f} s]"
        )
        sys.stdout.flush()
        if code != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    """Run the benchmarks named in ``argv`` (all of them if none); the exit code."""
    logging.basicConfig(level=logging.WARNING)
    # One line per HTTP request (httpx, authlib's httpx2 in the syncs) or per message would drown the
    # figures, even after Litestar's logging set the root logger to INFO; warnings still show.
    for noisy in ("httpx", "httpx2", "httpcore", "dramatiq", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    chosen = argv or list(BENCHMARKS)
    unknown = sorted(set(chosen) - BENCHMARKS.keys())
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)} (choose from: {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    if len(chosen) > 1:
        return run_each_in_its_own_process(chosen)
    BENCHMARKS[chosen[0]](bench_settings())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
