"""Lettres de mission: what they bill over a period (figures worked out by hand), their revision, the editor's
checks, renewals, and acceptance through a link that works once, the token kept only as its SHA-256."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.audit.models import AuditEvent
from portal.auth.roles import DossierRole
from portal.billing.engagements import (
    BAD_REVISION,
    NO_CLIENT,
    NO_LABEL,
    USED_LINK,
    BillableMission,
    EngagementForm,
    EngagementService,
    MissionRow,
    billable_missions,
    prefill,
    rows_of,
    validate,
)
from portal.billing.fee_models import Engagement, EngagementStatus, Invoice, InvoiceLine, Rhythm
from portal.billing.fees import fees
from portal.dashboard.amounts import TOO_PRECISE
from portal.firm.invitations import LinkError
from portal.firm.links import draw_token
from tests.factories.engagements import FeesPlace, client_of, fees_place, make_engagement, make_service, principal_of

D = dt.date


def _due(found: list[BillableMission]) -> list[tuple[str, dt.date, dt.date, Decimal]]:
    return [(item.label, item.period_start, item.period_end, item.unit_price) for item in found]


async def _letter(session: AsyncSession, **values: object) -> tuple[FeesPlace, Engagement]:
    place = await fees_place(session)
    bakery = await client_of(session, place.bakery)
    missions = [
        ("Tenue comptable", Rhythm.MONTHLY, "350.00"),
        ("Social", Rhythm.QUARTERLY, "600.00"),
        ("Révision et bilan", Rhythm.YEARLY, "1800.00"),
        ("Conseil", Rhythm.PER_ACT, "120.00"),
    ]
    engagement = await make_engagement(session, place.entity.id, bakery, missions, **values)  # type: ignore[arg-type]
    return place, engagement


# --- what a letter bills ------------------------------------------------------------------------


async def test_a_month_bills_the_monthly_missions_and_those_whose_quarter_or_year_starts_then(
    db_session: AsyncSession,
) -> None:
    # From 15 February 2026 to 15 February 2027: February 2026 to January 2027.
    place, _ = await _letter(db_session, start=D(2026, 2, 15))
    entity = place.entity.id

    february = await billable_missions(db_session, entity, D(2026, 2, 1), D(2026, 2, 28))
    assert _due(february) == [
        ("Tenue comptable", D(2026, 2, 1), D(2026, 2, 28), Decimal("350.00")),
        ("Social", D(2026, 2, 1), D(2026, 4, 30), Decimal("600.00")),  # its quarter: February to April
        ("Révision et bilan", D(2026, 2, 1), D(2027, 1, 31), Decimal("1800.00")),  # its year
    ]
    march = await billable_missions(db_session, entity, D(2026, 3, 1), D(2026, 3, 31))
    assert _due(march) == [("Tenue comptable", D(2026, 3, 1), D(2026, 3, 31), Decimal("350.00"))]
    may = await billable_missions(db_session, entity, D(2026, 5, 1), D(2026, 5, 31))
    assert [item.label for item in may] == ["Tenue comptable", "Social"]

    # The calendar year 2026: 11 months (February to December), the quarters of February, May, August and
    # November, the year once; never the mission billed per act.
    year = await billable_missions(db_session, entity, D(2026, 1, 1), D(2026, 12, 31))
    counted = {label: sum(1 for item in year if item.label == label) for label in {item.label for item in year}}
    assert counted == {"Tenue comptable": 11, "Social": 4, "Révision et bilan": 1}
    assert sum((item.total_ht for item in year), Decimal(0)) == Decimal("3850.00") + Decimal("2400.00") + Decimal(
        "1800.00"
    )
    assert [item.period_start for item in year if item.label == "Social"] == [
        D(2026, 2, 1), D(2026, 5, 1), D(2026, 8, 1), D(2026, 11, 1),
    ]  # fmt: skip

    # January 2027 is the letter's last month; February 2027 belongs to its renewal.
    assert [item.label for item in await billable_missions(db_session, entity, D(2027, 1, 1), D(2027, 1, 31))] == [
        "Tenue comptable"
    ]
    assert await billable_missions(db_session, entity, D(2027, 2, 1), D(2027, 2, 28)) == []
    # A period starting mid-month begins with the next month.
    assert [item.period_start for item in await billable_missions(db_session, entity, D(2026, 2, 2), D(2026, 3, 31))
            ] == [D(2026, 3, 1)]  # fmt: skip


async def test_prices_are_revised_for_each_full_year_of_the_letter(db_session: AsyncSession) -> None:
    place = await fees_place(db_session)
    garage = await client_of(db_session, place.garage)
    await make_engagement(
        db_session, place.entity.id, garage, [("Tenue comptable", Rhythm.MONTHLY, "1000.00")],
        start=D(2026, 1, 10), renewal=D(2029, 1, 10), revision="2.5",
    )  # fmt: skip

    async def price(month: dt.date) -> Decimal:
        [item] = await billable_missions(db_session, place.entity.id, month, month.replace(day=28))
        return item.unit_price

    assert await price(D(2026, 12, 1)) == Decimal("1000.00")
    assert await price(D(2027, 1, 1)) == Decimal("1025.00")  # 1 000 × 1,025
    assert await price(D(2027, 12, 1)) == Decimal("1025.00")
    assert await price(D(2028, 1, 1)) == Decimal("1050.63")  # 1 000 × 1,025² = 1 050,625, rounded half up


async def test_only_accepted_letters_bill_and_what_an_invoice_bills_is_left_out_when_asked(
    db_session: AsyncSession,
) -> None:
    place, letter = await _letter(db_session, start=D(2026, 1, 1))
    entity = place.entity.id
    garage = await client_of(db_session, place.garage)
    for status in (EngagementStatus.DRAFT, EngagementStatus.SENT, EngagementStatus.ENDED):
        await make_engagement(db_session, entity, garage, [("Tenue", Rhythm.MONTHLY, "90.00")], start=D(2026, 1, 1),
                              status=status)  # fmt: skip
    march = (D(2026, 3, 1), D(2026, 3, 31))
    assert [item.client_id for item in await billable_missions(db_session, entity, *march)] == [letter.client_id]

    monthly = letter.missions[0]
    invoice = Invoice(entity_id=entity, client_id=letter.client_id, issue_date=D(2026, 3, 31), due_date=D(2026, 4, 30))
    invoice.lines = [
        InvoiceLine(position=0, mission_id=monthly.id, period_start=D(2026, 3, 1), label="Tenue comptable — mars",
                    quantity=Decimal(1), unit_price=Decimal("350.00"), vat_rate=Decimal("20.00"),
                    total_ht=Decimal("350.00"))
    ]  # fmt: skip
    db_session.add(invoice)
    await db_session.flush()
    assert len(await billable_missions(db_session, entity, *march)) == 1
    assert await billable_missions(db_session, entity, *march, skip_billed=True) == []


# --- the editor's checks ---------------------------------------------------------------------


def _form(**values: object) -> EngagementForm:
    base: dict[str, object] = {
        "client": "01a2036b-692c-7478-92e2-9245f5f75a1b", "debut": "2026-03-01", "revision": "2,5",
        "libelle": ["Tenue comptable"], "unite": ["forfait"], "quantite": ["1"], "prix": ["1 234,50"],
        "tva": ["20.00"], "compte": ["706000"], "rythme": ["monthly"], "service": [""],
    }  # fmt: skip
    return EngagementForm(**(base | values))  # type: ignore[arg-type]


def test_a_letter_typed_the_french_way_reads_as_figures() -> None:
    form = _form()
    checked = validate(form, rows_of(form), {})
    assert checked.errors == {}
    assert checked.values is not None
    assert checked.values.revision_rate == Decimal("2.50")
    assert checked.values.renewal_date == D(2027, 3, 1)  # a year after the start, when none is typed
    [mission] = checked.values.missions
    assert (mission.unit_price, mission.rhythm) == (Decimal("1234.50"), Rhythm.MONTHLY)
    assert fees(checked.values.missions).yearly_ht == Decimal("14814.00")  # 1 234,50 × 12


def test_each_wrong_field_gets_its_message_beside_it() -> None:
    form = _form(client="", revision="150", libelle=["", "Révision"], prix=["100", "1 800,505"], service=["", ""],
                 unite=["forfait", "forfait"], quantite=["1", "1"], tva=["20.00", "20.00"],
                 compte=["706000", "601000"], rythme=["monthly", "yearly"])  # fmt: skip
    checked = validate(form, rows_of(form), {})
    assert checked.values is None
    assert checked.errors["client"] == NO_CLIENT
    assert checked.errors["revision"] == BAD_REVISION
    assert checked.errors["libelle-0"] == NO_LABEL
    assert checked.errors["prix-1"] == TOO_PRECISE
    assert checked.errors["compte-1"].startswith("Choisissez un compte de produits de la classe 70")
    # A line left blank is no mission; a line ticked « Retirer » is gone.
    blank = _form(libelle=["Tenue comptable", ""], prix=["100", ""], service=["", ""], unite=["forfait"] * 2,
                  quantite=["1", "1"], tva=["20.00"] * 2, compte=["706000"] * 2, rythme=["monthly"] * 2,
                  retirer=["0"])  # fmt: skip
    assert validate(blank, rows_of(blank), {}).errors == {"missions": "Ajoutez au moins une mission."}


async def test_a_service_chosen_fills_its_line(db_session: AsyncSession) -> None:
    place = await fees_place(db_session)
    service = await make_service(db_session, place.entity.id, "Liasse fiscale", "450.00")
    form = _form(service=[str(service.id)], libelle=[""], prix=[""])
    rows = rows_of(form)
    prefill(rows, {str(service.id): service})
    assert (rows[0].libelle, rows[0].prix) == ("Liasse fiscale", "450")
    checked = validate(form, rows, {str(service.id): service})
    assert checked.values is not None
    assert checked.values.missions[0].service_id == service.id
    assert MissionRow().blank


# --- renewals --------------------------------------------------------------------------------


async def test_a_renewal_revises_the_prices_and_ends_the_old_letter_once_accepted(db_session: AsyncSession) -> None:
    place, old = await _letter(db_session, start=D(2026, 1, 1), revision="2.5")
    partner = principal_of(place.partner)
    service = EngagementService(db_session)
    renewal = await service.renew(partner, old)
    assert renewal.status is EngagementStatus.DRAFT
    assert (renewal.start_date, renewal.renewal_date) == (D(2027, 1, 1), D(2028, 1, 1))
    # 350 × 1,025 = 358,75; 600 × 1,025 = 615; 1 800 × 1,025 = 1 845; 120 × 1,025 = 123.
    assert [mission.unit_price for mission in renewal.missions] == [
        Decimal("358.75"), Decimal("615.00"), Decimal("1845.00"), Decimal("123.00"),
    ]  # fmt: skip
    assert old.status is EngagementStatus.ACCEPTED
    with pytest.raises(Exception, match="renouvellement en cours"):
        await service.renew(partner, old)

    token, digest = draw_token()
    renewal.status, renewal.token_hash = EngagementStatus.SENT, digest
    await db_session.flush()
    await service.accept(token, name="Sophie Martin", address="192.0.2.1")
    await db_session.refresh(old)
    assert old.status is EngagementStatus.ENDED


# --- the link --------------------------------------------------------------------------------


async def test_the_link_accepts_once_and_a_second_use_changes_nothing(db_session: AsyncSession) -> None:
    _place, letter = await _letter(db_session, start=D(2026, 1, 1), status=EngagementStatus.SENT)
    token, digest = draw_token()
    letter.token_hash = digest
    await db_session.flush()
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    service = EngagementService(db_session)

    accepted = await service.accept(token, name="  Sophie   Martin ", address="192.0.2.1")
    assert accepted.status is EngagementStatus.ACCEPTED
    assert (accepted.accepted_by_name, accepted.accepted_from) == ("Sophie Martin", "192.0.2.1")
    moment = accepted.accepted_at
    with pytest.raises(LinkError) as refused:
        await service.accept(token, name="Quelqu'un d'autre", address="198.51.100.7")
    assert refused.value is USED_LINK
    assert _message(refused.value) == "Ce lien a déjà été utilisé."
    await db_session.refresh(accepted)
    assert (accepted.accepted_by_name, accepted.accepted_at) == ("Sophie Martin", moment)
    with pytest.raises(LinkError) as unknown:
        await service.open_link("un-jeton-qui-n-existe-pas-123")
    assert unknown.value.status == 404
    events = await db_session.execute(select(AuditEvent).where(AuditEvent.action == "billing_engagement.accept"))
    [event] = events.scalars()
    assert event.after is not None
    assert event.after["accepted_by_name"] == "Sophie Martin"
    assert token not in repr(event.after)


def _message(error: LinkError) -> str:
    return error.message


async def test_two_concurrent_acceptances_accept_once(committed: async_sessionmaker[AsyncSession]) -> None:
    async with committed() as session, session.begin():
        _place, letter = await _letter(session, start=D(2026, 1, 1), status=EngagementStatus.SENT)
        token, digest = draw_token()
        letter.token_hash = digest
        letter_id = letter.id

    async def accept(name: str) -> str:
        async with committed() as session:
            try:
                async with session.begin():
                    await EngagementService(session).accept(token, name=name, address="192.0.2.1")
            except LinkError as refused:
                return refused.message
            return "accepted"

    outcomes = await asyncio.gather(accept("Sophie Martin"), accept("Paul Martin"))
    assert sorted(outcomes) == ["Ce lien a déjà été utilisé.", "accepted"]
    async with committed() as session:
        stored = await session.get(Engagement, letter_id)
        assert stored is not None
        assert stored.status is EngagementStatus.ACCEPTED
        assert stored.accepted_by_name in {"Sophie Martin", "Paul Martin"}
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        accepted = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "billing_engagement.accept")
        assert (await session.execute(accepted)).scalar_one() == 1


async def test_a_comptable_reads_the_letters_of_their_dossiers_clients_only(db_session: AsyncSession) -> None:
    place, bakery_letter = await _letter(db_session, start=D(2026, 1, 1))
    garage = await client_of(db_session, place.garage)
    await make_engagement(db_session, place.entity.id, garage, [("Tenue", Rhythm.MONTHLY, "90.00")],
                          start=D(2026, 1, 1))  # fmt: skip
    accountant = principal_of(place.accountant, {place.bakery.id: frozenset({DossierRole.ACCOUNTANT})})
    page = await EngagementService(db_session).page(accountant, place.entity.id)
    assert [letter.id for letter in page.items] == [bakery_letter.id]
    manager = principal_of(place.manager, {place.entity.id: frozenset({DossierRole.BILLING_MANAGER})})
    assert (await EngagementService(db_session).page(manager, place.entity.id)).total == 2
