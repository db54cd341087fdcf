"""GET and HEAD requests read SQLite without taking its single write lock; other methods take it up front."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from portal.app import create_app
from portal.db.engine import make_engine, read_only_requests
from portal.integrations.pennylane.controllers import CALLBACK_PATH
from portal.settings import Settings


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


async def test_the_sqlite_file_and_its_companions_are_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask: new files 644, new folders 755
    try:
        database = tmp_path / "donnees" / "portal.sqlite3"
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with engine.connect() as connection, connection.begin():
                await connection.execute(text("CREATE TABLE essai (valeur TEXT)"))
                await connection.execute(text("INSERT INTO essai VALUES ('secret')"))
            async with engine.connect() as connection:  # the write-ahead log is open while a connection is
                await connection.execute(text("SELECT count(*) FROM essai"))
                modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in database.parent.iterdir()}
        finally:
            await engine.dispose()
    finally:
        os.umask(previous)
    assert {"portal.sqlite3", "portal.sqlite3-wal", "portal.sqlite3-shm"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes
    assert _mode(database.parent) == 0o700


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _modes(folder: Path) -> dict[str, int]:
    return {path.name: _mode(path) for path in folder.iterdir()}


def test_a_database_left_readable_by_others_is_closed_to_them(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # a folder shared on purpose (PORTAL_DATABASE_URL pointing elsewhere)
    database = tmp_path / "portal.sqlite3"
    database.touch(mode=0o644)
    database.chmod(0o644)
    make_engine(f"sqlite+aiosqlite:///{database}")  # no connection yet: the file is closed at once
    assert _mode(database) == 0o600
    assert _mode(tmp_path) == 0o755  # a folder it did not create is left as it is


def test_the_local_data_folder_is_its_owners_only(tmp_path: Path, settings: Settings) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    var_dir.chmod(0o755)
    create_app(
        settings.with_overrides(var_dir=var_dir), background=False, embedded_worker=False, migrate_on_start=False
    )
    assert _mode(var_dir) == 0o700
