"""Background work of POS and e-commerce connections: reference data, syncs, schedules, revocation.

Every call to a source happens here, with the connection's credentials decrypted in the
worker only. A sync is idempotent: it recomputes which days are not final yet and posts
each record under its unique key, so a retry, a redelivered message, two overlapping
runs or a reconnection never double an entry. A source that does not answer (5xx,
timeout) fails the attempt: the job retries with back-off and the connection shows the
error meanwhile; a source that refuses the credentials marks the connection and tells
the dossier's Comptables.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any, NoReturn

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.models import Dossier
from portal.i18n import N_, _
from portal.integrations.commerce import mapping as mappings
from portal.integrations.commerce import store, sync
from portal.integrations.commerce.client import CommerceClient
from portal.integrations.commerce.errors import AuthorizationLost, SourceUnavailable
from portal.integrations.commerce.models import CommerceSetup, DayState, SyncFrequency
from portal.integrations.commerce.posting import Poster
from portal.integrations.commerce.records import Consumer, ReferenceData
from portal.integrations.commerce.sources import Source, get_source
from portal.integrations.credentials import token_saver
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus
from portal.integrations.tasks import GONE, RESULT, authorization_lost
from portal.jobs.context import JobContext, JobFailed
from portal.jobs.registry import job

log = logging.getLogger(__name__)

LOST = N_("La source n'accepte plus l'autorisation de ce dossier : reconnectez-la.")
UNAVAILABLE = N_("La source ne répond pas pour le moment : nouvel essai automatique.")
INCOMPLETE = N_("Mapping à compléter : rien n'a été synchronisé.")
DAYS = N_("Journées synchronisées")
CLOSED = N_("Journées clôturées")
OPEN = N_("Journées ouvertes (provisoires)")
BLOCKED = N_("Journées à compléter")
RECORDS = N_("Enregistrements lus")
ENTRIES = N_("Écritures créées")
NO_ACCOUNT = N_("La source ne donne accès à aucun compte avec ces identifiants.")
STEP_REFERENCE = N_("Lecture des données de référence")
STEP_DAY = N_("Synchronisation des journées")
REQUESTED = N_("Synchronisations demandées")


async def _load(ctx: JobContext, connection_id: str) -> tuple[Connection, CommerceSetup, Source] | None:
    async with ctx.reader() as session:
        connection = await session.get(Connection, uuid.UUID(connection_id))
        setup = (
            await session.execute(select(CommerceSetup).where(CommerceSetup.connection_id == uuid.UUID(connection_id)))
        ).scalar_one_or_none()
    if connection is None or setup is None or connection.status is not ConnectionStatus.CONNECTED:
        return None
    source = get_source(setup.source)
    if source is None or not connection.credentials:
        return None
    return connection, setup, source


def _client(ctx: JobContext, connection: Connection, source: Source) -> CommerceClient:
    on_token = token_saver(ctx, connection) if connection.auth_method is AuthMethod.OAUTH else None
    return CommerceClient(ctx.settings, source=source, credentials=dict(connection.credentials or {}),
                          on_token=on_token)  # fmt: skip


async def _note_error(ctx: JobContext, setup: CommerceSetup, message: str) -> None:
    async with ctx.session() as session, session.begin():
        await session.execute(update(CommerceSetup).where(CommerceSetup.id == setup.id).values(last_error=message))


async def _authorization_lost(
    ctx: JobContext, connection: Connection, setup: CommerceSetup, counts: dict[str, Any] | None = None
) -> NoReturn:
    """The connection marked (and its people told), the setup showing why; the run fails for good."""

    async def note(session: AsyncSession) -> None:
        await session.execute(update(CommerceSetup).where(CommerceSetup.id == setup.id).values(last_error=LOST))

    await authorization_lost(ctx, connection, LOST, also=note)
    raise JobFailed(LOST, counts)


def merged_mapping(source: Source, reference: ReferenceData, current: dict[str, Any] | None) -> dict[str, Any]:
    """The defaults for what the source lists and the mapping lacks; what the person chose stays."""
    base = mappings.Mapping.from_json(current) if current else mappings.Mapping()
    return mappings.complete(base, source, reference).to_json()


def _first(consumers: list[Consumer]) -> Consumer:
    if not consumers:
        raise AuthorizationLost(NO_ACCOUNT)
    return consumers[0]


async def _refresh(
    ctx: JobContext, client: CommerceClient, connection: Connection, setup: CommerceSetup, source: Source
) -> CommerceSetup:
    """Read the account and its reference data again, draw defaults for what is new, store both.

    Run at connection and before every sync, so registers, payment methods and VAT rates
    stay current; what the person mapped is never overwritten.
    """
    consumers = await client.consumers()
    consumer = next((item for item in consumers if item.id == setup.consumer_id), None) or _first(consumers)
    data = await client.reference(consumer.id, source.kind)
    async with ctx.session() as session, session.begin():
        row = await session.get(CommerceSetup, setup.id)
        if row is None:
            raise AuthorizationLost(GONE)
        row.consumer_id, row.consumer_name = consumer.id, consumer.name
        row.reference = data.to_json()
        row.reference_checked_at = dt.datetime.now(dt.UTC)
        row.mapping = merged_mapping(source, data, row.mapping)
        row.last_error = None
        connection_row = await session.get(Connection, connection.id)
        if connection_row is not None:
            connection_row.label = consumer.name
    return row


@job("commerce.reference", title=N_("Lecture du compte et des données de référence"))
async def reference(ctx: JobContext, connection_id: str) -> dict[str, Any]:
    """Which account the credentials speak for, and its registers, payment methods, VAT rates…

    The defaults of the mapping are drawn for whatever is new; what the person mapped stays.
    """
    loaded = await _load(ctx, connection_id)
    if loaded is None:
        return {RESULT: GONE}
    connection, setup, source = loaded
    await ctx.progress(0, 1, step=STEP_REFERENCE)
    try:
        async with _client(ctx, connection, source) as client:
            setup = await _refresh(ctx, client, connection, setup, source)
    except AuthorizationLost:
        await _authorization_lost(ctx, connection, setup)
    except SourceUnavailable as down:
        await _note_error(ctx, setup, down.message)
        raise
    await ctx.progress(1, 1, step=STEP_REFERENCE)
    data = ReferenceData.from_json(setup.reference)
    return {N_("Compte"): setup.consumer_name or "", N_("Moyens de paiement"): len(data.payment_methods),
            N_("Taux de TVA"): len(data.tax_rates)}  # fmt: skip


@job("commerce.sync", title=N_("Synchronisation des ventes"))
async def sync_connection(ctx: JobContext, connection_id: str, mode: str = "manual") -> dict[str, Any]:
    """Post every day not yet final, from the start date to the end of the period of ``mode``.

    The reference data is read first (a new register or payment method gets its defaults);
    a mapping that still lacks something blocking posts nothing and says so.
    """
    loaded = await _load(ctx, connection_id)
    if loaded is None:
        return {RESULT: GONE}
    connection, setup, source = loaded
    if setup.consumer_id is None:
        return {RESULT: GONE}
    # Counted per run, across attempts: what earlier attempts committed is in the checkpoint.
    resumed: dict[str, int] = (ctx.checkpoint or {}).get("tally", {})
    tally = {DAYS: 0, CLOSED: 0, OPEN: 0, BLOCKED: 0, RECORDS: 0, ENTRIES: 0} | resumed
    try:
        async with _client(ctx, connection, source) as client:
            setup = await _refresh(ctx, client, connection, setup, source)
            outcome = await _sync_days(ctx, client, setup, source, mode=mode, tally=tally)
    except AuthorizationLost:
        await _authorization_lost(ctx, connection, setup, tally)
    except SourceUnavailable as down:
        await _note_error(ctx, setup, down.message)
        raise
    if outcome is not None:
        return outcome
    async with ctx.session() as session, session.begin():
        message = _(BLOCKED) + f" : {tally[BLOCKED]}" if tally[BLOCKED] else None
        await session.execute(
            update(CommerceSetup)
            .where(CommerceSetup.id == setup.id)
            .values(last_synced_at=dt.datetime.now(dt.UTC), last_error=message)
        )
    return tally


async def _sync_days(
    ctx: JobContext, client: CommerceClient, setup: CommerceSetup, source: Source, *, mode: str, tally: dict[str, int]
) -> dict[str, Any] | None:
    """The days not final yet, one after the other; a result to return early, or None when done."""
    source_key, consumer_id = setup.source_key, setup.consumer_id
    assert source_key is not None and consumer_id is not None  # noqa: PT018, S101 - refreshed just before
    reference_data = ReferenceData.from_json(setup.reference)
    mapping = mappings.Mapping.from_json(setup.mapping)
    blocking = [item for item in mappings.missing(mapping, source, reference_data) if item.blocking]
    if blocking:
        await _note_error(ctx, setup, _(INCOMPLETE))
        return {RESULT: INCOMPLETE}
    now = sync.today()
    async with ctx.reader() as session:
        done = await store.final_days(session, setup.dossier_id, source_key)
    # A resumed run goes on after the last day an earlier attempt finished.
    last = (ctx.checkpoint or {}).get("day")
    days = [day for day in sync.days_between(setup.sync_start, sync.period_end(mode, now))
            if day not in done and (last is None or day > dt.date.fromisoformat(last))]  # fmt: skip
    poster = Poster(mapping, source, reference_data)
    target = sync.Target(dossier_id=setup.dossier_id, source_key=source_key, run_id=ctx.run_id)
    await ctx.progress(0, len(days), step=STEP_DAY)

    async def write(batch: store.Batch) -> int:
        # The entries a batch creates are counted in its own transaction: a day cut short by a
        # killed worker is written again, and only what was not written yet is new.
        async with ctx.session() as session, session.begin():
            written = await store.write(session, batch)
            await ctx.save_checkpoint(session, {"tally": tally | {ENTRIES: tally[ENTRIES] + written}, "day": last})
        tally[ENTRIES] += written
        return written

    for index, day in enumerate(days):
        result = await sync.sync_day(client, poster, source=source, consumer_id=consumer_id, day=day,
                                     target=target, now=now, write=write, summarise=setup.summarise_days)  # fmt: skip
        state = {DayState.CLOSED: CLOSED, DayState.OPEN: OPEN, DayState.BLOCKED: BLOCKED}[result.state]
        after = tally | {DAYS: tally[DAYS] + 1, state: tally[state] + 1, RECORDS: tally[RECORDS] + result.records}
        async with ctx.session() as session, session.begin():
            await store.mark_day(
                session, dossier_id=setup.dossier_id, source_key=source_key, day=day,
                state=result.state, records=result.records, message=result.message,
            )  # fmt: skip
            await ctx.save_checkpoint(session, {"tally": after, "day": day.isoformat()})
        tally.update(after)
        last = day.isoformat()
        await ctx.progress(index + 1, len(days), step=STEP_DAY)
        await ctx.count(**tally)
    return None


@job("commerce.scheduled", title=N_("Synchronisations planifiées des caisses et boutiques"))
async def scheduled(ctx: JobContext, frequency: str, slot: str | None = None) -> dict[str, Any]:
    """Request the sync of every connected source on ``frequency``, once per connection and day.

    Keyset batches: tens of thousands of connections never sit in memory at once; the dedupe
    key (connection, day) makes a second scheduler or a retry of this job harmless.
    """
    day = slot or sync.today().isoformat()
    requested = 0
    after = uuid.UUID(int=0)
    while True:
        async with ctx.session() as session, session.begin():
            rows = (
                await session.execute(
                    select(CommerceSetup.id, CommerceSetup.connection_id, CommerceSetup.dossier_id)
                    .join(Connection, Connection.id == CommerceSetup.connection_id)
                    .join(Dossier, Dossier.id == CommerceSetup.dossier_id)
                    .where(
                        CommerceSetup.sync_frequency == SyncFrequency(frequency),
                        CommerceSetup.consumer_id.is_not(None),
                        Connection.status == ConnectionStatus.CONNECTED,
                        CommerceSetup.id > after,
                    )
                    .order_by(CommerceSetup.id)
                    .limit(500)
                )
            ).all()
            for setup_id, connection_id, dossier_id in rows:
                run = await sync_connection.options(dossier_id=dossier_id).enqueue_once(
                    session,
                    f"commerce-sync:{connection_id}:{frequency}:{day}",
                    connection_id=str(connection_id),
                    mode=frequency,
                )
                requested += run is not None
                after = setup_id
        if len(rows) < 500:  # noqa: PLR2004 - the batch size above
            break
    return {REQUESTED: requested}


@job("commerce.revoke", title=N_("Déconnexion d'une source"))
async def revoke(ctx: JobContext, connection_id: str, version: int) -> dict[str, Any]:
    """Revoke an OAuth grant at the source (best effort), then forget the credentials."""
    async with ctx.reader() as session:
        connection = await session.get(Connection, uuid.UUID(connection_id))
        setup = (
            await session.execute(select(CommerceSetup).where(CommerceSetup.connection_id == uuid.UUID(connection_id)))
        ).scalar_one_or_none()
    if connection is None or setup is None or connection.credentials_version != version:
        return {RESULT: GONE}
    source = get_source(setup.source)
    if source is not None and connection.auth_method is AuthMethod.OAUTH and connection.credentials:
        try:
            async with _client(ctx, connection, source) as client:
                await client.revoke()
        except (AuthorizationLost, SourceUnavailable):
            log.info("connection %s: the grant could not be revoked at the source", connection_id)
    async with ctx.session() as session, session.begin():
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id, Connection.credentials_version == version,
                   Connection.status == ConnectionStatus.DISCONNECTED)
            .values(credentials=None, token_hint=None)
        )  # fmt: skip
    return {RESULT: N_("Autorisation révoquée et oubliée.")}
