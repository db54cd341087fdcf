"""The catalogue of services: French amounts, the checks beside each field, and who may change it."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.models import AuditEvent
from portal.billing.catalogue import NEGATIVE_PRICE, NOT_REVENUE, ServiceForm, validate
from portal.billing.fee_models import Service, Unit
from portal.dashboard.amounts import TOO_PRECISE
from tests.billing.test_controllers import as_user, post
from tests.factories.engagements import fees_place

Client = httpx.AsyncClient
ALERT = re.compile(r'id="erreur-(\w+)" role="alert">([^<]*)<')


def test_a_price_is_typed_the_french_way() -> None:
    checked = validate(ServiceForm(libelle="  Tenue   comptable ", prix="1 234,50", tva="5.50", compte="706 100"))
    assert checked.errors == {}
    assert checked.values is not None
    assert (checked.values.label, checked.values.unit_price) == ("Tenue comptable", Decimal("1234.50"))
    assert (checked.values.vat_rate, checked.values.revenue_account) == (Decimal("5.50"), "706100")
    assert checked.values.unit is Unit.FLAT
    assert checked.values.active is False  # the box unticked sends nothing


def test_three_decimals_a_negative_price_and_a_charge_account_are_refused() -> None:
    assert validate(ServiceForm(libelle="Conseil", prix="120,125")).errors == {"prix": TOO_PRECISE}
    assert validate(ServiceForm(libelle="Conseil", prix="-120")).errors == {"prix": NEGATIVE_PRICE}
    assert validate(ServiceForm(libelle="Conseil", prix="120", compte="601000")).errors == {"compte": NOT_REVENUE}
    assert set(validate(ServiceForm(libelle="", prix="", tva="19.6")).errors) == {"libelle", "prix", "tva"}


async def test_a_partner_adds_edits_and_deactivates_a_service(client: Client, db_session: AsyncSession) -> None:
    place = await fees_place(db_session)
    await as_user(client, place.partner)
    refused = await post(client, "/facturation/catalogue/nouveau",
                         {"libelle": "Tenue comptable", "unite": "forfait", "prix": "350,505", "tva": "20.00",
                          "compte": "601000", "actif": "1"})  # fmt: skip
    assert refused.status_code == 422
    errors = {field: html.unescape(text) for field, text in ALERT.findall(refused.text)}
    assert errors == {"prix": "Valeur invalide : deux décimales au plus.", "compte": NOT_REVENUE}
    assert (await db_session.execute(select(func.count()).select_from(Service))).scalar_one() == 0

    created = await post(client, "/facturation/catalogue/nouveau",
                         {"libelle": "Tenue comptable", "unite": "forfait", "prix": "1 234,50", "tva": "20.00",
                          "compte": "706000", "actif": "1"})  # fmt: skip
    assert created.status_code == 303
    service = (await db_session.execute(select(Service))).scalar_one()
    assert (service.unit_price, service.active) == (Decimal("1234.50"), True)
    listing = html.unescape((await client.get("/facturation/catalogue")).text)
    assert "Tenue comptable" in listing
    assert "1\u202f234,50\xa0€" in listing

    twice = await post(client, "/facturation/catalogue/nouveau",
                       {"libelle": "Tenue comptable", "unite": "heure", "prix": "80", "tva": "20.00",
                        "compte": "706000"})  # fmt: skip
    assert twice.status_code == 422
    assert "Un service du catalogue porte déjà ce libellé." in html.unescape(twice.text)

    toggled = await post(client, f"/facturation/catalogue/{service.id}/activation")
    assert toggled.status_code == 303
    await db_session.refresh(service)
    assert service.active is False
    kinds = await db_session.execute(select(AuditEvent.action).where(AuditEvent.object_type == "billing_service"))
    assert list(kinds.scalars()) == ["billing_service.create", "billing_service.update"]


async def test_the_catalogue_is_the_billing_entitys_own(client: Client, db_session: AsyncSession) -> None:
    place = await fees_place(db_session)
    await as_user(client, place.accountant)  # a Comptable reads their dossiers' fees, not the firm's catalogue
    assert (await client.get("/facturation/catalogue")).status_code == 403
    assert (await client.get("/facturation/parametres")).status_code == 403
    await as_user(client, place.manager)  # the Gestionnaire de facturation manages it
    page = await client.get("/facturation/catalogue")
    assert page.status_code == 200
    assert "Ajouter un service" in page.text
    created = await post(client, "/facturation/catalogue/nouveau",
                         {"libelle": "Liasse fiscale", "unite": "forfait", "prix": "450", "tva": "20.00",
                          "compte": "706000", "actif": "1"})  # fmt: skip
    assert created.status_code == 303
