"""The billing entity's client base, built by real workers through the outbox.

"Créer mes clients" gives every dossier its client (one per SIREN), links each dossier,
flags possible duplicates once, and changes nothing when run again; every dossier added
afterwards requests its own client in the transaction that creates it. Many runs at
once, and many concurrent transactions, still leave one client per SIREN and one link
per dossier: the database's unique constraints decide, not the order things happen in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.auth.policy import Principal
from portal.auth.roles import FirmRole
from portal.billing.client_base import Outcome, ensure_clients, flag_duplicates
from portal.billing.models import BillingClient, ClientDossierLink, DuplicateCandidate, DuplicateStatus
from portal.billing.services import BillingClientService, BillingEntityService
from portal.billing.tasks import create_clients, create_dossier_clients
from portal.clients.models import Dossier, DossierAccess, DossierStatus
from portal.clients.schemas import DossierValues
from portal.clients.services import DossierService
from portal.db.engine import make_engine, make_read_only_session_maker
from portal.firm.models import Firm
from portal.jobs.models import JobRun, JobStatus, OutboxMessage
from portal.jobs.outbox import relay_once
from portal.jobs.runtime import Runtime
from portal.jobs.services import JobRunService
from portal.settings import Settings
from tests.factories.clients import make_dossier, valid_siren
from tests.factories.firm import make_user
from tests.waiting import wait_for_run

Maker = async_sessionmaker[AsyncSession]
REDELIVER = dt.timedelta(minutes=5)
CREATED = "Clients créés"
ALREADY_PRESENT = "Déjà présents"
DUPLICATES = "Doublons potentiels à vérifier"
EXAMINED = "Dossiers examinés"


def principal(user: User) -> Principal:
    return Principal.build(user_id=user.id, email=user.email, name=user.name, locale="fr", roles=user.firm_roles)


async def relay(jobs: Runtime) -> int:
    return await relay_once(jobs.sessions, jobs.broker, redeliver_after=REDELIVER)


async def add_dossiers(maker: Maker, names: Sequence[tuple[str, bool]]) -> list[uuid.UUID]:
    """Dossiers named ``names`` (name, has a SIREN), in one transaction; their ids in that order."""
    async with maker() as session, session.begin():
        dossiers = [Dossier(name=name, siren=valid_siren() if with_siren else None) for name, with_siren in names]
        session.add_all(dossiers)
        await session.flush()
        return [dossier.id for dossier in dossiers]


async def link_entity(maker: Maker) -> tuple[uuid.UUID, User]:
    """The firm, its own dossier as billing entity, and a partner. After the dossiers, so no hook runs yet."""
    async with maker() as session, session.begin():
        partner = await make_user(session, roles=(FirmRole.PARTNER,))
        entity = await make_dossier(session, name="Cabinet Lumière", is_firm_dossier=True)
        session.add(Firm(name="Cabinet Lumière", billing_entity_id=entity.id))
        return entity.id, partner


async def start_creation(maker: Maker, partner: User) -> JobRun:
    """The "Créer mes clients" button."""
    async with maker() as session, session.begin():
        return await BillingEntityService(session).start_client_creation(principal(partner))


async def run_to_the_end(maker: Maker, jobs: Runtime, run_id: uuid.UUID) -> JobRun:
    await relay(jobs)
    finished = await wait_for_run(maker, run_id, timeout=120)
    assert finished.status == JobStatus.SUCCEEDED, finished.error
    return finished


async def create_my_clients(maker: Maker, jobs: Runtime, partner: User) -> dict[str, Any]:
    run = await start_creation(maker, partner)
    return (await run_to_the_end(maker, jobs, run.id)).counts


async def scalars(maker: Maker, statement: Any) -> list[Any]:
    async with maker() as session:
        return list((await session.execute(statement)).scalars())


async def client_base(maker: Maker, entity_id: uuid.UUID) -> dict[str, Any]:
    """The client base as rows: clients by id, links as (dossier, client), pairs."""
    async with maker() as session:
        clients = {
            client.id: client
            for client in (
                await session.execute(select(BillingClient).where(BillingClient.billing_entity_id == entity_id))
            ).scalars()
        }
        links = [
            tuple(row)
            for row in await session.execute(
                select(ClientDossierLink.dossier_id, ClientDossierLink.client_id).where(
                    ClientDossierLink.billing_entity_id == entity_id
                )
            )
        ]
        pairs = list(
            (
                await session.execute(
                    select(DuplicateCandidate).where(DuplicateCandidate.billing_entity_id == entity_id)
                )
            ).scalars()
        )
        # The client dossiers: the billing entity does not bill itself.
        dossiers = {
            dossier.id: dossier
            for dossier in (await session.execute(select(Dossier))).scalars()
            if dossier.id != entity_id
        }
    return {"clients": clients, "links": links, "pairs": pairs, "dossiers": dossiers, "entity_id": entity_id}


def assert_one_client_per_siren_and_one_link_per_dossier(base: dict[str, Any], *, merged: bool = False) -> None:
    clients: dict[uuid.UUID, BillingClient] = base["clients"]
    dossiers: dict[uuid.UUID, Dossier] = base["dossiers"]
    sirens = Counter(client.siren for client in clients.values() if client.siren)
    assert [siren for siren, count in sirens.items() if count > 1] == [], "a SIREN has several clients"
    per_dossier = Counter(dossier_id for dossier_id, _client_id in base["links"])
    assert [dossier_id for dossier_id, count in per_dossier.items() if count > 1] == []
    assert set(per_dossier) == set(dossiers), "a dossier has no client, or the billing entity has one"
    assert base["entity_id"] not in {client.origin_dossier_id for client in clients.values()}
    for dossier_id, client_id in base["links"]:
        dossier, client = dossiers[dossier_id], clients[client_id]
        if dossier.siren:
            assert client.siren == dossier.siren, (dossier.name, client.name)
        elif not merged:
            assert client.origin_dossier_id == dossier.id  # a dossier without SIREN gets a client of its own
    origins = Counter(client.origin_dossier_id for client in clients.values() if client.origin_dossier_id)
    assert max(origins.values(), default=1) == 1
    pairs = Counter(frozenset((pair.client_id, pair.candidate_id)) for pair in base["pairs"])
    assert max(pairs.values(), default=1) == 1, "a pair was flagged twice"


# --- "Créer mes clients" ------------------------------------------------------------------


async def test_creer_mes_clients_gives_every_dossier_one_client_and_a_second_run_adds_nothing(
    committed: Maker, jobs: Runtime
) -> None:
    ids = await add_dossiers(
        committed,
        [("Boulangerie Martin SARL", True), ("Garage du Centre", True), ("Café du Théâtre", True),
         ("Atelier Lumière", False), ("Pharmacie des Halles", True), ("Librairie Papyrus", False)],
    )  # fmt: skip
    entity_id, partner = await link_entity(committed)

    counts = await create_my_clients(committed, jobs, partner)
    assert set(counts) == {CREATED, ALREADY_PRESENT, DUPLICATES, EXAMINED}
    base = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(base)
    for dossier_id in ids:
        [client_id] = [client for dossier, client in base["links"] if dossier == dossier_id]
        client = base["clients"][client_id]
        assert client.name == base["dossiers"][dossier_id].name
        assert client.origin_dossier_id == dossier_id
    assert counts[CREATED] == len(base["clients"]) == len(base["dossiers"]) == counts[EXAMINED]
    assert counts[ALREADY_PRESENT] == 0
    assert counts[DUPLICATES] == 0
    first_clients = set(base["clients"])

    again = await create_my_clients(committed, jobs, partner)
    assert again == {EXAMINED: counts[EXAMINED], CREATED: 0, ALREADY_PRESENT: counts[EXAMINED], DUPLICATES: 0}
    base = await client_base(committed, entity_id)
    assert set(base["clients"]) == first_clients
    assert len(base["links"]) == len(base["dossiers"])

    # The run is followed like any other, and its summary is logged once per run that created something.
    bulk = await scalars(committed, select(AuditEvent).where(AuditEvent.action == "billing_client.bulk_create"))
    assert len(bulk) == 1
    assert bulk[0].after is not None
    assert bulk[0].after["created"] == counts[CREATED]


async def count_rows(maker: Maker, model: type, entity_id: uuid.UUID) -> int:
    async with maker() as session:
        statement = select(func.count()).select_from(model).where(model.billing_entity_id == entity_id)  # type: ignore[attr-defined]
        return int((await session.execute(statement)).scalar_one())


async def test_a_run_resumed_after_an_interrupted_attempt_counts_what_every_attempt_did(
    committed: Maker, jobs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt stops after a few batches; the summary of the run still counts its clients as created."""
    ids = sorted(await add_dossiers(committed, [(f"Entreprise Reprise {n:02d}", n % 5 != 0) for n in range(30)]))
    entity_id, partner = await link_entity(committed)
    async with committed() as session, session.begin():
        await ensure_clients(session, entity_id, Dossier.id.in_(ids[:4] + ids[-4:]))  # clients from before the run
    clients_before = await count_rows(committed, BillingClient, entity_id)
    links_before = await count_rows(committed, ClientDossierLink, entity_id)
    assert (clients_before, links_before) == (8, 8)

    monkeypatch.setattr("portal.billing.tasks.BATCH_SIZE", 5)
    calls: Counter[str] = Counter()
    real_ensure_clients = ensure_clients

    async def interrupted(session: AsyncSession, entity: uuid.UUID, batch: ColumnElement[bool]) -> Outcome:
        calls["batches"] += 1
        if calls["batches"] == 4:  # the first attempt dies after three committed batches
            msg = "worker arrêté"
            raise RuntimeError(msg)
        return await real_ensure_clients(session, entity, batch)

    monkeypatch.setattr("portal.billing.tasks.ensure_clients", interrupted)
    run = await run_to_the_end(committed, jobs, (await start_creation(committed, partner)).id)

    assert run.attempts == 2
    clients_after = await count_rows(committed, BillingClient, entity_id)
    links_after = await count_rows(committed, ClientDossierLink, entity_id)
    assert links_after == len(ids) == 30
    assert run.counts == {EXAMINED: 30, CREATED: clients_after - clients_before, ALREADY_PRESENT: links_before,
                          DUPLICATES: 0}  # fmt: skip
    assert run.counts[CREATED] == 22
    base = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(base)
    bulk = await scalars(committed, select(AuditEvent).where(AuditEvent.action == "billing_client.bulk_create"))
    assert [event.after["created"] for event in bulk if event.after] == [22]


async def test_a_confidential_dossier_gets_its_client_but_no_summary_counts_it(committed: Maker, jobs: Runtime) -> None:
    """The summary of a run is read by people who may not see the dossier: its figures leave it out."""
    ids = await add_dossiers(committed, [("Zéphyrin Confidentiel SAS", True), ("Zephyrin Confidentiel", False),
                                         ("Garage du Centre", True)])  # fmt: skip
    async with committed() as session, session.begin():
        secret = await session.get(Dossier, ids[0])
        assert secret is not None
        secret.is_confidential = True
    entity_id, partner = await link_entity(committed)

    counts = await create_my_clients(committed, jobs, partner)
    base = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(base)
    assert ids[0] in dict(base["links"])  # processed all the same
    assert len(base["pairs"]) == 1  # and its possible duplicate flagged
    assert counts == {EXAMINED: 2, CREATED: 2, ALREADY_PRESENT: 0, DUPLICATES: 0}


async def test_the_summary_counts_a_confidential_dossier_for_those_who_see_it(committed: Maker, jobs: Runtime) -> None:
    """A partner granted the holding reads it in the figures, as in her client base; an administrator
    who may not open it reads the figures without it. Both read the same sentence about what is
    left out, so it never tells whether there is anything."""
    ids = await add_dossiers(committed, [("Holding Zéphyrin", True), ("Garage du Centre", True),
                                         ("Boulangerie Martin", False)])  # fmt: skip
    entity_id, partner = await link_entity(committed)
    async with committed() as session, session.begin():
        admin = await make_user(session, roles=(FirmRole.ADMIN,))
        secret = await session.get(Dossier, ids[0])
        assert secret is not None
        secret.is_confidential = True
        session.add(DossierAccess(dossier_id=secret.id, user_id=partner.id))
    run = await run_to_the_end(committed, jobs, (await start_creation(committed, partner)).id)
    assert run.counts == {EXAMINED: 2, CREATED: 2, ALREADY_PRESENT: 0, DUPLICATES: 0}  # what anyone may read
    async with committed() as session:
        service = JobRunService(session=session)
        hers = await service.shown(principal(partner), run)
        his = await service.shown(principal(admin), run)
        visible = BillingClientService(session=session)
        her_base = (await visible.visible_page(principal(partner), entity_id)).total
        his_base = (await visible.visible_page(principal(admin), entity_id)).total
    assert hers.counts == {EXAMINED: 3, CREATED: 3, ALREADY_PRESENT: 0, DUPLICATES: 0}
    assert her_base == hers.counts[CREATED]
    assert his.counts == run.counts
    assert his_base == his.counts[CREATED]
    assert hers.note == his.note == "Les dossiers confidentiels auxquels vous n'avez pas accès ne sont pas comptés ici."

    # Run again, the holding is already there: counted as such, for her only.
    again = await run_to_the_end(committed, jobs, (await start_creation(committed, partner)).id)
    async with committed() as session:
        hers = await JobRunService(session=session).shown(principal(partner), again)
    assert hers.counts == {EXAMINED: 3, CREATED: 0, ALREADY_PRESENT: 3, DUPLICATES: 0}


async def test_a_siren_already_in_the_client_base_is_linked_not_doubled(committed: Maker, jobs: Runtime) -> None:
    ids = await add_dossiers(committed, [("Menuiserie Bois Doré", True), ("Fromagerie Alpage", True)])
    entity_id, partner = await link_entity(committed)
    async with committed() as session, session.begin():
        menuiserie = await session.get(Dossier, ids[0])
        assert menuiserie is not None
        # Typed in by hand long ago, under another name, for no dossier in particular.
        existing = BillingClient(
            billing_entity_id=entity_id, name="MENUISERIE B.D.", sort_name="menuiserie b d",
            match_name="menuiserie bd", siren=menuiserie.siren, origin_dossier_id=None,
        )  # fmt: skip
        session.add(existing)
    counts = await create_my_clients(committed, jobs, partner)

    base = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(base)
    assert (ids[0], existing.id) in base["links"]
    assert base["clients"][existing.id].name == "MENUISERIE B.D."  # kept as it was
    assert len([c for c in base["clients"].values() if c.siren == menuiserie.siren]) == 1
    assert counts[ALREADY_PRESENT] == 1
    assert counts[CREATED] == counts[EXAMINED] - 1 == len(base["clients"]) - 1


async def test_possible_duplicates_are_flagged_once_and_a_dismissed_pair_never_again(
    committed: Maker, jobs: Runtime
) -> None:
    ids = await add_dossiers(
        committed,
        [("Association Les Amis", False), ("ASSOCIATION LES AMIS (asso)", False), ("Boulangerie Martin", False),
         ("Boulangerie Martin SARL", True), ("Garage du Centre", True), ("Garage du Centre Est", False)],
    )  # fmt: skip
    friends, friends_again, bakery, bakery_sarl = ids[:4]
    entity_id, partner = await link_entity(committed)

    counts = await create_my_clients(committed, jobs, partner)
    base = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(base)
    client_of = dict(base["links"])
    flagged = {frozenset((pair.client_id, pair.candidate_id)): pair for pair in base["pairs"]}
    friends_pair = frozenset((client_of[friends], client_of[friends_again]))
    bakery_pair = frozenset((client_of[bakery], client_of[bakery_sarl]))
    assert set(flagged) == {friends_pair, bakery_pair}  # not the two garages: different names
    assert counts[DUPLICATES] == 2
    # The client flagged is the one without SIREN; it may duplicate the one with.
    assert flagged[bakery_pair].client_id == client_of[bakery]
    assert flagged[bakery_pair].candidate_id == client_of[bakery_sarl]
    assert all(pair.status == DuplicateStatus.OPEN for pair in base["pairs"])

    async with committed() as session, session.begin():
        service = BillingClientService(session=session)
        pair = await service.get_duplicate(principal(partner), entity_id, flagged[friends_pair].id)
        await service.dismiss(principal(partner), pair)

    again = await create_my_clients(committed, jobs, partner)
    assert again[DUPLICATES] == 0
    base = await client_base(committed, entity_id)
    statuses = {frozenset((pair.client_id, pair.candidate_id)): pair.status for pair in base["pairs"]}
    assert statuses == {friends_pair: DuplicateStatus.DISMISSED, bakery_pair: DuplicateStatus.OPEN}
    async with committed() as session:
        still_open = await BillingClientService(session=session).open_duplicates(principal(partner), entity_id)
    assert [frozenset((pair.client_id, pair.candidate_id)) for pair in still_open.items] == [bakery_pair]


# --- every new dossier -------------------------------------------------------------------


def _values(name: str) -> DossierValues:
    return DossierValues(
        name=name, siren=valid_siren(), nic=None, legal_form="SARL", address=None, postal_code=None, city=None,
        closing_day=31, closing_month=12, status=DossierStatus.ACTIVE, is_firm_dossier=False,
    )  # fmt: skip


async def _requests(session: AsyncSession) -> list[tuple[JobRun, OutboxMessage]]:
    rows = await session.execute(
        select(JobRun, OutboxMessage)
        .join(OutboxMessage, OutboxMessage.job_run_id == JobRun.id)
        .where(JobRun.actor_name == "billing.create_dossier_clients")
    )
    return [(run, message) for run, message in rows.all()]


async def test_a_new_dossier_requests_its_client_in_its_own_transaction(
    committed: Maker, jobs: Runtime, engine: AsyncEngine
) -> None:
    entity_id, partner = await link_entity(committed)
    onlookers = make_read_only_session_maker(engine)

    # Created and rolled back: the request for its client goes with it.
    async with committed() as session:
        await session.begin()
        dossier = await DossierService(session=session).create_dossier(principal(partner), _values("Éphémère SARL"))
        [(run, message)] = await _requests(session)
        assert run.dossier_id == dossier.id
        assert run.arguments == {"dossier_ids": [str(dossier.id)]}
        assert run.status == JobStatus.QUEUED
        assert message.sent_at is None
        async with onlookers() as other:  # nobody else sees it before the commit
            assert (await other.execute(select(func.count()).select_from(JobRun))).scalar_one() == 0
        await session.rollback()
    async with committed() as session:
        assert await _requests(session) == []
        assert (await session.execute(select(func.count()).select_from(Dossier))).scalar_one() == 1  # the entity
    assert await relay(jobs) == 0

    # Created through the service (the Nouveau form) and through a plain ORM insert (an import).
    async with committed() as session, session.begin():
        created = await DossierService(session=session).create_dossier(principal(partner), _values("Durable SARL"))
    async with committed() as session, session.begin():
        imported = Dossier(name="Importée SAS", siren=valid_siren())
        session.add(imported)
    async with committed() as session:
        requests = await _requests(session)
    assert sorted(str(run.dossier_id) for run, _message in requests) == sorted([str(created.id), str(imported.id)])

    assert await relay(jobs) == 2
    for run, _message in requests:
        finished = await wait_for_run(committed, run.id)
        assert finished.status == JobStatus.SUCCEEDED, finished.error
        assert finished.counts[CREATED] == 1
    base = await client_base(committed, entity_id)
    client_of = dict(base["links"])
    for dossier in (created, imported):
        client = base["clients"][client_of[dossier.id]]
        assert (client.name, client.siren) == (dossier.name, dossier.siren)


async def test_without_a_billing_entity_a_new_dossier_requests_nothing(committed: Maker) -> None:
    async with committed() as session, session.begin():
        session.add(Firm(name="Cabinet sans entité"))
    async with committed() as session, session.begin():
        session.add(Dossier(name="Solitaire SARL", siren=valid_siren()))
        await session.flush()
        assert await _requests(session) == []


# --- many at once ------------------------------------------------------------------------


def _many_names(count: int) -> list[tuple[str, bool]]:
    names = [(f"Entreprise Concurrente {number:03d}", True) for number in range(count - 20)]
    names += [(f"Entreprise Concurrente {number:03d} SARL", False) for number in range(10)]  # twins, no SIREN
    names += [(f"Association Sans Siren {number:03d}", False) for number in range(10)]
    return names


async def test_many_runs_at_once_still_give_one_client_per_siren(committed: Maker, jobs: Runtime) -> None:
    ids = sorted(await add_dossiers(committed, _many_names(200)))
    entity_id, partner = await link_entity(committed)
    async with committed() as session, session.begin():
        runs = [
            await create_clients.options(created_by_id=partner.id).enqueue(session, entity_id=str(entity_id))
            for _ in range(8)
        ]
        for number in range(8):  # overlapping windows, in shuffled orders
            window = ids[number * 20 : number * 20 + 60]
            random.Random(number).shuffle(window)  # noqa: S311 - an order, not a secret
            runs.append(await create_dossier_clients.enqueue(session, dossier_ids=[str(i) for i in window]))
    assert await relay(jobs) == 16
    finished = [await wait_for_run(committed, run.id, timeout=180) for run in runs]
    assert [run.status for run in finished] == [JobStatus.SUCCEEDED] * 16, [run.error for run in finished]
    assert [run.attempts for run in finished] == [1] * 16  # no deadlock, no retry
    spans = sorted((run.started_at, run.finished_at) for run in finished if run.started_at and run.finished_at)
    assert len(spans) == 16
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)), "never concurrent"

    base = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(base)
    assert len(base["links"]) == len(base["dossiers"]) == 200
    assert len(base["clients"]) == 200
    # Each client was created by exactly one run, whichever got there first.
    assert sum(run.counts[CREATED] for run in finished) == len(base["clients"])
    assert sum(run.counts[DUPLICATES] for run in finished) == len(base["pairs"]) == 10
    for run in finished[:8]:
        assert run.counts[EXAMINED] == 200
        assert run.counts[CREATED] + run.counts[ALREADY_PRESENT] == 200


async def _concurrently(
    url: str, entity_id: uuid.UUID, predicates: Sequence[ColumnElement[bool]]
) -> list[tuple[Outcome, int]]:
    """Each predicate in a transaction of its own, on a connection of its own, all started at once."""
    engine = make_engine(url, pool_size=len(predicates), max_overflow=0)
    barrier = asyncio.Barrier(len(predicates))

    async def one(predicate: ColumnElement[bool]) -> tuple[Outcome, int]:
        async with engine.connect() as connection:
            await barrier.wait()  # every connection open: now all at once
            async with AsyncSession(bind=connection) as session, session.begin():
                outcome = await ensure_clients(session, entity_id, predicate)
                flagged = await flag_duplicates(session, entity_id)
            return outcome, flagged

    try:
        return await asyncio.gather(*(one(predicate) for predicate in predicates))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("rounds", [2])
async def test_concurrent_transactions_still_give_one_client_per_siren(
    committed: Maker, settings: Settings, rounds: int
) -> None:
    ids = sorted(await add_dossiers(committed, _many_names(200)))
    entity_id, _partner = await link_entity(committed)
    everything = Dossier.id.is_not(None)
    for round_number in range(rounds):  # the second round finds everything there already
        predicates: list[ColumnElement[bool]] = [everything, everything]
        for number in range(10):
            window = ids[number * 15 : number * 15 + 70]
            random.Random(number).shuffle(window)  # noqa: S311 - an order, not a secret
            predicates.append(Dossier.id.in_(window))
        predicates += [and_(Dossier.id >= ids[50], Dossier.id <= ids[150]), Dossier.id <= ids[120]]
        results = await _concurrently(settings.database_url, entity_id, predicates)

        base = await client_base(committed, entity_id)
        assert_one_client_per_siren_and_one_link_per_dossier(base)
        assert len(base["links"]) == len(base["dossiers"]) == len(base["clients"]) == 200
        assert len(base["pairs"]) == 10
        created = sum(outcome.created for outcome, _flagged in results)
        assert created == (200 if round_number == 0 else 0)
        assert sum(flagged for _outcome, flagged in results) == (10 if round_number == 0 else 0)


# --- merging and dismissing -----------------------------------------------------------------


async def test_merging_keeps_every_link_and_dismissing_keeps_both(committed: Maker, jobs: Runtime) -> None:
    ids = await add_dossiers(
        committed,
        [("Boulangerie Martin", False), ("Boulangerie Martin SARL", True), ("Garage Dupont", False),
         ("GARAGE DUPONT SAS", True), ("Café des Sports", False), ("Cafe des sports", False)],
    )  # fmt: skip
    bakery, bakery_sarl, garage, garage_sas, cafe, cafe_again = ids
    entity_id, partner = await link_entity(committed)
    await create_my_clients(committed, jobs, partner)
    base = await client_base(committed, entity_id)
    client_of = dict(base["links"])
    pair_ids: dict[frozenset[uuid.UUID], uuid.UUID] = {
        frozenset((pair.client_id, pair.candidate_id)): pair.id for pair in base["pairs"]
    }
    assert len(pair_ids) == 3

    def pair_of(first: uuid.UUID, second: uuid.UUID) -> uuid.UUID:
        return pair_ids[frozenset((client_of[first], client_of[second]))]

    sarl_siren = base["clients"][client_of[bakery_sarl]].siren
    garage_siren = base["clients"][client_of[garage_sas]].siren

    async with committed() as session, session.begin():
        service = BillingClientService(session=session)
        who = principal(partner)
        # The bakery: keep the client with the SIREN.
        pair = await service.get_duplicate(who, entity_id, pair_of(bakery, bakery_sarl))
        kept = await service.merge(pair, keep=client_of[bakery_sarl])
        assert kept.id == client_of[bakery_sarl]
        # The garage: keep the one without SIREN; it takes the other's SIREN.
        pair = await service.get_duplicate(who, entity_id, pair_of(garage, garage_sas))
        await service.merge(pair, keep=client_of[garage])
        # The café: not the same company.
        pair = await service.get_duplicate(who, entity_id, pair_of(cafe, cafe_again))
        await service.dismiss(who, pair)

    after = await client_base(committed, entity_id)
    assert_one_client_per_siren_and_one_link_per_dossier(after, merged=True)
    links = dict(after["links"])
    assert links[bakery] == links[bakery_sarl] == client_of[bakery_sarl]
    assert links[garage] == links[garage_sas] == client_of[garage]
    assert client_of[bakery] not in after["clients"]
    assert client_of[garage_sas] not in after["clients"]
    assert after["clients"][client_of[bakery_sarl]].siren == sarl_siren
    assert after["clients"][client_of[garage]].siren == garage_siren
    # Dismissed: both clients stay, each with its dossier, and the pair stays, dismissed.
    assert links[cafe] == client_of[cafe] != links[cafe_again] == client_of[cafe_again]
    [remaining] = after["pairs"]
    assert remaining.status == DuplicateStatus.DISMISSED
    assert remaining.resolved_by_id == partner.id
    assert remaining.resolved_at is not None

    merges = await scalars(committed, select(AuditEvent).where(AuditEvent.action == "billing_client.merge"))
    assert sorted(event.object_id for event in merges) == sorted([str(client_of[bakery_sarl]), str(client_of[garage])])

    # Merged clients do not come back, and no pair is flagged again.
    counts = await create_my_clients(committed, jobs, partner)
    assert counts[CREATED] == 0
    assert counts[DUPLICATES] == 0
    assert set((await client_base(committed, entity_id))["clients"]) == set(after["clients"])
