"""Dossier rules: what a person may list, and creating dossiers."""

from __future__ import annotations

from typing import ClassVar

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.clients.models import Dossier
from portal.db.paging import Page, paginate

PAGE_SIZE = 50


class DossierRepository(SQLAlchemyAsyncRepository[Dossier]):
    model_type = Dossier


class DossierService(SQLAlchemyAsyncRepositoryService[Dossier, DossierRepository]):
    repository_type = DossierRepository
    match_fields: ClassVar[list[str]] = ["siren"]

    async def visible_page(self, principal: Principal, *, page: int = 1) -> Page[Dossier]:
        """The dossiers ``principal`` may see, by name, one page at a time, with their count."""
        visible = restrict(select(Dossier), principal, Permission.DOSSIERS_READ, Dossier)
        statement = visible.order_by(Dossier.name, Dossier.id)
        return await paginate(self.repository.session, statement, page=page, page_size=PAGE_SIZE)
