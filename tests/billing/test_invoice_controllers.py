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
from portal.billing.fee_settings import settings_of
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


async def test_a_draft_is_corrected_grouped_removed_and_a_validated_one_is_credited_sent_and_downloaded(
    client: Client, db_session: AsyncSession
) -> None:
    fees = await make_fees(db_session, clients=2)
    first = await make_draft(db_session, fees, fees.clients[0], line(price="100.00"))
    second = await make_draft(db_session, fees, fees.clients[0], line("Bulletins", price="20.00", quantity="3"))
    other = await make_draft(db_session, fees, fees.clients[1], line(price="80.00"))
    await as_user(client, fees.partner)

    page = await client.get(f"/facturation/factures/{first.id}")
    assert "Modifier le brouillon" in text_of(page)
    typed = {"libelle": ["Tenue comptable"], "quantite": ["1"], "prix": ["-5"], "tva": ["20.00"], "compte": ["706000"]}
    refused = await post(client, f"/facturation/factures/{first.id}/lignes", typed)
    assert refused.status_code == 422
    assert "Prix invalide" in text_of(refused)
    saved = await post(
        client, f"/facturation/factures/{first.id}/lignes", typed | {"prix": ["150,00"], "note": "Merci"}
    )
    assert saved.status_code == 303
    await db_session.refresh(first)
    assert first.total_ht == Decimal("150.00")

    mixed = await post(client, "/facturation/factures/regrouper", {"facture": [str(first.id), str(other.id)]})
    assert ("error", "Seuls des brouillons du même client se regroupent.") in flashes(
        await client.get(mixed.headers["location"])
    )
    grouped = await post(client, "/facturation/factures/regrouper", {"facture": [str(first.id), str(second.id)]})
    assert grouped.headers["location"] == f"/facturation/factures/{first.id}"
    await db_session.refresh(first)
    assert first.total_ht == Decimal("210.00")  # 150 + 3 × 20

    removed = await post(client, "/facturation/factures/supprimer", {"facture": [str(other.id)]})
    assert removed.status_code == 303
    gone = select(func.count()).select_from(Invoice).where(Invoice.id == other.id)
    assert (await db_session.execute(gone)).scalar_one() == 0

    await post(client, "/facturation/factures/valider", {"facture": str(first.id)})
    await db_session.refresh(first)
    pdf = await client.get(f"/facturation/factures/{first.id}/pdf")
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="{first.number}.pdf"'
    ubl = await client.get(f"/facturation/factures/{first.id}/ubl.xml")
    assert b"<cbc:ID>" + (first.number or "").encode() in ubl.content
    sent = await post(client, f"/facturation/factures/{first.id}/envoyer")
    assert "Envoi demandé à" in text_of(await client.get(sent.headers["location"]))

    credited = await post(client, f"/facturation/factures/{first.id}/avoir")
    note = (await db_session.execute(select(Invoice).where(Invoice.credited_invoice_id == first.id))).scalar_one()
    assert credited.headers["location"] == f"/facturation/factures/{note.id}"
    assert note.total_ttc == first.total_ttc


async def test_a_month_is_run_once_from_its_page(client: Client, db_session: AsyncSession) -> None:
    fees = await make_fees(db_session, clients=1)
    await as_user(client, fees.partner)

    assert "Préparer les brouillons du mois" in text_of(await client.get("/facturation/recurrente"))
    refused = await post(client, "/facturation/recurrente", {"mois": "décembre"})
    assert refused.status_code == 422
    assert "Choisissez le mois à facturer" in text_of(refused)
    started = await post(client, "/facturation/recurrente", {"mois": "2026-11"})
    run_page = await client.get(started.headers["location"])
    assert "Facturation du 01/11/2026 au 30/11/2026" in text_of(run_page)
    again = await post(client, "/facturation/recurrente", {"mois": "11/2026"})
    assert again.headers["location"] == started.headers["location"]
    assert (await post(client, started.headers["location"] + "/valider")).status_code == 303


async def test_the_billing_settings_refuse_what_is_wrong_and_keep_what_is_right(
    client: Client, db_session: AsyncSession
) -> None:
    fees = await make_fees(db_session, clients=1)
    await as_user(client, fees.partner)
    typed = {"capital": "50 000 €", "rcs": "RCS Lyon 901 122 333", "email": "facturation@cabinet.fr",
             "telephone": "04 72 00 00 00", "iban": "FR76 3000 6000 0112 3456 7890 188", "bic": "AGRIFRPP",
             "delai_paiement": "45", "penalites": "10,5", "tva_debits": "1", "conditions": "Conditions.",
             "prefixe_facture": "F", "prefixe_avoir": "AV", "relances": "7, 30"}  # fmt: skip

    refused = await post(client, "/facturation/parametres", typed)

    assert refused.status_code == 422  # the IBAN's check digits are wrong (…188 instead of …189)
    assert (await settings_of(db_session, fees.entity.id)).iban == ""
    saved = await post(client, "/facturation/parametres", typed | {"iban": "FR76 3000 6000 0112 3456 7890 189"})
    assert saved.status_code == 303
    kept = await settings_of(db_session, fees.entity.id)
    assert (kept.payment_terms_days, kept.late_penalty_rate, kept.vat_on_debits) == (45, Decimal("10.50"), True)
    assert kept.iban == "FR7630006000011234567890189"
    assert "FR76 3000 6000 0112 3456 7890 189" in (await client.get("/facturation/parametres")).text
