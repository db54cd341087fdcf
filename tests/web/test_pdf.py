"""Printing a template as PDF: A4, French dates and numbers, offline fonts, nothing fetched from outside."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portal.settings import Settings
from portal.web import pdf
from tests.pdfs import page_count, pdf_fonts, pdf_info, pdf_text, squeezed

TEMPLATE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<link rel="stylesheet" href="css/portal.css">
<style>@page { size: A4; margin: 2cm } body { font-family: "DejaVu Sans", sans-serif }</style></head>
<body>
<h1>{{ _("Rapport") }} – {{ name }}</h1>
<p>{{ day | long_date }} · {{ amount | euros }} · {{ rate | decimal }} %</p>
{% for url in urls %}<img src="{{ url }}" alt="">{% endfor %}
</body></html>
"""


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="


@pytest.fixture
def document_settings(settings: Settings, tmp_path: Path) -> Settings:
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "essai.html").write_text(TEMPLATE, encoding="utf-8")
    return dataclasses.replace(settings, templates_dir=tmp_path)


def _context(**more: Any) -> dict[str, Any]:
    return {"name": "Boulangerie Éléonore", "day": dt.date(2026, 12, 7), "amount": Decimal("1234567.49"),
            "rate": Decimal("12.5"), "urls": [], **more}  # fmt: skip


async def test_a_template_prints_as_an_a4_pdf_with_french_dates_and_numbers(document_settings: Settings) -> None:
    document = await pdf.render_pdf(document_settings, "documents/essai.html", **_context())
    assert document.startswith(b"%PDF-")
    text = squeezed(pdf_text(document))
    assert "Rapport – Boulangerie Éléonore" in text
    assert "7 décembre 2026 · 1 234 567 € · 12,5 %" in text
    assert page_count(document) == 1
    assert "(A4)" in pdf_info(document)
    assert "DejaVu-Sans" in pdf_fonts(document)  # the machine's font, embedded: nothing downloaded

    english = await pdf.render_pdf(document_settings, "documents/essai.html", locale="en", **_context())
    assert "7 December 2026 · €1,234,567 · 12.5 %" in squeezed(pdf_text(english)).replace("1,234,567 €", "€1,234,567")


async def test_printing_reaches_no_network_and_no_file_outside_the_static_folder(
    document_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        connections.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    urls = ["http://example.com/logo.png", "https://example.com/font.woff2", "file:///etc/hostname",
            "../../../../etc/hostname", "ftp://example.com/x.png",
            "data:image/png;base64," + PIXEL]  # fmt: skip
    document = await pdf.render_pdf(document_settings, "documents/essai.html", **_context(urls=urls))
    assert document.startswith(b"%PDF-")
    assert connections == []


def test_the_fetcher_serves_static_files_and_data_urls_only(settings: Settings) -> None:
    fetcher = pdf.static_only_fetcher(settings.static_dir)
    css = fetcher.fetch((settings.static_dir / "css" / "portal.css").resolve().as_uri())
    assert css.content_type == "text/css"
    assert b"{" in css.read()
    assert fetcher.fetch("data:text/plain,bonjour").read() == b"bonjour"
    for url in ("http://127.0.0.1:8000/static/css/portal.css", "https://example.com/", "file:///etc/hostname",
                (settings.static_dir / ".." / "pyproject.toml").as_uri(), "ftp://example.com/x"):  # fmt: skip
        with pytest.raises(pdf.RefusedResourceError):
            fetcher.fetch(url)


async def test_printing_runs_beside_the_event_loop(document_settings: Settings) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    try:
        await pdf.render_pdf(document_settings, "documents/essai.html", **_context(name="x" * 2000))
    finally:
        ticker.cancel()
    assert ticks > 3  # the loop went on while WeasyPrint worked


def test_formats() -> None:
    assert pdf.euros(None) == "—"
    assert pdf.euros(Decimal("-1500.4")).replace("\u202f", " ").replace("\xa0", " ") == "-1 500 €"
    assert pdf.euros(Decimal("2.5"), digits=2).replace("\xa0", " ") == "2,50 €"
    assert pdf.decimal(None) == "—"
    assert pdf.decimal(Decimal(45)) == "45,0"
    assert pdf.long_date(None) == ""
    assert pdf.long_date(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == "1 janvier 2027"  # Paris time


async def test_printing_leaves_pillow_refusing_truncated_images(document_settings: Settings) -> None:
    """WeasyPrint loosens Pillow for the whole process when imported; the receipts' check must not see it."""
    import io  # noqa: PLC0415 - this test only

    from PIL import Image  # noqa: PLC0415

    from portal.expenses.receipts import ReceiptError, detect  # noqa: PLC0415

    picture = io.BytesIO()
    Image.effect_noise((64, 64), 80).convert("RGB").save(picture, format="PNG")
    whole = picture.getvalue()
    truncated = whole[: len(whole) // 2]
    await pdf.render_pdf(document_settings, "documents/essai.html", **_context())
    assert detect(whole) == "image/png"
    with pytest.raises(ReceiptError):
        detect(truncated)
