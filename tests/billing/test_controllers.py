"""Facturation and Paramètres over HTTP: choosing the billing entity, "Créer mes clients",
the client base and the review of possible duplicates, as each role sees them."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.roles import FirmRole
from portal.billing.client_base import ensure_clients, flag_duplicates
from portal.billing.models import BillingClient, ClientDossierLink, DuplicateCandidate, DuplicateStatus
from portal.clients.models import Dossier
from portal.firm.models import Firm
from portal.jobs.models import JobRun, JobStatus, OutboxMessage
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_firm, make_user

Client = httpx.AsyncClient
FLASH = re.compile(r'class="flash flash-(\w+)"[^>]*>([^<]*)<')
OPTION = re.compile(r'<option value="([^"]*)"( selected)?>([^<]*)</option>')


@dataclass
class Cabinet:
    firm: Firm
    partner: User
    admin: User
    collaborator: User
    entity: Dossier
    other_firm_dossier: Dossier
    bakery_sarl: Dossier
    bakery: Dossier
    garage: Dossier
    cafe: Dossier
    cafe_again: Dossier


async def cabinet(session: AsyncSession) -> Cabinet:
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Paule Associée")
    admin = await make_user(session, roles=(FirmRole.ADMIN,), name="Alain Admin")
    collaborator = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Colette Collaboratrice")
    entity = await make_dossier(session, name="Cabinet Lumière Gestion", is_firm_dossier=True)
    other = await make_dossier(session, name="SCI des Associés", is_firm_dossier=True)
    dossiers = {
        "bakery_sarl": await make_dossier(session, name="Boulangerie Martin SARL"),
        "bakery": await make_dossier(session, name="Boulangerie Martin", siren=None),
        "garage": await make_dossier(session, name="Garage du Centre"),
        "cafe": await make_dossier(session, name="Café des Sports", siren=None),
        "cafe_again": await make_dossier(session, name="CAFE DES SPORTS", siren=None),
    }
    firm = await make_firm(session, name="Cabinet Lumière")
    return Cabinet(firm, partner, admin, collaborator, entity, other, **dossiers)


async def with_client_base(session: AsyncSession, place: Cabinet) -> None:
    """The entity linked and "Créer mes clients" done (what the job does, here in the test's transaction)."""
    place.firm.billing_entity_id = place.entity.id
    await session.flush()
    await ensure_clients(session, place.entity.id, Dossier.id.is_not(None))
    await flag_duplicates(session, place.entity.id)


async def as_user(client: Client, user: User) -> None:
    client.cookies.clear()
    assert (await sign_in(client, user.email, PASSWORD)).status_code == 303


def table_rows(page: httpx.Response) -> list[str]:
    return [html.unescape(row) for row in re.findall(r"<tr>(.*?)</tr>", page.text, re.DOTALL)]


def flashes(page: httpx.Response) -> list[tuple[str, str]]:
    return [(category, html.unescape(text).strip()) for category, text in FLASH.findall(page.text)]


async def post(client: Client, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    token = await csrf_token(client, "/entreprises")
    return await client.post(path, data={"_csrf_token": token, **(data or {})}, follow_redirects=False, **kwargs)


async def billing_entity(session: AsyncSession) -> uuid.UUID | None:
    return (await session.execute(select(Firm.billing_entity_id))).scalar_one()


async def client_of(session: AsyncSession, dossier: Dossier) -> BillingClient:
    statement = select(BillingClient).join(ClientDossierLink, ClientDossierLink.client_id == BillingClient.id)
    return (await session.execute(statement.where(ClientDossierLink.dossier_id == dossier.id))).scalar_one()


async def open_pairs(session: AsyncSession) -> list[tuple[uuid.UUID, uuid.UUID]]:
    rows = await session.execute(
        select(DuplicateCandidate.client_id, DuplicateCandidate.candidate_id).where(
            DuplicateCandidate.status == DuplicateStatus.OPEN
        )
    )
    return [(row[0], row[1]) for row in rows]


async def pair_id(session: AsyncSession, first: BillingClient, second: BillingClient) -> uuid.UUID:
    ids = {first.id, second.id}
    statement = select(DuplicateCandidate.id).where(
        DuplicateCandidate.client_id.in_(ids), DuplicateCandidate.candidate_id.in_(ids)
    )
    return (await session.execute(statement)).scalar_one()


# --- Paramètres › Informations générales ----------------------------------------------------


async def test_the_billing_entity_is_chosen_among_the_firms_own_dossiers(
    client: Client, db_session: AsyncSession
) -> None:
    place = await cabinet(db_session)
    await as_user(client, place.partner)
    page = await client.get("/parametres")
    assert page.status_code == 200
    assert '<label for="entite">Entité facturante</label>' in page.text
    select_box = re.search(r'<select id="entite" name="entite">(.*?)</select>', page.text, re.DOTALL)
    assert select_box
    options = {value: label for value, _selected, label in OPTION.findall(select_box.group(1))}
    assert set(options) == {"", str(place.entity.id), str(place.other_firm_dossier.id)}
    assert html.unescape(options[str(place.entity.id)]).startswith("Cabinet Lumière Gestion")
    assert "Créer mes clients" not in page.text  # nothing to create clients in yet

    linked = await post(client, "/parametres/entite-facturante", {"entite": str(place.entity.id)})
    assert linked.status_code == 303
    assert linked.headers["location"] == "/parametres"
    page = await client.get("/parametres")
    assert ("success", "Entité facturante enregistrée.") in flashes(page)
    assert f'<option value="{place.entity.id}" selected>' in page.text
    assert "Créer mes clients" in page.text
    assert 'hx-post="/parametres/creer-mes-clients"' in page.text
    assert await billing_entity(db_session) == place.entity.id

    # A client dossier cannot be the billing entity.
    refused = await post(client, "/parametres/entite-facturante", {"entite": str(place.garage.id)})
    assert refused.status_code == 303
    page = await client.get("/parametres")
    assert ("error", "Choisissez l'un des dossiers du cabinet comme entité facturante.") in flashes(page)
    assert await billing_entity(db_session) == place.entity.id

    unlinked = await post(client, "/parametres/entite-facturante", {"entite": ""})
    assert unlinked.status_code == 303
    page = await client.get("/parametres")
    assert ("success", "Aucune entité facturante n'est plus liée au cabinet.") in flashes(page)
    assert "Créer mes clients" not in page.text
    assert await billing_entity(db_session) is None


async def test_creer_mes_clients_starts_the_job_and_shows_its_run(client: Client, db_session: AsyncSession) -> None:
    place = await cabinet(db_session)
    await as_user(client, place.partner)

    # Before an entity is linked: refused with a message, nothing requested.
    early = await post(client, "/parametres/creer-mes-clients")
    assert early.status_code == 303
    assert early.headers["location"] == "/parametres"
    assert ("error", "Sélectionnez d'abord l'entité facturante.") in flashes(await client.get("/parametres"))
    assert (await db_session.execute(select(func.count()).select_from(JobRun))).scalar_one() == 0

    await post(client, "/parametres/entite-facturante", {"entite": str(place.entity.id)})
    started = await post(client, "/parametres/creer-mes-clients", headers={"HX-Request": "true"})
    assert started.status_code == 200
    assert "<html" not in started.text  # htmx gets the fragment that replaces the button's box
    assert 'id="travail"' in started.text
    assert 'data-status="queued"' in started.text
    run = (await db_session.execute(select(JobRun).where(JobRun.actor_name == "billing.create_clients"))).scalar_one()
    assert run.created_by_id == place.partner.id
    assert run.arguments == {"entity_id": str(place.entity.id)}
    assert run.status == JobStatus.QUEUED
    message = (await db_session.execute(select(OutboxMessage).where(OutboxMessage.job_run_id == run.id))).scalar_one()
    assert message.sent_at is None  # relayed after the commit
    assert f'hx-get="/travaux/{run.id}"' in started.text  # and followed live from there

    # Without htmx, the person lands on the run's page.
    again = await post(client, "/parametres/creer-mes-clients")
    assert again.status_code == 303
    assert re.fullmatch(r"/travaux/[0-9a-f-]{36}", again.headers["location"])
    run_page = await client.get(again.headers["location"])
    assert run_page.status_code == 200
    assert "Créer mes clients" in run_page.text
    # Paramètres shows the latest run under the button (which stays: running it again is safe).
    settings_page = await client.get("/parametres")
    assert 'id="travail"' in settings_page.text
    assert again.headers["location"] in settings_page.text
    assert ">Créer mes clients</button>" in settings_page.text


async def test_the_billing_entitys_own_dossier_says_it_bills_and_promises_no_client(
    client: Client, db_session: AsyncSession
) -> None:
    """The billing entity does not bill itself: its Facturation tab says so, instead of a client « créé en
    arrière-plan » that never comes. Another dossier of the firm gets its client like any other."""
    place = await cabinet(db_session)
    await with_client_base(db_session, place)
    await as_user(client, place.partner)
    for path in (
        f"/entreprises/{place.entity.id}?onglet=facturation",
        f"/entreprises/{place.entity.id}/volet?onglet=facturation",
    ):
        text = html.unescape((await client.get(path)).text)
        assert "Ce dossier est l'entité facturante du cabinet : c'est lui qui facture les clients" in text, path
        assert "arrière-plan" not in text, path
    other = html.unescape((await client.get(f"/entreprises/{place.other_firm_dossier.id}?onglet=facturation")).text)
    assert "entité facturante du cabinet" not in other
    assert "SCI des Associés" in other


async def test_a_collaborator_is_refused_the_billing_settings_and_pages(
    client: Client, db_session: AsyncSession
) -> None:
    place = await cabinet(db_session)
    await with_client_base(db_session, place)
    await as_user(client, place.collaborator)
    assert (await client.get("/parametres")).status_code == 403
    assert (await client.get("/facturation/clients")).status_code == 403
    assert (await client.get("/facturation/doublons")).status_code == 403
    linked = await post(client, "/parametres/entite-facturante", {"entite": str(place.other_firm_dossier.id)})
    assert linked.status_code == 403
    assert "Accès refusé" in linked.text
    assert (await post(client, "/parametres/creer-mes-clients", headers={"HX-Request": "true"})).status_code == 403
    pair = await pair_id(
        db_session, await client_of(db_session, place.cafe), await client_of(db_session, place.cafe_again)
    )
    assert (await post(client, f"/facturation/doublons/{pair}/ecarter")).status_code == 403
    assert await billing_entity(db_session) == place.entity.id
    assert (await db_session.execute(select(func.count()).select_from(JobRun))).scalar_one() == 0
    assert len(await open_pairs(db_session)) == 2
    page = await client.get("/entreprises")
    assert 'href="/facturation' not in page.text  # not offered in the menu either


# --- Facturation ------------------------------------------------------------------------------


async def test_the_client_base_lists_each_client_with_its_siren_and_its_dossiers(
    client: Client, db_session: AsyncSession
) -> None:
    place = await cabinet(db_session)
    await as_user(client, place.partner)
    empty = await client.get("/facturation/clients")
    assert empty.status_code == 200
    assert "Aucune entité facturante n'est liée au cabinet." in html.unescape(empty.text)

    await with_client_base(db_session, place)
    page = await client.get("/facturation/clients")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Entité facturante : Cabinet Lumière Gestion" in text
    clients = (await db_session.execute(select(func.count()).select_from(BillingClient))).scalar_one()
    assert f"{clients} clients" in text
    for dossier in (place.bakery_sarl, place.garage):
        assert dossier.siren is not None
        row = next(row for row in table_rows(page) if dossier.name in row)
        assert dossier.siren_display in row
        assert dossier.vat_number is not None
        assert dossier.vat_number in row
        assert f'<a href="/entreprises/{dossier.id}">{dossier.name}</a>' in row
    bakery_row = next(row for row in table_rows(page) if ">Boulangerie Martin<" in row)
    assert "—" in bakery_row  # no SIREN
    assert f'href="/entreprises/{place.bakery.id}"' in bakery_row
    assert re.search(r'Doublons potentiels <span class="badge badge-warn">2</span>', page.text)

    found = html.unescape((await client.get("/facturation/clients?q=garage")).text)
    assert "1 client" in found
    assert "Garage du Centre" in found
    assert "Boulangerie" not in found
    assert place.garage.siren is not None
    by_siren = html.unescape((await client.get(f"/facturation/clients?q={place.garage.siren}")).text)
    assert "Garage du Centre" in by_siren
    assert "Boulangerie" not in by_siren


async def test_a_partner_merges_and_dismisses_possible_duplicates(client: Client, db_session: AsyncSession) -> None:
    place = await cabinet(db_session)
    await with_client_base(db_session, place)
    sarl, bakery = await client_of(db_session, place.bakery_sarl), await client_of(db_session, place.bakery)
    cafe, cafe_again = await client_of(db_session, place.cafe), await client_of(db_session, place.cafe_again)
    bakery_pair, cafe_pair = await pair_id(db_session, sarl, bakery), await pair_id(db_session, cafe, cafe_again)
    clients_before = (await db_session.execute(select(func.count()).select_from(BillingClient))).scalar_one()
    await as_user(client, place.partner)

    page = await client.get("/facturation/doublons")
    assert page.status_code == 200
    assert page.text.count('class="panel duplicate"') == 2
    for pair, kept, other in ((bakery_pair, sarl, bakery), (cafe_pair, cafe, cafe_again)):
        # « Fusionner… » only asks (a GET form, no token in it); « Écarter » posts its own form, with its token.
        assert f'<form method="get" action="/facturation/doublons/{pair}/fusionner">' in page.text
        assert f'action="/facturation/doublons/{pair}/ecarter" id="ecarter-{pair}"' in page.text
        assert f'form="ecarter-{pair}"' in page.text
        assert f'name="conserver" value="{kept.id}"' in page.text
        assert f'name="conserver" value="{other.id}"' in page.text
    assert "sans SIREN" in page.text
    assert ">Fusionner…</button>" in page.text

    # A client to keep that is not in the pair is refused, at the confirmation as at the merge.
    wrong = await client.get(f"/facturation/doublons/{bakery_pair}/fusionner?conserver={cafe.id}")
    assert wrong.status_code == 303
    assert ("error", "Choisissez l'un des deux clients à conserver.") in flashes(
        await client.get("/facturation/doublons")
    )
    wrong = await post(client, f"/facturation/doublons/{bakery_pair}/fusionner",
                       {"conserver": str(cafe.id), "confirme": "oui"})  # fmt: skip
    assert wrong.status_code == 303
    assert ("error", "Choisissez l'un des deux clients à conserver.") in flashes(
        await client.get("/facturation/doublons")
    )
    assert len(await open_pairs(db_session)) == 2

    merged = await post(client, f"/facturation/doublons/{bakery_pair}/fusionner",
                        {"conserver": str(sarl.id), "confirme": "oui"})  # fmt: skip
    assert merged.status_code == 303
    assert merged.headers["location"] == "/facturation/doublons"
    page = await client.get("/facturation/doublons")
    assert (
        "success",
        "Clients fusionnés : Boulangerie Martin SARL est conservé avec tous ses dossiers.",
    ) in flashes(page)
    assert page.text.count('class="panel duplicate"') == 1
    base = await client.get("/facturation/clients")
    row = next(row for row in table_rows(base) if "Boulangerie Martin SARL" in row)
    assert f'href="/entreprises/{place.bakery_sarl.id}"' in row
    assert f'href="/entreprises/{place.bakery.id}"' in row  # the merged client's dossier moved with it
    assert f"{clients_before - 1} clients" in base.text
    assert (await db_session.execute(select(BillingClient.id).where(BillingClient.id == bakery.id))).first() is None

    dismissed = await post(client, f"/facturation/doublons/{cafe_pair}/ecarter")
    assert dismissed.status_code == 303
    page = await client.get("/facturation/doublons")
    assert (
        "success",
        "Ce ne sont pas des doublons : la paire est écartée et ne sera plus proposée.",
    ) in flashes(page)
    assert "Aucun doublon potentiel à vérifier." in page.text
    listing = (await client.get("/facturation/clients")).text
    assert f'href="/entreprises/{place.cafe.id}"' in listing
    assert f'href="/entreprises/{place.cafe_again.id}"' in listing
    assert f"{clients_before - 1} clients" in listing
    assert await open_pairs(db_session) == []
    # Resolved pairs answer 404 from now on.
    assert (await post(client, f"/facturation/doublons/{cafe_pair}/ecarter")).status_code == 404
    assert (
        await post(client, f"/facturation/doublons/{bakery_pair}/fusionner", {"conserver": str(sarl.id)})
    ).status_code == 404
    assert (await client.get(f"/facturation/doublons/{bakery_pair}/fusionner?conserver={sarl.id}")).status_code == 404


async def test_merging_asks_first_naming_both_clients(client: Client, db_session: AsyncSession) -> None:
    """Irreversible: « Fusionner… » leads to a page naming the client kept and the one that goes; only its
    confirmation, with its token, merges."""
    place = await cabinet(db_session)
    await with_client_base(db_session, place)
    sarl, bakery = await client_of(db_session, place.bakery_sarl), await client_of(db_session, place.bakery)
    bakery_pair = await pair_id(db_session, sarl, bakery)
    await as_user(client, place.partner)

    # The merge is irreversible: the form leads to a page naming both clients, which asks for the confirmation.
    asked = await client.get(f"/facturation/doublons/{bakery_pair}/fusionner?conserver={sarl.id}")
    assert asked.status_code == 200
    text = html.unescape(asked.text)
    assert "Fusionner « Boulangerie Martin » dans « Boulangerie Martin SARL » ?" in text
    assert "Cette fusion est irréversible." in text
    assert "Client conservé" in text
    assert "Client supprimé" in text
    assert ">Confirmer la fusion</button>" in asked.text
    assert 'name="_csrf_token"' in asked.text
    assert 'href="/facturation/doublons">Annuler</a>' in asked.text
    assert len(await open_pairs(db_session)) == 2  # asking changed nothing
    # Without a choice, the client the list offers to keep is the one kept.
    default = html.unescape((await client.get(f"/facturation/doublons/{bakery_pair}/fusionner")).text)
    assert "Fusionner « Boulangerie Martin » dans « Boulangerie Martin SARL » ?" in default
    # A merge posted without that confirmation (an old page, another tool) is sent to it, and merges nothing.
    unconfirmed = await post(client, f"/facturation/doublons/{bakery_pair}/fusionner", {"conserver": str(sarl.id)})
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["location"] == f"/facturation/doublons/{bakery_pair}/fusionner?conserver={sarl.id}"
    assert len(await open_pairs(db_session)) == 2
    assert (await db_session.execute(select(BillingClient.id).where(BillingClient.id == bakery.id))).first()
    # Without its token, the confirmation is refused.
    forged = await client.post(f"/facturation/doublons/{bakery_pair}/fusionner",
                               data={"conserver": str(sarl.id), "confirme": "oui"}, follow_redirects=False)  # fmt: skip
    assert forged.status_code == 403
    assert len(await open_pairs(db_session)) == 2

    merged = await post(client, f"/facturation/doublons/{bakery_pair}/fusionner",
                        {"conserver": str(sarl.id), "confirme": "oui"})  # fmt: skip
    assert merged.status_code == 303
    assert len(await open_pairs(db_session)) == 1
    assert (await db_session.execute(select(BillingClient.id).where(BillingClient.id == bakery.id))).first() is None


async def test_an_administrator_sees_possible_duplicates_but_may_not_resolve_them(
    client: Client, db_session: AsyncSession
) -> None:
    place = await cabinet(db_session)
    await with_client_base(db_session, place)
    sarl, bakery = await client_of(db_session, place.bakery_sarl), await client_of(db_session, place.bakery)
    bakery_pair = await pair_id(db_session, sarl, bakery)
    await as_user(client, place.admin)

    page = await client.get("/facturation/doublons")
    assert page.status_code == 200
    assert page.text.count('class="panel duplicate"') == 2
    assert ">Fusionner…</button>" not in page.text
    assert "/ecarter" not in page.text
    assert " disabled>" in page.text
    assert (await client.get(f"/facturation/doublons/{bakery_pair}/fusionner?conserver={sarl.id}")).status_code == 403

    refused = await post(client, f"/facturation/doublons/{bakery_pair}/fusionner", {"conserver": str(sarl.id)})
    assert refused.status_code == 403
    assert "Accès refusé" in refused.text
    assert (await post(client, f"/facturation/doublons/{bakery_pair}/ecarter")).status_code == 403
    assert len(await open_pairs(db_session)) == 2
    assert (await db_session.execute(select(BillingClient.id).where(BillingClient.id == bakery.id))).first()
    # The client base and "Créer mes clients" are the administrator's, though.
    assert (await client.get("/facturation/clients")).status_code == 200
    started = await post(client, "/parametres/creer-mes-clients", headers={"HX-Request": "true"})
    assert started.status_code == 200
    assert 'id="travail"' in started.text
