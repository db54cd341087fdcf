"""Balance âgée: each client's balance due at a reference date, by days past due (non échu, 0–30, 31–60, 61–90,
> 90), credit notes not yet applied against it, and a total row over every client; figures computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.roles import DossierRole, FirmRole
from portal.billing.aging import AgingService
from portal.billing.fee_models import InvoiceKind
from portal.billing.models import ClientDossierLink
from portal.billing.payments import Allocation, PaymentService
from portal.db.paging import Paging
from tests.factories.clients import make_dossier
from tests.factories.expenses import principal_of
from tests.factories.fees import billing_client, billing_entity, invoice, line
from tests.factories.firm import add_role, make_user

D = Decimal
ON = dt.date(2026, 12, 1)


def ttc(amount: str) -> list:  # a line whose TTC is ``amount`` (20 % VAT on amount / 1,2)
    return [line("Honoraires", str(D(amount) / D("1.2")))]


async def test_balances_fall_in_their_column_by_days_past_due(db_session: AsyncSession) -> None:
    entity = await billing_entity(db_session)
    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    dossier = await make_dossier(db_session, name="Garage du Centre")
    bakery = await billing_client(db_session, entity, "Boulangerie Martin")
    garage = await billing_client(db_session, entity, "Garage du Centre", origin=dossier)
    db_session.add(ClientDossierLink(billing_entity_id=entity.id, client_id=garage.id, dossier_id=dossier.id))
    paid = await billing_client(db_session, entity, "Café des Sports")
    issued = dt.date(2026, 6, 1)

    async def bill(client: object, amount: str, due: dt.date, **values: object) -> object:
        return await invoice(db_session, entity, client, ttc(amount), issue_date=values.pop("issue", issued),  # type: ignore[arg-type]
                             due_date=due, **values)  # type: ignore[arg-type]  # fmt: skip

    await bill(bakery, "120.00", dt.date(2026, 12, 10))  # not due
    partly = await bill(bakery, "240.00", dt.date(2026, 11, 20))  # 11 days: 0–30, 40,00 paid → 200,00
    await bill(bakery, "360.00", dt.date(2026, 10, 15))  # 47 days: 31–60
    await bill(bakery, "60.00", dt.date(2026, 9, 20))  # 72 days: 61–90
    await bill(bakery, "1200.00", dt.date(2026, 7, 1))  # 153 days: > 90
    await bill(bakery, "999.00", dt.date(2027, 1, 5), issue=dt.date(2026, 12, 5))  # issued after: not counted
    await bill(bakery, "24.00", ON, kind=InvoiceKind.CREDIT_NOTE)  # a credit note not applied: − 24,00, not due
    await bill(garage, "12.00", dt.date(2026, 11, 1))  # 30 days exactly: 0–30
    await bill(garage, "24.00", dt.date(2026, 10, 31))  # 31 days: 31–60
    await bill(garage, "36.00", dt.date(2026, 9, 1))  # 91 days: > 90
    settled = await bill(paid, "48.00", dt.date(2026, 10, 1))
    payments = PaymentService(db_session)
    await payments.record(partner, entity.id, client_id=bakery.id, received_on=dt.date(2026, 11, 25),
                          amount=D("40.00"), allocations=[Allocation(partly.id, D("40.00"))])  # type: ignore[attr-defined]  # fmt: skip
    await payments.record(partner, entity.id, client_id=paid.id, received_on=dt.date(2026, 11, 25),
                          amount=D("48.00"), allocations=[Allocation(settled.id, D("48.00"))])  # type: ignore[attr-defined]  # fmt: skip

    page, total = await AgingService(db_session).page(partner, entity.id, ON)
    shown = [(row.name, row.not_due, row.days_30, row.days_60, row.days_90, row.older, row.total) for row in page.items]
    assert shown == [
        ("Boulangerie Martin", D("96.00"), D("200.00"), D("360.00"), D("60.00"), D("1200.00"), D("1916.00")),
        ("Garage du Centre", D("0.00"), D("12.00"), D("24.00"), D("0.00"), D("36.00"), D("72.00")),
    ]  # the client who paid everything is not listed
    assert (total.not_due, total.days_30, total.days_60, total.days_90, total.older, total.total) == (
        D("96.00"), D("212.00"), D("384.00"), D("60.00"), D("1236.00"), D("1988.00"))  # fmt: skip

    # A page of one row still totals every client.
    first, every = await AgingService(db_session).page(partner, entity.id, ON, Paging(page=1, size=1))
    assert [row.name for row in first.items] == ["Boulangerie Martin"]
    assert (first.total, every.total) == (2, D("1988.00"))

    # Another reference date moves the columns: on 1 January 2027 the invoice due on 10 December is 0–30, and
    # the one due on 20 November (200,00) sits in 31–60 with the credit note due on 1 December (− 24,00).
    later, _total = await AgingService(db_session).page(partner, entity.id, dt.date(2027, 1, 1))
    assert (later.items[0].days_30, later.items[0].days_60) == (D("120.00"), D("176.00"))

    # A dossier's Comptable reads the fees of that dossier's client only.
    accountant = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, accountant, dossier, DossierRole.ACCOUNTANT)
    theirs, their_total = await AgingService(db_session).page(await principal_of(db_session, accountant), entity.id, ON)
    assert [row.name for row in theirs.items] == ["Garage du Centre"]
    assert their_total.total == D("72.00")
