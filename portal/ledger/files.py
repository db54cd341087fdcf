"""Files waiting for their import: stored under random names in ``var/imports``, written atomically.

The name a person gave the file is kept with the import for display and for the FEC
name rules; it is never used as a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from portal.web.files import FileStore

EXTENSION = ".fec"


class ImportFiles(FileStore):
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        super().__init__(root, extensions=(EXTENSION,), max_bytes=max_bytes)

    def save(self, source: BinaryIO, extension: str = EXTENSION) -> tuple[str, int]:
        """Copy ``source`` under a new random name; (name, size). Raises ``TooLargeError``. Blocking."""
        return super().save(source, extension)
