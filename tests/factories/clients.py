"""Dossiers."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import luhn

from portal.clients.models import Dossier

_sequence = itertools.count(10_000_000)


def valid_siren() -> str:
    base = str(next(_sequence))
    return base + luhn.calc_check_digit(base)


async def make_dossier(session: AsyncSession, *, name: str = "Entreprise Test", **values: object) -> Dossier:
    values.setdefault("siren", valid_siren())
    dossier = Dossier(name=name, **values)
    session.add(dossier)
    await session.flush()
    return dossier
