"""Files waiting for their import: stored under random names in ``var/imports``, written atomically.

The name a person gave the file is kept with the import for display and for the FEC
name rules; it is never used as a path.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import BinaryIO

from portal.expenses.receipts import display_name

_STORAGE_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.fec$")
CHUNK = 1 << 20

__all__ = ["ImportFiles", "TooLargeError", "display_name"]


class TooLargeError(ValueError):
    """The file is larger than the limit; nothing was kept."""


class ImportFiles:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def save(self, source: BinaryIO) -> tuple[str, int]:
        """Copy ``source`` under a new random name; (name, size). Raises ``TooLargeError``. Blocking."""
        token = secrets.token_hex(16)
        name = f"{token[:2]}/{token}.fec"
        folder = self.root / token[:2]
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                size = self._copy(source, handle)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).replace(self.root / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return name, size

    def _copy(self, source: BinaryIO, target: BinaryIO) -> int:
        size = 0
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise TooLargeError(size)
            target.write(chunk)
        return size

    def path(self, storage_name: str) -> Path:
        if not _STORAGE_NAME.match(storage_name):
            raise ValueError(f"not an import storage name: {storage_name!r}")
        return self.root / storage_name

    def discard(self, storage_name: str) -> None:
        try:
            self.path(storage_name).unlink(missing_ok=True)
        except (ValueError, OSError):
            return
