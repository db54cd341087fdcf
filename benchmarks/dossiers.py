"""Dossiers at scale: the Entreprises page over 50,000 dossiers, and "Créer mes clients".

The dataset is written set-based, as a bulk load would be (Core ``INSERT``s, so the ORM
hooks do not run: the sort and match keys and the word index are computed here the way
they would be). One dossier in ten is confidential and granted to someone else only, so
every query of the partner signed in runs the confidentiality filter. Figures:

* the Entreprises page (list, a name search, a SIREN search): server time in-process,
  then latency and throughput over HTTP with uvicorn and concurrent clients;
* "Créer mes clients" through the outbox, the broker and a worker, end to end, against
  the same work written by hand as ``INSERT … SELECT`` statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import httpx
from litestar import Litestar
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from stdnum import luhn
from uuid_utils.compat import uuid7

from benchmarks.environment import bench_settings, describe_ms, empty_database, percentile, time_requests
from portal import domains
from portal.accounts.models import DossierMembership
from portal.app import create_app
from portal.auth.roles import DossierRole, FirmRole
from portal.billing.models import BillingClient, ClientDossierLink, DuplicateCandidate
from portal.billing.tasks import create_clients
from portal.clients import names
from portal.clients.models import Dossier, DossierAccess, DossierNameTerm, DossierStatus
from portal.clients.search import term_rows
from portal.db.engine import make_engine, make_read_only_session_maker, make_session_maker
from portal.firm.models import Firm
from portal.firm.services import UserService
from portal.jobs import runtime
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.outbox import relay_once
from portal.settings import Settings, load_settings
from portal.web.timing import server_time_ms
from tests.browsing import serve_in_process, sign_in

DOSSIERS = 50_000
CONFIDENTIAL_EVERY = 10  # one dossier in ten
WITHOUT_SIREN = 0.08
CHUNK = 2_000
REQUESTS = 300
WARM_UP = 10
LOAD_REQUESTS = 600
LOAD_LEVELS = (8, 2)  # concurrent clients: a busy office, then a light load
TARGET_P95 = 0.050
TARGET_RATIO = 3.0
PASSWORD = "mot-de-passe-de-bench"
PARTNER = "associe@cabinet.fr"
INSIDER = "confidentiel@cabinet.fr"
COMPTABLE = "comptable@cabinet.fr"
COMPTABLE_DOSSIERS = 150  # the dossiers of one collaborator, Comptable on them: "Mes dossiers"
NAME_PREFIX = "boul"
ROOT = Path(__file__).resolve().parent.parent

ACTIVITIES = (
    "Boulangerie", "Garage", "Cabinet", "Pharmacie", "Restaurant", "Transports", "Menuiserie", "Plomberie",
    "Électricité", "Boucherie", "Charcuterie", "Pâtisserie", "Fromagerie", "Librairie", "Fleurs", "Coiffure",
    "Institut", "Agence", "Immobilier", "Hôtel", "Café", "Brasserie", "Bistrot", "Traiteur", "Maçonnerie",
    "Couverture", "Charpente", "Peinture", "Carrosserie", "Auto-école", "Taxis", "Ambulances", "Cave", "Épicerie",
    "Optique", "Laboratoire", "Clinique vétérinaire", "Ferme", "Domaine", "Vignobles", "Scierie", "Imprimerie",
    "Pressing", "Jardinerie", "Paysages", "Serrurerie", "Chauffage", "Informatique", "Conseil", "Studio",
    "Atelier", "Architecture", "Crèche", "Camping", "Auberge", "Pizzeria", "Crêperie", "Poissonnerie",
    "Quincaillerie", "Terrassement", "Location", "Nettoyage", "Sécurité", "Formation", "Kinésithérapie",
    "Cabinet dentaire", "Ostéopathie", "Bâtiment", "Rénovation", "Métallerie", "Ébénisterie", "Tabac Presse",
)  # fmt: skip
FAMILIES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
    "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin",
    "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez",
    "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Noël",
    "Meyer", "Lucas", "Meunier", "Jean", "Perez", "Marchand", "Dufour", "Blanchard", "Marie", "Barbier", "Brun",
    "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez", "Pierre", "Renard", "Arnaud", "Rolland", "Caron",
    "Aubert", "Giraud", "Leclerc", "Vidal", "Bourgeois", "Renaud", "Lemoine", "Picard", "Gaillard", "Philippe",
    "Leclercq", "Lacroix", "Fabre", "Dupuis", "Olivier", "Rodriguez", "Da Silva", "Hubert", "Louis", "Charles",
    "Guillot", "Rivière", "Le Gall", "Guillaume", "Adam", "Rey", "Moulin", "Gonzalez", "Berger", "Lecomte",
    "Ménard", "Fleury", "Deschamps", "Carpentier", "Julien", "Benoît", "Paris", "Maillard", "Marchal", "Aubry",
    "Vasseur", "Le Roux", "Renault", "Jacquet", "Collet", "Prévost", "Poirier", "Charpentier", "Royer", "Huet",
    "Baron", "Dupuy", "Pons", "Paul", "Laine", "Carré", "Breton", "Rémy", "Schneider", "Perrot", "Guyot", "Barre",
    "Marty", "Cousin", "Boulanger", "Boulet", "Le Goff", "Kerjean", "Tanguy", "Etchegaray", "Oyarzabal", "Weber",
)  # fmt: skip
PLACES = (
    ("Lyon", "69003"), ("Marseille", "13006"), ("Toulouse", "31000"), ("Nantes", "44000"), ("Bordeaux", "33000"),
    ("Lille", "59000"), ("Rennes", "35000"), ("Reims", "51100"), ("Grenoble", "38000"), ("Dijon", "21000"),
    ("Angers", "49000"), ("Brest", "29200"), ("Tours", "37000"), ("Limoges", "87000"), ("Amiens", "80000"),
    ("Perpignan", "66000"), ("Metz", "57000"), ("Besançon", "25000"), ("Orléans", "45000"), ("Rouen", "76000"),
    ("Caen", "14000"), ("Nancy", "54000"), ("Avignon", "84000"), ("Poitiers", "86000"), ("Pau", "64000"),
    ("La Rochelle", "17000"), ("Annecy", "74000"), ("Chambéry", "73000"), ("Valence", "26000"),
    ("Quimper", "29000"), ("Vannes", "56000"), ("Saint-Malo", "35400"), ("Saint-Étienne", "42000"),
    ("Clermont-Ferrand", "63000"), ("Montpellier", "34000"), ("Nîmes", "30000"), ("Colmar", "68000"),
    ("Mulhouse", "68100"), ("Troyes", "10000"), ("Auxerre", "89000"), ("Bourges", "18000"), ("Niort", "79000"),
    ("Agen", "47000"), ("Albi", "81000"), ("Rodez", "12000"), ("Bayonne", "64100"), ("Arles", "13200"),
    ("Gap", "05000"), ("Boulogne-sur-Mer", "62200"), ("Boulogne-Billancourt", "92100"), ("Vienne", "38200"),
)  # fmt: skip
SPOTS = ("du Centre", "de la Gare", "du Port", "des Halles", "du Marché", "de la Place", "du Lac", "des Alpes",
         "du Moulin", "de l'Église", "des Tilleuls", "du Château", "de la Plage", "des Vignes")  # fmt: skip
QUALIFIERS = ("& Fils", "et Fils", "Frères", "& Associés", "Père et Fils", "et Cie", "Services", "Développement",
              "Distribution", "Holding", "Patrimoine", "Groupe")  # fmt: skip
LEGAL_FORMS = ("SARL", "SAS", "SASU", "EURL", "SCI", "SA", "SNC", "SELARL", "EI")
STREETS = ("rue de la République", "avenue Jean Jaurès", "place du Marché", "rue Victor Hugo", "rue Pasteur",
           "boulevard Gambetta", "chemin des Vignes", "route de Paris", "rue de Verdun", "impasse Lilas")  # fmt: skip

# "Créer mes clients" written by hand, the yardstick of the job: one client per dossier (SIRENs
# are unique among dossiers; the billing entity does not bill itself), then each dossier linked
# to its client; the possible duplicates after.
CLIENTS_SQL = """
INSERT INTO billing_client (id, created_at, updated_at, billing_entity_id, name, sort_name, match_name, siren,
                            origin_dossier_id)
SELECT portal_uuid7(), :stamp, :stamp, :entity, d.name, d.sort_name, d.match_name, d.siren, d.id
FROM dossier AS d
WHERE d.id <> :entity
"""
LINKS_SQL = """
INSERT INTO billing_client_dossier (id, created_at, updated_at, billing_entity_id, client_id, dossier_id)
SELECT portal_uuid7(), :stamp, :stamp, :entity, c.id, c.origin_dossier_id
FROM billing_client AS c
WHERE c.billing_entity_id = :entity
"""
DUPLICATES_SQL = """
INSERT INTO billing_duplicate (id, created_at, updated_at, billing_entity_id, client_id, candidate_id, status)
SELECT portal_uuid7(), :stamp, :stamp, :entity, f.id, e.id, 'open'
FROM billing_client AS f
JOIN billing_client AS e
  ON e.billing_entity_id = f.billing_entity_id AND e.match_name = f.match_name AND e.id <> f.id
WHERE f.billing_entity_id = :entity AND f.siren IS NULL AND f.match_name <> ''
  AND (e.siren IS NOT NULL OR e.id < f.id)
"""

Maker = async_sessionmaker[AsyncSession]
Rows = list[dict[str, Any]]


@dataclass
class Dataset:
    entity_id: uuid.UUID
    partner_id: uuid.UUID
    comptable_dossiers: int = 0
    sirens: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    match_names: set[str] = field(default_factory=set)
    confidential: int = 0
    terms: int = 0


def _siren(rng: random.Random, taken: set[str]) -> str:
    while True:
        body = str(rng.randrange(30_000_000, 99_999_999))
        siren = body + luhn.calc_check_digit(body)
        if siren not in taken:
            taken.add(siren)
            return siren


def company_name(rng: random.Random) -> tuple[str, str | None]:
    """A plausible French company name, and its legal form when the name carries one."""
    activity, family = rng.choice(ACTIVITIES), rng.choice(FAMILIES)
    shape = rng.random()
    if shape < 0.45:
        core = f"{activity} {family}"
    elif shape < 0.60:
        core = f"{activity} {rng.choice(SPOTS)} {rng.choice(PLACES)[0]}"
    elif shape < 0.72:
        core = f"{family} {rng.choice(QUALIFIERS)}"
    elif shape < 0.84:
        core = f"{activity} {family} {rng.choice(QUALIFIERS)}"
    elif shape < 0.94:
        core = f"{family}-{rng.choice(FAMILIES)} {activity}"
    else:
        core = f"{activity} {rng.choice(PLACES)[0]} {family}"
    if rng.random() < 0.4:
        return core, None
    form = rng.choice(LEGAL_FORMS)
    return (f"{form} {core}" if form == "SCI" or rng.random() < 0.2 else f"{core} {form}"), form


def _dossier_rows(rng: random.Random, insider_id: uuid.UUID, dataset: Dataset) -> Iterator[tuple[Rows, Rows, Rows]]:
    """Chunks of (dossier rows, word index rows, access rows); the first dossier is the billing entity."""
    taken: set[str] = set()
    now = dt.datetime.now(dt.UTC)
    dossiers: Rows = []
    terms: Rows = []
    grants: Rows = []
    for number in range(DOSSIERS):
        firm = number == 0
        dossier_id = dataset.entity_id if firm else uuid.UUID(str(uuid7()))
        if firm:
            name, form = "Cabinet Bench Expertise Comptable SAS", "SAS"
        else:
            name, form = company_name(rng)
        siren = None if not firm and rng.random() < WITHOUT_SIREN else _siren(rng, taken)
        confidential = not firm and rng.randrange(CONFIDENTIAL_EVERY) == 0
        city, postal_code = rng.choice(PLACES)
        created = now - dt.timedelta(days=rng.uniform(0, 3650))
        name = " ".join(name.split())
        dossiers.append({
            "id": dossier_id, "created_at": created, "updated_at": created, "name": name,
            "sort_name": names.sort_key(name), "match_name": names.match_key(name), "siren": siren,
            "nic": None, "legal_form": form, "address": f"{rng.randrange(1, 120)} {rng.choice(STREETS)}",
            "postal_code": postal_code, "city": city, "closing_day": 31 if rng.random() < 0.8 else 30,
            "closing_month": 12 if rng.random() < 0.7 else rng.choice((3, 6, 9)),
            "status": rng.choices(list(DossierStatus), weights=(5, 85, 10))[0].value,
            "is_firm_dossier": firm, "is_confidential": confidential,
        })  # fmt: skip
        terms.extend(term_rows(dossier_id, name))
        if confidential:
            grants.append({"dossier_id": dossier_id, "user_id": insider_id, "granted_by_id": insider_id})
        dataset.sirens.append(siren or "")
        dataset.names.append(name)
        dataset.match_names.add(dossiers[-1]["match_name"])
        dataset.confidential += confidential
        if len(dossiers) == CHUNK or number == DOSSIERS - 1:
            dataset.terms += len(terms)
            yield dossiers, terms, grants
            dossiers, terms, grants = [], [], []


async def seed(engine: AsyncEngine, maker: Maker) -> Dataset:
    """The partner, the person the confidential dossiers are granted to, a Comptable, 50,000 dossiers, the firm."""
    async with maker() as session, session.begin():
        users = UserService(session=session)
        partner = await users.create_user(email=PARTNER, name="Paule Associée", roles=[FirmRole.PARTNER],
                                          password=PASSWORD)  # fmt: skip
        insider = await users.create_user(email=INSIDER, name="Claire Confidentielle",
                                          roles=[FirmRole.COLLABORATOR], password=PASSWORD)  # fmt: skip
        comptable = await users.create_user(email=COMPTABLE, name="Chloé Comptable", roles=[FirmRole.COLLABORATOR],
                                            password=PASSWORD)  # fmt: skip
        partner_id, insider_id, comptable_id = partner.id, insider.id, comptable.id
    dataset = Dataset(entity_id=uuid.UUID(str(uuid7())), partner_id=partner_id)
    rng = random.Random(20261123)  # noqa: S311 - reproducible test data, not secrets
    async with engine.begin() as connection:
        for dossiers, terms, grants in _dossier_rows(rng, insider_id, dataset):
            await connection.execute(insert(Dossier), dossiers)
            await connection.execute(insert(DossierNameTerm), terms)
            if grants:
                await connection.execute(insert(DossierAccess), grants)
        ids = (await connection.execute(select(Dossier.id).order_by(Dossier.id))).scalars().all()
        chosen = ids[1 :: len(ids) // COMPTABLE_DOSSIERS][:COMPTABLE_DOSSIERS]
        now = dt.datetime.now(dt.UTC)
        await connection.execute(
            insert(DossierMembership),
            [{"id": uuid.UUID(str(uuid7())), "created_at": now, "updated_at": now, "dossier_id": dossier_id,
              "user_id": comptable_id, "role": DossierRole.ACCOUNTANT.value} for dossier_id in chosen],
        )  # fmt: skip
        dataset.comptable_dossiers = len(chosen)
    async with maker() as session, session.begin():
        session.add(Firm(name="Cabinet Bench", own_dossier_id=dataset.entity_id, billing_entity_id=dataset.entity_id))
    if engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of a bulk load: the planner gets its statistics.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    return dataset


def _prefix_share(dataset: Dataset, query: str) -> int:
    wanted = names.query_terms(query)
    return sum(
        all(any(term.startswith(word) for term in names.search_terms(name)) for word in wanted)
        for name in dataset.names
    )


def _search_paths(dataset: Dataset) -> list[tuple[str, str]]:
    """The three pages measured, each with what it shows."""
    siren_prefix = next(siren for siren in dataset.sirens[1000:] if siren)[:4]
    by_siren = sum(siren.startswith(siren_prefix) for siren in dataset.sirens)
    by_name = _prefix_share(dataset, NAME_PREFIX)
    return [
        ("/entreprises", f"first page of {DOSSIERS}"),
        (f"/entreprises?q={NAME_PREFIX}", f"{by_name} names match, {by_name / DOSSIERS:.1%}"),
        (f"/entreprises?q={siren_prefix}", f"{by_siren} SIRENs match"),
    ]


def _verdict(p95: float) -> str:
    return f"[target p95 {TARGET_P95 * 1000:.0f} ms: {'met' if p95 <= TARGET_P95 else 'MISSED'}]"


async def pages_in_process(settings: Settings, paths: list[tuple[str, str]]) -> None:
    print(f"  Entreprises page, in-process (server time, signed in as partner), {REQUESTS} requests each:")
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client:
        signed = await sign_in(client, PARTNER, PASSWORD)
        assert signed.status_code in {302, 303}, signed.status_code
        for path, what in paths:
            for _ in range(WARM_UP):
                await client.get(path)
            samples = await time_requests(client, path, REQUESTS)
            print(f"    GET {path:<22} {describe_ms(samples)} {_verdict(percentile(samples, 0.95))} ({what})")


async def comptable_pages_in_process(settings: Settings, dataset: Dataset) -> None:
    """A collaborator without the firm-wide permission: the dossiers they are Comptable on, among 50,000."""
    print(f"  as a Comptable on {dataset.comptable_dossiers} dossiers (server time), {REQUESTS} requests each:")
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client:
        signed = await sign_in(client, COMPTABLE, PASSWORD)
        assert signed.status_code in {302, 303}, signed.status_code
        for path in ("/entreprises", "/entreprises/mes-dossiers", f"/entreprises/mes-dossiers?q={NAME_PREFIX}"):
            for _ in range(WARM_UP):
                await client.get(path)
            samples = await time_requests(client, path, REQUESTS)
            print(f"    GET {path:<31} {describe_ms(samples)} {_verdict(percentile(samples, 0.95))}")


def http_app() -> Litestar:
    """What uvicorn serves in the load run (``--factory``); settings from the environment ``bench_settings`` set."""
    return create_app(load_settings(), background=False, embedded_worker=False, migrate_on_start=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _ready(base: str, server: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(300):
            if server.returncode is not None:
                raise RuntimeError(f"uvicorn stopped with code {server.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("uvicorn did not answer within 30 s")


async def _drive(
    base: str, cookies: httpx.Cookies, path: str, concurrency: int
) -> tuple[list[float], list[float], float]:
    """``LOAD_REQUESTS`` GETs of ``path`` by ``concurrency`` clients at once.

    Client-observed latencies, the server's own times (its ``Server-Timing`` header), and wall time.
    """
    tickets = iter(range(LOAD_REQUESTS))
    samples: list[float] = []
    server: list[float] = []
    # A generous timeout: under load a request may wait its turn for long, that is what is measured.
    clients = [httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120) for _ in range(concurrency)]

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in tickets:  # one shared iterator: the clients take the requests between them
            started = time.perf_counter()
            response = await client.get(path)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
            duration_ms = server_time_ms(response.headers.get("Server-Timing"))
            assert duration_ms is not None, (path, "no Server-Timing header")
            server.append(duration_ms / 1000)

    try:
        await asyncio.gather(*(client.get(path) for client in clients))  # connections open, caches warm
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for client in clients))
        return samples, server, time.perf_counter() - started
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


def _server_time(samples: list[float]) -> str:
    return (
        f"server time p50 {statistics.median(samples) * 1000:.1f} ms, p95 {percentile(samples, 0.95) * 1000:.1f} ms "
        f"{_verdict(percentile(samples, 0.95))}"
    )


async def pages_over_http(paths: list[tuple[str, str]]) -> None:
    print(
        f"  Entreprises page over HTTP (uvicorn, 1 process; {LOAD_REQUESTS} requests each, one session; "
        "client-observed latency includes queueing, server time is the Server-Timing header):"
    )
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.dossiers:http_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=os.environ.copy())
    try:
        base = f"http://127.0.0.1:{port}"
        await _ready(base, server)
        async with httpx.AsyncClient(base_url=base) as client:
            signed = await sign_in(client, PARTNER, PASSWORD)
            assert signed.status_code in {302, 303}, signed.status_code
            cookies = httpx.Cookies(client.cookies)
        for concurrency in LOAD_LEVELS:
            print(f"   {concurrency} concurrent clients:")
            for path, _what in paths:
                samples, server_times, elapsed = await _drive(base, cookies, path, concurrency)
                print(
                    f"    GET {path:<22} client {describe_ms(samples)}, {len(samples) / elapsed:.0f} requests/s; "
                    f"{_server_time(server_times)}"
                )
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)


async def _counts(maker: Maker) -> tuple[int, int, int]:
    async with maker() as session:
        clients, links, duplicates = [
            int((await session.execute(select(func.count()).select_from(model))).scalar_one())
            for model in (BillingClient, ClientDossierLink, DuplicateCandidate)
        ]
    return clients, links, duplicates


async def create_clients_job(settings: Settings, engine: AsyncEngine, maker: Maker, dataset: Dataset) -> float:
    """ "Créer mes clients" as a person starts it: enqueued, relayed to the broker, run by a worker.

    Watched through read-only sessions: on SQLite a read-write one takes the write lock at
    BEGIN, and polling with it would slow the job down.
    """
    watcher = make_read_only_session_maker(engine)
    domains.install()
    jobs_runtime = runtime.configure(settings)
    # After foundation's, this is the second worker on the process's one broker: dramatiq warns, harmlessly.
    jobs_runtime.broker.logger.addFilter(lambda record: "same type twice" not in record.getMessage())
    worker = dramatiq.Worker(jobs_runtime.broker, worker_threads=1)
    worker.start()
    try:
        started = time.perf_counter()
        async with maker() as session, session.begin():
            run = await create_clients.options(created_by_id=dataset.partner_id).enqueue(session)
        await relay_once(jobs_runtime.sessions, jobs_runtime.broker, redeliver_after=dt.timedelta(minutes=5))
        while True:
            async with watcher() as session:
                finished = (await session.execute(select(JobRun).where(JobRun.id == run.id))).scalar_one()
            if finished.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    assert finished.status == JobStatus.SUCCEEDED, finished.error
    clients, links, duplicates = await _counts(maker)
    print(
        f"  Créer mes clients, job (outbox → {type(jobs_runtime.broker).__name__} → worker, end to end): "
        f"{elapsed:.2f} s -> {clients} clients, {links} links, {duplicates} possible duplicates"
    )
    return elapsed


async def create_clients_by_hand(engine: AsyncEngine, maker: Maker, dataset: Dataset) -> tuple[float, float]:
    """The client base emptied, then the same work as hand-written INSERT … SELECTs; (clients+links, duplicates)."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("TRUNCATE billing_client_dossier, billing_duplicate, billing_client"))
        else:
            for table in ("billing_client_dossier", "billing_duplicate", "billing_client"):
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
    columns = BillingClient.__table__.c  # type: ignore[attr-defined]
    binds = (bindparam("stamp", type_=columns.created_at.type), bindparam("entity", type_=columns.id.type))
    values = {"stamp": dt.datetime.now(dt.UTC), "entity": dataset.entity_id}
    started = time.perf_counter()
    async with engine.begin() as connection:
        await connection.execute(text(CLIENTS_SQL).bindparams(*binds), values)
        await connection.execute(text(LINKS_SQL).bindparams(*binds), values)
    linked = time.perf_counter()
    async with engine.begin() as connection:
        await connection.execute(text(DUPLICATES_SQL).bindparams(*binds), values)
    flagged = time.perf_counter()
    clients, links, duplicates = await _counts(maker)
    print(
        f"  Créer mes clients, hand-written INSERT … SELECT: clients + links {linked - started:.2f} s "
        f"({clients} clients, {links} links), duplicates {flagged - linked:.2f} s ({duplicates} pairs)"
    )
    return linked - started, flagged - linked


async def main(settings: Settings) -> None:
    back_end = "SQLite" if settings.is_sqlite else "PostgreSQL"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"dossiers ({back_end}, {DOSSIERS} dossiers, {100 // CONFIDENTIAL_EVERY}% confidential; "
        f"{os.cpu_count()} CPUs, load average {load})"
    )
    engine = make_engine(settings.database_url)
    maker = make_session_maker(engine)
    await empty_database(engine)
    started = time.perf_counter()
    dataset = await seed(engine, maker)
    print(
        f"  seed: {DOSSIERS} dossiers ({dataset.confidential} confidential, not granted to the partner; "
        f"{sum(not siren for siren in dataset.sirens)} without SIREN, {len(dataset.match_names)} distinct names), "
        f"{dataset.terms} index words, in {time.perf_counter() - started:.1f} s"
    )
    paths = _search_paths(dataset)
    await pages_in_process(settings, paths)
    await comptable_pages_in_process(settings, dataset)
    await pages_over_http(paths)
    job = await create_clients_job(settings, engine, maker, dataset)
    by_hand, duplicates = await create_clients_by_hand(engine, maker, dataset)
    ratio = job / by_hand
    print(
        f"  ratio job / hand-written clients + links: {ratio:.1f}x "
        f"[target {TARGET_RATIO:.0f}x or less: {'met' if ratio <= TARGET_RATIO else 'MISSED'}]; "
        f"job / hand-written with duplicates: {job / (by_hand + duplicates):.1f}x"
    )
    await engine.dispose()


def run(settings: Settings | None = None) -> None:
    """On ``settings``' database (emptied first: it may follow another benchmark), or on a fresh one."""
    asyncio.run(main(settings or bench_settings()))
