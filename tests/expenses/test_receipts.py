"""Receipts: the type is read from the content, files are written atomically under server-chosen names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from portal.expenses.receipts import PDF, ReceiptError, ReceiptStore, detect
from portal.web.files import display_name
from tests.factories.expenses import jpeg_bytes, pdf_bytes, png_bytes


def _webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "WEBP")
    return buffer.getvalue()


def test_images_and_pdfs_are_recognised_by_their_content() -> None:
    assert detect(png_bytes()) == "image/png"
    assert detect(jpeg_bytes()) == "image/jpeg"
    assert detect(_webp()) == "image/webp"
    assert detect(pdf_bytes()) == PDF


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"%PDF-1.7\nno end marker",
        png_bytes()[:40],  # truncated
        b"GIF89a" + b"\x00" * 40,
        b"MZ\x90\x00" + b"\x00" * 60,  # an executable
    ],
)
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(ReceiptError):
        detect(data)


def test_a_gif_or_a_bmp_is_not_a_receipt_even_when_valid() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "BMP")
    with pytest.raises(ReceiptError):
        detect(buffer.getvalue())


def test_a_decompression_bomb_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")  # 100 megapixels, a few kilobytes
    with pytest.raises(ReceiptError):
        detect(buffer.getvalue())


async def test_the_store_checks_size_and_writes_atomically(tmp_path: Path) -> None:
    store = ReceiptStore(tmp_path / "receipts", max_bytes=1_000)
    with pytest.raises(ReceiptError) as too_big:
        await store.check(b"\x00" * 1_001, "big.png")
    assert "taille maximale" in too_big.value.message
    receipt = await store.check(png_bytes(), "C:\\Users\\claire\\ticket.png")
    assert receipt.original_name == "ticket.png"
    first, second = store.save(receipt), store.save(receipt)
    assert first != second
    assert store.path(first).read_bytes() == png_bytes()
    assert store.path(first).suffix == ".png"
    assert "ticket" not in first
    assert oct(store.path(first).stat().st_mode & 0o777) == "0o600"
    assert [path.name for path in store.path(first).parent.iterdir() if path.name.startswith(".upload-")] == []
    store.discard(first)
    assert not store.path(first).exists()
    with pytest.raises(ValueError, match="storage name"):
        store.path("../../secret_key")


def test_display_names_are_the_last_part_and_printable() -> None:
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("ticket\r\n.png") == "ticket.png"
    assert display_name(None) == ""
