"""Les objectifs of a dossier: a target per KPI (``figures.DEFINITIONS``) for a fiscal year, kept by
the year's closing date, and how far the year's figures have come towards it.

A target is in the KPI's own unit: euros for an amount, % for a rate, days for a delay. Progress
is realised ÷ target, in %. For the client payment delay (DSO) and a charge, lower is better
(``Definition.lower_is_better``): the objective is reached when the figure is at or under its target;
for everything else, at or over it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.locks import lock_dossier
from portal.dashboard.amounts import NUMBER_MAX_LENGTH, NumberError, parse_number, typed
from portal.dashboard.budget import CHARGE_KEYS, REVENUE_KEY
from portal.dashboard.models import Objective
from portal.i18n import N_
from portal.ledger import figures
from portal.ledger.models import YearFigures

MAX_DAYS = Decimal(3660)
MAX_RATE = Decimal(1000)
DAYS_OUT_OF_RANGE = N_("Un délai s'exprime en jours, entre 0 et 3 660.")
RATE_OUT_OF_RANGE = N_("Un taux s'exprime en %%, entre -1 000 et 1 000.")
REACHED = N_("Objectif atteint")
NOT_REACHED = N_("Objectif non atteint")
UNITS: Mapping[figures.Kind, str] = {
    figures.Kind.AMOUNT: N_("€"),
    figures.Kind.RATE: N_("%%"),
    figures.Kind.DAYS: N_("jours"),
}


def lower_is_better(key: str) -> bool:
    """A delay to be paid (DSO) or a charge: the lower the figure, the better (as the figures define it)."""
    definition = figures.BY_KEY.get(key)
    return key in CHARGE_KEYS or (definition is not None and definition.lower_is_better)


@dataclass(frozen=True)
class Progress:
    """Where a figure stands against its objective."""

    key: str
    realised: Decimal | None
    target: Decimal | None
    percent: Decimal | None  # realised ÷ target × 100, 1 dp; None without both, or for a target ≤ 0
    lower_is_better: bool
    achieved: bool | None  # None without a target or a realised figure

    @property
    def verdict(self) -> str:
        """« Objectif atteint » / « Objectif non atteint » (msgid), or empty when it cannot be said."""
        if self.achieved is None:
            return ""
        return REACHED if self.achieved else NOT_REACHED

    @property
    def bar(self) -> int:
        """The percentage a progress bar shows, 0 to 100."""
        return 0 if self.percent is None else max(0, min(100, int(self.percent)))


def objective_progress(key: str, realised: Decimal | None, target: Decimal | None) -> Progress:
    """Realised ÷ target for the KPI ``key``, and whether the objective is reached.

    Reusable wherever a figure meets its objective; the Portefeuille's « objectif » column is the
    chiffre d'affaires' (``ObjectiveService.revenue_progress``).
    """
    lower = lower_is_better(key)
    if realised is None or target is None:
        return Progress(key, realised, target, None, lower, None)
    percent = (realised / target * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if target > 0 else None
    achieved = realised <= target if lower else realised >= target
    return Progress(key, realised, target, percent, lower, achieved)


@dataclass
class TypedTargets:
    """The objectives form as posted: each field's text (shown back), its message, the clean targets if none."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    targets: dict[str, Decimal | None] = field(default_factory=dict)


def read_targets(posted: Mapping[str, str]) -> TypedTargets:
    """Every KPI's target from the form: French decimals, blank for no objective, in the KPI's unit."""
    read = TypedTargets()
    for definition in figures.DEFINITIONS:
        key = definition.key
        text = posted.get(key, "")
        read.values[key] = text[:NUMBER_MAX_LENGTH]
        if len(text) > NUMBER_MAX_LENGTH:
            read.errors[key] = N_("Valeur trop longue.")
            continue
        try:
            target = parse_number(text)
        except NumberError as wrong:
            read.errors[key] = wrong.message
            continue
        if target is not None and definition.kind is figures.Kind.DAYS and not 0 <= target <= MAX_DAYS:
            read.errors[key] = DAYS_OUT_OF_RANGE
            continue
        if target is not None and definition.kind is figures.Kind.RATE and abs(target) > MAX_RATE:
            read.errors[key] = RATE_OUT_OF_RANGE
            continue
        read.targets[key] = target
    return read


def target_values(targets: Mapping[str, Decimal]) -> dict[str, str]:
    """Saved targets as the form shows them (``12345,5``)."""
    return {definition.key: typed(targets.get(definition.key)) for definition in figures.DEFINITIONS}


@dataclass(frozen=True)
class ObjectiveRow:
    """One KPI of the objectives page: N, N-1, the objective and the progress."""

    definition: figures.Definition
    current: Decimal | None
    previous: Decimal | None
    progress: Progress

    @property
    def unit(self) -> str:
        return UNITS[self.definition.kind]


def objective_rows(
    current: figures.Figures | None, previous: figures.Figures | None, targets: Mapping[str, Decimal]
) -> list[tuple[str, list[ObjectiveRow]]]:
    """The page's table: the KPIs by group (``figures.GROUPS``, their order), each with its progress."""
    groups: dict[str, list[ObjectiveRow]] = {group: [] for group, _label in figures.GROUPS}
    for definition in figures.DEFINITIONS:
        now = current.values.get(definition.key) if current else None
        before = previous.values.get(definition.key) if previous else None
        progress = objective_progress(definition.key, now, targets.get(definition.key))
        groups.setdefault(definition.group, []).append(ObjectiveRow(definition, now, before, progress))
    labels = dict(figures.GROUPS)
    return [(labels.get(group, group), rows) for group, rows in groups.items() if rows]


class ObjectiveService:
    """A dossier's objectives. The caller has checked the person may see (or plan) the dossier."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def targets(self, dossier_id: uuid.UUID, end_date: dt.date) -> dict[str, Decimal]:
        """The objectives of the fiscal year closing on ``end_date``, by KPI key."""
        statement = select(Objective.key, Objective.target).where(
            Objective.dossier_id == dossier_id, Objective.end_date == end_date
        )
        return {key: Decimal(target) for key, target in (await self.session.execute(statement)).all()}

    async def save(self, dossier_id: uuid.UUID, end_date: dt.date, targets: Mapping[str, Decimal | None]) -> int:
        """Set every objective in ``targets`` (None removes it), in the caller's transaction; each change is
        audited (``Objective`` is). Keys not in ``targets`` are left as they are. Returns how many changed."""
        await lock_dossier(self.session, dossier_id)
        existing = {
            row.key: row
            for row in (
                await self.session.execute(
                    select(Objective).where(Objective.dossier_id == dossier_id, Objective.end_date == end_date)
                )
            ).scalars()
        }
        changed = 0
        for key, target in targets.items():
            if key not in figures.BY_KEY:
                continue
            row = existing.get(key)
            if target is None:
                if row is not None:
                    await self.session.delete(row)
                    changed += 1
            elif row is None:
                self.session.add(Objective(dossier_id=dossier_id, end_date=end_date, key=key, target=target))
                changed += 1
            elif Decimal(row.target) != target:
                row.target = target
                changed += 1
        await self.session.flush()
        return changed

    async def revenue_progress(self, dossier_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Progress]:
        """The Portefeuille's « objectif »: for each dossier, its latest imported fiscal year's chiffre
        d'affaires ÷ that year's CA objective, in %. Dossiers without an imported year are left out; the
        caller passes only dossiers the person may see (this reads no permission)."""
        ids = list(dossier_ids)
        if not ids:
            return {}
        latest = (
            select(YearFigures.dossier_id, func.max(YearFigures.end_date).label("end_date"))
            .where(YearFigures.dossier_id.in_(ids))
            .group_by(YearFigures.dossier_id)
            .subquery()
        )
        statement = (
            select(YearFigures.dossier_id, YearFigures.chiffre_affaires, Objective.target)
            .join(latest, (latest.c.dossier_id == YearFigures.dossier_id) & (latest.c.end_date == YearFigures.end_date))
            .outerjoin(
                Objective,
                (Objective.dossier_id == YearFigures.dossier_id)
                & (Objective.end_date == YearFigures.end_date)
                & (Objective.key == REVENUE_KEY),
            )
        )
        found = {}
        for dossier_id, revenue, target in (await self.session.execute(statement)).all():
            realised = None if revenue is None else (Decimal(revenue) / 100).quantize(Decimal("0.01"))
            found[dossier_id] = objective_progress(REVENUE_KEY, realised, None if target is None else Decimal(target))
        return found
