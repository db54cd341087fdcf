"""``python -m benchmarks``: one benchmark's runtime never leaks into the next, and the output stays figures.

The benchmarks themselves take minutes; here stand-ins take the place of ``foundation`` and
``commerce`` in every process of the run (through a ``sitecustomize`` module on ``PYTHONPATH``).
The first leaves what a real benchmark leaves: a configured job runtime whose worker ran on the stub
broker, Litestar's logging configuration (the root logger at INFO), an ``httpx2`` line per request;
then it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STAND_INS = """
import logging

import dramatiq
from litestar.logging.config import LoggingConfig

from benchmarks import commerce, foundation
from portal.jobs import runtime


def first(settings):
    jobs = runtime.configure(settings)
    worker = dramatiq.Worker(jobs.broker, worker_threads=1)
    worker.start()
    worker.stop()
    LoggingConfig().configure()  # what create_app leaves behind: the root logger at INFO
    logging.getLogger("httpx2").info("HTTP Request: GET http://127.0.0.1/first")
    print("first ran")
    raise RuntimeError("and failed at its end")


def second(settings):
    leaked = runtime._runtime is not None  # the first one's broker, its stopped worker's queues
    logging.getLogger("httpx2").info("HTTP Request: GET http://127.0.0.1/second")
    print("second ran in a clean runtime" if not leaked else "second ran after the first one's runtime")
    assert not leaked


foundation.run = first
commerce.run = second
"""


def test_each_benchmark_runs_in_a_clean_runtime_even_after_one_that_failed(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(STAND_INS, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env |= {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), "PORTAL_SECRET_KEY": "x" * 40}
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks", "foundation", "commerce"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = finished.stdout + finished.stderr
    assert "first ran" in output
    assert "second ran in a clean runtime" in output, output
    assert "HTTP Request" not in output  # no line per request, even with the root logger at INFO
    # The failing one is reported, and fails the run.
    assert "benchmarks that failed: foundation" in finished.stderr
    assert finished.returncode == 1
