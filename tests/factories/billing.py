"""The firm's fees: a billing entity with clients, and invoices written through the invoice service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.policy import Principal
from portal.auth.roles import FirmRole
from portal.billing.client_base import ensure_clients
from portal.billing.fee_models import Invoice
from portal.billing.invoices import InvoiceService, LineValues
from portal.billing.models import BillingClient
from portal.clients.models import Dossier
from portal.firm.models import Firm
from tests.factories.clients import make_dossier
from tests.factories.engagements import client_of
from tests.factories.expenses import principal_of
from tests.factories.firm import make_firm, make_user


@dataclass
class Fees:
    firm: Firm
    entity: Dossier
    partner: User
    principal: Principal
    dossiers: list[Dossier]
    clients: list[BillingClient]


async def make_fees(session: AsyncSession, *, clients: int = 2, **dossier_values: object) -> Fees:
    """A firm whose billing entity has ``clients`` clients (one per dossier), and a partner."""
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Paule Associée")
    entity = await make_dossier(
        session, name="Cabinet Lumière Gestion", is_firm_dossier=True, legal_form="SAS",
        address="12 rue de la Paix", postal_code="69002", city="Lyon",
    )  # fmt: skip
    firm = await make_firm(session, name="Cabinet Lumière")
    firm.billing_entity_id = entity.id
    names = ["Boulangerie Martin", "Garage du Centre", "Café des Sports", "Librairie Page", "Atelier Bois"]
    dossiers = []
    for index in range(clients):
        name = names[index % len(names)] + (f" {index}" if index >= len(names) else "")
        dossiers.append(
            await make_dossier(
                session, name=name, address=f"{index + 1} place du Marché", postal_code="69001", city="Lyon",
                **dossier_values,
            )
        )  # fmt: skip
    await ensure_clients(session, entity.id, Dossier.id.in_([dossier.id for dossier in dossiers]))
    found = [await client_of(session, dossier) for dossier in dossiers]
    for client in found:
        client.billing_email = f"compta@{client.sort_name.replace(' ', '-')[:20] or 'client'}.fr"
    await session.flush()
    return Fees(firm, entity, partner, await principal_of(session, partner), dossiers, found)


def line(  # noqa: PLR0917 - a test line, written as briefly as a person reads it
    label: str = "Tenue comptable",
    price: str = "100.00",
    quantity: str = "1",
    rate: str = "20.00",
    account: str = "706000",
    period: dt.date | None = None,
) -> LineValues:
    return LineValues(
        label=label,
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        vat_rate=Decimal(rate),
        revenue_account=account,
        period_start=period,
    )


async def make_draft(session: AsyncSession, fees: Fees, client: BillingClient, *lines: LineValues) -> Invoice:
    return await InvoiceService(session).create_draft(fees.principal, client.id, list(lines) or [line()])
