"""Dossiers non facturés: the active clients without an accepted lettre de mission, and the missions due in a period
that no invoice line bills; each list counted and paged in SQL, through the permission model."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.roles import DossierRole
from portal.billing.client_base import ensure_clients
from portal.billing.engagements import billable_missions
from portal.billing.fee_models import Engagement, EngagementStatus, Invoice, InvoiceLine, Rhythm
from portal.billing.unbilled import UnbilledService
from portal.clients.models import Dossier, DossierStatus
from portal.db.paging import Paging
from tests.billing.test_controllers import as_user
from tests.factories.clients import make_dossier
from tests.factories.engagements import FeesPlace, client_of, fees_place, make_engagement, principal_of

D = dt.date


async def _place(session: AsyncSession) -> tuple[FeesPlace, list[Engagement]]:
    """The bakery accepted a letter (monthly and quarterly from January, yearly from April); the garage's letter is
    only sent; the restaurant has none; an archived dossier has none either."""
    place = await fees_place(session)
    archived = await make_dossier(session, name="Ancienne Fromagerie", status=DossierStatus.ARCHIVED)
    await ensure_clients(session, place.entity.id, Dossier.id == archived.id)
    bakery, garage = await client_of(session, place.bakery), await client_of(session, place.garage)
    letter = await make_engagement(
        session, place.entity.id, bakery,
        [("Tenue comptable", Rhythm.MONTHLY, "350.00"), ("Social", Rhythm.QUARTERLY, "600.00"),
         ("Conseil", Rhythm.PER_ACT, "120.00")],
        start=D(2026, 1, 1),
    )  # fmt: skip
    yearly = await make_engagement(session, place.entity.id, bakery, [("Juridique annuel", Rhythm.YEARLY, "600.00")],
                                   start=D(2026, 4, 1))  # fmt: skip
    await make_engagement(session, place.entity.id, garage, [("Tenue", Rhythm.MONTHLY, "280.00")], start=D(2026, 1, 1),
                          status=EngagementStatus.SENT)  # fmt: skip
    return place, [letter, yearly]


def _labels(page: object) -> list[str]:
    return [row.mission.label for row in page.items]  # type: ignore[attr-defined]


async def test_clients_with_an_active_dossier_and_no_accepted_letter(db_session: AsyncSession) -> None:
    place, _letters = await _place(db_session)
    partner = principal_of(place.partner)
    forgotten = await UnbilledService(db_session).clients(partner, place.entity.id)
    # The bakery is billed; the archived dossier's client is not forgotten; the garage's letter waits.
    assert [(row.client.name, row.pending.reference if row.pending else None) for row in forgotten.items] == [
        ("Garage du Centre", forgotten.items[0].pending.reference if forgotten.items[0].pending else "?"),
        ("Restaurant Le Cèdre", None),
    ]
    assert forgotten.items[0].pending is not None
    assert forgotten.total == 2
    assert (await UnbilledService(db_session).clients(partner, place.entity.id, Paging(page=2, size=1))).items[
        0
    ].client.name == "Restaurant Le Cèdre"


async def test_missions_due_in_the_period_that_nothing_bills(db_session: AsyncSession) -> None:
    place, (letter, _yearly) = await _place(db_session)
    partner = principal_of(place.partner)
    unbilled = UnbilledService(db_session)
    # March: the monthly mission only (the quarter is January's, the yearly mission starts in April).
    assert _labels(await unbilled.missions(partner, place.entity.id, (D(2026, 3, 1), D(2026, 3, 31)))) == [
        "Tenue comptable"
    ]
    # April: the quarter of April, and the yearly mission's first month.
    april = (D(2026, 4, 1), D(2026, 4, 30))
    assert sorted(_labels(await unbilled.missions(partner, place.entity.id, april))) == [
        "Juridique annuel", "Social", "Tenue comptable",
    ]  # fmt: skip
    # The monthly mission billed for April (its line's period starts on 1 April) leaves the list.
    monthly = letter.missions[0]
    invoice = Invoice(entity_id=place.entity.id, client_id=letter.client_id, issue_date=D(2026, 4, 30),
                      due_date=D(2026, 5, 30))  # fmt: skip
    invoice.lines = [InvoiceLine(position=0, mission_id=monthly.id, period_start=D(2026, 4, 1), label="Tenue",
                                 quantity=Decimal(1), unit_price=Decimal(350), vat_rate=Decimal(20),
                                 total_ht=Decimal(350))]  # fmt: skip
    db_session.add(invoice)
    await db_session.flush()
    page = await unbilled.missions(partner, place.entity.id, april)
    assert sorted(_labels(page)) == ["Juridique annuel", "Social"]
    assert page.total == 2


async def test_the_list_agrees_with_what_the_letters_bill(db_session: AsyncSession) -> None:
    """For every month of two years, the database's reckoning of a due mission is billable_missions's."""
    place, _letters = await _place(db_session)
    partner = principal_of(place.partner)
    unbilled = UnbilledService(db_session)
    for year in (2026, 2027):
        for month in range(1, 13):
            first = D(year, month, 1)
            last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
            due = {item.mission_id for item in await billable_missions(db_session, place.entity.id, first, last)}
            listed = {
                row.mission.id for row in (await unbilled.missions(partner, place.entity.id, (first, last))).items
            }
            assert listed == due, first
    # A quarter at once: every mission due in one of its months.
    quarter = await unbilled.missions(partner, place.entity.id, (D(2026, 2, 1), D(2026, 4, 30)))
    assert sorted(_labels(quarter)) == ["Juridique annuel", "Social", "Tenue comptable"]


async def test_a_comptable_sees_only_their_dossiers_clients(db_session: AsyncSession) -> None:
    place, _letters = await _place(db_session)
    accountant = principal_of(place.accountant, {place.bakery.id: frozenset({DossierRole.ACCOUNTANT})})
    unbilled = UnbilledService(db_session)
    assert (await unbilled.clients(accountant, place.entity.id)).total == 0  # the bakery is billed
    march = await unbilled.missions(accountant, place.entity.id, (D(2026, 3, 1), D(2026, 3, 31)))
    assert _labels(march) == ["Tenue comptable"]


async def test_the_page_lists_them_with_a_link_to_write_the_letter(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    place, _letters = await _place(db_session)
    await as_user(client, place.partner)
    page = html.unescape((await client.get("/facturation/non-factures?du=2026-04&au=2026-04")).text)
    assert "2 clients sans lettre acceptée" in page
    assert "3 missions non facturées" in page
    restaurant = await client_of(db_session, place.restaurant)
    assert f'href="/facturation/lettres-de-mission/nouvelle?client={restaurant.id}"' in page
    missions = html.unescape((await client.get("/facturation/non-factures?vue=missions&du=2026-04&au=2026-04")).text)
    assert "Juridique annuel" in missions
    assert "600,00\xa0€" in missions
    wrong = html.unescape((await client.get("/facturation/non-factures?du=avril")).text)
    assert "Choisissez un mois (AAAA-MM)." in wrong
