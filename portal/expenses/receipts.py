"""Receipts: what a file really is, and keeping it safely on disk.

The type is found from the content, never from the file name or the browser's
Content-Type: a PDF must start with ``%PDF-`` and end with its ``%%EOF`` marker; an
image must be a JPEG, PNG or WebP that Pillow decodes completely (a renamed text file,
a truncated or corrupt image, a decompression bomb are all refused). Files are stored
in ``var/receipts`` by ``portal.web.files.FileStore`` (random names, written atomically). Files of
deleted lines are removed once the deletion commits.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.expenses.formatting import number
from portal.i18n import N_
from portal.web.files import FileStore, display_name

PDF = "application/pdf"
# Pillow's format name → (Content-Type served, file extension).
IMAGE_TYPES = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
EXTENSIONS = {PDF: ".pdf", **dict(IMAGE_TYPES.values())}
# A receipt photo needs no more: 50 megapixels is a 8,660 × 5,770 picture.
MAX_PIXELS = 50_000_000
_PDF_TAIL = 2048
# A receipt's thumbnail fits this square (twice the size it is shown at, for high-density screens).
THUMBNAIL_PIXELS = 192
THUMBNAIL_TYPE = "image/jpeg"
_DISCARD_AFTER_COMMIT = "portal_expense_receipts_to_discard"

NOT_A_RECEIPT = N_("Le justificatif doit être une image (JPEG, PNG ou WebP) ou un PDF.")
TOO_BIG = N_("Le justificatif dépasse la taille maximale de %(size)s Mo.")
EMPTY = N_("Le fichier du justificatif est vide.")


class ReceiptError(ValueError):
    """The upload is not an acceptable receipt; ``message`` is a French msgid, ``params`` its values."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class CheckedReceipt:
    """An upload found to be an image or a PDF, not yet stored."""

    data: bytes
    content_type: str
    original_name: str

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def detect(data: bytes) -> str:
    """The Content-Type of a PDF or a decodable JPEG/PNG/WebP image; ``ReceiptError`` otherwise. Blocking."""
    if not data:
        raise ReceiptError(EMPTY)
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-_PDF_TAIL:]:
            raise ReceiptError(NOT_A_RECEIPT)
        return PDF
    kind = _decoded_image_format(data)
    if kind not in IMAGE_TYPES:
        raise ReceiptError(NOT_A_RECEIPT)
    return IMAGE_TYPES[kind][0]


def _decoded_image_format(data: bytes) -> str | None:
    """Pillow's name for the format of an image it decodes completely, within ``MAX_PIXELS``; else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES)) as image:
                if image.width * image.height > MAX_PIXELS:
                    return None
                image.load()  # decodes every pixel: a truncated or forged file fails here
                return image.format
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
            SyntaxError, ValueError):  # fmt: skip
        return None


def thumbnail(path: Path, size: int = THUMBNAIL_PIXELS) -> bytes:
    """A stored image receipt reduced to fit ``size`` × ``size`` pixels, upright, as a JPEG. Blocking.

    The file was checked when uploaded (a decodable image within ``MAX_PIXELS``); a JPEG is decoded
    already reduced (``draft``), so a large photo costs little.
    """
    with Image.open(path, formats=list(IMAGE_TYPES)) as image:
        image.draft("RGB", (size, size))
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((size, size))
        if upright.mode in {"RGBA", "LA", "P"}:
            rgba = upright.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            upright = flat
        buffer = io.BytesIO()
        upright.convert("RGB").save(buffer, "JPEG", quality=80, optimize=True)
        return buffer.getvalue()


class ReceiptStore:
    """The receipts folder: checks uploads, writes them atomically, serves and removes them."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.files = FileStore(root, extensions=tuple(EXTENSIONS.values()), max_bytes=max_bytes)

    async def check(self, data: bytes, filename: str | None) -> CheckedReceipt:
        """The upload as a receipt, or ``ReceiptError``: too big, empty, or neither an image nor a PDF."""
        if len(data) > self.max_bytes:
            megabytes = (Decimal(self.max_bytes) / 1_048_576).quantize(Decimal("0.1")).normalize()
            raise ReceiptError(TOO_BIG, size=number(megabytes))
        content_type = await anyio.to_thread.run_sync(detect, data)
        return CheckedReceipt(data=data, content_type=content_type, original_name=display_name(filename))

    def save(self, receipt: CheckedReceipt) -> str:
        """Write the receipt under a new random name; return that name (relative to the folder)."""
        name, _size = self.files.save(io.BytesIO(receipt.data), receipt.extension)
        return name

    def path(self, storage_name: str) -> Path:
        """The file of a stored receipt."""
        return self.files.path(storage_name)

    def discard(self, storage_name: str) -> None:
        self.files.discard(storage_name)

    def discard_after_commit(self, session: Session, storage_name: str) -> None:
        """Remove the file once ``session`` commits (a rolled-back deletion keeps it)."""
        session.info.setdefault(_DISCARD_AFTER_COMMIT, []).append((self, storage_name))


def _after_commit(session: Session) -> None:
    for store, storage_name in session.info.pop(_DISCARD_AFTER_COMMIT, []):
        store.discard(storage_name)


def _after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_DISCARD_AFTER_COMMIT, None)


def install() -> None:
    """Listen on every session for commits that deleted receipts. Idempotent."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
