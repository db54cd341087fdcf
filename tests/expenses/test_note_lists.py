"""Mes notes de frais and À valider as lists: sorted by number, date, title, employee, dossier, status or amount
(the amount summed from the lines in SQL), both ways, paged; an unknown sort key gives the default order."""

from __future__ import annotations

import html

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.roles import DossierRole, FirmRole
from portal.db.paging import FIRST_PAGE, Paging, Sort
from portal.expenses.categories import ExpenseCategory
from portal.expenses.services import MY_NOTES_ORDER, NOTE_SORTS, TO_APPROVE_ORDER, ExpenseNoteService
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note, principal_of
from tests.factories.firm import PASSWORD, add_role, make_user

MEAL = ExpenseCategory.BUSINESS_MEAL


async def _notes(db_session: AsyncSession) -> tuple[object, object]:
    dossier = await make_dossier(db_session, name="Cabinet Tri", is_firm_dossier=True)
    claire = await make_user(db_session, name="Claire Martin")
    hugo = await make_user(db_session, name="Hugo Bernard")
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    for person in (claire, hugo):
        await add_role(db_session, person, dossier, DossierRole.EMPLOYEE)
    # Claire: three notes, of 60 €, 245,50 € (two lines) and 12 €; two submitted. Hugo: one, 80 €, submitted.
    await make_note(db_session, claire, dossier, title="Brest", submit=True)
    await make_note(db_session, claire, dossier, title="angers", expenses=((MEAL, "200.00", "20.00"),
                                                                          (MEAL, "45.50", "4.55")))  # fmt: skip
    await make_note(db_session, claire, dossier, title="Caen", expenses=((MEAL, "12.00", "2.00"),), submit=True)
    await make_note(db_session, hugo, dossier, title="Dijon", expenses=((MEAL, "80.00", "0.00"),), submit=True)
    return claire, partner


async def test_my_notes_sort_by_each_column_both_ways(db_session: AsyncSession) -> None:
    claire, _partner = await _notes(db_session)
    service = ExpenseNoteService(session=db_session)
    principal = await principal_of(db_session, claire)

    async def titles(sort: Sort) -> list[str]:
        return [note.title for note in (await service.my_notes(principal, Paging(), sort)).items]

    assert await titles(MY_NOTES_ORDER) == ["Caen", "angers", "Brest"]  # the latest first
    assert await titles(Sort("numero")) == ["Brest", "angers", "Caen"]
    assert await titles(Sort("titre")) == ["angers", "Brest", "Caen"]  # case ignored
    assert await titles(Sort("montant", descending=True)) == ["angers", "Brest", "Caen"]
    assert await titles(Sort("montant")) == ["Caen", "Brest", "angers"]
    assert await titles(Sort("statut")) == ["angers", "Brest", "Caen"]  # Brouillon before Soumise
    assert await titles(Sort.read("author_id", NOTE_SORTS, MY_NOTES_ORDER)) == ["Caen", "angers", "Brest"]


async def test_notes_to_approve_sort_and_page(db_session: AsyncSession) -> None:
    _claire, partner = await _notes(db_session)
    service = ExpenseNoteService(session=db_session)
    principal = await principal_of(db_session, partner)

    async def titles(sort: Sort, paging: Paging = FIRST_PAGE) -> list[str]:
        return [note.title for note in (await service.to_approve(principal, paging, sort)).items]

    assert await titles(TO_APPROVE_ORDER) == ["Brest", "Caen", "Dijon"]  # the longest waiting first
    assert await titles(Sort("employe", descending=True)) == ["Dijon", "Brest", "Caen"]  # Hugo, then Claire
    assert await titles(Sort("montant", descending=True)) == ["Dijon", "Brest", "Caen"]
    past = await service.to_approve(principal, Paging(page=4, size=25), TO_APPROVE_ORDER)
    assert (past.page, past.asked, [note.title for note in past.items]) == (1, 4, ["Brest", "Caen", "Dijon"])


async def test_the_list_headers_sort_and_amounts_are_right_aligned(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    claire, _partner = await _notes(db_session)
    await sign_in(client, claire.email, PASSWORD)
    page = html.unescape((await client.get("/notes-de-frais/mes-notes", params={"tri": "-montant"})).text)
    assert '<th scope="col" class="num" aria-sort="descending"><a href="/notes-de-frais/mes-notes?tri=montant">' in page
    assert page.index("angers") < page.index("Brest") < page.index("Caen")
    assert '<td class="num">245,50\u00a0€</td>' in page
