"""What a lettre de mission prints: the firm, the client, the missions and fees, the dates and the terms.

The same context serves the PDF (``templates/billing/engagement_pdf.html``, WeasyPrint), the page the client
opens from the link, and the email's attachment; it is read from the rows into plain values, so it can be
printed after its session is closed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from portal.billing.catalogue import rate_label
from portal.billing.fee_models import Engagement, Rhythm, Unit
from portal.billing.fee_settings import iban_display, settings_of
from portal.billing.fees import Fees, billing_ht, fees, yearly_ht
from portal.clients.identifiers import format_siren
from portal.clients.models import Dossier

TEMPLATE = "billing/engagement_pdf.html"


@dataclass(frozen=True)
class Party:
    """The firm or the client, as the letter names them."""

    name: str
    legal_form: str
    address: str
    postal_code: str
    city: str
    siren: str
    vat_number: str
    share_capital: str = ""
    trade_registry: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class MissionLine:
    label: str
    unit: Unit
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    vat_label: str
    rhythm: Rhythm
    per_billing_ht: Decimal
    yearly_ht: Decimal


@dataclass(frozen=True)
class Letter:
    """Everything the letter shows, as plain values."""

    id: uuid.UUID
    reference: str
    status_label: str
    firm: Party
    client: Party
    contact_name: str
    start_date: Any
    renewal_date: Any
    revision_rate: Decimal
    missions: tuple[MissionLine, ...]
    fees: Fees
    general_terms: str
    iban: str
    accepted_at: Any
    accepted_by_name: str | None


def _party(dossier: Dossier | None, name: str, siren: str | None, **extra: str) -> Party:
    def read(attribute: str) -> str:
        return str(getattr(dossier, attribute, None) or "")

    return Party(
        name=name, legal_form=read("legal_form"), address=read("address"), postal_code=read("postal_code"),
        city=read("city"), siren=format_siren(siren) if siren else "", vat_number=read("vat_number"), **extra,
    )  # fmt: skip


def pdf_name(reference: str, client_name: str) -> str:
    """``LM2026-0001 Boulangerie Martin.pdf``, with nothing a file name should not hold."""
    cleaned = re.sub(r"[^\w .,&'-]+", " ", f"{reference} {client_name}").strip()
    return " ".join(cleaned.split())[:120] + ".pdf"


async def letter(session: AsyncSession, engagement: Engagement) -> Letter:
    """The letter ``engagement`` prints. A letter not sent yet shows the firm's current general terms; once sent,
    the terms it was sent with."""
    settings = await settings_of(session, engagement.entity_id)
    entity = await session.get(Dossier, engagement.entity_id)
    client = engagement.client
    origin = await session.get(Dossier, client.origin_dossier_id) if client.origin_dossier_id else None
    firm = _party(
        entity, entity.name if entity else "", entity.siren if entity else None,
        share_capital=settings.share_capital, trade_registry=settings.trade_registry, email=settings.email,
        phone=settings.phone,
    )  # fmt: skip
    missions = tuple(
        MissionLine(
            label=mission.label, unit=mission.unit, quantity=mission.quantity, unit_price=mission.unit_price,
            vat_rate=mission.vat_rate, vat_label=rate_label(mission.vat_rate), rhythm=mission.rhythm,
            per_billing_ht=billing_ht(mission),
            yearly_ht=yearly_ht(mission),
        )
        for mission in engagement.missions
    )  # fmt: skip
    return Letter(
        id=engagement.id, reference=engagement.reference, status_label=engagement.status.label, firm=firm,
        client=_party(origin, client.name, client.siren), contact_name=engagement.contact_name,
        start_date=engagement.start_date, renewal_date=engagement.renewal_date,
        revision_rate=engagement.revision_rate, missions=missions, fees=fees(engagement.missions),
        general_terms=engagement.general_terms or settings.general_terms, iban=iban_display(settings.iban),
        accepted_at=engagement.accepted_at, accepted_by_name=engagement.accepted_by_name,
    )  # fmt: skip
