"""Making sure every dossier has its client in the billing entity's client base, set-based.

Each step is one ``INSERT … SELECT`` over a batch of dossiers, so "Créer mes clients" over
tens of thousands of dossiers costs a handful of statements per batch, never one per
dossier. Identity is enforced by the database: ``ON CONFLICT DO NOTHING`` against the
unique constraints (one client per SIREN, one link per dossier, one client per origin
dossier) makes every step idempotent, and safe when several jobs run at once.

The steps, for the dossiers of a batch that have no client yet in the entity (the billing
entity's own dossier excepted: it does not bill itself):

1. create a client for each dossier whose SIREN (if any) is not in the client base yet;
2. link each dossier to the client created for it;
3. link each dossier left (its SIREN was already there) to the client with its SIREN;
4. flag possible duplicates: clients with the same normalised name where at least one
   has no SIREN (pairs already flagged, or dismissed, are never flagged again).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ColumnElement, Insert, and_, exists, func, literal, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from portal.billing.models import BillingClient, ClientDossierLink, DuplicateCandidate, DuplicateStatus
from portal.clients.models import Dossier

CREATED, PRESENT = "created", "present"


@dataclass
class Outcome:
    """What one pass did: dossiers examined, clients created, dossiers already present, pairs flagged.

    The figures leave confidential dossiers out (they are processed all the same): a run's
    summary is read by people who may not see them, and a count would reveal they exist.
    What was done for each confidential dossier is kept apart, by its id (``confidential``:
    ``CREATED`` or ``PRESENT``), so that the summary counts it for whoever may see it.
    """

    dossiers: int = 0
    created: int = 0
    already_present: int = 0
    duplicates: int = 0
    confidential: dict[str, str] = field(default_factory=dict)

    def add(self, other: Outcome) -> None:
        self.dossiers += other.dossiers
        self.created += other.created
        self.already_present += other.already_present
        self.duplicates += other.duplicates
        for dossier_id, done in other.confidential.items():
            # A dossier met again by a resumed batch was created by the attempt that met it first.
            self.confidential[dossier_id] = CREATED if CREATED in {done, self.confidential.get(dossier_id)} else done


CLIENT_COLUMNS = ["id", "created_at", "updated_at", "billing_entity_id", "name", "sort_name", "match_name", "siren",
                  "origin_dossier_id"]  # fmt: skip
LINK_COLUMNS = ["id", "created_at", "updated_at", "billing_entity_id", "client_id", "dossier_id"]


def new_id() -> Any:
    """A UUIDv7 made by the database (``portal_uuid7``: a SQL function on PostgreSQL, a Python one on SQLite)."""
    return func.portal_uuid7()


def _insert(session: AsyncSession, model: type, columns: list[str], source: Any) -> Insert:
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).from_select(columns, source).on_conflict_do_nothing()  # type: ignore[no-any-return]


def _stamp() -> Any:
    return literal(dt.datetime.now(dt.UTC), DateTimeUTC(timezone=True))


def _unlinked(entity_id: uuid.UUID) -> ColumnElement[bool]:
    return not_(
        exists().where(ClientDossierLink.billing_entity_id == entity_id, ClientDossierLink.dossier_id == Dossier.id)
    )


async def ensure_clients(session: AsyncSession, entity_id: uuid.UUID, batch: ColumnElement[bool]) -> Outcome:
    """Steps 1 to 3 for the dossiers ``batch`` selects (a predicate on ``Dossier``), in ``session``'s transaction.

    Step 4 (``flag_duplicates``) runs once after the last batch.
    """
    stamp = _stamp()
    outcome = Outcome()
    batch = and_(batch, Dossier.id != entity_id)  # the billing entity does not bill itself
    counted = select(func.count()).select_from(Dossier).where(batch, Dossier.is_confidential.is_(False))
    outcome.dossiers = int((await session.execute(counted)).scalar_one())
    confidential = and_(batch, Dossier.is_confidential.is_(True))
    hidden = [
        str(dossier_id) for dossier_id in (await session.execute(select(Dossier.id).where(confidential))).scalars()
    ]
    created_hidden: set[str] = set()
    pending = select(Dossier.id).where(batch, _unlinked(entity_id)).limit(1)
    if (await session.execute(pending)).first() is not None:
        # Confidential dossiers get their clients in a statement of their own, so the figure stays clean.
        outcome.created = await _create(session, entity_id, and_(batch, Dossier.is_confidential.is_(False)), stamp)
        created_hidden = await _create_each(session, entity_id, confidential, stamp)
        await _link(session, entity_id, batch, stamp)
    outcome.already_present = outcome.dossiers - outcome.created
    outcome.confidential = {dossier_id: CREATED if dossier_id in created_hidden else PRESENT for dossier_id in hidden}
    return outcome


def _creation(entity_id: uuid.UUID, batch: ColumnElement[bool], stamp: Any) -> Any:
    """The clients to create for the dossiers of ``batch`` without one (and whose SIREN is not in the base)."""
    same_siren = exists().where(BillingClient.billing_entity_id == entity_id, BillingClient.siren == Dossier.siren)
    return select(
        new_id(), stamp, stamp, literal(entity_id, BillingClient.billing_entity_id.type), Dossier.name,
        Dossier.sort_name, Dossier.match_name, Dossier.siren, Dossier.id,
    ).where(batch, _unlinked(entity_id), or_(Dossier.siren.is_(None), not_(same_siren)))  # fmt: skip


async def _create_each(session: AsyncSession, entity_id: uuid.UUID, batch: ColumnElement[bool], stamp: Any) -> set[str]:
    """As ``_create``, returning the ids of the dossiers whose client it created."""
    table = BillingClient.__table__
    insert = _insert(session, BillingClient, CLIENT_COLUMNS, _creation(entity_id, batch, stamp))
    created = await session.execute(insert.returning(table.c.origin_dossier_id))
    return {str(dossier_id) for dossier_id in created.scalars()}


async def _create(session: AsyncSession, entity_id: uuid.UUID, batch: ColumnElement[bool], stamp: Any) -> int:
    created = await session.execute(_insert(session, BillingClient, CLIENT_COLUMNS, _creation(entity_id, batch, stamp)))
    return int(created.rowcount or 0)  # type: ignore[attr-defined]


async def _link(session: AsyncSession, entity_id: uuid.UUID, batch: ColumnElement[bool], stamp: Any) -> None:
    entity = literal(entity_id, ClientDossierLink.billing_entity_id.type)
    to_own = (
        select(new_id(), stamp, stamp, entity, BillingClient.id, Dossier.id)
        .join(BillingClient, and_(BillingClient.billing_entity_id == entity_id,
                                  BillingClient.origin_dossier_id == Dossier.id))
        .where(batch, _unlinked(entity_id))
    )  # fmt: skip
    await session.execute(_insert(session, ClientDossierLink, LINK_COLUMNS, to_own))
    # Usually every dossier has its own client by now: then the join below, which the planners
    # drive from the whole client base (its statistics lag behind this job's inserts), is skipped.
    left = select(Dossier.id).where(batch, Dossier.siren.is_not(None), _unlinked(entity_id)).limit(1)
    if (await session.execute(left)).first() is None:
        return
    to_same_siren = (
        select(new_id(), stamp, stamp, entity, BillingClient.id, Dossier.id)
        .join(BillingClient, and_(BillingClient.billing_entity_id == entity_id, BillingClient.siren == Dossier.siren))
        .where(batch, Dossier.siren.is_not(None), _unlinked(entity_id))
    )  # fmt: skip
    await session.execute(_insert(session, ClientDossierLink, LINK_COLUMNS, to_same_siren))


async def flag_duplicates(session: AsyncSession, entity_id: uuid.UUID) -> int:
    """Flag every new pair of possible duplicates in the entity's client base; returns how many.

    Driven by the clients without SIREN (an index range), each looked up by normalised
    name, so the cost follows their number, not the size of the client base. The flagged
    client is the one without SIREN (of two without, the newer), so a pair has one
    direction only and the unique constraint settles concurrent runs.
    """
    flagged = aliased(BillingClient, name="flagged")
    existing = aliased(BillingClient, name="existing")
    columns = ["id", "created_at", "updated_at", "billing_entity_id", "client_id", "candidate_id", "status"]
    stamp = _stamp()
    pairs = (
        select(
            new_id(), stamp, stamp, literal(entity_id, DuplicateCandidate.billing_entity_id.type), flagged.id,
            existing.id, literal(DuplicateStatus.OPEN.value),
        )
        .join(existing, and_(
            existing.billing_entity_id == entity_id, existing.match_name == flagged.match_name,
            existing.id != flagged.id,
        ))
        .where(
            flagged.billing_entity_id == entity_id, flagged.siren.is_(None), flagged.match_name != "",
            or_(existing.siren.is_not(None), existing.id < flagged.id),
        )
    )  # fmt: skip
    table = DuplicateCandidate.__table__
    result = await session.execute(_insert(session, DuplicateCandidate, columns, pairs).returning(table.c.id))
    new_pairs = list(result.scalars())
    if not new_pairs:
        return 0
    # Pairs that involve a confidential dossier's client are flagged but not counted (see ``Outcome``).
    confidential_client = exists().where(ClientDossierLink.dossier_id == Dossier.id, Dossier.is_confidential.is_(True))
    counted = 0
    for start in range(0, len(new_pairs), 500):
        chunk = new_pairs[start : start + 500]
        statement = (
            select(func.count())
            .select_from(DuplicateCandidate)
            .where(
                DuplicateCandidate.id.in_(chunk),
                not_(confidential_client.where(ClientDossierLink.client_id == DuplicateCandidate.client_id)),
                not_(confidential_client.where(ClientDossierLink.client_id == DuplicateCandidate.candidate_id)),
            )
        )
        counted += int((await session.execute(statement)).scalar_one())
    return counted
