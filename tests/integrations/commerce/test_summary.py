"""Z de caisse: a register's (or a web shop's) day posted as ONE balanced entry.

Its totals are checked against sums computed here straight from the real order samples
(tests/data/pos, read as they are), not through the posting rules; then the store: one Z per
journal and day whatever re-runs, a record counted once (a late one in a complementary Z),
a day half posted ticket by ticket finished in a Z without doubling or losing a sale.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.integrations.commerce import mapping as mappings
from portal.integrations.commerce import store
from portal.integrations.commerce.adapters import shopify, woocommerce
from portal.integrations.commerce.entries import DraftEntry, EntryKind
from portal.integrations.commerce.models import CommerceEntry, CommerceEntryLine, CommerceSummaryItem
from portal.integrations.commerce.posting import Poster
from portal.integrations.commerce.records import Country, Location, PaymentMethod, ReferenceData, TaxRate
from tests.factories.clients import make_dossier
from tests.integrations.commerce.test_adapters import configured, load, source, woo_orders
from tests.integrations.commerce.test_posting import D, item, pay, ticket

DAY = dt.date(2026, 3, 2)
WOO_REFERENCE = ReferenceData(
    payment_methods=(PaymentMethod("bacs", "Direct Bank Transfer"),),
    countries=(Country("US", "United States"), Country("BR", "Brazil")),
)
# Dollars at 1 € so that the file's own amounts are the entry's: the check below is the file's arithmetic.
WOO_FORM: dict[str, str | list[str]] = {
    "country_rate.US": "0", "country_sales.US": "707400", "country_vat.US": "447100",
    "country_rate.BR": "0", "country_sales.BR": "707400", "country_vat.BR": "447100", "currency.USD": "1",
}  # fmt: skip
PAID = {"processing", "completed"}


def summary_of(poster: Poster, drafts: list[DraftEntry], journal: str) -> DraftEntry:
    entry = poster.summary(drafts, day=DAY, journal=journal, kind=EntryKind.SUMMARY, record_id=f"{DAY}/{journal}",
                           number=1)  # fmt: skip
    assert entry is not None
    return entry


def net(entry: DraftEntry) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for line in entry.lines:
        amounts[line.account] = amounts.get(line.account, Decimal(0)) + line.debit - line.credit
    return amounts


def test_a_web_shop_s_day_in_one_entry_equals_its_orders_as_the_file_adds_them_up() -> None:
    mapping = configured("woocommerce", WOO_REFERENCE, WOO_FORM)
    poster = Poster(mapping, source("woocommerce"), WOO_REFERENCE)
    raw = list(woo_orders().values())
    drafts: list[DraftEntry] = []
    for data in raw:
        drafts += poster.web_order(woocommerce.order_from_api(data), DAY)
    z = summary_of(poster, drafts, mapping.web_journal)

    # Straight from the JSON: what the paid orders say they cost, their tax, their shipping.
    paid = [data for data in raw if data["status"] in PAID]
    assert len(paid) >= 2
    total = sum((Decimal(data["total"]) for data in paid), Decimal(0))
    tax = sum((Decimal(data["total_tax"]) for data in paid), Decimal(0))
    shipping = sum((Decimal(data["shipping_total"]) for data in paid), Decimal(0))
    assert z.balanced
    assert z.kind is EntryKind.SUMMARY
    assert net(z) == {"512000": total, "707400": -(total - tax - shipping), "708500": -shipping, "447100": -tax}
    assert z.debit == total  # everything paid by transfer: the customers' 411 nets to nothing
    labels = {line.account: line.label for line in z.lines}
    assert labels["512000"] == "Z de caisse – Encaissements Direct Bank Transfer"
    assert labels["708500"] == "Z de caisse – Frais de port facturés"
    assert z.label.startswith("Z de caisse – Boutique en ligne 02/03/2026 – enregistrements : ")
    assert z.piece_ref == "Z20260302"


def test_a_shopify_day_in_one_entry_equals_its_order_as_the_file_adds_it_up() -> None:
    reference = ReferenceData(
        payment_methods=(PaymentMethod("bogus", "Bogus Gateway"), PaymentMethod("authorize_net", "Authorize.Net")),
        countries=(Country("US", "United States"),),
    )
    form: dict[str, str | list[str]] = {"country_rate.US": "0", "country_vat.US": "447100", "sales_rate.0": "707400",
                                        "currency.USD": "1", "payment.bogus": "511500"}  # fmt: skip
    mapping = configured("shopify", reference, form)
    poster = Poster(mapping, source("shopify"), reference)
    (data,) = load("shopify/orders.json")["orders"]
    z = summary_of(poster, poster.web_order(shopify.order_from_api(data), DAY), mapping.web_journal)
    total, tax = Decimal(data["total_price"]), Decimal(data["total_tax"])
    assert z.balanced
    assert net(z) == {"511500": total, "707400": -(total - tax), "447100": -tax}


REFERENCE = ReferenceData(
    locations=(Location("loc-salle", "Salle"), Location("loc-bar", "Bar")),
    payment_methods=(PaymentMethod("pm-cash", "Espèces"), PaymentMethod("pm-card", "Carte bancaire")),
    tax_rates=(TaxRate("t10", "TVA 10 %", Decimal(10)), TaxRate("t20", "TVA 20 %", Decimal(20))),
)


def pos_poster() -> Poster:
    zelty = source("zelty")
    return Poster(mappings.default_mapping(zelty, REFERENCE), zelty, REFERENCE)


def tickets(count: int, *, location: str = "loc-salle", start: int = 1) -> list[DraftEntry]:
    poster = pos_poster()
    drafts: list[DraftEntry] = []
    for number in range(start, start + count):
        paid = pay(f"p{number}", "pm-card", "18.00", "2.00") if number % 2 else pay(f"p{number}", "pm-cash", "18.00")
        order = ticket(item("12.00", "10", "1.09"), item("6.00", "20", "1.00"), payments=(paid,), number=str(number),
                       location_id=location)  # fmt: skip
        drafts += poster.order(order, DAY)
    return drafts


def test_a_register_s_z_has_totals_per_vat_rate_and_per_payment_method_in_words() -> None:
    poster = pos_poster()
    z = summary_of(poster, tickets(3), "CA1")
    assert z.balanced
    # 3 tickets: 36.00 at 10 % (3.27 of VAT), 18.00 at 20 % (3.00), two by card with 2.00 tips, one in cash.
    assert net(z) == {"511500": D("40.00"), "530000": D("18.00"), "7060100": -D("32.73"), "7060200": -D("15.00"),
                      "4457100": -D("3.27"), "4457200": -D("3.00"), "428600": -D("4.00")}  # fmt: skip
    labels = {line.account: line.label for line in z.lines}
    assert labels["7060100"] == "Z de caisse – Ventes TVA 10 % (HT)"
    assert labels["4457200"] == "Z de caisse – TVA collectée 20 %"
    assert labels["511500"] == "Z de caisse – Encaissements Carte bancaire"
    assert labels["428600"] == "Z de caisse – Pourboires"
    assert z.label == "Z de caisse – Salle 02/03/2026 – enregistrements : 3"


async def _lines(session: AsyncSession, dossier_id: object) -> dict[str, int]:
    rows = await session.execute(
        select(CommerceEntryLine.account, func.sum(CommerceEntryLine.debit - CommerceEntryLine.credit))
        .join(CommerceEntry, CommerceEntry.id == CommerceEntryLine.entry_id)
        .where(CommerceEntry.dossier_id == dossier_id)
        .group_by(CommerceEntryLine.account)
    )
    return {account: int(amount) for account, amount in rows if amount}


async def _kinds(session: AsyncSession, dossier_id: object) -> list[tuple[str, str, str]]:
    rows = await session.execute(
        select(CommerceEntry.kind, CommerceEntry.journal_code, CommerceEntry.record_id)
        .where(CommerceEntry.dossier_id == dossier_id)
        .order_by(CommerceEntry.kind, CommerceEntry.record_id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _batch(dossier_id: object, drafts: list[DraftEntry], *, summarise: bool, replace: bool = True) -> store.Batch:
    return store.Batch(dossier_id=dossier_id, source_key="zelty:cedre", day=DAY, drafts=drafts, final=True,  # type: ignore[arg-type]
                       replace_provisional=replace, summarise=pos_poster().summary if summarise else None)  # fmt: skip


async def test_one_z_per_register_and_day_a_late_ticket_in_a_complementary_z_never_twice(
    db_session: AsyncSession,
) -> None:
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    salle, bar = tickets(3), tickets(2, location="loc-bar", start=10)
    assert await store.write(db_session, _batch(dossier.id, salle + bar, summarise=True)) == 2
    # Read again (a retry, a second run): nothing new.
    assert await store.write(db_session, _batch(dossier.id, salle + bar, summarise=True)) == 0
    # A ticket of the Salle read after its Z: a complementary Z of that ticket alone.
    late = tickets(1, start=4)
    assert await store.write(db_session, _batch(dossier.id, salle + late + bar, summarise=True)) == 1
    assert await store.write(db_session, _batch(dossier.id, salle + late + bar, summarise=True)) == 0
    # Even asked ticket by ticket, what a Z counts is not posted again.
    assert await store.write(db_session, _batch(dossier.id, salle + late + bar, summarise=False)) == 0
    assert await _kinds(db_session, dossier.id) == [
        ("z", "CA1", "2026-03-02/CA1"),
        ("z", "CA2", "2026-03-02/CA2"),
        ("z_more", "CA1", "2026-03-02/CA1/2"),
    ]
    counted = await db_session.scalar(select(func.count()).select_from(CommerceSummaryItem))
    assert counted == len(salle + late + bar)
    # The books are those of the tickets one by one.
    other = await make_dossier(db_session, name="Témoin ticket par ticket")
    await store.write(db_session, _batch(other.id, salle + late + bar, summarise=False))
    assert await _lines(db_session, dossier.id) == await _lines(db_session, other.id)


async def test_a_day_half_posted_ticket_by_ticket_is_finished_in_a_z_without_doubling(db_session: AsyncSession) -> None:
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    day = tickets(4)
    first_page = [draft for draft in day if draft.piece_ref in {"1", "2"}]
    await store.write(db_session, _batch(dossier.id, first_page, summarise=False))  # then the worker died
    await store.write(db_session, _batch(dossier.id, day, summarise=True, replace=False))  # the mode was switched
    kinds = [kind for kind, _journal, _record in await _kinds(db_session, dossier.id)]
    assert kinds.count("z") == 1
    assert kinds.count("order") == 2
    other = await make_dossier(db_session, name="Témoin")
    await store.write(db_session, _batch(other.id, day, summarise=False))
    assert await _lines(db_session, dossier.id) == await _lines(db_session, other.id)


@pytest.mark.parametrize("count", [1, 7])
def test_every_z_balances(count: int) -> None:
    assert summary_of(pos_poster(), tickets(count), "CA1").balanced
