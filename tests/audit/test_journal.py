"""The Journal d'audit in words, narrowed by person, dossier, kind and dates, never past what the reader may see."""

from __future__ import annotations

import datetime as dt
import html
import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.audit.context import Actor, acting_as
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier, DossierAccess
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user


def _options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select id="filtre-{name}" name="{name}">(.*?)</select>', page, re.DOTALL)
    assert select is not None
    return [html.unescape(label) for label in re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))]


def _sentences(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<p class="event-sentence">(.*?)</p>', page, re.DOTALL)]


async def _firm(db_session: AsyncSession) -> tuple[User, User, Dossier, Dossier]:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,), name="Marc Lefèvre")
    with acting_as(Actor(user_id=partner.id, label=partner.email)):
        open_dossier = await make_dossier(db_session, name="Boulangerie Martin")
        secret = await make_dossier(db_session, name="Holding Discrète", is_confidential=True)
        db_session.add(DossierAccess(dossier_id=secret.id, user_id=partner.id))
        secret.legal_form = "SAS"
        await db_session.flush()
    return partner, admin, open_dossier, secret


async def test_the_journal_reads_in_sentences_and_offers_only_what_one_may_see(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    partner, admin, _open_dossier, secret = await _firm(db_session)
    await sign_in(client, admin.email, PASSWORD)
    page = (await client.get("/parametres/journal")).text
    assert "Claire Durand a créé le dossier Boulangerie Martin" in _sentences(page)
    assert "dossier.create" not in page
    assert "Holding Discrète" not in html.unescape(page)
    assert _options(page, "dossier") == ["Tous les dossiers", "Boulangerie Martin"]
    assert "Claire Durand" in _options(page, "personne")
    # A hidden dossier's id asked for by hand: no rows, and nothing about it.
    hidden = (await client.get(f"/parametres/journal?dossier={secret.id}")).text
    assert hidden.count('class="audit-event"') == 0
    assert "0 événement" in hidden
    assert "Holding Discrète" not in html.unescape(hidden)
    assert "SAS" not in hidden

    client.cookies.clear()
    await sign_in(client, partner.email, PASSWORD)
    page = (await client.get(f"/parametres/journal?dossier={secret.id}")).text
    assert _sentences(page)[0] == "Claire Durand a modifié le dossier Holding Discrète"
    assert "<del>—</del>" in page
    assert "<ins>SAS</ins>" in page
    assert "Holding Discrète" in _options(page, "dossier")


async def test_the_journal_filters_by_person_kind_and_dates(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    partner, admin, open_dossier, _secret = await _firm(db_session)
    collaborator = await make_user(db_session, name="Julie Bernard")
    with acting_as(Actor(user_id=admin.id, label=admin.email)):
        await add_role(db_session, collaborator, open_dossier, DossierRole.ACCOUNTANT)
    await sign_in(client, partner.email, PASSWORD)

    by_admin = _sentences((await client.get(f"/parametres/journal?personne={admin.id}")).text)
    assert by_admin[0] == "Marc Lefèvre a nommé Julie Bernard Comptable du dossier Boulangerie Martin"
    assert all("Marc Lefèvre" in sentence for sentence in by_admin)

    roles = _sentences((await client.get("/parametres/journal?type=dossier_membership")).text)
    assert roles == ["Marc Lefèvre a nommé Julie Bernard Comptable du dossier Boulangerie Martin"]
    dossiers = _sentences((await client.get("/parametres/journal?type=dossier")).text)
    assert dossiers
    assert all("dossier" in sentence for sentence in dossiers)

    today = dt.datetime.now(dt.UTC).date()
    tomorrow = (today + dt.timedelta(days=2)).isoformat()
    assert _sentences((await client.get(f"/parametres/journal?du={tomorrow}")).text) == []
    assert (
        _sentences((await client.get(f"/parametres/journal?au={(today - dt.timedelta(days=2)).isoformat()}")).text)
        == []
    )
    around = f"du={(today - dt.timedelta(days=1)).isoformat()}&au={tomorrow}&type=dossier_membership"
    assert len(_sentences((await client.get(f"/parametres/journal?{around}")).text)) == 1

    wrong = await client.get("/parametres/journal?du=31/02/2026&au=2026-01-01&dossier=pas-un-id")
    assert wrong.status_code == 200
    text = html.unescape(wrong.text)
    assert "Date attendue au format jj/mm/aaaa." in text
    assert "Ce choix n'est pas dans la liste." in text


async def test_the_dossier_history_reads_in_sentences(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    partner, _admin, open_dossier, _secret = await _firm(db_session)
    with acting_as(Actor(user_id=partner.id, label=partner.email)):
        db_session.add(DossierAccess(dossier_id=open_dossier.id, user_id=partner.id))
        open_dossier.is_confidential = True
        await db_session.flush()
    await sign_in(client, partner.email, PASSWORD)
    panel = await client.get(f"/entreprises/{open_dossier.id}/volet?onglet=historique")
    text = html.unescape(panel.text)
    assert "Claire Durand a modifié le dossier Boulangerie Martin" in text
    assert "Entreprise confidentielle</span> : <del>Non</del>" in text
    assert "<ins>Oui</ins>" in text
