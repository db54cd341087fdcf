"""GET and HEAD requests read SQLite without taking its single write lock; other methods take it up front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from portal.db.engine import make_engine, read_only_requests
from portal.integrations.pennylane.controllers import CALLBACK_PATH


@pytest.mark.parametrize(
    ("method", "path", "begin"),
    [
        ("GET", "/entreprises", "BEGIN"),
        ("HEAD", "/entreprises", "BEGIN"),
        ("POST", "/entreprises", "BEGIN IMMEDIATE"),
        ("GET", CALLBACK_PATH, "BEGIN IMMEDIATE"),  # Pennylane's redirect back stores the authorisation
    ],
)
async def test_a_request_begins_as_its_method_allows(tmp_path: Path, method: str, path: str, begin: str) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.sqlite3'}")
    issued: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: issued.append(args[2]))

    async def page(_scope: Any, _receive: Any, _send: Any) -> None:
        async with engine.connect() as connection, connection.begin():
            await connection.execute(text("SELECT 1"))

    try:
        scope = {"type": "http", "method": method, "path": path}
        await read_only_requests(page)(scope, None, None)  # type: ignore[arg-type]
    finally:
        await engine.dispose()
    begins = [statement for statement in issued if statement.startswith("BEGIN")]
    assert begins == [begin]


async def test_a_reader_is_not_blocked_by_a_writer_holding_the_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.sqlite3'}")
    read: list[int] = []

    async def page(_scope: Any, _receive: Any, _send: Any) -> None:
        async with engine.connect() as connection, connection.begin():
            read.append((await connection.execute(text("SELECT count(*) FROM t"))).scalar_one())

    try:
        async with engine.connect() as writer:
            async with writer.begin():
                await writer.execute(text("CREATE TABLE t (x INTEGER)"))
            await writer.begin()  # BEGIN IMMEDIATE: the write lock, held while the page is read
            await writer.execute(text("INSERT INTO t VALUES (1)"))
            # A write transaction would wait busy_timeout (30 s) here; the GET reads the last commit at once.
            await read_only_requests(page)({"type": "http", "method": "GET"}, None, None)  # type: ignore[arg-type]
            await writer.commit()
    finally:
        await engine.dispose()
    assert read == [0]


def test_the_flag_is_set_before_authentication_opens_the_request_session() -> None:
    from portal.app import create_app  # noqa: PLC0415 - the app only for this check

    app = create_app(background=False, embedded_worker=False, migrate_on_start=False)
    authentication = next(i for i, middleware in enumerate(app.middleware) if "Define" in type(middleware).__name__)
    assert app.middleware.index(read_only_requests) < authentication
