"""Importing a FEC file from a path, in this process: the ``portal fec import`` command and the demo.

The file takes the same road as an upload: it is copied into the imports folder, an
import is recorded for the dossier, and the same ``run_import`` reads, checks, loads and
activates it; only the worker is this process instead of dramatiq.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.identifiers import IdentifierError, parse
from portal.clients.models import Dossier
from portal.i18n import _
from portal.ledger.files import ImportFiles, display_name
from portal.ledger.importer import Outcome, Progress, run_import
from portal.ledger.models import LedgerImport, LedgerSource
from portal.ledger.services import LedgerService
from portal.settings import Settings


class CommandError(ValueError):
    """What the command says instead of importing (French)."""


@dataclass(frozen=True)
class Imported:
    outcome: Outcome
    record: LedgerImport


async def find_dossier(sessions: Callable[[], AsyncSession], siren: str) -> Dossier:
    """The dossier of a SIREN (or of the SIREN within a SIRET)."""
    try:
        identifier = parse(siren)
    except IdentifierError as invalid:
        raise CommandError(f"{siren} : {_(invalid.message)}") from invalid
    async with sessions() as session:
        dossier = (await session.execute(select(Dossier).where(Dossier.siren == identifier.siren))).scalar()
    if dossier is None:
        raise CommandError(f"Aucun dossier n'a le SIREN {identifier.siren}.")
    return dossier


async def import_path(
    settings: Settings,
    sessions: Callable[[], AsyncSession],
    dossier: Dossier,
    path: Path,
    *,
    filename: str | None = None,
    progress: Progress | None = None,
) -> Imported:
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)

    def store() -> tuple[str, int]:
        with path.open("rb") as handle:
            return files.save(handle)

    storage_name, size = await anyio.to_thread.run_sync(store)
    try:
        async with sessions() as session, session.begin():
            record = await LedgerService(session).request_import(
                None, dossier, source=LedgerSource.COMMAND, filename=display_name(filename or path.name),
                storage_name=storage_name, size_bytes=size, enqueue_job=False,
            )  # fmt: skip
            import_id: uuid.UUID = record.id
        outcome = await run_import(sessions, files.root, import_id, *([progress] if progress else []))
    finally:
        files.discard(storage_name)
    async with sessions() as session:
        stored = await session.get(LedgerImport, import_id)
    assert stored is not None  # noqa: S101 - written just above
    return Imported(outcome=outcome, record=stored)
