"""Services for the firm's people and its own record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import Select, select

from portal.auth.passwords import hash_password, password_problem
from portal.firm.models import Firm, User, UserRole
from portal.firm.roles import FirmRole


class UserError(ValueError):
    """A user could not be created or changed; the message is French and meant for the person."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


class UserRepository(SQLAlchemyAsyncRepository[User]):
    model_type = User


class UserService(SQLAlchemyAsyncRepositoryService[User, UserRepository]):
    """People who sign in, and their firm-wide roles."""

    repository_type = UserRepository
    match_fields: ClassVar[list[str]] = ["email"]

    async def get_by_email(self, email: str) -> User | None:
        return await self.get_one_or_none(User.email == normalise_email(email))

    async def create_user(
        self, *, email: str, name: str, roles: Iterable[FirmRole], password: str | None = None
    ) -> User:
        """Create a person with ``roles``. Raises ``UserError`` with a French message."""
        email = normalise_email(email)
        name = name.strip()
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise UserError("Adresse e-mail invalide.")
        if not name:
            raise UserError("Le nom est obligatoire.")
        role_set = set(roles)
        if not role_set:
            raise UserError("Choisissez au moins un rôle.")
        if await self.get_by_email(email) is not None:
            raise UserError(f"Un utilisateur existe déjà avec l'adresse {email}.")
        password_hash = None
        if password is not None:
            problem = password_problem(password)
            if problem:
                raise UserError(problem)
            password_hash = hash_password(password)
        user = User(email=email, name=name, password_hash=password_hash)
        user.roles = [UserRole(role=role) for role in sorted(role_set, key=list(FirmRole).index)]
        return await self.create(user)

    async def list_with_roles(self) -> list[User]:
        result = await self.repository.session.execute(select(User).order_by(User.name))
        return list(result.scalars())


def current_firm() -> Select[Any]:
    """The firm of this installation (one row; the oldest, should a second ever be written)."""
    return select(Firm).order_by(Firm.created_at).limit(1)


def billing_entity_id() -> Select[Any]:
    """The firm's billing entity (a dossier id, or NULL): for flush hooks and jobs, which need no row."""
    return select(Firm.billing_entity_id).order_by(Firm.created_at).limit(1)


class FirmRepository(SQLAlchemyAsyncRepository[Firm]):
    model_type = Firm


class FirmService(SQLAlchemyAsyncRepositoryService[Firm, FirmRepository]):
    """The firm's own record (one row per installation)."""

    repository_type = FirmRepository

    async def current(self) -> Firm | None:
        firm: Firm | None = (await self.repository.session.execute(current_firm())).scalar_one_or_none()
        return firm

    async def ensure(self, name: str, **values: Any) -> Firm:
        firm = await self.current()
        if firm is None:
            firm = await self.create(Firm(name=name, **values))
        return firm
