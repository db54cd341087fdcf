"""Z de caisse against the sandbox: the real job, re-run and concurrent, and the mode switched mid-way.

Each day of each register is ONE entry (and its closing's cash differences, an entry of their
own); the books it makes are exactly those of the same days posted ticket by ticket in another
dossier connected to the same account.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from portal.integrations.commerce import sync
from portal.integrations.commerce.models import CommerceEntry, CommerceEntryLine, CommerceSetup
from portal.sandbox.commerce import CommerceState
from portal.settings import Settings
from tests import commerce_fixtures
from tests.integrations.commerce.test_sync import (
    TODAY,
    Maker,
    _connect,
    _reference,
    _sync,
    _unbalanced,
    live,
    portal_today,
)

commerce = commerce_fixtures.commerce
commerce_settings = commerce_fixtures.commerce_settings
__all__ = ["commerce", "commerce_settings", "live", "portal_today"]


async def _summarise(maker: Maker, connection_id: uuid.UUID, *, on: bool = True) -> None:
    async with maker() as session, session.begin():
        await session.execute(
            update(CommerceSetup).where(CommerceSetup.connection_id == connection_id).values(summarise_days=on)
        )


async def _books(maker: Maker, dossier_id: uuid.UUID) -> dict[str, int]:
    """Each account's net movement (cents) over the dossier's posted entries."""
    async with maker() as session:
        rows = await session.execute(
            select(CommerceEntryLine.account, func.sum(CommerceEntryLine.debit - CommerceEntryLine.credit))
            .join(CommerceEntry, CommerceEntry.id == CommerceEntryLine.entry_id)
            .where(CommerceEntry.dossier_id == dossier_id)
            .group_by(CommerceEntryLine.account)
        )
        return {account: int(amount) for account, amount in rows if amount}


async def _kinds_per_day(maker: Maker, dossier_id: uuid.UUID) -> dict[dt.date, Counter[str]]:
    async with maker() as session:
        rows = await session.execute(
            select(CommerceEntry.business_date, CommerceEntry.kind, CommerceEntry.journal_code).where(
                CommerceEntry.dossier_id == dossier_id
            )
        )
        found: dict[dt.date, Counter[str]] = {}
        for day, kind, journal in rows:
            found.setdefault(day, Counter())[f"{kind}:{journal}" if kind == "z" else kind] += 1
        return found


async def _witness(maker: Maker, settings: Settings, commerce: CommerceState, days: int) -> uuid.UUID:
    """The same account in another dossier, ticket by ticket: the books a Z must give."""
    dossier_id, connection_id = await _connect(maker, settings, commerce, days=days)
    await _reference(maker, settings, connection_id)
    await _sync(maker, settings, connection_id)
    return dossier_id


async def test_z_mode_posts_one_entry_per_register_and_day_even_run_three_times_at_once(
    live: Maker, commerce_settings: Settings, commerce: CommerceState
) -> None:
    dossier_id, connection_id = await _connect(live, commerce_settings, commerce, days=3)
    await _reference(live, commerce_settings, connection_id)
    await _summarise(live, connection_id)
    results = await asyncio.gather(*(_sync(live, commerce_settings, connection_id) for _ in range(3)))
    assert all("Résultat" not in result for result in results), results
    again = await _sync(live, commerce_settings, connection_id)  # and once more, later
    assert again
    per_day = await _kinds_per_day(live, dossier_id)
    assert set(per_day) <= set(sync.days_between(TODAY - dt.timedelta(days=3), TODAY))
    assert len(per_day) >= 2
    for day, kinds in per_day.items():
        assert not {"order", "payment", "refund"} & set(kinds), (day, kinds)
        zs = {kind: count for kind, count in kinds.items() if kind.startswith("z:")}
        assert zs, day
        assert set(zs.values()) == {1}, (day, kinds)  # one Z per register (journal) and day
    assert {kind for kinds in per_day.values() for kind in kinds} >= {"z:CA1", "z:CA2"}
    assert await _unbalanced(live) == []
    witness = await _witness(live, commerce_settings, commerce, days=3)
    assert await _books(live, dossier_id) == await _books(live, witness)


async def test_switching_to_z_mid_way_keeps_the_days_already_posted_and_loses_nothing(
    live: Maker, commerce_settings: Settings, commerce: CommerceState, monkeypatch: pytest.MonkeyPatch
) -> None:
    dossier_id, connection_id = await _connect(live, commerce_settings, commerce, days=5)
    await _reference(live, commerce_settings, connection_id)
    switch = TODAY - dt.timedelta(days=2)
    monkeypatch.setattr(sync, "today", lambda: switch)
    await _sync(live, commerce_settings, connection_id)  # ticket by ticket up to the switch
    await _summarise(live, connection_id)
    monkeypatch.setattr(sync, "today", lambda: TODAY)
    await _sync(live, commerce_settings, connection_id)
    per_day = await _kinds_per_day(live, dossier_id)
    for day, kinds in per_day.items():
        if day <= switch:  # posted (final) before the switch: as they were
            assert kinds["order"] > 0, day
            assert not any(kind.startswith("z") for kind in kinds), (day, kinds)
        else:
            assert kinds["order"] == 0, (day, kinds)
            assert any(kind.startswith("z:") for kind in kinds), (day, kinds)
    witness = await _witness(live, commerce_settings, commerce, days=5)
    assert await _books(live, dossier_id) == await _books(live, witness)
    assert await _unbalanced(live) == []
