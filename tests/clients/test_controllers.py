"""Entreprises: creating dossiers by SIREN or SIRET, finding them, editing them, keeping some confidential."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from portal.clients.models import Dossier, DossierAccess, DossierStatus
from portal.clients.tasks import notify_siren_referred
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun
from portal.mail.transport import list_messages
from portal.settings import Settings
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
HTMX = {"HX-Request": "true", "HX-Target": "resultats"}
ROW = re.compile(r'<tr data-dossier="([0-9a-f-]+)">\s*<td><a href="/entreprises/\1">([^<]*)</a>')
SIREN_CHECKSUM = "SIREN invalide : la clé de contrôle ne correspond pas."
REFERRED = "Ce SIREN ne peut pas être utilisé pour ce dossier. Un associé du cabinet a été prévenu."


# --- helpers ------------------------------------------------------------------------------------------------


async def _signed_in(client: Client, db_session: AsyncSession, role: FirmRole = FirmRole.PARTNER) -> User:
    user = await make_user(db_session, roles=(role,))
    response = await sign_in(client, user.email, PASSWORD)
    assert response.status_code in {302, 303}
    return user


async def _switch_to(client: Client, user: User) -> None:
    client.cookies.clear()
    response = await sign_in(client, user.email, PASSWORD)
    assert response.status_code in {302, 303}


def _text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def _rows(response: httpx.Response) -> list[tuple[str, str]]:
    """(id, name) of each dossier row of the list, in order."""
    return [(dossier_id, html.unescape(name)) for dossier_id, name in ROW.findall(response.text)]


def _names(response: httpx.Response) -> list[str]:
    return [name for _id, name in _rows(response)]


async def _search(client: Client, query: str, **params: str) -> list[str]:
    response = await client.get("/entreprises", params={"q": query, **params})
    assert response.status_code == 200
    return _names(response)


def _form(**fields: str) -> dict[str, str]:
    values = {
        "nom": "Boulangerie Martin",
        "identifiant": "",
        "forme_juridique": "SARL",
        "adresse": "12 rue des Lilas",
        "code_postal": "69003",
        "ville": "Lyon",
        "cloture": "31/12",
        "statut": "active",
        "dossier_cabinet": "",
    }
    values.update(fields)
    return values


async def _create(client: Client, **fields: str) -> httpx.Response:
    token = await csrf_token(client, "/entreprises/nouveau")
    return await client.post("/entreprises/", data={**_form(**fields), "_csrf_token": token}, follow_redirects=False)


async def _count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Dossier)) or 0)


async def _stored(session: AsyncSession, siren: str) -> Dossier | None:
    statement = select(Dossier).where(Dossier.siren == siren).execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def _set_confidentiality(
    client: Client, dossier_id: uuid.UUID, *, confidential: bool, access: tuple[User, ...] = ()
) -> httpx.Response:
    token = await csrf_token(client, f"/entreprises/{dossier_id}")
    data: dict[str, str | list[str]] = {"_csrf_token": token, "acces": [str(user.id) for user in access]}
    if confidential:
        data["confidentielle"] = "on"
    return await client.post(f"/entreprises/{dossier_id}/confidentialite", data=data, follow_redirects=False)


def _csv_rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


# --- creating -----------------------------------------------------------------------------------------------


async def test_partner_creates_a_dossier_from_a_siret_typed_with_spaces(
    client: Client, db_session: AsyncSession
) -> None:
    await _signed_in(client, db_session)
    form = await client.get("/entreprises/nouveau")
    assert form.status_code == 200
    assert "Créer le dossier" in form.text

    response = await _create(client, nom="  Boulangerie   Martin ", identifiant="732 829 320 00074", cloture="30/06")

    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/entreprises/[0-9a-f-]{36}", location)
    stored = await _stored(db_session, "732829320")
    assert stored is not None
    assert location == f"/entreprises/{stored.id}"
    assert (stored.name, stored.siren, stored.nic) == ("Boulangerie Martin", "732829320", "00074")
    assert (stored.closing_day, stored.closing_month) == (30, 6)
    assert (stored.city, stored.postal_code, stored.legal_form) == ("Lyon", "69003", "SARL")

    page = await client.get(location)
    assert page.status_code == 200
    text = _text(page)
    assert "Dossier créé : Boulangerie Martin." in text
    assert "FR44732829320" in text
    assert "732 829 320 00074" in text
    assert "30/06" in text


async def test_dossier_without_identifier_is_allowed(client: Client, db_session: AsyncSession) -> None:
    await _signed_in(client, db_session)
    before = await _count(db_session)
    response = await _create(client, nom="Association des Amis du Parc", identifiant="", forme_juridique="Association")
    assert response.status_code == 303
    assert await _count(db_session) == before + 1
    page = await client.get(response.headers["location"])
    assert "Non renseigné" in page.text


async def test_invalid_siren_is_refused_with_the_french_message(client: Client, db_session: AsyncSession) -> None:
    await _signed_in(client, db_session)
    before = await _count(db_session)

    response = await _create(client, nom="Boulangerie Martin", identifiant="732 829 321")

    assert response.status_code == 422
    text = _text(response)
    assert SIREN_CHECKSUM in text
    assert "Le dossier n'a pas été enregistré" in text
    # What was typed is kept, to be corrected.
    assert 'value="Boulangerie Martin"' in response.text
    assert 'value="732 829 321"' in response.text
    assert await _count(db_session) == before
    assert await _stored(db_session, "732829321") is None


async def test_missing_name_is_refused(client: Client, db_session: AsyncSession) -> None:
    await _signed_in(client, db_session)
    before = await _count(db_session)
    response = await _create(client, nom="   ", identifiant="552 008 443")
    assert response.status_code == 422
    assert "Le nom de l'entreprise est obligatoire." in _text(response)
    assert await _count(db_session) == before
    assert await _stored(db_session, "552008443") is None


async def test_closing_date_must_exist(client: Client, db_session: AsyncSession) -> None:
    await _signed_in(client, db_session)
    before = await _count(db_session)

    impossible = await _create(client, identifiant="552008443", cloture="31/02")
    assert impossible.status_code == 422
    assert "Date de clôture invalide : ce jour n'existe pas dans ce mois." in _text(impossible)

    unreadable = await _create(client, identifiant="552008443", cloture="fin juin")
    assert unreadable.status_code == 422
    assert "Date de clôture invalide : saisissez le jour et le mois, par exemple 31/12." in _text(unreadable)
    assert await _count(db_session) == before

    leap_day = await _create(client, identifiant="552008443", cloture="29/02")
    assert leap_day.status_code == 303
    stored = await _stored(db_session, "552008443")
    assert stored is not None
    assert (stored.closing_day, stored.closing_month) == (29, 2)


async def test_every_wrong_field_is_reported_at_once(client: Client, db_session: AsyncSession) -> None:
    await _signed_in(client, db_session)
    response = await _create(client, nom="", identifiant="12345", code_postal="6900", cloture="32/12")
    assert response.status_code == 422
    text = _text(response)
    assert "Le nom de l'entreprise est obligatoire." in text
    assert "Longueur incorrecte : un SIREN compte 9 chiffres et un SIRET 14." in text
    assert "Code postal invalide : 5 chiffres attendus." in text
    assert "Date de clôture invalide" in text


async def test_duplicate_siren_links_to_the_existing_dossier(client: Client, db_session: AsyncSession) -> None:
    existing = await make_dossier(db_session, name="Renault Garage Central", siren="552008443")
    await _signed_in(client, db_session)
    before = await _count(db_session)

    response = await _create(client, nom="Garage Central bis", identifiant="552.008.443")

    assert response.status_code == 409
    text = _text(response)
    assert "Un dossier existe déjà pour ce SIREN : Renault Garage Central." in text
    assert f'href="/entreprises/{existing.id}"' in response.text
    assert await _count(db_session) == before


async def test_duplicate_siren_given_as_a_siret(client: Client, db_session: AsyncSession) -> None:
    existing = await make_dossier(db_session, name="Renault Garage Central", siren="552008443")
    await _signed_in(client, db_session)
    before = await _count(db_session)

    response = await _create(client, nom="Renault, établissement de Lyon", identifiant="552 008 443 00012")

    assert response.status_code == 409
    assert "Un dossier existe déjà pour ce SIREN" in _text(response)
    assert f'href="/entreprises/{existing.id}"' in response.text
    assert await _count(db_session) == before


async def test_the_siren_of_a_hidden_dossier_is_answered_as_that_of_an_archived_one(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Typing the SIREN of a confidential dossier one is not granted answered "a dossier you have no access to":
    an oracle (does the firm keep this company's books in confidence?). Now the answer is the one the SIREN
    of an archived dossier gets (status and words), which depends on nothing hidden; the partners who see
    the dossier holding it, and only they, are told who asked."""
    owner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Odile Habilitée")
    colleague = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Pierre Associé")
    hidden = await make_dossier(
        db_session, name="Clinique Vétérinaire Discrète", siren="404833048", is_confidential=True
    )
    db_session.add(DossierAccess(dossier_id=hidden.id, user_id=owner.id))
    archived = await make_dossier(
        db_session, name="Ancienne Boulangerie", siren="732829320", status=DossierStatus.ARCHIVED
    )
    mine = await make_dossier(db_session, name="Garage Visible")
    await db_session.flush()
    asker = await _signed_in(client, db_session)
    before = await _count(db_session)

    answers = {}
    for key, siren in (("hidden", "404 833 048"), ("archived", "732 829 320")):
        response = await _create(client, nom="Nouvelle entreprise", identifiant=siren)
        answers[key] = (response.status_code, _text(response).replace(siren, "SIREN"))
        token = await csrf_token(client, f"/entreprises/{mine.id}/modifier")
        edited = await client.post(
            f"/entreprises/{mine.id}", data={**_form(nom="Garage Visible", identifiant=siren), "_csrf_token": token},
            follow_redirects=False,
        )  # fmt: skip
        answers[f"{key} (edit)"] = (edited.status_code, _text(edited).replace(siren, "SIREN"))
    assert answers["hidden"] == answers["archived"]
    assert answers["hidden (edit)"] == answers["archived (edit)"]
    for status, text in answers.values():
        assert status == 409
        assert REFERRED in text
        assert "n'avez pas accès" not in text
        assert "Discrète" not in text
        assert "Clinique" not in text
        assert str(hidden.id) not in text
        assert "Ouvrir le dossier existant" not in text
    assert await _count(db_session) == before
    assert (await _stored(db_session, "404833048")).id == hidden.id  # type: ignore[union-attr]
    assert (await _stored(db_session, "404833048")).name == "Clinique Vétérinaire Discrète"  # type: ignore[union-attr]

    # Recorded and requested about the dossier holding the SIREN (hidden with it), kept despite the 409.
    referred = (
        await db_session.execute(select(AuditEvent.dossier_id).where(AuditEvent.action == "dossier.siren_referred"))
    ).scalars()
    assert sorted(map(str, referred)) == sorted(map(str, [hidden.id, hidden.id, archived.id, archived.id]))
    runs = list(
        (await db_session.execute(select(JobRun).where(JobRun.actor_name == "clients.notify_siren_referred"))).scalars()
    )
    assert {(run.dossier_id, run.created_by_id) for run in runs} == {(hidden.id, None), (archived.id, None)}
    journal = _text(await client.get("/parametres/journal"))
    assert "Discrète" not in journal
    assert str(hidden.id) not in journal
    assert "a demandé le SIREN" in journal  # the archived dossier's, which the person sees

    # The emails: the hidden dossier's to the partner it is granted to alone; the archived one's to every partner.
    outbox = tmp_path / "courriels"
    local = settings.with_overrides(smtp_url=f"file://{outbox}")

    def sessions(*, read_only: bool = False) -> AsyncSession:
        return session_maker()

    recipients: dict[uuid.UUID | None, list[str]] = {}
    for run in runs:
        context = JobContext(run_id=run.id, sessions=sessions, created_by_id=None, settings=local)  # type: ignore[arg-type]
        await notify_siren_referred(context, **run.arguments)
        recipients[run.dossier_id] = sorted(
            stored.message["To"].addresses[0].addr_spec for stored in list_messages(outbox)
        )
        for path in outbox.iterdir():
            path.unlink()
    assert recipients[hidden.id] == [owner.email]
    assert recipients[archived.id] == sorted([owner.email, colleague.email, asker.email])


# --- finding ------------------------------------------------------------------------------------------------


async def _three_dossiers(session: AsyncSession) -> dict[str, Dossier]:
    return {
        "martin": await make_dossier(session, name="Boulangerie Martin", siren="732829320", nic="00074"),
        "cedre": await make_dossier(session, name="Restaurant Le Cèdre", siren="404833048"),
        "martinez": await make_dossier(session, name="Garage Martinez SARL", siren="443121975"),
    }


async def test_search_by_word_prefix_ignoring_case_and_accents(client: Client, db_session: AsyncSession) -> None:
    await _three_dossiers(db_session)
    await _signed_in(client, db_session)

    assert await _search(client, "boul") == ["Boulangerie Martin"]
    assert await _search(client, "BOULANGERIE") == ["Boulangerie Martin"]
    assert await _search(client, "mart") == ["Boulangerie Martin", "Garage Martinez SARL"]
    assert await _search(client, "martinez") == ["Garage Martinez SARL"]
    assert await _search(client, "mart boul") == ["Boulangerie Martin"]
    assert await _search(client, "cedre") == ["Restaurant Le Cèdre"]
    assert await _search(client, "Cèdre") == ["Restaurant Le Cèdre"]
    assert await _search(client, "le cè") == ["Restaurant Le Cèdre"]
    # Words are matched from their start, and every word of the query must match.
    assert await _search(client, "angerie") == []
    assert await _search(client, "boul cedre") == []

    found = await client.get("/entreprises", params={"q": "mart"})
    assert "2 dossiers trouvés" in found.text
    nothing = await client.get("/entreprises", params={"q": "pâtisserie"})
    assert "0 dossier trouvé" in nothing.text
    assert "Aucune entreprise ne correspond à « pâtisserie »." in _text(nothing)


async def test_search_by_siren_prefix_and_by_siret(client: Client, db_session: AsyncSession) -> None:
    await _three_dossiers(db_session)
    await _signed_in(client, db_session)

    assert await _search(client, "732") == ["Boulangerie Martin"]
    assert await _search(client, "732 829 320") == ["Boulangerie Martin"]
    assert await _search(client, "4", tri="siren") == ["Restaurant Le Cèdre", "Garage Martinez SARL"]
    assert await _search(client, "443.121") == ["Garage Martinez SARL"]
    # A SIRET finds its company's dossier, whatever establishment it names.
    assert await _search(client, "73282932000074") == ["Boulangerie Martin"]
    assert await _search(client, "404 833 048 00021") == ["Restaurant Le Cèdre"]
    assert await _search(client, "999") == []


async def test_htmx_search_returns_only_the_results(client: Client, db_session: AsyncSession) -> None:
    dossiers = await _three_dossiers(db_session)
    await _signed_in(client, db_session)

    full = await client.get("/entreprises", params={"q": "boul"})
    assert "<html" in full.text
    assert 'id="recherche"' in full.text

    partial = await client.get("/entreprises", params={"q": "boul"}, headers=HTMX)
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert 'id="recherche"' not in partial.text
    assert _rows(partial) == [(str(dossiers["martin"].id), "Boulangerie Martin")]
    assert "1 dossier trouvé" in partial.text


async def test_sorting_by_siren_and_by_name(client: Client, db_session: AsyncSession) -> None:
    await _three_dossiers(db_session)
    await make_dossier(db_session, name="Éclair Pressing", siren="820043784")
    await _signed_in(client, db_session)

    by_siren = ["Restaurant Le Cèdre", "Garage Martinez SARL", "Boulangerie Martin", "Éclair Pressing"]
    assert await _search(client, "", tri="siren") == by_siren
    assert await _search(client, "", tri="-siren") == by_siren[::-1]
    by_name = ["Boulangerie Martin", "Éclair Pressing", "Garage Martinez SARL", "Restaurant Le Cèdre"]
    assert await _search(client, "") == by_name
    assert await _search(client, "", tri="nom") == by_name
    assert await _search(client, "", tri="-nom") == by_name[::-1]
    # An unknown order falls back to the name.
    assert await _search(client, "", tri="n'importe quoi") == by_name

    page = await client.get("/entreprises", params={"tri": "-siren"})
    assert 'aria-sort="descending"' in page.text


async def test_sorting_by_date_added(client: Client, db_session: AsyncSession) -> None:
    for name in ("Zénith Conseil", "Atelier Bois", "Menuiserie Roux"):
        await make_dossier(db_session, name=name)
    await _signed_in(client, db_session)
    assert await _search(client, "", tri="ajout") == ["Zénith Conseil", "Atelier Bois", "Menuiserie Roux"]
    assert await _search(client, "", tri="-ajout") == ["Menuiserie Roux", "Atelier Bois", "Zénith Conseil"]


async def test_paging(client: Client, db_session: AsyncSession) -> None:
    created = [await make_dossier(db_session, name=f"Entreprise Numéro {number:02d}") for number in range(1, 56)]
    await _signed_in(client, db_session)

    first = await client.get("/entreprises")
    assert "55 dossiers" in first.text
    assert "1–50 sur 55" in first.text
    assert '<span aria-current="page">1</span>' in first.text
    assert 'rel="next"' in first.text
    second = await client.get("/entreprises", params={"page": "2"})
    assert second.status_code == 200
    assert "51–55 sur 55" in second.text
    assert 'rel="prev"' in second.text
    # The links keep the search and the order; a page size among those offered, anything else the default.
    assert 'href="/entreprises?q=&amp;tri=nom&amp;page=2"' not in first.text
    assert 'href="/entreprises?tri=nom&amp;page=2"' in first.text
    assert 'href="/entreprises?tri=nom&amp;taille=25"' in first.text
    quarter = await client.get("/entreprises", params={"taille": "25", "page": "3"})
    assert "51–55 sur 55" in quarter.text
    assert len(_names(quarter)) == 5
    assert 'href="/entreprises?tri=nom&amp;page=2&amp;taille=25"' in quarter.text
    odd = await client.get("/entreprises", params={"taille": "33", "page": "abc"})
    assert odd.status_code == 200
    assert "1–50 sur 55" in odd.text
    # A page past the end shows the last one, and says so.
    beyond = await client.get("/entreprises", params={"page": "9"})
    assert _names(beyond) == _names(second)
    assert "La page 9 n'existe pas : voici la dernière page (2)." in html.unescape(beyond.text)

    first_names, second_names = _names(first), _names(second)
    assert len(first_names) == 50
    assert second_names == [f"Entreprise Numéro {number:02d}" for number in range(51, 56)]
    assert sorted(first_names + second_names) == sorted(dossier.name for dossier in created)

    partial = await client.get("/entreprises", params={"page": "2"}, headers=HTMX)
    assert _names(partial) == second_names

    searched = await client.get("/entreprises", params={"q": "entreprise numero", "page": "2"})
    assert "55 dossiers trouvés" in searched.text
    assert _names(searched) == second_names


# --- the side panel and editing -----------------------------------------------------------------------------


async def test_side_panel_for_a_partner(client: Client, db_session: AsyncSession) -> None:
    dossier = await make_dossier(db_session, name="Boulangerie Martin", siren="732829320", nic="00074")
    await _signed_in(client, db_session)

    panel = await client.get(f"/entreprises/{dossier.id}/volet")
    assert panel.status_code == 200
    assert "<html" not in panel.text
    assert "Boulangerie Martin" in panel.text
    assert "Infos entreprise" in panel.text
    assert "Appliquer les changements" in panel.text
    assert "Entreprise confidentielle" in panel.text
    assert "FR44732829320" in panel.text
    assert "732 829 320 00074" in panel.text

    for tab in ("facturation", "historique"):
        other = await client.get(f"/entreprises/{dossier.id}/volet", params={"onglet": tab})
        assert other.status_code == 200
        assert "Appliquer les changements" not in other.text
        assert 'aria-current="page">' in other.text

    missing = await client.get(f"/entreprises/{uuid.uuid4()}/volet")
    assert missing.status_code == 404


async def test_editing_renames_and_reindexes(client: Client, db_session: AsyncSession) -> None:
    dossier = await make_dossier(db_session, name="Boulangerie Martin", siren="732829320")
    await _signed_in(client, db_session)
    assert await _search(client, "boul") == ["Boulangerie Martin"]

    form = await client.get(f"/entreprises/{dossier.id}/modifier")
    assert form.status_code == 200
    assert 'value="Boulangerie Martin"' in form.text
    assert 'value="732829320"' in form.text
    token = await csrf_token(client, f"/entreprises/{dossier.id}/modifier")
    response = await client.post(
        f"/entreprises/{dossier.id}",
        data={**_form(nom="Pâtisserie Durand", identifiant="732829320", ville="Villeurbanne"), "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/entreprises/{dossier.id}"
    page = await client.get(response.headers["location"])
    assert "Modifications enregistrées." in page.text
    assert "Villeurbanne" in page.text

    assert await _search(client, "boul") == []
    assert await _search(client, "martin") == []
    assert await _search(client, "durand") == ["Pâtisserie Durand"]
    assert await _search(client, "patiss") == ["Pâtisserie Durand"]
    stored = await _stored(db_session, "732829320")
    assert stored is not None
    assert (stored.name, stored.sort_name) == ("Pâtisserie Durand", "patisserie durand")


async def test_editing_to_another_dossiers_siren_is_refused(client: Client, db_session: AsyncSession) -> None:
    taken = await make_dossier(db_session, name="Renault Garage Central", siren="552008443")
    dossier = await make_dossier(db_session, name="Boulangerie Martin", siren="732829320")
    await _signed_in(client, db_session)
    token = await csrf_token(client, f"/entreprises/{dossier.id}/modifier")
    response = await client.post(
        f"/entreprises/{dossier.id}",
        data={**_form(nom="Boulangerie Martin", identifiant="552 008 443"), "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 409
    assert f'href="/entreprises/{taken.id}"' in response.text
    stored = await _stored(db_session, "732829320")
    assert stored is not None
    assert stored.id == dossier.id


# --- confidentiality ----------------------------------------------------------------------------------------


async def test_confidential_dossier_disappears_for_everyone_not_granted(
    client: Client, db_session: AsyncSession
) -> None:
    partner_a = await make_user(db_session, roles=(FirmRole.PARTNER,))
    partner_b = await make_user(db_session, roles=(FirmRole.PARTNER,))
    secret = await make_dossier(db_session, name="Clinique Vétérinaire Discrète", siren="404833048")
    await make_dossier(db_session, name="Boulangerie Martin", siren="732829320")

    await _switch_to(client, partner_b)
    listing = await client.get("/entreprises")
    visible_before = len(_rows(listing))
    assert f"{visible_before} dossiers" in listing.text
    assert "Clinique Vétérinaire Discrète" in _names(listing)

    await _switch_to(client, partner_a)
    response = await _set_confidentiality(client, secret.id, confidential=True)
    assert response.status_code == 303
    assert response.headers["location"] == f"/entreprises/{secret.id}"
    page = await client.get(f"/entreprises/{secret.id}")
    assert page.status_code == 200
    assert "Changements appliqués : le dossier est confidentiel." in page.text
    assert "Confidentiel" in (await client.get("/entreprises")).text
    assert await _search(client, "clinique") == ["Clinique Vétérinaire Discrète"]

    await _switch_to(client, partner_b)
    listing = await client.get("/entreprises")
    assert "Clinique" not in listing.text
    assert len(_rows(listing)) == visible_before - 1
    assert f"{visible_before - 1} dossier" in listing.text
    assert await _search(client, "clinique") == []
    assert await _search(client, "404") == []
    assert await _search(client, "404 833 048 00021") == []
    for path in (f"/entreprises/{secret.id}", f"/entreprises/{secret.id}/volet", f"/entreprises/{secret.id}/modifier"):
        refused = await client.get(path)
        assert refused.status_code == 404, path
        assert "Page introuvable" in refused.text
        assert "Clinique" not in refused.text
    export = await client.get("/entreprises/export.csv")
    assert export.status_code == 200
    assert "Clinique" not in export.content.decode("utf-8-sig")
    assert "404833048" not in export.content.decode("utf-8-sig")
    token = await csrf_token(client, "/entreprises")
    sneaky = await client.post(
        f"/entreprises/{secret.id}",
        data={**_form(nom="Renommée"), "_csrf_token": token},
        follow_redirects=False,
    )
    assert sneaky.status_code == 404

    await _switch_to(client, partner_a)
    granted = await _set_confidentiality(client, secret.id, confidential=True, access=(partner_b,))
    assert granted.status_code == 303

    await _switch_to(client, partner_b)
    assert await _search(client, "clinique") == ["Clinique Vétérinaire Discrète"]
    assert (await client.get(f"/entreprises/{secret.id}")).status_code == 200
    assert len(_rows(await client.get("/entreprises"))) == visible_before
    export = await client.get("/entreprises/export.csv")
    assert "Clinique Vétérinaire Discrète" in export.content.decode("utf-8-sig")
    stored = await _stored(db_session, "404833048")
    assert stored is not None
    assert stored.name == "Clinique Vétérinaire Discrète"


async def test_the_partner_who_marks_it_confidential_keeps_access(client: Client, db_session: AsyncSession) -> None:
    partner = await _signed_in(client, db_session)
    dossier = await make_dossier(db_session, name="Clinique Vétérinaire Discrète")
    token = await csrf_token(client, f"/entreprises/{dossier.id}")

    response = await client.post(
        f"/entreprises/{dossier.id}/confidentialite",
        data={"_csrf_token": token, "confidentielle": "on"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Changements appliqués : le dossier est confidentiel." in response.text
    assert await _search(client, "clinique") == ["Clinique Vétérinaire Discrète"]
    grants = await db_session.scalars(select(DossierAccess.user_id).where(DossierAccess.dossier_id == dossier.id))
    assert list(grants) == [partner.id]

    back = await _set_confidentiality(client, dossier.id, confidential=False)
    assert back.status_code == 303
    page = await client.get(back.headers["location"])
    assert "Changements appliqués : le dossier est visible par tout le cabinet." in page.text


async def test_collaborator_sees_only_the_dossiers_given_to_them(client: Client, db_session: AsyncSession) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    collaborator = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    given = await make_dossier(db_session, name="Boulangerie Martin", siren="732829320")
    other = await make_dossier(db_session, name="Garage Martinez", siren="443121975")

    await _switch_to(client, collaborator)
    listing = await client.get("/entreprises")
    assert _rows(listing) == []
    assert "0 dossier" in listing.text
    assert await _search(client, "mart") == []
    assert (await client.get(f"/entreprises/{given.id}")).status_code == 404

    await _switch_to(client, partner)
    assert (await _set_confidentiality(client, given.id, confidential=True, access=(collaborator,))).status_code == 303

    await _switch_to(client, collaborator)
    assert _rows(await client.get("/entreprises")) == [(str(given.id), "Boulangerie Martin")]
    assert await _search(client, "mart") == ["Boulangerie Martin"]
    panel = await client.get(f"/entreprises/{given.id}/volet")
    assert panel.status_code == 200
    assert "Infos entreprise" in panel.text
    assert "Appliquer les changements" not in panel.text
    assert "Ce dossier est confidentiel." in panel.text
    assert (await client.get(f"/entreprises/{other.id}")).status_code == 404
    assert (await client.get(f"/entreprises/{given.id}/modifier")).status_code == 403

    await _switch_to(client, partner)
    assert (await _set_confidentiality(client, given.id, confidential=True)).status_code == 303

    await _switch_to(client, collaborator)
    assert _rows(await client.get("/entreprises")) == []
    assert (await client.get(f"/entreprises/{given.id}/volet")).status_code == 404


async def test_collaborator_may_not_create_dossiers(client: Client, db_session: AsyncSession) -> None:
    await _signed_in(client, db_session, FirmRole.COLLABORATOR)
    listing = await client.get("/entreprises")
    assert 'href="/entreprises/nouveau"' not in listing.text
    assert "Exporter" not in listing.text
    assert (await client.get("/entreprises/nouveau")).status_code == 403

    before = await _count(db_session)
    token = await csrf_token(client, "/entreprises")
    response = await client.post(
        "/entreprises/", data={**_form(identifiant="732829320"), "_csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Accès refusé" in response.text
    assert await _count(db_session) == before
    assert (await client.get("/entreprises/export.csv")).status_code == 403


# --- export -------------------------------------------------------------------------------------------------


async def test_admin_exports_the_visible_dossiers_as_csv(client: Client, db_session: AsyncSession) -> None:
    await make_dossier(db_session, name="Boulangerie Martin", siren="732829320", nic="00074", city="Lyon")
    await make_dossier(db_session, name="Dupont; Fils & Cie", siren="552008443")
    await make_dossier(db_session, name="Restaurant Le Cèdre", siren="404833048", legal_form="SAS")
    await make_dossier(db_session, name="Clinique Vétérinaire Discrète", siren="443121975", is_confidential=True)
    await _signed_in(client, db_session, FirmRole.ADMIN)
    listing = await client.get("/entreprises")
    shown = len(_rows(listing))

    response = await client.get("/entreprises/export.csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"  # one charset only
    assert response.headers["cache-control"] == "no-store"
    assert "entreprises.csv" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = _csv_rows(response)
    header, *lines = rows
    assert header == [
        "Nom",
        "SIREN",
        "NIC",
        "TVA intracommunautaire",
        "Forme juridique",
        "Adresse",
        "Code postal",
        "Ville",
        "Clôture",
        "Statut",
        "Dossier du cabinet",
        "Confidentiel",
    ]
    visible_count = await db_session.scalar(
        select(func.count()).select_from(Dossier).where(Dossier.is_confidential.is_(False))
    )
    assert len(lines) == visible_count == shown
    assert all(len(line) == len(header) for line in lines)
    by_name = {line[0]: line for line in lines}
    assert "Clinique Vétérinaire Discrète" not in by_name
    martin = by_name["Boulangerie Martin"]
    assert martin[1:4] == ["732829320", "00074", "FR44732829320"]
    assert martin[7:12] == ["Lyon", "31/12", "Actif", "non", "non"]
    assert by_name["Dupont; Fils & Cie"][1] == "552008443"
    assert by_name["Restaurant Le Cèdre"][4] == "SAS"
    assert [line[0] for line in lines] == sorted(by_name, key=lambda name: name.casefold())

    searched = _csv_rows(await client.get("/entreprises/export.csv", params={"q": "boul"}))
    assert [line[0] for line in searched[1:]] == ["Boulangerie Martin"]


async def test_names_are_shown_escaped(client: Client, db_session: AsyncSession) -> None:
    await make_dossier(db_session, name="<script>alert(1)</script> SARL")
    await _signed_in(client, db_session)
    page = await client.get("/entreprises")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; SARL" in page.text


async def test_export_cells_never_run_as_spreadsheet_formulas(client: Client, db_session: AsyncSession) -> None:
    await make_dossier(db_session, name='=HYPERLINK("http://exemple.invalid","Ouvrir")', siren=None)
    await make_dossier(db_session, name="@SOMME(A1:A2)", siren=None)
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await sign_in(client, admin.email, PASSWORD)
    response = await client.get("/entreprises/export.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    names = sorted(row[0] for row in rows[1:])
    assert names == ['\'=HYPERLINK("http://exemple.invalid","Ouvrir")', "'@SOMME(A1:A2)"]


async def test_a_page_past_the_end_shows_the_last_page(client: Client, db_session: AsyncSession) -> None:
    for number in range(3):
        await make_dossier(db_session, name=f"Entreprise {number}")
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await sign_in(client, partner.email, PASSWORD)
    page = await client.get("/entreprises?page=40")
    assert page.status_code == 200
    assert "Entreprise 2" in page.text
    assert "Aucun dossier à afficher." not in page.text
