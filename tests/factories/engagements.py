"""The billing entity with its client base, and lettres de mission written straight into the database."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.billing.client_base import ensure_clients
from portal.billing.fee_models import Engagement, EngagementStatus, Mission, Rhythm, Service, Unit
from portal.billing.fees import add_years
from portal.billing.models import BillingClient, ClientDossierLink
from portal.clients.models import Dossier
from portal.firm.models import Firm
from tests.factories.clients import make_dossier
from tests.factories.firm import add_role, make_user

_numbers = iter(range(1, 10_000))


@dataclass
class FeesPlace:
    """A firm whose own dossier bills: its partner, its Gestionnaire de facturation, a Comptable of the bakery, and
    clients for the bakery, the garage and the restaurant."""

    firm: Firm
    entity: Dossier
    partner: User
    manager: User
    accountant: User
    bakery: Dossier
    garage: Dossier
    restaurant: Dossier


async def fees_place(session: AsyncSession) -> FeesPlace:
    entity = await make_dossier(session, name="Cabinet Lumière Gestion", is_firm_dossier=True)
    firm = Firm(name="Cabinet Lumière", own_dossier_id=entity.id, billing_entity_id=entity.id)
    session.add(firm)
    bakery = await make_dossier(session, name="Boulangerie Martin", legal_form="SARL", city="Lyon")
    garage = await make_dossier(session, name="Garage du Centre")
    restaurant = await make_dossier(session, name="Restaurant Le Cèdre")
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Paule Associée")
    manager = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Gaëlle Gestion")
    accountant = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Colin Comptable")
    await add_role(session, manager, entity, DossierRole.BILLING_MANAGER)
    await add_role(session, accountant, bakery, DossierRole.ACCOUNTANT)
    await session.flush()
    await ensure_clients(session, entity.id, Dossier.id.is_not(None))
    return FeesPlace(firm, entity, partner, manager, accountant, bakery, garage, restaurant)


async def client_of(session: AsyncSession, dossier: Dossier) -> BillingClient:
    statement = select(BillingClient).join(ClientDossierLink, ClientDossierLink.client_id == BillingClient.id)
    return (await session.execute(statement.where(ClientDossierLink.dossier_id == dossier.id))).scalar_one()


async def make_service(
    session: AsyncSession, entity_id: uuid.UUID, label: str, price: str, *, unit: Unit = Unit.FLAT
) -> Service:
    service = Service(entity_id=entity_id, label=label, unit=unit, unit_price=Decimal(price))
    session.add(service)
    await session.flush()
    return service


async def make_engagement(
    session: AsyncSession,
    entity_id: uuid.UUID,
    client: BillingClient,
    missions: list[tuple[str, Rhythm, str]],
    *,
    start: dt.date,
    renewal: dt.date | None = None,
    revision: str = "0",
    status: EngagementStatus = EngagementStatus.ACCEPTED,
    contact_email: str = "contact@client.example.fr",
) -> Engagement:
    """A letter of ``missions`` (label, rhythm, unit price HT; quantity 1)."""
    engagement = Engagement(
        entity_id=entity_id, client_id=client.id, client=client, reference=f"LM2026-{next(_numbers):04d}",
        status=status, start_date=start, renewal_date=renewal or add_years(start, 1), revision_rate=Decimal(revision),
        contact_name="Sophie Martin", contact_email=contact_email,
        missions=[
            Mission(position=position, label=label, rhythm=rhythm, unit_price=Decimal(price), quantity=Decimal(1))
            for position, (label, rhythm, price) in enumerate(missions)
        ],
    )  # fmt: skip
    session.add(engagement)
    await session.flush()
    return engagement


def principal_of(user: User, roles: dict[uuid.UUID, frozenset[DossierRole]] | None = None) -> Principal:
    return Principal.build(
        user_id=user.id, email=user.email, name=user.name, locale="fr", roles=user.firm_roles,
        dossier_roles=roles or {},
    )  # fmt: skip
