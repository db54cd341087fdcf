"""Demo data: a firm with its own dossier, client dossiers (valid SIRENs, and two associations
without one that look alike), a confidential dossier, and four people: two of them Comptable on
client dossiers and Employé of the firm's own, one Gestionnaire de facturation; an expense note
waiting for approval (a receipt and a trip) and one approved (Suivi shows its entry), and a till
whose authorisation was lost (Accueil has both for the partner); the
confidential dossier's client user, invited by the partner, whom the administrator never sees on the
portal's pages (the development mail page, a development aid only the demo serves, shows every email
written, their invitation included, its link masked).

Seeding is idempotent: a database that already has a firm is left as it is. The demo
password is generated once and kept in ``var/demo_credentials``, so every start can
print the sign-in without a well-known password ever existing.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership
from portal.accounts.services import load_principal
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.billing.client_base import ensure_clients
from portal.billing.fee_models import (
    BillingRun,
    BillingRunStatus,
    BillingSettings,
    Engagement,
    EngagementStatus,
    Mission,
    Rhythm,
    Service,
    Unit,
)
from portal.billing.invoices import InvoiceService, LineValues
from portal.billing.models import BillingClient, ClientDossierLink
from portal.billing.payments import Allocation, PaymentService
from portal.billing.runs import billables_for, count_drafts, month_bounds, write_drafts
from portal.clients.models import Dossier, DossierAccess
from portal.expenses.categories import ExpenseCategory
from portal.expenses.models import ExpenseNote
from portal.expenses.receipts import ReceiptStore
from portal.expenses.schemas import ExpenseValues, MileageValues
from portal.expenses.services import ExpenseNoteService, today
from portal.firm.invitations import Grant, InvitationService
from portal.firm.links import draw_token
from portal.firm.models import Firm
from portal.firm.services import UserService
from portal.integrations.commerce import tasks as commerce_tasks
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from portal.integrations.tasks import tell_authorization_lost
from portal.sandbox.pennylane.data import fictional_siren
from portal.settings import Settings, private_folder

FIRM_NAME = "Cabinet Durand & Associés"
# name, SIREN base (8 digits, None: no SIREN), legal form, firm's own, city, postal code
DOSSIERS = [
    (FIRM_NAME, "90112233", "SAS", True, "Lyon", "69002"),
    ("Boulangerie Martin", "81234567", "SARL", False, "Villeurbanne", "69100"),
    ("Garage du Centre", "79876543", "EURL", False, "Lyon", "69003"),
    ("Restaurant Le Cèdre", "88321456", "SAS", False, "Lyon", "69001"),
    ("Pharmacie des Halles", "53124678", "SELARL", False, "Caluire-et-Cuire", "69300"),
    ("Atelier Bois & Design", "84455667", "SASU", False, "Vénissieux", "69200"),
    ("Association Sportive de la Croix-Rousse", None, "Association", False, "Lyon", "69004"),
    ("ASSOCIATION SPORTIVE DE LA CROIX ROUSSE", None, "Association", False, "Lyon", "69004"),
]
# Restaurant Le Cèdre's till (Zelty), whose authorisation was lost: Accueil's « connexion à reconnecter ».
LOST_TILL = "Restaurant Le Cèdre – caisse"
DEMO_TILL = "zelty-le-cedre"  # its account in the POS sandbox
# Visible only to the partner: the portal's confidentiality at work from the first start.
CONFIDENTIAL = ("Holding Durand Patrimoine", "92345671", "SC", False, "Lyon", "69006")
PEOPLE = [
    ("associe@cabinet-durand.fr", "Claire Durand", (FirmRole.PARTNER,)),
    ("admin@cabinet-durand.fr", "Marc Lefèvre", (FirmRole.ADMIN,)),
    ("julie.bernard@cabinet-durand.fr", "Julie Bernard", (FirmRole.COLLABORATOR,)),
    ("thomas.petit@cabinet-durand.fr", "Thomas Petit", (FirmRole.COLLABORATOR,)),
]
# The confidential dossier's client user, invited by the partner: no one else sees them, in Utilisateurs, the
# audit log or Travaux; the administrator reads their invitation on /dev/courriels, its link masked.
HOLDING_CLIENT = ("client.holding@patrimoine-durand.fr", "Jean Durand")
# Roles on dossiers (person's index in PEOPLE, dossier's index in DOSSIERS, role), as seed 003
# recommends: collaborators are Comptable on their client dossiers and Employé of the firm's own.
MEMBERSHIPS = [
    (2, 1, DossierRole.ACCOUNTANT),
    (2, 2, DossierRole.ACCOUNTANT),
    (2, 0, DossierRole.EMPLOYEE),
    (3, 3, DossierRole.ACCOUNTANT),
    (3, 4, DossierRole.ACCOUNTANT),
    (3, 5, DossierRole.ACCOUNTANT),
    (3, 0, DossierRole.EMPLOYEE),
    (1, 0, DossierRole.BILLING_MANAGER),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


def _credentials_path(settings: Settings) -> Path:
    return settings.var_dir / "demo_credentials"


def demo_password(settings: Settings) -> str:
    path = _credentials_path(settings)
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = "demo-" + secrets.token_urlsafe(12)
    private_folder(settings.var_dir)
    path.write_text(password, encoding="utf-8")
    path.chmod(0o600)
    return password


def demo_login(settings: Settings) -> DemoLogin | None:
    path = _credentials_path(settings)
    if not path.exists():
        return None
    return DemoLogin(email=PEOPLE[0][0], password=path.read_text(encoding="utf-8").strip())


async def seed(session: AsyncSession, settings: Settings) -> DemoLogin | None:
    """Create the demo firm unless a firm exists. Returns the partner's sign-in when it seeded."""
    users = UserService(session=session)
    if (await session.execute(select(Firm.id).limit(1))).first() is not None:
        return None
    password = demo_password(settings)
    dossiers = [
        Dossier(
            name=name, siren=fictional_siren(base) if base else None, legal_form=form, is_firm_dossier=is_firm,
            city=city, postal_code=postal_code,
        )
        for name, base, form, is_firm, city, postal_code in [*DOSSIERS, CONFIDENTIAL]
    ]  # fmt: skip
    session.add_all(dossiers)
    await session.flush()
    session.add(Firm(name=FIRM_NAME, own_dossier_id=dossiers[0].id))
    people = [
        await users.create_user(email=email, name=name, roles=roles, password=password) for email, name, roles in PEOPLE
    ]
    confidential = dossiers[-1]
    confidential.is_confidential = True
    session.add(DossierAccess(dossier_id=confidential.id, user_id=people[0].id))
    session.add_all(
        DossierMembership(dossier_id=dossiers[dossier].id, user_id=people[person].id, role=role)
        for person, dossier, role in MEMBERSHIPS
    )
    await session.flush()
    receipts = ReceiptStore(settings.receipts_dir, max_bytes=settings.receipt_max_bytes)
    await _expense_note(session, people[2].id, dossiers[0].id, receipts)
    await _approved_note(session, people[3].id, people[0].id, dossiers[0].id, receipts)
    await _lost_till(session, dossiers[3], people[3].id)
    await seed_fees(session, dossiers)
    partner = await load_principal(session, people[0].id, 0)
    if partner is not None:
        await seed_invoices(session, dossiers, partner)
    if partner is not None:
        await InvitationService(session=session).invite(
            partner, email=HOLDING_CLIENT[0], name=HOLDING_CLIENT[1],
            grants=[Grant(confidential.id, DossierRole.CLIENT_USER)],
        )  # fmt: skip
    return DemoLogin(email=PEOPLE[0][0], password=password)


# The firm's catalogue: label, unit, price HT, revenue account.
SERVICES = [
    ("Tenue comptable", Unit.FLAT, "350.00", "706100"),
    ("Révision et bilan", Unit.FLAT, "1800.00", "706200"),
    ("Liasse fiscale", Unit.FLAT, "450.00", "706300"),
    ("Social (par bulletin)", Unit.PAYSLIP, "28.00", "706400"),
    ("Juridique annuel", Unit.FLAT, "600.00", "706500"),
    ("Conseil (à l'heure)", Unit.HOUR, "120.00", "706600"),
]
# Lettres de mission: the dossier (index in DOSSIERS), its status, its missions (service's index, quantity, rhythm).
ENGAGEMENTS = [
    (1, EngagementStatus.ACCEPTED, [(0, "1", Rhythm.MONTHLY), (1, "1", Rhythm.YEARLY)]),
    (2, EngagementStatus.SENT, [(0, "1", Rhythm.MONTHLY), (3, "4", Rhythm.MONTHLY), (2, "1", Rhythm.YEARLY)]),
]
TERMS = (
    "1. Objet. La présente lettre définit les missions confiées au cabinet et leurs honoraires.\n"
    "2. Durée. Elle court de sa date de début à sa date de renouvellement, puis se renouvelle par une nouvelle "
    "lettre.\n"
    "3. Honoraires. Ils sont révisés chaque année du taux indiqué ; les factures sont payables à 30 jours.\n"
    "4. Obligations du client. Le client transmet ses pièces dans les délais convenus avec le cabinet."
)


async def seed_fees(session: AsyncSession, dossiers: list[Dossier]) -> None:
    """The firm's own dossier as billing entity with its client base, settings and catalogue; a lettre de mission
    accepted by the bakery (two missions), one sent to the garage and not accepted yet; the other clients have
    none (« Dossiers non facturés » lists them)."""
    entity = dossiers[0]
    firm = (await session.execute(select(Firm))).scalar_one()
    firm.billing_entity_id = entity.id
    await session.flush()
    await ensure_clients(session, entity.id, Dossier.id.is_not(None))
    session.add(
        BillingSettings(
            entity_id=entity.id, share_capital="50 000 €", trade_registry=f"RCS Lyon {entity.siren_display}",
            email="facturation@cabinet-durand.fr", phone="04 72 00 00 00", iban="FR7630006000011234567890189",
            bic="AGRIFRPP", payment_terms_days=30, late_penalty_rate=Decimal("10.00"), vat_on_debits=False,
            general_terms=TERMS, invoice_prefix="F", credit_note_prefix="AV", reminder_days="7,30",
        )
    )  # fmt: skip
    services = [
        Service(entity_id=entity.id, label=label, unit=unit, unit_price=Decimal(price), vat_rate=Decimal("20.00"),
                revenue_account=account)
        for label, unit, price, account in SERVICES
    ]  # fmt: skip
    session.add_all(services)
    await session.flush()
    year = today().year
    for number, (dossier, status, missions) in enumerate(ENGAGEMENTS, start=1):
        client_id = (
            await session.execute(select(ClientDossierLink.client_id).where(
                ClientDossierLink.dossier_id == dossiers[dossier].id))
        ).scalar_one()  # fmt: skip
        start = dt.date(year, 1, 1)
        accepted = status is EngagementStatus.ACCEPTED
        moment = dt.datetime.now(dt.UTC)
        session.add(
            Engagement(
                entity_id=entity.id, client_id=client_id, reference=f"LM{year}-{number:04d}", status=status,
                start_date=start, renewal_date=start.replace(year=year + 1), revision_rate=Decimal("2.50"),
                general_terms=TERMS, contact_name="Sophie Martin" if accepted else "Paul Garnier",
                contact_email="sophie.martin@example.fr" if accepted else "paul.garnier@example.fr",
                token_hash=draw_token()[1], sent_at=moment, accepted_at=moment if accepted else None,
                accepted_by_name="Sophie Martin" if accepted else None,
                accepted_from="192.0.2.10" if accepted else None,
                missions=[
                    Mission(position=position, service_id=services[service].id, label=services[service].label,
                            unit=services[service].unit, quantity=Decimal(quantity),
                            unit_price=services[service].unit_price, vat_rate=services[service].vat_rate,
                            revenue_account=services[service].revenue_account, rhythm=rhythm)
                    for position, (service, quantity, rhythm) in enumerate(missions)
                ],
            )
        )  # fmt: skip
    await session.flush()


# The clients' billing addresses (dossier index in DOSSIERS): where their invoices go.
BILLING_EMAILS = {1: "sophie.martin@example.fr", 2: "paul.garnier@example.fr", 3: "compta@lecedre.example.fr",
                  4: "gestion@pharmacie-halles.example.fr"}  # fmt: skip


async def seed_invoices(session: AsyncSession, dossiers: list[Dossier], partner: Principal) -> None:
    """The billing cycle to look at from the first start: an invoice validated and paid (the bakery's company
    formation), one validated and unpaid (the restaurant's advice and tax return), both posted in the firm's books
    (journals VT and BQ), and this month's recurring run with its drafts to review (from the accepted letter)."""
    entity = dossiers[0]
    clients: dict[int, BillingClient] = {}
    for index, email in BILLING_EMAILS.items():
        client = (
            await session.execute(select(BillingClient).join(ClientDossierLink, ClientDossierLink.client_id ==
                                  BillingClient.id).where(ClientDossierLink.dossier_id == dossiers[index].id))
        ).scalar_one()  # fmt: skip
        client.billing_email, client.billing_contact = email, "Service comptable"
        clients[index] = client
    invoices = InvoiceService(session)
    paid = await invoices.create_draft(partner, clients[1].id, [
        LineValues(label="Constitution de société (statuts, annonce légale)", quantity=Decimal(1),
                   unit_price=Decimal("900.00"), vat_rate=Decimal("20.00"), unit=Unit.ACT, revenue_account="706500"),
    ], purchase_order="BC-2026-014")  # fmt: skip
    unpaid = await invoices.create_draft(partner, clients[3].id, [
        LineValues(label="Conseil (à l'heure)", quantity=Decimal("2.5"), unit_price=Decimal("120.00"),
                   vat_rate=Decimal("20.00"), unit=Unit.HOUR, revenue_account="706600"),
        LineValues(label="Liasse fiscale", quantity=Decimal(1), unit_price=Decimal("450.00"),
                   vat_rate=Decimal("20.00"), revenue_account="706300"),
    ])  # fmt: skip
    await invoices.validate(partner, [paid.id, unpaid.id])
    entity_id = entity.id
    await PaymentService(session).record(
        partner, entity_id, client_id=clients[1].id, received_on=today(), amount=paid.total_ttc,
        reference=f"VIR {paid.number}", allocations=[Allocation(invoice_id=paid.id, amount=paid.total_ttc)],
    )  # fmt: skip
    first, last = month_bounds(today())
    run = BillingRun(entity_id=entity.id, period_start=first, period_end=last, issue_date=last,
                     status=BillingRunStatus.READY, created_by_id=partner.user_id)  # fmt: skip
    session.add(run)
    await session.flush()
    await write_drafts(session, run, await billables_for(session, run))
    run.drafts = await count_drafts(session, run.id)
    await session.flush()


def _ticket(merchant: str, total: str) -> bytes:
    """A photographed till receipt, drawn: what the thumbnails of the demo's notes show."""
    image = Image.new("RGB", (600, 900), "#fbfaf6")
    draw = ImageDraw.Draw(image)
    draw.text((40, 40), merchant.upper(), fill="#222222", font_size=36)
    for row, (label, amount) in enumerate((("Menu du jour x2", total), ("TVA 10 %", ""), ("CB", total))):
        draw.text((40, 160 + row * 60), label, fill="#333333", font_size=28)
        draw.text((430, 160 + row * 60), amount, fill="#333333", font_size=28)
    draw.line((40, 380, 560, 380), fill="#999999", width=3)
    draw.text((40, 410), f"TOTAL TTC  {total} EUR", fill="#111111", font_size=32)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def _receipt_line(
    notes: ExpenseNoteService, author: Principal, note: ExpenseNote, receipts: ReceiptStore, *, merchant: str, ttc: str
) -> None:
    vat = (Decimal(ttc) / 11).quantize(Decimal("0.01"))
    values = ExpenseValues(today(), merchant, ExpenseCategory.BUSINESS_MEAL, Decimal(ttc), vat, "Déjeuner client")
    receipt = await receipts.check(_ticket(merchant, ttc.replace(".", ",")), "ticket.png")
    await notes.add_expense_line(author, note, values, receipt, receipts)


async def _expense_note(
    session: AsyncSession, author_id: uuid.UUID, firm_dossier_id: uuid.UUID, receipts: ReceiptStore
) -> None:
    """A note submitted by a collaborator, through the same service as the pages: "À valider" has one, with a
    receipt (its thumbnail) and a trip on the barème."""
    author = await load_principal(session, author_id, 0)
    if author is None:
        return
    notes = ExpenseNoteService(session=session)
    note = await notes.create_note(author, firm_dossier_id, "Inventaire chez Boulangerie Martin")
    await _receipt_line(notes, author, note, receipts, merchant="Brasserie des Terreaux", ttc="48.40")
    trip = MileageValues(
        expense_date=today(), purpose="Lyon – Villeurbanne aller-retour", horsepower=5, distance_km=24, electric=False
    )
    await notes.add_mileage_line(author, note, trip)
    await notes.submit(author, note)


async def _approved_note(
    session: AsyncSession, author_id: uuid.UUID, approver_id: uuid.UUID, firm_dossier_id: uuid.UUID,
    receipts: ReceiptStore,
) -> None:  # fmt: skip
    """A note the partner approved: Suivi shows its entry in the NDF journal from the start."""
    author = await load_principal(session, author_id, 0)
    approver = await load_principal(session, approver_id, 0)
    if author is None or approver is None:
        return
    notes = ExpenseNoteService(session=session)
    note = await notes.create_note(author, firm_dossier_id, "Rendez-vous Garage du Centre")
    await _receipt_line(notes, author, note, receipts, merchant="Bistrot du Centre", ttc="33.00")
    await notes.submit(author, note)
    await notes.approve(approver, note)


async def _lost_till(session: AsyncSession, dossier: Dossier, connected_by_id: uuid.UUID) -> None:
    """A till whose authorisation the source no longer accepts: Accueil has a connection to fix from the start.

    Before it was lost it had posted its last fortnight (the sandbox's Restaurant Le Cèdre): the first week
    ticket by ticket, the second as one *Z de caisse* per register and day, the option it has kept since. So
    Comptabilité shows its two journals (Salle, Bar) marked « Produit par le portail », and its page the Z option.
    Its Comptable has a notification (the bell) saying it is lost, as the sync that finds it lost would write.
    """
    connection = Connection(
        dossier_id=dossier.id, provider=Provider.ZELTY, auth_method=AuthMethod.API_KEY,
        status=ConnectionStatus.AUTHORIZATION_LOST, last_error=commerce_tasks.LOST, label=LOST_TILL,
        connected_by_id=connected_by_id, connected_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40),
    )  # fmt: skip
    session.add(connection)
    await session.flush()
    await _till_history(session, dossier, connection)
    await tell_authorization_lost(session, connection)


class _SandboxTill:
    """The sandbox's Restaurant Le Cèdre read in this process, as the unified API serves it (demo only)."""

    def __init__(self) -> None:
        from portal.sandbox.commerce import books  # noqa: PLC0415 - demo-only
        from portal.sandbox.commerce.state import current_state  # noqa: PLC0415

        self.books, self.state = books, current_state()
        self.account = self.state.account(DEMO_TILL)

    def reference(self) -> Any:
        from portal.integrations.commerce.records import Location, PaymentMethod, ReferenceData, TaxRate  # noqa: PLC0415

        profile: Any = self.account.profile
        return ReferenceData(
            locations=tuple(Location(register.id, register.name) for register in profile.registers),
            payment_methods=tuple(PaymentMethod(method.id, method.name, method.extra) for method in profile.methods),
            tax_rates=tuple(TaxRate(rate.id, rate.label, rate.rate, rate.tax_code) for rate in profile.rates),
        )

    async def closure(self, _consumer_id: str, day: dt.date) -> Any:
        from portal.integrations.commerce.records import Closure  # noqa: PLC0415

        return Closure.from_api(self.books.pos_closure(self.state, self.account, day, None))

    async def orders(self, _consumer_id: str, day: dt.date, _last: dt.date) -> Any:
        import json  # noqa: PLC0415

        from portal.integrations.commerce.records import Order  # noqa: PLC0415

        count = self.books.pos_count(self.state, self.account, day, None)
        encoded = self.books.pos_slice(self.state, self.account, day, 0, count, location_id=None)
        yield [Order.from_api(json.loads(item, parse_float=Decimal)) for item in encoded]


async def _till_history(session: AsyncSession, dossier: Dossier, connection: Connection) -> None:
    from portal.integrations.commerce import mapping as mappings  # noqa: PLC0415
    from portal.integrations.commerce import store, sync  # noqa: PLC0415
    from portal.integrations.commerce.models import CommerceSetup  # noqa: PLC0415
    from portal.integrations.commerce.posting import Poster  # noqa: PLC0415
    from portal.integrations.commerce.sources import get_source  # noqa: PLC0415

    till, source = _SandboxTill(), get_source("zelty")
    assert source is not None  # noqa: S101 - in the catalogue
    reference = till.reference()
    mapping = mappings.default_mapping(source, reference)
    yesterday = till.state.today - dt.timedelta(days=1)
    setup = CommerceSetup(
        connection_id=connection.id, dossier_id=dossier.id, source=source.code, consumer_id=till.account.id,
        consumer_name=till.account.name, reference=reference.to_json(), mapping=mapping.to_json(),
        sync_start=yesterday - dt.timedelta(days=13), summarise_days=True,
    )  # fmt: skip
    session.add(setup)
    await session.flush()
    assert setup.source_key is not None  # noqa: S101 - the account is known
    poster = Poster(mapping, source, reference)
    target = sync.Target(dossier_id=dossier.id, source_key=setup.source_key)

    async def write(batch: store.Batch) -> int:
        return await store.write(session, batch)

    switched = yesterday - dt.timedelta(days=7)  # the Z de caisse chosen a week ago
    for day in sync.days_between(setup.sync_start, yesterday):
        result = await sync.sync_day(till, poster, source=source, consumer_id=till.account.id, day=day, target=target,
                                     now=till.state.today, write=write, summarise=day > switched)  # fmt: skip
        await store.mark_day(session, dossier_id=dossier.id, source_key=setup.source_key, day=day, state=result.state,
                             records=result.records, message=result.message)  # fmt: skip


# The fiscal years the demo's Comptabilité and Tableau de bord show from the first start: Restaurant Le
# Cèdre's 2024 and 2025, as its accounting software (the Pennylane sandbox's books) would export them, with
# an objective and a budget for 2025 (the Tableau de bord compares N with N-1, the objective and the budget).
LEDGER_DOSSIER = "Restaurant Le Cèdre"
LEDGER_YEARS = (2024, 2025)
OBJECTIVE_GROWTH = Decimal("0.10")  # the CA objective: 2024's + 10 %
BUDGET_GROWTH = Decimal("0.05")  # the budget: each month of 2024 + 5 %


async def seed_ledger(settings: Settings) -> bool:
    """Import those fiscal years through the same path as ``portal fec import``, once, then set the
    objective and the budget. True when it did."""
    import datetime as dt  # noqa: PLC0415 - demo-only
    import tempfile  # noqa: PLC0415
    from pathlib import Path as _Path  # noqa: PLC0415

    from portal.db.engine import make_engine, make_session_maker  # noqa: PLC0415
    from portal.ledger.commands import import_path  # noqa: PLC0415
    from portal.ledger.models import FiscalYear  # noqa: PLC0415
    from portal.sandbox.pennylane import data  # noqa: PLC0415

    engine = make_engine(settings.database_url)
    sessions = make_session_maker(engine)
    try:
        async with sessions() as session:
            dossier = (await session.execute(select(Dossier).where(Dossier.name == LEDGER_DOSSIER))).scalar()
            if (
                dossier is None
                or (
                    await session.execute(select(FiscalYear.id).where(FiscalYear.dossier_id == dossier.id).limit(1))
                ).first()
            ):
                return False
        company = next(item for item in data.COMPANIES if item.siren == dossier.siren)
        for year in LEDGER_YEARS:
            end = dt.date(year, 12, 31)
            text = data.fec_text(company.id, dt.date(year, 1, 1), end)
            with tempfile.TemporaryDirectory() as folder:
                path = _Path(folder) / data.fec_file_name(company, end)
                path.write_text(text, encoding="utf-8")
                imported = await import_path(settings, sessions, dossier, path)
            if imported.outcome.status.value != "succeeded":
                return False
        await seed_plan(sessions, dossier.id)
        return True
    finally:
        await engine.dispose()


async def seed_plan(sessions: Any, dossier_id: uuid.UUID) -> None:
    """The 2025 objective (CA) and budget of the demo's dossier, from its 2024 figures."""
    from portal.dashboard.models import BudgetLine, Objective  # noqa: PLC0415 - demo-only
    from portal.ledger import figures as formulas  # noqa: PLC0415
    from portal.ledger.aggregates import from_stored  # noqa: PLC0415
    from portal.ledger.models import YearFigures  # noqa: PLC0415

    async with sessions() as session, session.begin():
        rows = {
            row.end_date.year: row
            for row in (
                await session.execute(select(YearFigures).where(YearFigures.dossier_id == dossier_id))
            ).scalars()
        }
        before, year = rows[LEDGER_YEARS[0]], rows[LEDGER_YEARS[1]]
        previous = from_stored(before)
        sales = previous.values["chiffre_affaires"] or Decimal(0)
        session.add(
            Objective(
                dossier_id=dossier_id, end_date=year.end_date, key="chiffre_affaires",
                target=(sales * (1 + OBJECTIVE_GROWTH)).quantize(Decimal(1)),
            )
        )  # fmt: skip
        months = formulas.months_of(year.start_date, year.end_date)
        for key in formulas.BUDGET_KEYS:
            series = list(previous.monthly[key].values())
            for month, amount in zip(months, series, strict=False):
                cents = int(((amount or Decimal(0)) * (1 + BUDGET_GROWTH) * 100).quantize(Decimal(1)))
                session.add(
                    BudgetLine(dossier_id=dossier_id, end_date=year.end_date, key=key, month=month, amount=cents)
                )
        await seed_report(session, dossier_id, year.fiscal_year_id)


REPORT_TITLE = "Revue de l'exercice 2025"
REPORT_COMMENT = (
    "Le chiffre d'affaires progresse sur l'exercice ; la trésorerie reste confortable. "
    "Points d'attention : le délai de recouvrement clients et les charges de personnel du second semestre."
)


async def seed_report(session: AsyncSession, dossier_id: uuid.UUID, fiscal_year_id: uuid.UUID) -> None:
    """A PDF report of 2025 asked by the partner: the worker of ``make run`` prints it at start-up."""
    from portal.accounts.models import User  # noqa: PLC0415 - demo-only
    from portal.dashboard.reports import ReportRequest, ReportService  # noqa: PLC0415
    from portal.ledger.models import FiscalYear  # noqa: PLC0415

    partner = (await session.execute(select(User).where(User.email == PEOPLE[0][0]))).scalar_one()
    principal = await load_principal(session, partner.id, 0)
    if principal is None:
        return
    dossier = await session.get_one(Dossier, dossier_id)
    year = await session.get_one(FiscalYear, fiscal_year_id)
    # Sent to the partner: once printed, their bell tells them it is ready (and the PDF is emailed).
    asked = ReportRequest(year=year, title=REPORT_TITLE, comment=REPORT_COMMENT, recipient_ids=(partner.id,))
    await ReportService(session).request(principal, dossier, asked)
