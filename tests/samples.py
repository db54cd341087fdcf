"""Real sample files from other software, kept unchanged in ``tests/data`` with their licences.

``tests/data/SOURCES.md`` says where each comes from and what is peculiar about it. A test
that needs a variant copies a file into its own temporary folder; these are never edited.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
FEC_SAMPLES = DATA / "fec"
