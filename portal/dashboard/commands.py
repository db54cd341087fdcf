"""``portal kpi``: a dossier's figures for one fiscal year, printed for an operator or a script."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.models import Dossier
from portal.ledger.commands import CommandError, find_dossier
from portal.ledger.figures import DEFINITIONS, GROUPS, Figures, Kind
from portal.ledger.models import FiscalYear, VersionState
from portal.ledger.services import LedgerService

LOCALE = "fr_FR"


@dataclass(frozen=True)
class YearReport:
    dossier: Dossier
    year: FiscalYear
    figures: Figures


def parse_closing(value: str | None) -> dt.date | None:
    """``--exercice AAAA-MM-JJ``; a French message when it is not a date."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"« {value} » n'est pas une date de clôture au format AAAA-MM-JJ.") from None


async def year_report(sessions: Callable[[], AsyncSession], siren: str, closing: dt.date | None) -> YearReport:
    """The figures of the dossier's active fiscal year closing on ``closing`` (the latest one by default)."""
    dossier = await find_dossier(sessions, siren)
    async with sessions() as session:
        statement = select(FiscalYear).where(
            FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE
        )
        if closing is not None:
            statement = statement.where(FiscalYear.end_date == closing)
        year = (await session.execute(statement.order_by(FiscalYear.end_date.desc()).limit(1))).scalar()
        if year is None:
            if closing is None:
                raise CommandError(f"Le dossier {dossier.name} n'a aucun exercice importé.")
            raise CommandError(f"Le dossier {dossier.name} n'a pas d'exercice clôturé le {closing:%d/%m/%Y}.")
        figures = await LedgerService(session).figures(year)
    return YearReport(dossier=dossier, year=year, figures=figures)


def as_json(report: YearReport) -> str:
    """Exactly ``Figures.to_json()``: amounts as strings with a dot and two decimals, rates in %."""
    return json.dumps(report.figures.to_json(), ensure_ascii=False, indent=2)


def formatted(value: Decimal | None, kind: Kind) -> str:
    """A figure as a French reader expects it: ``1 234,50 €``, ``12,3 %``, ``45,2 j``; ``—`` when undefined."""
    if value is None:
        return "—"
    if kind is Kind.AMOUNT:
        return format_currency(value, "EUR", locale=LOCALE)
    number = format_decimal(value, format="#,##0.0", locale=LOCALE)
    return f"{number} %" if kind is Kind.RATE else f"{number} j"


def as_table(report: YearReport) -> str:
    """The figures by group, one per line, labels in French, values aligned on the right."""
    figures = report.figures
    lines = [
        f"{report.dossier.name} — exercice du {figures.start:%d/%m/%Y} au {figures.end:%d/%m/%Y}",
    ]
    # The labels are French msgids: the command speaks French, as its messages do.
    rows = [
        (definition.group, definition.label, formatted(figures.values.get(definition.key), definition.kind))
        for definition in DEFINITIONS
    ]
    width = max(len(label) for _group, label, _value in rows)
    value_width = max(len(value) for _group, _label, value in rows)
    for group, group_label in GROUPS:
        chosen = [(label, value) for key, label, value in rows if key == group]
        if not chosen:
            continue
        lines += ["", group_label]
        lines += [f"  {label:<{width}}  {value:>{value_width}}" for label, value in chosen]
    monthly = figures.monthly.get("chiffre_affaires", {})
    if monthly:
        lines += ["", "Chiffre d'affaires mensuel"]
        lines += [
            f"  {month[5:]}/{month[:4]}  {formatted(amount, Kind.AMOUNT):>{value_width}}"
            for month, amount in monthly.items()
        ]
    return "\n".join(lines)
