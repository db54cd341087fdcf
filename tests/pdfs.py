"""Reading the PDFs the portal prints, with poppler-utils (``make setup`` installs it): their text, a page as PNG."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageStat


def pdf_text(pdf: bytes) -> str:
    """The document's text (``pdftotext -layout``), spaces of every kind made plain, runs of them made one."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(pdf)
        out = subprocess.run(["pdftotext", "-layout", str(source), "-"], capture_output=True, check=True, timeout=60)
    text = out.stdout.decode()
    for space in ("\u00a0", "\u202f", "\u2009"):
        text = text.replace(space, " ")
    return text


def squeezed(text: str) -> str:
    return " ".join(text.split())


def pdf_info(pdf: bytes) -> str:
    """``pdfinfo``'s report: pages, page size (``(A4)``)…"""
    return subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True, timeout=60).stdout.decode()


def pdf_fonts(pdf: bytes) -> str:
    """``pdffonts``' list of the fonts the document uses, embedded or not."""
    return subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True, check=True, timeout=60).stdout.decode()


def page_count(pdf: bytes) -> int:
    pages = next(line for line in pdf_info(pdf).splitlines() if line.startswith("Pages:"))
    return int(pages.split()[1])


def first_page_png(pdf: Path, target: Path) -> Path:
    """The first page drawn at 50 dpi (``pdftoppm -png -r 50 -f 1 -l 1``); the PNG file."""
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(target.with_suffix(""))],
        check=True, timeout=60,
    )  # fmt: skip
    return target.with_suffix(".png")


def is_blank(png: Path) -> bool:
    """Every pixel the same colour (or almost): nothing was drawn."""
    with Image.open(png) as image:
        extrema = ImageStat.Stat(image.convert("L")).extrema[0]
    return extrema[1] - extrema[0] < 16
