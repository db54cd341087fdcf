"""A dossier's POS and e-commerce connections: connecting, the mapping, the schedule, syncing.

Three services, by what they serve: ``CommerceConnectionService`` (the catalogue, connecting,
the schedule, syncs and their runs, inviting the mapping's delegate), ``CommerceMappingService``
(the mapping screen) and ``CommerceEntryService`` (the posted entries, their balance and FEC
export). The rules live here; the controllers only read forms and render. Credentials are
written here and read by the jobs only. A pasted API key is tried at the source while the
person waits (one small request: which account it speaks for), so that a mistyped key is
refused on the form and never becomes a connection; every other call to a source happens in
a worker: connecting asks a worker for the account's reference data (registers, payment
methods, VAT rates…), from which the default mapping is drawn.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, replace
from typing import Any

import httpx2
from sqlalchemy import ColumnElement, Select, and_, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.auth.roles import DossierRole
from portal.clients.fiscal import fiscal_year_start
from portal.clients.models import Dossier
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.firm.invitations import Grant, InvitationService, InviteOutcome
from portal.i18n import N_
from portal.integrations.commerce import mapping as mappings
from portal.integrations.commerce import tasks
from portal.integrations.commerce.client import CommerceClient
from portal.integrations.commerce.errors import AuthorizationLost, CommerceError, SourceUnavailable
from portal.integrations.commerce.models import (
    CommerceCustomer,
    CommerceDay,
    CommerceEntry,
    CommerceEntryLine,
    CommerceSetup,
    SyncFrequency,
)
from portal.integrations.commerce.records import Consumer, ReferenceData
from portal.integrations.commerce.sources import SOURCES, Source, get_source
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from portal.integrations.services import ConnectionRequestError, check_pasted, connect, hint
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.registry import Job
from portal.ledger.trial_balance import BalanceRow, BalanceTotals, balance_columns, totals
from portal.settings import Settings
from portal.web import forms
from portal.web.exports import EXPORT_CHUNK

log = logging.getLogger(__name__)

KEY_TOO_SHORT = N_("Collez la clé d'API telle que le logiciel l'a affichée : celle-ci est trop courte.")
KEY_SPACES = N_("Une clé d'API ne contient pas d'espace : vérifiez ce qui a été collé.")
NOT_CONNECTED = N_("Cette source n'est pas connectée à ce dossier : connectez-la d'abord.")
NOT_READY = N_("Le compte de la source n'est pas encore identifié : patientez quelques secondes, puis réessayez.")
MAPPING_INCOMPLETE = N_("Complétez le mapping avant de synchroniser : %(items)s")
ALREADY_RUNNING = N_("Une synchronisation de cette source est déjà en cours : suivez-la ci-dessous.")
START_IN_FUTURE = N_("La date de début ne peut pas être dans le futur.")
START_TOO_OLD = N_("La date de début ne peut pas précéder de plus de cinq ans la date du jour.")
BAD_DATE = N_("Date invalide : utilisez le format JJ/MM/AAAA.")
BAD_FREQUENCY = N_("Choisissez une fréquence de synchronisation.")
BAD_MODE = N_("Choisissez une écriture par ticket ou le Z de caisse.")
POSTING_MODES = {"tickets": False, "z": True}
SYNC_JOBS = (tasks.sync_connection, tasks.reference)


# A key is tried while the person waits: a short wait, one retry, then a clear message.
KEY_CHECK_TIMEOUT = httpx2.Timeout(15.0, connect=5.0)
KEY_REFUSED = N_(
    "Clé refusée par %(source)s : la clé se terminant par « %(end)s » n'est pas reconnue. Vérifiez qu'elle a été "
    "copiée en entier depuis le bon compte, puis collez-la de nouveau. Rien n'a été enregistré."
)
KEY_WITHOUT_ACCOUNT = N_(
    "Clé refusée par %(source)s : elle ne donne accès à aucun compte. Créez une clé avec l'accès en lecture aux "
    "ventes, puis collez-la de nouveau. Rien n'a été enregistré."
)
KEY_OF_ANOTHER_SOURCE = N_(
    "Clé refusée par %(source)s : cette clé est celle d'un compte %(other)s. Collez la clé créée dans "
    "%(source)s. Rien n'a été enregistré."
)
SOURCE_DOWN = N_(
    "%(source)s ne répond pas pour le moment : la clé n'a pas pu être vérifiée et rien n'a été enregistré. "
    "Réessayez dans quelques minutes."
)
SOURCE_ODD = N_(
    "%(source)s a donné une réponse inattendue : la clé n'a pas pu être vérifiée et rien n'a été enregistré. "
    "Réessayez plus tard."
)


class CommerceRequestError(ConnectionRequestError):
    """A request about a till or shop that cannot be done; ``text()`` is the sentence to show."""


def check_api_key(key: str) -> str:
    """A pasted source API key (no source issues keys shorter than 16 characters)."""
    return check_pasted(key, shortest=16, too_short=KEY_TOO_SHORT, spaces=KEY_SPACES)


@dataclass(frozen=True)
class SourceState:
    """A catalogue entry as a dossier sees it."""

    source: Source
    connection: Connection | None
    setup: CommerceSetup | None

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.status is ConnectionStatus.CONNECTED


@dataclass(frozen=True)
class EntryFilters:
    start: dt.date | None = None
    end: dt.date | None = None
    journal: str = ""
    kind: str = ""


@dataclass(frozen=True)
class PortalJournal:
    """A journal the portal produced from a source, over a period (the dossier's Comptabilité lists them)."""

    setup: CommerceSetup
    source: Source
    code: str
    name: str  # the register's (or the shop's) name: the FEC's JournalLib
    entries: int
    debit: int  # cents; every entry balances, so the credit is the same
    first: dt.date
    last: dt.date

    @property
    def key(self) -> str:
        """How the Comptabilité page names it in its journal filter (imported journals keep their code)."""
        return f"portail:{self.source.code}:{self.code}"


@dataclass(frozen=True)
class EntryTotals:
    count: int
    debit: int

    @property
    def credit(self) -> int:
        """Every stored entry balances: its credit total is its debit total."""
        return self.debit


class CommerceMappingService:
    """A connection's mapping: what the source lists, the accounts chosen for it, what is missing."""

    def reference(self, setup: CommerceSetup) -> ReferenceData:
        return ReferenceData.from_json(setup.reference)

    def mapping(self, source: Source, setup: CommerceSetup) -> mappings.Mapping:
        if setup.mapping is None:
            return mappings.default_mapping(source, self.reference(setup))
        return mappings.Mapping.from_json(setup.mapping)

    def missing(self, source: Source, setup: CommerceSetup) -> list[mappings.Missing]:
        return mappings.missing(self.mapping(source, setup), source, self.reference(setup))

    def save_mapping(
        self, source: Source, setup: CommerceSetup, form: MappingType[str, Any]
    ) -> tuple[mappings.Mapping, dict[str, str]]:
        """Apply the mapping screen's form whole, or nothing (the errors say why, per field)."""
        current = self.mapping(source, setup)
        updated, errors = mappings.parse_form(form, source, self.reference(setup), current)
        if not errors:
            setup.mapping = updated.to_json()
        return updated, errors


class CommerceConnectionService:
    """A dossier's sources: the catalogue, connecting, the schedule, syncs and their runs, the mapping's delegate."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.mappings = CommerceMappingService()

    def _connections(self, principal: Principal, permission: Permission) -> Select[Any]:
        return restrict(select(Connection), principal, permission, Connection)

    async def catalogue(self, principal: Principal, dossier_id: uuid.UUID, permission: Permission) -> list[SourceState]:
        """Every source of the catalogue, with this dossier's connection to it if any."""
        codes = [source.code for source in SOURCES]
        statement = (
            self._connections(principal, permission)
            .where(Connection.dossier_id == dossier_id, Connection.provider.in_(codes))
            .add_columns(CommerceSetup)
            .outerjoin(CommerceSetup, CommerceSetup.connection_id == Connection.id)
        )
        found = {
            connection.provider.value: (connection, setup)
            for connection, setup in await self.session.execute(statement)
        }
        return [SourceState(source, *found.get(source.code, (None, None))) for source in SOURCES]

    async def state(
        self, principal: Principal, dossier_id: uuid.UUID, source: Source, permission: Permission
    ) -> SourceState:
        statement = (
            self._connections(principal, permission)
            .where(Connection.dossier_id == dossier_id, Connection.provider == Provider(source.code))
            .add_columns(CommerceSetup)
            .outerjoin(CommerceSetup, CommerceSetup.connection_id == Connection.id)
        )
        row = (await self.session.execute(statement)).first()
        return SourceState(source, row[0], row[1]) if row else SourceState(source, None, None)

    async def connected(
        self, principal: Principal, dossier_id: uuid.UUID, source: Source, permission: Permission
    ) -> tuple[Connection, CommerceSetup]:
        state = await self.state(principal, dossier_id, source, permission)
        if not state.connected or state.setup is None or state.connection is None:
            raise CommerceRequestError(NOT_CONNECTED)
        return state.connection, state.setup

    async def days(self, setup: CommerceSetup, *, limit: int = 62) -> list[CommerceDay]:
        if setup.source_key is None:
            return []
        statement = (
            select(CommerceDay)
            .where(CommerceDay.dossier_id == setup.dossier_id, CommerceDay.source_key == setup.source_key)
            .order_by(CommerceDay.business_date.desc())
            .limit(limit)
        )
        return list((await self.session.execute(statement)).scalars())

    def _runs_of(self, setup: CommerceSetup, jobs: Iterable[Job[...]]) -> Select[Any]:
        """The runs of ``jobs`` about this connection (its id is among their arguments)."""
        return select(JobRun).where(
            JobRun.dossier_id == setup.dossier_id,
            JobRun.actor_name.in_([job.name for job in jobs]),
            JobRun.arguments["connection_id"].as_string() == str(setup.connection_id),
        )

    async def running(self, setup: CommerceSetup) -> list[JobRun]:
        """The unfinished syncs and reference reads of this connection (shown live on its page)."""
        statement = (
            self._runs_of(setup, SYNC_JOBS)
            .where(JobRun.status.in_([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING]))
            .order_by(JobRun.created_at.desc())
        )
        return list((await self.session.execute(statement)).scalars())

    async def last_runs(self, setup: CommerceSetup, limit: int = 5) -> list[JobRun]:
        """The latest finished syncs of this connection, with what each did."""
        statement = (
            self._runs_of(setup, [tasks.sync_connection])
            .where(JobRun.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED]))
            .order_by(JobRun.created_at.desc())
            .limit(limit)
        )
        return list((await self.session.execute(statement)).scalars())

    async def _upsert(self, principal: Principal, dossier: Dossier, source: Source, method: AuthMethod) -> Connection:
        connection = await connect(self.session, principal, dossier, Provider(source.code), method)
        setup = (
            await self.session.execute(select(CommerceSetup).where(CommerceSetup.connection_id == connection.id))
        ).scalar_one_or_none()
        if setup is None:
            # Reconnecting keeps the mapping, the schedule and the days already posted.
            today = dt.datetime.now(dt.UTC).date()
            self.session.add(
                CommerceSetup(connection_id=connection.id, dossier_id=dossier.id, source=source.code,
                              sync_start=fiscal_year_start(dossier, today), sync_frequency=SyncFrequency.DAILY)
            )  # fmt: skip
        else:
            setup.last_error = None
        return connection

    async def connect_api_key(
        self, settings: Settings, principal: Principal, dossier: Dossier, source: Source, key: str
    ) -> Connection:
        """An API key pasted once, tried at the source first: stored encrypted only once the source
        accepted it, then a worker reads the account's reference data.

        A key the source refuses, or that it could not check, leaves nothing behind: no
        connection, no job, no email; the refusal says which, in the source's name.
        """
        key = check_api_key(key)
        await self.try_api_key(settings, source, key)
        connection = await self._upsert(principal, dossier, source, AuthMethod.API_KEY)
        connection.credentials = {"api_key": key}
        connection.token_hint = hint(key)
        await self.session.flush()
        await self.request_reference(principal, connection)
        return connection

    async def try_api_key(self, settings: Settings, source: Source, key: str) -> Consumer:
        """The account ``key`` speaks for at ``source``, asked through the source's own client, or
        ``CommerceRequestError`` saying why not: refused (the source's 401 or 403), an account of
        another software, no account at all, or the source unreachable or answering oddly."""
        try:
            async with CommerceClient(
                settings,
                source=source,
                credentials={"api_key": key},
                max_retries_on_429=0,
                max_retries_on_failure=1,
                retry_delay=0.3,
                timeout=KEY_CHECK_TIMEOUT,
            ) as client:
                consumers = await client.consumers()
        except AuthorizationLost as refused:
            log.info("%s refused a pasted key: %s", source.name, refused.detail)
            raise CommerceRequestError(KEY_REFUSED, source=source.name, end=hint(key)) from None
        except SourceUnavailable as down:
            log.warning("%s could not check a pasted key: %s", source.name, down.detail)
            raise CommerceRequestError(SOURCE_DOWN, source=source.name) from None
        except CommerceError as odd:
            log.warning("%s answered a key check oddly: %s", source.name, odd.detail)
            raise CommerceRequestError(SOURCE_ODD, source=source.name) from None
        if not consumers:
            raise CommerceRequestError(KEY_WITHOUT_ACCOUNT, source=source.name)
        other = get_source(consumers[0].source or source.code)
        if other is not None and other != source:
            raise CommerceRequestError(KEY_OF_ANOTHER_SOURCE, source=source.name, other=other.name)
        return consumers[0]

    async def connect_oauth(
        self, principal: Principal, dossier: Dossier, source: Source, token: dict[str, Any]
    ) -> Connection:
        connection = await self._upsert(principal, dossier, source, AuthMethod.OAUTH)
        connection.credentials = {"token": token}
        connection.token_hint = None
        await self.session.flush()
        await self.request_reference(principal, connection)
        return connection

    async def request_reference(self, principal: Principal, connection: Connection) -> JobRun:
        return await tasks.reference.options(created_by_id=principal.user_id, dossier_id=connection.dossier_id).enqueue(
            self.session, connection_id=str(connection.id)
        )

    async def disconnect(self, principal: Principal, connection: Connection) -> None:
        """Stop reading the source now (posted entries stay); a worker revokes an OAuth grant, then forgets it."""
        connection.status = ConnectionStatus.DISCONNECTED
        await self.session.flush()
        await tasks.revoke.options(created_by_id=principal.user_id, dossier_id=connection.dossier_id).enqueue(
            self.session, connection_id=str(connection.id), version=connection.credentials_version
        )

    def save_schedule(self, setup: CommerceSetup, start: str, frequency: str) -> dict[str, str]:
        errors: dict[str, str] = {}
        today = dt.datetime.now(dt.UTC).date()
        day = forms.parse_date(start)
        if day is None:
            errors["debut"] = BAD_DATE
        elif day > today:
            errors["debut"] = START_IN_FUTURE
        elif day < today.replace(year=today.year - 5):
            errors["debut"] = START_TOO_OLD
        try:
            chosen = SyncFrequency(frequency)
        except ValueError:
            errors["frequence"] = BAD_FREQUENCY
        if not errors and day is not None:
            setup.sync_start = day
            setup.sync_frequency = chosen
        return errors

    def save_posting_mode(self, setup: CommerceSetup, mode: str) -> str | None:
        """One entry per ticket, or the Z de caisse: read by the next sync, for the days it posts (an error msgid)."""
        if mode not in POSTING_MODES:
            return BAD_MODE
        setup.summarise_days = POSTING_MODES[mode]
        return None

    async def request_sync(
        self, principal: Principal, source: Source, connection: Connection, setup: CommerceSetup
    ) -> JobRun:
        """« Synchroniser maintenant »: every day not yet final, from the start date to today."""
        if connection.status is not ConnectionStatus.CONNECTED:
            raise CommerceRequestError(NOT_CONNECTED)
        if setup.consumer_id is None or setup.reference is None:
            raise CommerceRequestError(NOT_READY)
        blocking = [item for item in self.mappings.missing(source, setup) if item.blocking]
        if blocking:
            raise CommerceRequestError(MAPPING_INCOMPLETE, items=" ; ".join(item.text() for item in blocking))
        if await self.running(setup):
            raise CommerceRequestError(ALREADY_RUNNING)
        return await tasks.sync_connection.options(
            created_by_id=principal.user_id, dossier_id=setup.dossier_id
        ).enqueue(self.session, connection_id=str(connection.id), mode="manual")

    async def customers(self, setup: CommerceSetup) -> int:
        statement = (
            select(func.count())
            .select_from(CommerceCustomer)
            .where(CommerceCustomer.dossier_id == setup.dossier_id, CommerceCustomer.source_key == setup.source_key)
        )
        return int(await self.session.scalar(statement) or 0)

    async def invite_mapper(self, principal: Principal, dossier: Dossier, *, email: str, name: str) -> InviteOutcome:
        """Invite someone onto the dossier's mapping (seed 002): they may edit it, and nothing else."""
        invitations = InvitationService(session=self.session)
        return await invitations.invite(
            principal, email=email, name=name, grants=[Grant(dossier.id, DossierRole.MAPPER)]
        )


class CommerceEntryService:
    """What a connection posted: its entries, their balance and their FEC export."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _entries(self, setup: CommerceSetup | Sequence[CommerceSetup], filters: EntryFilters) -> Any:
        setups = [setup] if isinstance(setup, CommerceSetup) else list(setup)
        keys = [item.source_key for item in setups if item.source_key]
        dossiers = {item.dossier_id for item in setups}
        conditions: list[ColumnElement[bool]] = [
            CommerceEntry.dossier_id.in_(dossiers),
            CommerceEntry.source_key.in_(keys),
        ]
        if filters.start:
            conditions.append(CommerceEntry.entry_date >= filters.start)
        if filters.end:
            conditions.append(CommerceEntry.entry_date <= filters.end)
        if filters.journal:
            conditions.append(CommerceEntry.journal_code == filters.journal)
        if filters.kind:
            conditions.append(CommerceEntry.kind == filters.kind)
        return and_(*conditions)

    async def entries_page(
        self, setup: CommerceSetup | Sequence[CommerceSetup], filters: EntryFilters, paging: Paging = FIRST_PAGE
    ) -> tuple[Page[CommerceEntry], dict[uuid.UUID, list[CommerceEntryLine]], EntryTotals]:
        """One page of posted entries (latest first) with their lines, and the totals of all that match."""
        where = self._entries(setup, filters)
        statement = (
            select(CommerceEntry)
            .where(where)
            .order_by(CommerceEntry.entry_date.desc(), CommerceEntry.journal_code, CommerceEntry.piece_ref,
                      CommerceEntry.kind, CommerceEntry.id)
        )  # fmt: skip
        count_statement = select(func.count()).select_from(CommerceEntry).where(where)
        result = await paginate(self.session, statement, paging, count=count_statement)
        ids = [entry.id for entry in result.items]
        lines: dict[uuid.UUID, list[CommerceEntryLine]] = {entry_id: [] for entry_id in ids}
        if ids:
            rows = await self.session.execute(
                select(CommerceEntryLine)
                .where(CommerceEntryLine.entry_id.in_(ids))
                .order_by(CommerceEntryLine.entry_id, CommerceEntryLine.line_no)
            )
            for line in rows.scalars():
                lines[line.entry_id].append(line)
        totals = (
            await self.session.execute(
                select(func.count(), func.coalesce(func.sum(CommerceEntry.total), 0)).where(where)
            )
        ).one()
        return result, lines, EntryTotals(count=int(totals[0]), debit=int(totals[1]))

    async def aux_labels(self, setup: CommerceSetup, accounts: set[str]) -> dict[str, str]:
        """The names behind auxiliary accounts (customers), for the lines a page shows."""
        if not accounts:
            return {}
        statement = select(CommerceCustomer.aux_account, CommerceCustomer.label).where(
            CommerceCustomer.dossier_id == setup.dossier_id,
            CommerceCustomer.source_key == setup.source_key,
            CommerceCustomer.aux_account.in_(accounts),
        )
        labels: dict[str, str] = dict((await self.session.execute(statement)).all())
        walk_in = mappings.Mapping.from_json(setup.mapping).walk_in_aux
        if walk_in in accounts:
            labels.setdefault(walk_in, mappings.WALK_IN_LABEL)
        return labels

    async def balance(self, setup: CommerceSetup, filters: EntryFilters) -> tuple[list[BalanceRow], BalanceTotals]:
        """Debit, credit and solde per account over the entries that match (what the accountant checks first), each
        account with its PCG label, and the total row; grouped and summed by the database."""
        statement = (
            select(
                CommerceEntryLine.account.label("account"), literal("").label("label"),
                *balance_columns(func.sum(CommerceEntryLine.debit), func.sum(CommerceEntryLine.credit)),
            )
            .join(CommerceEntry, CommerceEntry.id == CommerceEntryLine.entry_id)
            .where(self._entries(setup, filters))
            .group_by(CommerceEntryLine.account)
            .order_by(CommerceEntryLine.account)
        )  # fmt: skip
        rows = [BalanceRow.of(row) for row in await self.session.execute(statement)]
        labelled = [replace(row, label=mappings.account_label(row.account)) for row in rows]
        return labelled, await totals(self.session, statement)

    async def export_rows(
        self, setup: CommerceSetup | Sequence[CommerceSetup], filters: EntryFilters, *, chunk: int = EXPORT_CHUNK
    ) -> AsyncIterator[tuple[Any, ...]]:
        """The entries that match as FEC rows (``ROW_FIELDS`` order), by date and journal, streamed.

        JournalLib is what the journal stands for (its register's name, the web shop's), never its
        code; EcritureNum counts the entries of each journal in that order, prefixed by the journal
        (``CA1-000042``) so that it is unique across journals, as the DGFiP's tester groups lines by
        it alone; account labels are the PCG's (the mapping's accounts), auxiliary labels the
        customers' names; ValidDate is the entry's date (the portal posts an entry once, when the
        source's record is read).
        """
        setups = [setup] if isinstance(setup, CommerceSetup) else list(setup)
        if not setups:
            return
        names, customers = await self._export_labels(setups)
        numbers: dict[str, int] = {}
        order = (CommerceEntry.entry_date, CommerceEntry.journal_code, CommerceEntry.piece_ref, CommerceEntry.kind,
                 CommerceEntry.id)  # fmt: skip
        after: tuple[Any, ...] | None = None
        while True:
            statement = select(CommerceEntry).where(self._entries(setups, filters)).order_by(*order).limit(chunk)
            if after is not None:
                bound = (literal(value, type_=column.type) for column, value in zip(order, after, strict=True))
                statement = statement.where(tuple_(*order) > tuple_(*bound))
            entries = list((await self.session.execute(statement)).scalars())
            if not entries:
                return
            lines: dict[uuid.UUID, list[CommerceEntryLine]] = {entry.id: [] for entry in entries}
            found = await self.session.execute(
                select(CommerceEntryLine)
                .where(CommerceEntryLine.entry_id.in_(list(lines)))
                .order_by(CommerceEntryLine.entry_id, CommerceEntryLine.line_no)
            )
            for line in found.scalars():
                lines[line.entry_id].append(line)
            for entry in entries:
                code = entry.journal_code
                numbers[code] = number = numbers.get(code, 0) + 1
                journal_label = names.get((entry.source_key, code), code)
                for line in lines[entry.id]:
                    aux_label = customers.get((entry.source_key, line.aux_account)) if line.aux_account else None
                    yield (
                        0, code, journal_label, f"{code}-{number:06d}", entry.entry_date, line.account,
                        mappings.account_label(line.account), line.aux_account, aux_label, entry.piece_ref,
                        entry.entry_date, line.label, line.debit, line.credit, None, None, entry.entry_date, None,
                        None, None, None, None, None,
                    )  # fmt: skip
            last = entries[-1]
            after = (last.entry_date, last.journal_code, last.piece_ref, last.kind, last.id)

    async def _export_labels(
        self, setups: Sequence[CommerceSetup]
    ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
        """(source account, journal) → JournalLib, and (source account, auxiliary) → the customer's name."""
        customers: dict[tuple[str, str], str] = {}
        names: dict[tuple[str, str], str] = {}
        for item in setups:
            if item.source_key is None:
                continue
            mapping = mappings.Mapping.from_json(item.mapping)
            customers[(item.source_key, mapping.walk_in_aux)] = mappings.WALK_IN_LABEL
            shop = item.consumer_name or ""
            for code, name in mappings.journal_names(mapping, ReferenceData.from_json(item.reference), shop).items():
                names[(item.source_key, code)] = name
        rows = await self.session.execute(
            select(CommerceCustomer.source_key, CommerceCustomer.aux_account, CommerceCustomer.label).where(
                CommerceCustomer.dossier_id.in_({item.dossier_id for item in setups}),
                CommerceCustomer.source_key.in_([item.source_key for item in setups if item.source_key]),
            )
        )
        customers.update({(key, aux): label for key, aux, label in rows})
        return names, customers

    # --- the dossier's Comptabilité: the journals the portal produced -----------------------

    async def setups_of(self, dossier_id: uuid.UUID) -> list[CommerceSetup]:
        """The dossier's POS and e-commerce connections that have posted or may post (any state)."""
        statement = select(CommerceSetup).where(
            CommerceSetup.dossier_id == dossier_id, CommerceSetup.consumer_id.is_not(None)
        )
        return list((await self.session.execute(statement.order_by(CommerceSetup.source))).scalars())

    async def posted_between(self, setups: Sequence[CommerceSetup], start: dt.date, end: dt.date) -> bool:
        """Whether any of these connections posted an entry dated from ``start`` to ``end``."""
        if not setups:
            return False
        statement = select(CommerceEntry.id).where(self._entries(setups, EntryFilters(start=start, end=end)))
        return (await self.session.execute(statement.limit(1))).first() is not None

    async def portal_journals(
        self, setups: Sequence[CommerceSetup], start: dt.date, end: dt.date
    ) -> list[PortalJournal]:
        """Each journal the portal posted into from ``start`` to ``end``: its source, register, entries, totals."""
        if not setups:
            return []
        by_key = {item.source_key: item for item in setups if item.source_key}
        statement = (
            select(
                CommerceEntry.source_key,
                CommerceEntry.journal_code,
                func.count(),
                func.coalesce(func.sum(CommerceEntry.total), 0),
                func.min(CommerceEntry.entry_date),
                func.max(CommerceEntry.entry_date),
            )
            .where(self._entries(setups, EntryFilters(start=start, end=end)))
            .group_by(CommerceEntry.source_key, CommerceEntry.journal_code)
            .order_by(CommerceEntry.journal_code, CommerceEntry.source_key)
        )
        journals = []
        for key, code, count, debit, first, last in await self.session.execute(statement):
            setup = by_key[key]
            source = next(item for item in SOURCES if item.code == setup.source)
            names = mappings.journal_names(
                mappings.Mapping.from_json(setup.mapping), ReferenceData.from_json(setup.reference),
                setup.consumer_name or "",
            )  # fmt: skip
            journals.append(PortalJournal(setup=setup, source=source, code=code, name=names.get(code, code),
                                          entries=int(count), debit=int(debit), first=first, last=last))  # fmt: skip
        return journals

    async def journals(self, setup: CommerceSetup) -> list[str]:
        statement = (
            select(CommerceEntry.journal_code)
            .where(CommerceEntry.dossier_id == setup.dossier_id, CommerceEntry.source_key == setup.source_key)
            .distinct()
            .order_by(CommerceEntry.journal_code)
        )
        return list((await self.session.execute(statement)).scalars())
