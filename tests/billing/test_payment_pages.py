"""Facturation over HTTP: Encaissements (the list, the form with its allocations and its messages), Rapprochement
bancaire (upload, confirm, ignore), Relances, Balance âgée and its CSV, the fees' journals in the billing entity's
Comptabilité and their FEC; who may read and who may act."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from decimal import Decimal

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.roles import DossierRole, FirmRole
from portal.billing.fee_models import BankLine, BankLineStatus, Invoice, Payment, Reminder
from portal.billing.models import BillingClient, ClientDossierLink
from portal.billing.payments import today
from portal.billing.posting import post_invoices
from portal.clients.models import Dossier
from portal.ledger import fec
from tests.billing.test_controllers import as_user, flashes, post
from tests.factories.clients import make_dossier
from tests.factories.fees import billing_client, billing_entity, invoice, line
from tests.factories.firm import add_role, make_user

Client = httpx.AsyncClient
D = Decimal


def text_of(page: httpx.Response) -> str:
    return (
        " ".join(html.unescape(re.sub(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""", " ", page.text)).split())
        .replace("\u202f", " ")
        .replace("\xa0", " ")
    )


@dataclass
class Place:
    entity: Dossier
    partner: User
    collaborator: User
    bakery: BillingClient
    garage: BillingClient
    first: Invoice
    second: Invoice
    third: Invoice


async def place(session: AsyncSession) -> Place:
    entity = await billing_entity(session)
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Paule Associée")
    collaborator = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Colette Collaboratrice")
    bakery = await billing_client(session, entity, "Boulangerie Martin", email="compta@martin.fr")
    garage = await billing_client(session, entity, "Garage du Centre")
    first = await invoice(session, entity, bakery, [line("Bilan", "100.00")], number="F2026-000001",
                          due_date=today() - dt.timedelta(days=40))  # fmt: skip
    second = await invoice(session, entity, bakery, [line("Paie", "50.00")], number="F2026-000002",
                           due_date=today() - dt.timedelta(days=10))  # fmt: skip
    third = await invoice(session, entity, garage, [line("Conseil", "300.00")], number="F2026-000003")
    return Place(entity, partner, collaborator, bakery, garage, first, second, third)


async def test_a_partner_records_a_payment_spread_over_two_invoices(client: Client, db_session: AsyncSession) -> None:
    cabinet = await place(db_session)
    await as_user(client, cabinet.partner)
    listing = await client.get("/facturation/encaissements")
    assert listing.status_code == 200
    assert 'href="/facturation/encaissements"' in listing.text
    assert 'aria-current="page"' in listing.text
    assert "Aucun encaissement enregistré." in listing.text

    form = await client.get("/facturation/encaissements/nouveau")
    assert form.status_code == 200
    assert "Boulangerie Martin" in form.text
    assert "Garage du Centre" in form.text
    bakery = cabinet.bakery
    form = await client.get(f"/facturation/encaissements/nouveau?client={bakery.id}")
    assert "F2026-000001" in form.text
    assert "F2026-000002" in form.text
    assert "F2026-000003" not in form.text

    first, second = cabinet.first, cabinet.second
    values = {"client": str(bakery.id), "date": today().strftime("%d/%m/%Y"), "montant": "150", "mode": "cheque",
              "reference": "Chèque 1234567", "facture": [str(first.id), str(second.id)],
              "part": ["", "60"]}  # fmt: skip
    # 60,00 on the second, nothing typed on the first: the rest (90,00) is the client's credit.
    done = await post(client, "/facturation/encaissements", values)
    assert done.status_code == 303
    page = await client.get("/facturation/encaissements")
    assert ("success", "Encaissement de 150,00\xa0€ enregistré. Avance du client : 90,00\xa0€.") in flashes(page)
    shown = text_of(page)
    assert "Boulangerie Martin" in shown
    assert "Chèque" in shown
    assert "F2026-000002 (60,00 €)" in shown
    await db_session.refresh(second)
    assert (second.settled, second.paid_at) == (D("60.00"), today())

    # The client's credit is shown on the form, and settles the first invoice.
    form = await client.get(f"/facturation/encaissements/nouveau?client={bakery.id}")
    assert "Avance disponible : 90,00 €" in text_of(form)
    applied = await post(client, "/facturation/encaissements/avance", {"facture": str(first.id)})
    assert applied.status_code == 303
    assert ("success", "Avance imputée : 90,00\xa0€.") in flashes(await client.get("/facturation/encaissements"))
    await db_session.refresh(first)
    assert first.settled == D("90.00")


async def test_bad_input_comes_back_beside_its_field_and_nothing_is_saved(
    client: Client, db_session: AsyncSession
) -> None:
    cabinet = await place(db_session)
    await as_user(client, cabinet.partner)
    bakery, first = cabinet.bakery, cabinet.first
    base = {"client": str(bakery.id), "date": today().strftime("%d/%m/%Y"), "montant": "100", "mode": "virement",
            "facture": [str(first.id)], "part": [""]}  # fmt: skip
    cases = [
        ({"montant": "0"}, "montant", "Saisissez un montant supérieur à zéro."),
        ({"montant": "12,345"}, "montant", "Valeur invalide : deux décimales au plus."),
        ({"date": "31/02/2026"}, "date", "Date invalide : utilisez le format JJ/MM/AAAA."),
        ({"date": (today() + dt.timedelta(days=2)).strftime("%d/%m/%Y")}, "date",
         "La date d'encaissement ne peut pas être dans le futur."),
        ({"montant": "130", "part": ["130"]}, "repartition",
         "130,00 € dépasse le solde dû de la facture F2026-000001 (120,00 €)."),
        ({"mode": "bitcoin"}, "mode", "Choisissez un mode de paiement."),
    ]  # fmt: skip
    for change, field, message in cases:
        refused = await post(client, "/facturation/encaissements", {**base, **change})
        assert refused.status_code == 422, change
        error = re.search(rf'id="erreur-{field}" role="alert">([^<]*)<', refused.text)
        assert error, (change, refused.text[:3000])
        assert html.unescape(error.group(1)).replace("\u202f", " ").replace("\xa0", " ") == message
    assert (await db_session.execute(select(func.count()).select_from(Payment))).scalar_one() == 0


async def test_who_may_read_and_who_may_act(client: Client, db_session: AsyncSession) -> None:
    cabinet = await place(db_session)
    entity = cabinet.entity
    # A collaborator without billing rights: neither the pages nor the actions.
    await as_user(client, cabinet.collaborator)
    for path in ("/facturation/encaissements", "/facturation/rapprochement", "/facturation/relances",
                 "/facturation/balance-agee", "/facturation/encaissements/nouveau"):  # fmt: skip
        assert (await client.get(path)).status_code == 403, path
    # The Gestionnaire de facturation (on the billing entity's dossier) reads and records.
    manager = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), name="Gaston Gestionnaire")
    await add_role(db_session, manager, entity, DossierRole.BILLING_MANAGER)
    await as_user(client, manager)
    page = await client.get("/facturation/encaissements")
    assert page.status_code == 200
    assert "Enregistrer un encaissement" in page.text
    # A dossier's Comptable reads the aged balance of that dossier's client only, and records nothing.
    accountant = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), name="Camille Comptable")
    dossier = await make_dossier(db_session, name="Garage du Centre")
    db_session.add(ClientDossierLink(billing_entity_id=entity.id, client_id=cabinet.garage.id, dossier_id=dossier.id))
    await add_role(db_session, accountant, dossier, DossierRole.ACCOUNTANT)
    await as_user(client, accountant)
    aged = await client.get("/facturation/balance-agee")
    assert aged.status_code == 200
    assert "Garage du Centre" in aged.text
    assert "Boulangerie Martin" not in aged.text
    assert "Enregistrer un encaissement" not in (await client.get("/facturation/encaissements")).text
    assert (await client.get("/facturation/encaissements/nouveau")).status_code == 403
    refused = await post(client, "/facturation/encaissements", {"client": str(cabinet.garage.id), "montant": "1"})
    assert refused.status_code == 403


async def test_a_statement_is_uploaded_and_its_lines_confirmed_or_ignored(
    client: Client, db_session: AsyncSession
) -> None:
    cabinet = await place(db_session)
    await as_user(client, cabinet.partner)
    bad = await post(client, "/facturation/rapprochement",
                     files={"fichier": ("releve.csv", b"date;libelle;montant\n32/01/2026;VIR;10,00\n",
                                        "text/csv")})  # fmt: skip
    assert bad.status_code == 422
    assert "Ligne 2 : « 32/01/2026 » n'est pas une date (JJ/MM/AAAA)." in html.unescape(bad.text)
    statement = (
        "date;libellé;montant;référence\n"
        f"{today():%d/%m/%Y};VIR BOULANGERIE MARTIN F2026-000001;120,00;\n"
        f"{today():%d/%m/%Y};VIR INCONNU;42,00;\n"
    ).encode()
    done = await post(client, "/facturation/rapprochement", files={"fichier": ("releve.csv", statement, "text/csv")})
    assert done.status_code == 303
    page = await client.get("/facturation/rapprochement")
    assert ("success", "Relevé importé : 2 lignes de crédit nouvelles.") in flashes(page)
    shown = text_of(page)
    assert "VIR BOULANGERIE MARTIN F2026-000001" in shown
    assert "F2026-000001 · Boulangerie Martin" in shown
    lines = {item.label: item for item in (await db_session.execute(select(BankLine))).scalars()}
    matched_line = lines["VIR BOULANGERIE MARTIN F2026-000001"]
    confirmed = await post(client, f"/facturation/rapprochement/{matched_line.id}/confirmer",
                           {"facture": "F2026-000001"})  # fmt: skip
    assert confirmed.status_code == 303
    assert ("success", "Rapprochement confirmé : encaissement de 120,00\xa0€ enregistré.") in flashes(
        await client.get("/facturation/rapprochement")
    )
    ignored = await post(client, f"/facturation/rapprochement/{lines['VIR INCONNU'].id}/ignorer")
    assert ignored.status_code == 303
    for item in lines.values():
        await db_session.refresh(item)
    assert {item.label: item.status for item in lines.values()} == {
        "VIR BOULANGERIE MARTIN F2026-000001": BankLineStatus.MATCHED, "VIR INCONNU": BankLineStatus.IGNORED,
    }  # fmt: skip
    first = await db_session.get(Invoice, cabinet.first.id)
    assert first is not None
    await db_session.refresh(first)
    assert first.paid_at == today()
    matched = await client.get("/facturation/rapprochement?statut=rapprochees")
    assert "VIR BOULANGERIE MARTIN" in matched.text
    assert "VIR INCONNU" not in matched.text


async def test_reminders_and_the_aged_balance_pages_and_its_csv(client: Client, db_session: AsyncSession) -> None:
    cabinet = await place(db_session)
    db_session.add(Reminder(invoice_id=cabinet.first.id, delay_days=30, sent_at=dt.datetime.now(dt.UTC)))
    await db_session.flush()
    await as_user(client, cabinet.partner)
    page = text_of(await client.get("/facturation/relances"))
    assert "J+7, J+30" in page
    assert "F2026-000001 Boulangerie Martin" in page
    assert "Toutes envoyées" in page  # J+30 sent: nothing after
    second_due = today() - dt.timedelta(days=10)
    assert f"J+7, le {today():%d/%m/%Y}" in page or f"J+30, le {second_due + dt.timedelta(days=30):%d/%m/%Y}" in page
    assert "compta@martin.fr" in page

    aged = await client.get("/facturation/balance-agee")
    shown = text_of(aged)
    # Boulangerie: 120,00 at 40 days (31–60), 60,00 at 10 days (0–30); Garage: 360,00 not due.
    assert "Boulangerie Martin 0,00 € 60,00 € 120,00 € 0,00 € 0,00 € 180,00 €" in shown
    assert "Total 360,00 € 60,00 € 120,00 € 0,00 € 0,00 € 540,00 €" in shown
    bad = await client.get("/facturation/balance-agee?date=demain")
    assert "Date invalide : utilisez le format JJ/MM/AAAA." in html.unescape(bad.text)
    export = await client.get(f"/facturation/balance-agee.csv?date={today().isoformat()}")
    assert export.status_code == 200
    assert export.headers["content-disposition"] == f'attachment; filename="balance-agee-{today():%Y%m%d}.csv"'
    rows = export.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "Client;Non échu;0–30 jours;31–60 jours;61–90 jours;> 90 jours;Total"
    assert rows[1:] == [
        "Boulangerie Martin;0,00;60,00;120,00;0,00;0,00;180,00",
        "Garage du Centre;360,00;0,00;0,00;0,00;0,00;360,00",
    ]


async def test_the_billing_entitys_comptabilite_lists_the_fees_journals_and_exports_them(
    client: Client, db_session: AsyncSession
) -> None:
    cabinet = await place(db_session)
    entity = cabinet.entity
    await post_invoices(db_session, [getattr(cabinet, key).id for key in ("first", "second", "third")])
    await as_user(client, cabinet.partner)
    page = await client.get(f"/entreprises/{entity.id}/comptabilite")
    assert page.status_code == 200
    assert 'id="journaux-facturation"' in page.text
    assert 'data-journal="facturation:VT"' in page.text
    period_end = re.search(r"journaux-facturation/fec\?du=([0-9-]+)&amp;au=([0-9-]+)", page.text)
    assert period_end
    chosen = await client.get(
        f"/entreprises/{entity.id}/comptabilite?exercice={period_end.group(2)}&journal=facturation:VT"
    )
    assert "F2026-000003" in chosen.text
    assert 'id="ecritures-facturation"' in chosen.text
    exported = await client.get(
        f"/entreprises/{entity.id}/comptabilite/journaux-facturation/fec?du={period_end.group(1)}&au={period_end.group(2)}"
    )
    assert exported.status_code == 200
    name = f"{entity.siren}FEC{period_end.group(2).replace('-', '')}.txt"
    assert exported.headers["content-disposition"] == f'attachment; filename="{name}"'
    lines = exported.content.decode("iso-8859-15").splitlines()
    assert lines[0].split("\t")[:3] == list(fec.COLUMNS[:3])
    assert len(lines) == 1 + 3 * 3  # three invoices, three lines each (411, 706, 44571)
