"""Streamed exports: CSV a spreadsheet opens safely, and rows read and written in chunks.

An export's body is sent after the request's session is closed, so it reads through a session
of its own (``reader_sessions``), a chunk at a time: a large export never sits whole in memory.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from litestar import Request
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

EXPORT_CHUNK = 2_000
"""Rows per chunk of a streamed export, and per read of the rows behind it."""

T = TypeVar("T")


def reader_sessions(request: Request[Any, Any, Any]) -> Callable[[], AsyncSession]:
    """The app's session maker: a streamed body is sent after the request's session is closed."""
    maker: Callable[[], AsyncSession] = request.app.state[request.app.state.session_maker_key]
    return maker


# A plain number (``-1234,50``, ``-12.5``) is no formula: it stays a number for the spreadsheet.
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (a name typed as "=HYPERLINK(…)", say)."""
    if value[:1] in {"=", "+", "-", "@", "\t", "\r"} and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_stream(rows: AsyncIterator[Iterable[str]], columns: Iterable[str], filename: str) -> Stream:
    """``rows`` under ``columns`` as a CSV download (UTF-8 with BOM, ``;``), every cell spreadsheet-safe."""

    async def lines() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        writer.writerow(columns)
        yield ("\ufeff" + buffer.getvalue()).encode()
        async for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([spreadsheet_safe(value) for value in row])
            yield buffer.getvalue().encode()

    return download(lines(), media_type="text/csv", charset="utf-8", filename=filename)


def download(body: AsyncIterator[bytes], *, media_type: str, charset: str, filename: str) -> Stream:
    """``body`` (bytes already in ``charset``) as a file download: ``media_type; charset=…`` once.

    Litestar appends the response's encoding to any ``text/`` type, so the charset is given to it
    as the encoding, never written into the media type (which would say it twice).
    """
    return Stream(
        body,
        media_type=media_type,
        encoding=charset,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def in_chunks(rows: AsyncIterator[T], size: int = EXPORT_CHUNK) -> AsyncIterator[list[T]]:
    """``rows`` in lists of ``size``; at least one list, empty when there are no rows (a file's header
    is written all the same)."""
    batch: list[T] = []
    sent = False
    async for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch, sent = [], True
    if batch or not sent:
        yield batch
