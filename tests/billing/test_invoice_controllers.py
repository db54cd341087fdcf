"""The Factures pages over HTTP: a one-off invoice typed with mistakes, then right; validation; who reads what;
the fees report's figures."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.roles import DossierRole, FirmRole
from portal.billing.fee_models import Invoice, InvoiceStatus
from portal.billing.invoices import InvoiceService, today
from portal.clients.models import DossierAccess
from tests.billing.test_controllers import as_user, flashes, post
from tests.factories.billing import line, make_draft, make_fees
from tests.factories.firm import add_role, make_user

Client = httpx.AsyncClient


def text_of(page: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))


async def test_a_partner_types_a_one_off_invoice_is_told_what_is_wrong_then_validates_it(
    client: Client, db_session: AsyncSession
) -> None:
    fees = await make_fees(db_session, clients=1)
    await as_user(client, fees.partner)
    target = fees.clients[0]
    typed = {"client": str(target.id), "libelle": ["Constitution de société", "Conseil"], "unite": ["acte", "heure"],
             "quantite": ["1", "2,5"], "prix": ["450,125", "120"], "tva": ["20.00", "20.00"],
             "compte": ["706000", "601000"]}  # fmt: skip

    refused = await post(client, "/facturation/factures", typed)

    assert refused.status_code == 422
    words = text_of(refused)
    assert "Prix invalide : un montant positif en euros, deux décimales au plus" in words
    assert "Compte de produit invalide" in words
    assert 'value="450,125"' in refused.text  # what was typed is shown back
    assert (await db_session.execute(select(func.count()).select_from(Invoice))).scalar_one() == 0

    typed |= {"prix": ["450,00", "120"], "compte": ["706000", "706300"]}
    created = await post(client, "/facturation/factures", typed)
    assert created.status_code == 303
    draft = (await db_session.execute(select(Invoice))).scalar_one()
    # 450 + 2,5 × 120 = 750 HT; 150 of VAT at 20 %.
    assert (draft.total_ht, draft.total_vat, draft.total_ttc) == (Decimal("750.00"), Decimal("150.00"),
                                                                  Decimal("900.00"))  # fmt: skip
    page = await client.get(created.headers["location"])
    assert "Brouillon de facture" in text_of(page)

    validated = await post(client, "/facturation/factures/valider", {"facture": str(draft.id)})
    shown = await client.get(validated.headers["location"])
    number = f"F{today().year}-000001"
    assert ("success", f"Facture validée : {number}.") in flashes(shown)
    assert number in text_of(shown)
    await db_session.refresh(draft)
    assert draft.status is InvoiceStatus.VALIDATED


async def test_a_comptable_reads_the_invoices_of_their_dossier_only_and_cannot_bill(
    client: Client, db_session: AsyncSession
) -> None:
    fees = await make_fees(db_session, clients=2)
    service = InvoiceService(db_session)
    mine, other = [await make_draft(db_session, fees, client) for client in fees.clients]
    await service.validate(fees.principal, [mine.id, other.id])
    accountant = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, accountant, fees.dossiers[0], DossierRole.ACCOUNTANT)
    await as_user(client, accountant)

    listing = text_of(await client.get("/facturation/factures"))
    assert mine.client_name in listing
    assert other.client_name not in listing
    assert (await client.get(f"/facturation/factures/{mine.id}")).status_code == 200
    assert (await client.get(f"/facturation/factures/{other.id}")).status_code == 404
    assert (await client.get("/facturation/factures/nouvelle")).status_code == 403
    assert (await post(client, f"/facturation/factures/{mine.id}/avoir")).status_code == 403


async def test_the_billing_manager_does_not_see_a_confidential_clients_invoice(
    client: Client, db_session: AsyncSession
) -> None:
    fees = await make_fees(db_session, clients=2)
    fees.dossiers[1].is_confidential = True
    db_session.add(DossierAccess(dossier_id=fees.dossiers[1].id, user_id=fees.partner.id))  # the partner bills it
    secret = await make_draft(db_session, fees, fees.clients[1], line("Conseil stratégique", price="999.00"))
    manager = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, manager, fees.entity, DossierRole.BILLING_MANAGER)
    await as_user(client, manager)

    assert secret.client_name not in text_of(await client.get("/facturation/factures"))
    assert (await client.get(f"/facturation/factures/{secret.id}")).status_code == 404
    assert (await post(client, "/facturation/factures/valider", {"facture": str(secret.id)})).status_code == 303
    await db_session.refresh(secret)
    assert secret.number is None


async def test_the_fees_report_sums_what_was_billed_less_credit_notes(client: Client, db_session: AsyncSession) -> None:
    fees = await make_fees(db_session, clients=2)
    service = InvoiceService(db_session)
    first = await make_draft(db_session, fees, fees.clients[0], line(price="1000.00"), line("Bulletins", "25", "4"))
    second = await make_draft(db_session, fees, fees.clients[1], line(price="300.00"))
    await service.validate(fees.principal, [first.id, second.id])
    note = await service.credit_note(fees.principal, second.id, [line("Remise", price="50.00")])
    await service.validate(fees.principal, [note.id])
    await as_user(client, fees.partner)

    words = text_of(await client.get("/facturation/honoraires"))

    # 1 000 + 4 × 25 + 300 − 50 = 1 350 HT this year.
    assert re.search(rf"Total {today().year} : 1\s?350,00\s€ HT", words), words
