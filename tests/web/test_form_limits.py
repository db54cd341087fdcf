"""Huge inputs: every text field has a maximum length, checked before validation, and nothing huge is echoed.

A field over its limit gets "Ce champ ne peut pas dépasser N caractères." and the page shows the
value cut to the limit; a urlencoded body over ``form_max_bytes`` is refused unread with 413
« Formulaire trop volumineux » (files keep « Fichier trop volumineux »); a search too long is
answered, on the cut text.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.expenses.models import ExpenseLine, ExpenseNote, NoteStatus
from portal.integrations.commerce import mapping as mappings
from portal.ledger.models import LedgerImport
from tests.browsing import csrf_token, sign_in
from tests.expenses import test_controllers as expense_notes
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note
from tests.factories.firm import PASSWORD, make_user
from tests.firm import test_invitations as invitations
from tests.integrations.commerce import test_controllers as commerce_pages

Client = httpx.AsyncClient
MEGABYTE = "x" * 1_000_000  # within the body limit (2 Mo): the field's own limit answers
# httpx builds no address longer than 64 KiB (and uvicorn reads a request line of 16 KiB at most).
LONG_QUERY = "x" * 60_000
SMALL_PAGE = 100_000  # bytes: a page never carries the huge value back
TOO_LONG = "Ce champ ne peut pas dépasser %s caractères."


def _text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def _small(response: httpx.Response) -> str:
    assert len(response.content) < SMALL_PAGE, f"{len(response.content)} bytes echoed"
    assert "x" * 5_000 not in response.text
    return _text(response)


async def _count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _partner(client: Client, session: AsyncSession) -> User:
    user = await make_user(session, roles=(FirmRole.PARTNER,))
    assert (await sign_in(client, user.email, PASSWORD)).status_code in {302, 303}
    return user


async def _post_form(client: Client, page: str, path: str, data: dict[str, str]) -> httpx.Response:
    token = await csrf_token(client, page)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


DOSSIER = {"nom": "Boulangerie Martin", "identifiant": "", "forme_juridique": "SARL", "adresse": "12 rue des Lilas",
           "code_postal": "69003", "ville": "Lyon", "cloture": "31/12", "statut": "active"}  # fmt: skip


# --- the dossier form ---------------------------------------------------------------------------------------


async def test_a_megabyte_name_gets_the_field_message_on_a_small_page_and_nothing_is_saved(
    client: Client, db_session: AsyncSession
) -> None:
    await _partner(client, db_session)
    before = await _count(db_session, Dossier)
    response = await _post_form(client, "/entreprises/nouveau", "/entreprises/", {**DOSSIER, "nom": MEGABYTE})
    assert response.status_code == 422
    text = _small(response)
    assert TOO_LONG % 200 in text
    assert f'value="{"x" * 200}"' in response.text, "what was typed is shown, cut to its limit"
    assert await _count(db_session, Dossier) == before


async def test_every_field_of_the_dossier_form_is_bounded_and_the_other_fields_still_get_their_messages(
    client: Client, db_session: AsyncSession
) -> None:
    await _partner(client, db_session)
    before = await _count(db_session, Dossier)
    fields = {"adresse": 300, "ville": 120, "forme_juridique": 60, "identifiant": 30, "cloture": 10}
    response = await _post_form(
        client, "/entreprises/nouveau", "/entreprises/",
        {**DOSSIER, **dict.fromkeys(fields, "9" * 100000), "code_postal": "6900"},
    )  # fmt: skip
    assert response.status_code == 422
    text = _small(response)
    for limit in set(fields.values()):
        assert TOO_LONG % limit in text
    assert "Code postal invalide : 5 chiffres attendus." in text
    assert await _count(db_session, Dossier) == before


async def test_editing_a_dossier_with_a_huge_field_changes_nothing(client: Client, db_session: AsyncSession) -> None:
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Garage Central")
    page = f"/entreprises/{dossier.id}/modifier"
    response = await _post_form(client, page, f"/entreprises/{dossier.id}", {**DOSSIER, "ville": MEGABYTE})
    assert response.status_code == 422
    assert TOO_LONG % 120 in _small(response)
    await db_session.refresh(dossier)
    assert dossier.name == "Garage Central"


async def test_a_field_sent_twice_gets_the_form_back_not_a_bare_error(client: Client, db_session: AsyncSession) -> None:
    """Decoding never refuses: the first value counts, and the form says what is wrong beside its field."""
    await _partner(client, db_session)
    token = await csrf_token(client, "/entreprises/nouveau")
    body = urlencode([*{**DOSSIER, "code_postal": "6900"}.items(), ("nom", "Autre nom"), ("_csrf_token", token)])
    response = await client.post(
        "/entreprises/", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 422
    text = _text(response)
    assert "Code postal invalide : 5 chiffres attendus." in text
    assert 'value="Boulangerie Martin"' in text


async def test_a_form_body_over_the_limit_is_refused_as_a_form(client: Client, db_session: AsyncSession) -> None:
    await _partner(client, db_session)
    before = await _count(db_session, Dossier)
    response = await _post_form(client, "/entreprises/nouveau", "/entreprises/", {**DOSSIER, "nom": "x" * 9_500_000})
    assert response.status_code == 413
    text = _small(response)
    assert "Formulaire trop volumineux" in text
    assert "Fichier trop volumineux" not in text
    assert await _count(db_session, Dossier) == before


async def test_a_chunked_form_body_over_the_limit_is_refused_too(client: Client, db_session: AsyncSession) -> None:
    """No Content-Length to trust: the bytes are counted as they arrive."""
    await _partner(client, db_session)
    token = await csrf_token(client, "/entreprises/nouveau")
    before = await _count(db_session, Dossier)

    async def body() -> AsyncIterator[bytes]:
        yield f"_csrf_token={token}&nom=".encode()
        for _ in range(30):
            yield b"x" * 100_000

    response = await client.post(
        "/entreprises/",
        content=body(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 413
    assert "Formulaire trop volumineux" in _small(response)
    assert await _count(db_session, Dossier) == before


async def test_a_route_that_takes_no_file_holds_any_body_to_the_form_limit(
    client: Client, db_session: AsyncSession
) -> None:
    await _partner(client, db_session)
    token = await csrf_token(client, "/entreprises/nouveau")
    response = await client.post(
        "/entreprises/",
        data={**DOSSIER, "_csrf_token": token},
        files={"piece": ("gros.bin", b"0" * 3_000_000, "application/octet-stream")},
        follow_redirects=False,
    )
    assert response.status_code == 413
    _small(response)
    assert await _count(db_session, Dossier) == 0


# --- searches -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True])
async def test_a_huge_search_is_answered_without_being_echoed(
    client: Client, db_session: AsyncSession, *, htmx: bool
) -> None:
    await _partner(client, db_session)
    await make_dossier(db_session, name="Boulangerie Martin")
    headers = {"HX-Request": "true", "HX-Target": "resultats"} if htmx else {}
    response = await client.get("/entreprises", params={"q": LONG_QUERY}, headers=headers)
    assert response.status_code == 200
    _small(response)
    assert len(response.headers.get("hx-push-url", "")) < 1_000
    for path in ("/utilisateurs", "/facturation/clients", "/utilisateurs/dossiers", "/entreprises/export.csv"):
        response = await client.get(path, params={"q": LONG_QUERY}, headers=headers)
        assert response.status_code == 200, path
        _small(response)
    client.cookies.clear()  # anonymous: sent to sign in, the way back is not the huge address
    response = await client.get("/entreprises", params={"q": LONG_QUERY}, follow_redirects=False)
    assert response.status_code in {302, 303}
    assert len(response.headers["location"]) < 3_000


# --- sign-in and invitations --------------------------------------------------------------------------------


async def test_a_megabyte_password_is_refused_before_it_is_hashed(
    client: Client, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(db_session)

    def never(*_args: object) -> bool:
        raise AssertionError("a password over the limit reached argon2")

    monkeypatch.setattr("portal.accounts.passwords.verify_password", never)
    response = await _post_form(client, "/connexion", "/connexion", {"email": user.email, "password": MEGABYTE})
    assert response.status_code == 422
    assert TOO_LONG % "1\u202f024" in _small(response)


async def test_a_megabyte_name_on_the_invitation_form_invites_nobody(client: Client, db_session: AsyncSession) -> None:
    await _partner(client, db_session)
    people = await _count(db_session, User)
    response = await _post_form(
        client, "/utilisateurs/nouveau", "/utilisateurs/",
        {"email": "claire@example.fr", "nom": MEGABYTE, "collaborateur": "on"},
    )  # fmt: skip
    assert response.status_code == 422
    assert TOO_LONG % 200 in _small(response)
    response = await _post_form(
        client, "/utilisateurs/nouveau", "/utilisateurs/", {"email": MEGABYTE + "@example.fr", "collaborateur": "on"}
    )
    assert response.status_code == 422
    assert TOO_LONG % 320 in _small(response)
    assert await _count(db_session, User) == people
    page = await client.get("/utilisateurs/nouveau", params={"email": LONG_QUERY})
    assert page.status_code == 200
    _small(page)


async def test_a_megabyte_password_at_the_invitation_link_is_refused_and_the_link_still_works(
    client: Client, db_session: AsyncSession
) -> None:
    dossier = await make_dossier(db_session, name="Client SARL")
    person = await invitations._pending(db_session, "lea@example.fr", dossier, token="jeton-de-test")
    page = "/invitation/jeton-de-test"
    response = await _post_form(client, page, page, {"password": MEGABYTE, "confirmation": MEGABYTE})
    assert response.status_code == 422
    assert TOO_LONG % "1\u202f024" in _small(response)
    await db_session.refresh(person)
    assert person.password_hash is None
    assert (await client.get(page)).status_code == 200


# --- expense notes ------------------------------------------------------------------------------------------


async def test_a_megabyte_title_creates_no_note(client: Client, db_session: AsyncSession) -> None:
    await expense_notes._as(client, await expense_notes._employee(db_session))
    response = await _post_form(client, "/notes-de-frais/nouvelle", "/notes-de-frais/", {"titre": MEGABYTE})
    assert response.status_code == 422
    assert TOO_LONG % 200 in _small(response)
    assert await _count(db_session, ExpenseNote) == 0


async def test_the_expense_pages_refuse_a_form_body_over_the_form_limit_not_the_receipt_limit(
    client: Client, db_session: AsyncSession
) -> None:
    """Their route accepts a receipt of 10 Mo; a form without a file is held to the form's limit all the same."""
    await expense_notes._as(client, await expense_notes._employee(db_session))
    response = await _post_form(client, "/notes-de-frais/nouvelle", "/notes-de-frais/", {"titre": "x" * 3_000_000})
    assert response.status_code == 413
    assert "Formulaire trop volumineux" in _small(response)
    assert await _count(db_session, ExpenseNote) == 0


async def test_megabyte_fields_of_lines_trips_and_refusals_save_nothing(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await expense_notes._firm(db_session)
    await expense_notes._as(client, firm.employee)
    note_id = await expense_notes._new_note(client)
    for field, limit in (("fournisseur", 200), ("objet", 300), ("montant_ttc", 30)):
        response = await expense_notes._add_line(client, note_id, **{field: MEGABYTE})  # multipart, with its receipt
        assert response.status_code == 422, field
        assert TOO_LONG % limit in _small(response)
    response = await expense_notes._add_trip(client, note_id, trajet=MEGABYTE)
    assert response.status_code == 422
    assert TOO_LONG % 300 in _small(response)
    preview = await client.get(f"/notes-de-frais/{note_id}/indemnites/apercu", params={"km": LONG_QUERY, "cv": "5"})
    assert preview.status_code == 200
    _small(preview)
    assert await _count(db_session, ExpenseLine) == 0

    submitted = await make_note(db_session, firm.employee, firm.dossier, submit=True)
    await expense_notes._as(client, firm.billing_manager)
    response = await expense_notes._post(client, str(submitted.id), "refuser", commentaire=MEGABYTE)
    assert response.status_code == 422
    assert TOO_LONG % "2\u202f000" in _small(response)
    assert (await expense_notes._note(db_session, submitted.id)).status is NoteStatus.SUBMITTED


# --- connections --------------------------------------------------------------------------------------------


async def test_a_megabyte_token_date_or_mapping_field_is_refused_and_nothing_is_saved(
    client: Client, db_session: AsyncSession
) -> None:
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    page = f"/entreprises/{dossier.id}/connexions"
    response = await _post_form(client, page, f"{page}/pennylane/jeton", {"jeton": "j" * 1_000_000})
    assert response.status_code == 422
    assert TOO_LONG % "4\u202f096" in _small(response)
    token = await csrf_token(client, page)
    response = await client.post(
        f"{page}/fec",
        data={"_csrf_token": token, "debut": MEGABYTE},  # multipart, beside the file
        files={"fichier": ("fec.txt", b"JournalCode|JournalLib\n", "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert TOO_LONG % 20 in _small(response)
    assert await _count(db_session, LedgerImport) == 0

    setup = await commerce_pages._connected(db_session, dossier)
    before = dict(setup.mapping or {})
    response = await commerce_pages._post(
        client, dossier, "/mapping", {"payment.pm-lydia": "4" * 1_000_000, "journal.loc-salle": "SAL"}
    )
    assert response.status_code == 422
    assert TOO_LONG % 20 in _small(response)
    await db_session.refresh(setup)
    assert setup.mapping == before
    for suffix, field in (("/cle", "cle"), ("/synchronisation", "debut"), ("/inviter", "nom")):
        response = await commerce_pages._post(client, dossier, suffix, {field: MEGABYTE, "email": "a@example.fr"})
        assert response.status_code == 422, suffix
        _small(response)
    response = await client.get(commerce_pages._page(dossier, "/ecritures"), params={"du": LONG_QUERY})
    assert response.status_code == 200
    _small(response)


# --- the declarations ---------------------------------------------------------------------------------------


def test_the_mapping_screen_bounds_its_fields_by_name() -> None:
    values, too_long = mappings.read_form(
        {"journal.loc-1": "CA1", "payment.pm": "5" * 50, "_csrf_token": "t" * 500, "n" * 300: "x"}
    )
    assert values == {"journal.loc-1": "CA1", "payment.pm": "5" * 20}
    assert list(too_long) == ["payment.pm"]
