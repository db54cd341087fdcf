"""The shop of ``books.py``, imported for N-1 and N (the ``shop`` fixture), and the people who may or may not
plan it. A test module imports ``shop_fixture`` to use the fixture."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.accounts.passwords import hash_password
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.dashboard.amounts import shown
from portal.ledger.models import FiscalYear
from portal.settings import Settings
from tests.browsing import sign_in
from tests.dashboard.books import current_months, import_year, previous_months
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient
REDIRECTS = {302, 303}


@dataclass
class Shop:
    dossier: Dossier
    partner: User
    previous: FiscalYear
    current: FiscalYear

    def url(self, page: str, year: FiscalYear | None = None) -> str:
        return f"/entreprises/{self.dossier.id}/tableau-de-bord/{page}?exercice={(year or self.current).id}"


@pytest.fixture(name="shop")
async def shop_fixture(
    db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> Shop:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Associée")
    dossier = await make_dossier(db_session, name="Épicerie du Marché")
    previous = await import_year(session_maker, settings, dossier.id, year=2024, months=previous_months())
    current = await import_year(session_maker, settings, dossier.id, year=2025, months=current_months())
    return Shop(dossier, partner, previous, current)


async def as_user(client: Client, user: User) -> None:
    client.cookies.clear()
    signed = await sign_in(client, user.email, PASSWORD)
    assert signed.status_code in REDIRECTS, signed.text


async def person(session: AsyncSession, who: str, dossier: Dossier) -> User:
    """Someone of the firm by what they are to ``dossier``."""
    if who == "partner":
        return await make_user(session, roles=(FirmRole.PARTNER,))
    if who == "admin":
        return await make_user(session, roles=(FirmRole.ADMIN,))
    if who == "client":  # a person of the client company: no firm role
        user = User(email=f"gerant-{uuid.uuid4().hex[:8]}@client.fr", name="Gérant Client",
                    password_hash=hash_password(PASSWORD))  # fmt: skip
        session.add(user)
        await session.flush()
        await add_role(session, user, dossier, DossierRole.CLIENT_USER)
        return user
    user = await make_user(session, roles=(FirmRole.COLLABORATOR,))
    if who == "accountant":
        await add_role(session, user, dossier, DossierRole.ACCOUNTANT)
    elif who == "employee":
        await add_role(session, user, dossier, DossierRole.EMPLOYEE)
    else:  # "other": the Comptable of another dossier only
        await add_role(session, user, await make_dossier(session, name="Autre Dossier"), DossierRole.ACCOUNTANT)
    return user


def text_of(response: httpx.Response) -> str:
    """The page's text without its tags, with entities and narrow spaces as plain spaces: ``10 500,10``."""
    return re.sub(r"[\u202f\xa0]", " ", html.unescape(re.sub(r"<[^>]+>", "", response.text)))


def amount(value: Decimal, places: int = 2) -> str:
    """A number as ``text_of`` shows it: ``10 500,10``."""
    return re.sub(r"[\u202f\xa0]", " ", shown(value, places))
