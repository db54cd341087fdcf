"""Dossier rules: what a person may list, and creating dossiers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import func, select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.clients.models import Dossier

PAGE_SIZE = 50


@dataclass(frozen=True)
class DossierPage:
    items: list[Dossier]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class DossierRepository(SQLAlchemyAsyncRepository[Dossier]):
    model_type = Dossier


class DossierService(SQLAlchemyAsyncRepositoryService[Dossier, DossierRepository]):
    repository_type = DossierRepository
    match_fields: ClassVar[list[str]] = ["siren"]

    async def visible_page(self, principal: Principal, *, page: int = 1) -> DossierPage:
        """The dossiers ``principal`` may see, by name, one page at a time, with their count."""
        page = max(1, page)
        visible = restrict(select(Dossier), principal, Permission.DOSSIERS_READ, Dossier)
        session = self.repository.session
        total = (await session.execute(select(func.count()).select_from(visible.subquery()))).scalar_one()
        rows = await session.execute(
            visible.order_by(Dossier.name, Dossier.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
        return DossierPage(items=list(rows.scalars()), total=int(total), page=page, page_size=PAGE_SIZE)
