"""The word index behind "Rechercher une entreprise", and the search predicate.

Each word of a dossier's name is a row of ``dossier_name_term``; a query matches a
dossier when every word of the query starts a word of its name. Prefix matching is a
range on the index (``term >= 'boul' AND term < 'boul\\uffff'``, byte order: the column
uses the "C" collation on PostgreSQL), so it stays fast on
tens of thousands of dossiers with SQLite and PostgreSQL alike. Digits search the SIREN
by prefix (a SIRET searches its SIREN), through the SIREN's unique index.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, event, insert, inspect, select, true
from sqlalchemy.orm import Session

from portal.clients import names
from portal.clients.identifiers import siren_prefix
from portal.clients.models import Dossier, DossierNameTerm

_AFTER = "\uffff"


def term_rows(dossier_id: uuid.UUID, name: str) -> list[dict[str, Any]]:
    return [{"term": term, "dossier_id": dossier_id} for term in names.search_terms(name)]


def index_names(connection: Connection, dossiers: Iterable[tuple[uuid.UUID, str]]) -> None:
    """(Re)write the word index of ``dossiers`` (id, name): for bulk inserts made outside the ORM."""
    pairs = list(dossiers)
    if not pairs:
        return
    ids = [dossier_id for dossier_id, _name in pairs]
    for start in range(0, len(ids), 500):
        connection.execute(delete(DossierNameTerm).where(DossierNameTerm.dossier_id.in_(ids[start : start + 500])))
    rows = [row for dossier_id, name in pairs for row in term_rows(dossier_id, name)]
    if rows:
        connection.execute(insert(DossierNameTerm), rows)


def _after_flush(session: Session, _context: Any) -> None:
    changed: list[tuple[uuid.UUID, str]] = [(obj.id, obj.name) for obj in session.new if isinstance(obj, Dossier)]
    changed.extend(
        (obj.id, obj.name)
        for obj in session.dirty
        if isinstance(obj, Dossier) and inspect(obj).attrs.name.history.has_changes()
    )
    if changed:
        index_names(session.connection(), changed)


def install() -> None:
    """Keep the word index in step with every ORM change of a dossier's name. Idempotent."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def matches(query: str) -> ColumnElement[bool]:
    """A predicate on ``Dossier`` for a query typed in "Rechercher une entreprise"."""
    query = query.strip()
    if not query:
        return true()
    digits = siren_prefix(query)
    if digits is not None:
        # SIRENs are nine digits: the prefix's range is from …000 to …999, in any collation.
        return Dossier.siren.between(digits.ljust(9, "0"), digits.ljust(9, "9"))
    conditions = [
        Dossier.id.in_(
            select(DossierNameTerm.dossier_id).where(DossierNameTerm.term >= term, DossierNameTerm.term < term + _AFTER)
        )
        for term in names.query_terms(query)
    ]
    return and_(true(), *conditions)
