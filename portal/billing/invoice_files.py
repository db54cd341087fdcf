"""The Factur-X PDFs of validated invoices and credit notes, kept under ``var/invoices``.

Like the printed reports (``portal.dashboard.reports``): random names in a two-level folder, written to a
temporary file, flushed and renamed into place, so a reader never sees half a file; the name is kept on the
invoice (``Invoice.file_name``) and checked again whenever it is read. Never served as static files: the
invoice pages read them through their own routes.
"""

from __future__ import annotations

import io
from pathlib import Path

from portal.settings import Settings
from portal.web.files import FileStore

EXTENSION = ".pdf"
MAX_BYTES = 20 * 1024 * 1024


class InvoiceFiles(FileStore):
    """The invoices' PDFs under ``var/invoices``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, extensions=(EXTENSION,), max_bytes=MAX_BYTES)


def invoice_files(settings: Settings) -> InvoiceFiles:
    return InvoiceFiles(settings.var_dir / "invoices")


def store(settings: Settings, content: bytes) -> str:
    """Keep ``content`` (a PDF) under a new random name; the name to put in ``Invoice.file_name``. Blocking."""
    name, _size = invoice_files(settings).save(io.BytesIO(content), EXTENSION)
    return name


def path(settings: Settings, name: str) -> Path:
    """The file of a stored name (``ValueError`` for a name this store did not give)."""
    return invoice_files(settings).path(name)


def read(settings: Settings, name: str) -> bytes:
    """The PDF stored under ``name``; ``FileNotFoundError`` when it is gone. Blocking."""
    return path(settings, name).read_bytes()


def discard(settings: Settings, name: str) -> None:
    """Remove a stored PDF (one written for a transaction that then failed); nothing if it is gone."""
    invoice_files(settings).discard(name)
