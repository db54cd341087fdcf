"""Reading the audit log as the person asking is allowed to."""

from __future__ import annotations

import uuid

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate


class AuditEventRepository(SQLAlchemyAsyncRepository[AuditEvent]):
    model_type = AuditEvent


class AuditEventService(SQLAlchemyAsyncRepositoryService[AuditEvent, AuditEventRepository]):
    repository_type = AuditEventRepository

    async def visible_page(self, principal: Principal, paging: Paging = FIRST_PAGE) -> Page[AuditEvent]:
        """Events ``principal`` may read, newest first, through the permission model's restriction."""
        visible = restrict(select(AuditEvent), principal, Permission.AUDIT_LOG_READ, AuditEvent)
        statement = visible.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        return await paginate(self.repository.session, statement, paging)

    async def for_dossier(self, principal: Principal, dossier_id: uuid.UUID, *, limit: int = 50) -> list[AuditEvent]:
        """The latest events about one dossier and what belongs to it (its panel's Historique)."""
        visible = restrict(select(AuditEvent), principal, Permission.AUDIT_LOG_READ, AuditEvent)
        statement = (
            visible.where(AuditEvent.dossier_id == dossier_id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
        return list((await self.repository.session.execute(statement)).scalars())
