"""The billing entity and its client base: linking the entity, listing clients, resolving duplicates."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar.exceptions import NotFoundException
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.models import BillingClient, ClientDossierLink, DuplicateCandidate, DuplicateStatus
from portal.billing.tasks import create_clients
from portal.clients import search
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.base import metadata
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.firm.models import Firm
from portal.firm.services import FirmService
from portal.i18n import N_
from portal.jobs.models import JobRun


class BillingError(ValueError):
    """A billing change refused; ``message`` is a French msgid shown to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BillingEntityService:
    """Which of the firm's dossiers is the billing entity, and starting "Créer mes clients"."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def firm(self) -> Firm | None:
        return await FirmService(session=self.session).current()

    async def entity(self, principal: Principal) -> tuple[uuid.UUID | None, Dossier | None]:
        """The billing entity's id, and its dossier if ``principal`` may see it (it can be confidential)."""
        firm = await self.firm()
        entity_id = firm.billing_entity_id if firm else None
        return entity_id, await DossierService(session=self.session).find_visible(principal, entity_id)

    async def choices(self, principal: Principal) -> list[Dossier]:
        """The firm's own dossiers the person may see: the entities one can bill from."""
        statement = select(Dossier).where(Dossier.is_firm_dossier.is_(True)).order_by(Dossier.sort_name)
        return list(
            (await self.session.execute(restrict(statement, principal, Permission.DOSSIERS_READ, Dossier))).scalars()
        )

    async def link(self, principal: Principal, dossier_id: uuid.UUID | None) -> Firm:
        firm = await self.firm()
        if firm is None:
            raise BillingError(N_("Le cabinet n'est pas encore configuré."))
        if dossier_id is None:
            firm.billing_entity_id = None
        else:
            allowed = {dossier.id for dossier in await self.choices(principal)}
            if dossier_id not in allowed:
                raise BillingError(N_("Choisissez l'un des dossiers du cabinet comme entité facturante."))
            firm.billing_entity_id = dossier_id
        await self.session.flush()
        return firm

    async def start_client_creation(self, principal: Principal) -> JobRun:
        firm = await self.firm()
        if firm is None or firm.billing_entity_id is None:
            raise BillingError(N_("Sélectionnez d'abord l'entité facturante."))
        return await create_clients.options(created_by_id=principal.user_id).enqueue(
            self.session, entity_id=str(firm.billing_entity_id)
        )

    async def last_client_creation(self, principal: Principal) -> JobRun | None:
        statement = (
            restrict(select(JobRun), principal, Permission.JOBS_READ_ALL, JobRun)
            .where(JobRun.actor_name == create_clients.name, JobRun.created_by_id.is_not(None))
            .order_by(JobRun.created_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()


class BillingClientRepository(SQLAlchemyAsyncRepository[BillingClient]):
    model_type = BillingClient


class BillingClientService(SQLAlchemyAsyncRepositoryService[BillingClient, BillingClientRepository]):
    """The client base as a person may see it, and the review of possible duplicates."""

    repository_type = BillingClientRepository

    async def visible_page(
        self, principal: Principal, entity_id: uuid.UUID, *, query: str = "", paging: Paging = FIRST_PAGE
    ) -> Page[BillingClient]:
        statement = restrict(select(BillingClient), principal, Permission.BILLING_CLIENTS_READ, BillingClient).where(
            BillingClient.billing_entity_id == entity_id
        )
        query = query.strip()
        if query:
            dossiers = select(Dossier.id).where(search.matches(query))
            statement = statement.where(
                BillingClient.id.in_(
                    select(ClientDossierLink.client_id).where(ClientDossierLink.dossier_id.in_(dossiers))
                )
            )
        statement = statement.order_by(BillingClient.sort_name, BillingClient.id)
        return await paginate(self.repository.session, statement, paging)

    async def client_of(
        self, principal: Principal, entity_id: uuid.UUID, dossier_id: uuid.UUID
    ) -> BillingClient | None:
        """The client a dossier is billed through, if it has one yet and the person may see it."""
        statement = restrict(select(BillingClient), principal, Permission.BILLING_CLIENTS_READ, BillingClient).where(
            BillingClient.billing_entity_id == entity_id,
            BillingClient.id.in_(select(ClientDossierLink.client_id).where(
                ClientDossierLink.billing_entity_id == entity_id, ClientDossierLink.dossier_id == dossier_id
            )),
        )  # fmt: skip
        return (await self.repository.session.execute(statement)).scalar_one_or_none()

    def _duplicates(self, principal: Principal, entity_id: uuid.UUID) -> Any:
        return restrict(
            select(DuplicateCandidate), principal, Permission.BILLING_CLIENTS_READ, DuplicateCandidate
        ).where(DuplicateCandidate.billing_entity_id == entity_id, DuplicateCandidate.status == DuplicateStatus.OPEN)

    async def open_duplicates(
        self, principal: Principal, entity_id: uuid.UUID, paging: Paging = FIRST_PAGE
    ) -> Page[DuplicateCandidate]:
        statement = self._duplicates(principal, entity_id).order_by(
            DuplicateCandidate.created_at, DuplicateCandidate.id
        )
        return await paginate(self.repository.session, statement, paging)

    async def count_open_duplicates(self, principal: Principal, entity_id: uuid.UUID) -> int:
        statement = select(func.count()).select_from(self._duplicates(principal, entity_id).subquery())
        return int((await self.repository.session.execute(statement)).scalar_one())

    async def get_duplicate(
        self, principal: Principal, entity_id: uuid.UUID, duplicate_id: uuid.UUID
    ) -> DuplicateCandidate:
        statement = self._duplicates(principal, entity_id).where(DuplicateCandidate.id == duplicate_id)
        pair: DuplicateCandidate | None = (await self.repository.session.execute(statement)).scalar_one_or_none()
        if pair is None:
            raise NotFoundException
        return pair

    async def dismiss(self, principal: Principal, pair: DuplicateCandidate) -> None:
        """Not the same company: the pair stays, dismissed, so it is never flagged again."""
        pair.status = DuplicateStatus.DISMISSED
        pair.resolved_by_id = principal.user_id
        pair.resolved_at = dt.datetime.now(dt.UTC)
        await self.repository.session.flush()

    @staticmethod
    def merge_plan(pair: DuplicateCandidate, keep: uuid.UUID | None) -> tuple[BillingClient, BillingClient]:
        """The client kept and the client merged into it (which goes), for ``keep`` among the pair's two."""
        if keep not in {pair.client_id, pair.candidate_id}:
            raise BillingError(N_("Choisissez l'un des deux clients à conserver."))
        if keep == pair.client_id:
            return pair.client, pair.candidate
        return pair.candidate, pair.client

    async def merge(self, pair: DuplicateCandidate, *, keep: uuid.UUID | None) -> BillingClient:
        """Merge the pair into the client ``keep``: every link and reference moves to it, the other goes.

        References to the removed client from any table (links, and whatever billing adds
        later) are found from the schema's foreign keys, so nothing is left pointing at it.
        Irreversible: the pages ask for a confirmation naming both clients first.
        """
        kept, removed = self.merge_plan(pair, keep)
        session = self.repository.session
        removed_snapshot = {"name": removed.name, "siren": removed.siren, "id": str(removed.id)}
        moved_links = [str(link.dossier_id) for link in removed.links]
        for link in list(removed.links):
            link.client = kept
        await session.flush()
        await _move_references(session, removed.id, kept.id)
        siren = kept.siren or removed.siren
        # The event describes the removed client: it belongs to that client's dossier, so whoever
        # may not see that dossier does not read its name or SIREN in the log.
        record(
            session, "billing_client.merge", object_type="billing_client", object_id=str(kept.id),
            dossier_id=removed.origin_dossier_id or kept.origin_dossier_id, merged=removed_snapshot,
            links_moved=moved_links,
        )  # fmt: skip
        await session.delete(removed)
        await session.flush()
        if kept.siren is None and siren is not None:
            # The SIREN is free once the removed client is gone. It is the removed client's: written
            # without an ORM change, whose event would be tied to the kept client's dossier and show
            # it to people the removed client's dossier is hidden from; the merge event records it.
            stamp = dt.datetime.now(dt.UTC)
            await session.execute(
                update(BillingClient).where(BillingClient.id == kept.id).values(siren=siren, updated_at=stamp),
                execution_options={"synchronize_session": False},
            )
            set_committed_value(kept, "siren", siren)
            set_committed_value(kept, "updated_at", stamp)
        if kept.origin_dossier_id is None:
            kept.origin_dossier_id = removed.origin_dossier_id
        await session.flush()
        return kept


async def _move_references(session: Any, old_id: uuid.UUID, new_id: uuid.UUID) -> None:
    """Point every foreign key that references ``billing_client`` at ``new_id`` instead of ``old_id``."""
    target = BillingClient.__table__
    for table in metadata.sorted_tables:
        if table is DuplicateCandidate.__table__:
            continue  # the pairs of the removed client go with it (cascade)
        for foreign_key in table.foreign_keys:
            if foreign_key.column.table is target:
                column = foreign_key.parent
                await session.execute(
                    update(table).where(column == old_id).values({column.name: new_id}),
                    execution_options={"synchronize_session": False},
                )
