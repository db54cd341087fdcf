"""Uploaded files kept on disk: under random names, in a two-level folder, written atomically.

A file is written to a temporary file in its folder, flushed to disk and renamed into
place, so a reader never sees it half-written. The name a person gave the file is kept
beside it in the database for display (``display_name``); it is never used as a path.
Expense receipts and ledger imports each have a store of their own.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


class TooLargeError(ValueError):
    """The file is larger than the store's limit; nothing was kept."""


def display_name(filename: str | None) -> str:
    """The uploaded file's name to show (never used as a path): its last part, printable, 200 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(character for character in name if character.isprintable())
    return name.strip()[:200]


class FileStore:
    """A folder of files with the given extensions, each under a random name chosen here."""

    def __init__(self, root: Path, *, extensions: tuple[str, ...], max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        choices = "|".join(re.escape(extension.removeprefix(".")) for extension in extensions)
        self._storage_name = re.compile(rf"^[0-9a-f]{{2}}/[0-9a-f]{{32}}\.(?:{choices})$")

    def save(self, source: BinaryIO, extension: str) -> tuple[str, int]:
        """Copy ``source`` under a new random name; (name relative to the folder, size).

        Raises ``TooLargeError`` past ``max_bytes``. Blocking.
        """
        token = secrets.token_hex(16)
        name = f"{token[:2]}/{token}{extension}"
        folder = self.root / token[:2]
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")  # mode 0600
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
        """The file of a stored name. The name comes from the database, and is checked all the same."""
        if not self._storage_name.match(storage_name):
            raise ValueError(f"not a storage name of {self.root}: {storage_name!r}")
        return self.root / storage_name

    def discard(self, storage_name: str) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.path(storage_name).unlink(missing_ok=True)
