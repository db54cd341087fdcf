"""THE LEAK TEST: a confidential dossier never shows to someone who is not on its access list.

Every route of the app is taken from its own route table. Each path parameter is given
the id of an object tied to the confidential dossier (the dossier, its client in the
billing entity, a possible duplicate involving that client, a job run about it), so
every page and every action that addresses one of them must answer 404, exactly as for
an id that does not exist. Every page without parameters is visited with searches that
would find the dossier, and every link found on the way is followed. Nothing the person
sees (HTML, partials, CSV) may contain the dossier's name, in any case, nor its SIREN,
plain or formatted, nor the ids of what belongs to it.

The people of the dossier stand with it: its client user, invited by the granted partner,
belongs to it alone, so their email and name show nowhere either (the Utilisateurs pages,
the audit log of their account and invitation, the run that emails them, its page).

The ungranted partner holds every firm-wide permission, so only the confidentiality
rule stands between them and the dossier; the administrator is checked too. The granted
partner has exactly the same roles and sees it all on the same pages: that is what
makes the leak checks able to fail.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

import httpx
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import luhn

from portal.accounts.models import PasswordReset, User
from portal.audit.models import AuditEvent
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.billing.client_base import ensure_clients, flag_duplicates
from portal.billing.fee_models import (
    BillingRun,
    Engagement,
    EngagementStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Mission,
    Payment,
    Rhythm,
    Service,
)
from portal.billing.models import BillingClient, ClientDossierLink, DuplicateCandidate, DuplicateStatus
from portal.billing.services import BillingClientService
from portal.billing.tasks import create_dossier_clients
from portal.clients.identifiers import format_siren
from portal.clients.models import Dossier, DossierAccess
from portal.clients.services import DossierService
from portal.dashboard.models import Report, ReportStatus
from portal.dashboard.reports import report_files
from portal.expenses.models import ExpenseLine, ExpenseNote, ExpenseReceipt, ExpenseTransition
from portal.expenses.services import today
from portal.firm.invitations import Grant, InvitationService, token_digest
from portal.firm.models import Firm
from portal.integrations.commerce import store
from portal.integrations.commerce.entries import DraftEntry, DraftLine, EntryKind
from portal.integrations.commerce.mapping import default_mapping
from portal.integrations.commerce.models import CommerceSetup, DayState
from portal.integrations.commerce.records import Location, PaymentMethod, ReferenceData
from portal.integrations.commerce.sources import get_source
from portal.integrations.models import AuthMethod, Connection, Provider
from portal.jobs.diagnostic import diagnostic
from portal.jobs.models import JobRun
from portal.ledger.aggregates import stored_detail
from portal.ledger.figures import compute
from portal.ledger.models import (
    Entry,
    FiscalYear,
    ImportStatus,
    LedgerImport,
    LedgerSource,
    Line,
    VersionState,
    YearFigures,
)
from portal.notifications.kinds import Kind
from portal.notifications.models import Notification
from portal.settings import load_settings
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note
from tests.factories.firm import PASSWORD, add_role, make_firm, make_user
from tests.routes import handlers, query_parameters

Client = httpx.AsyncClient

SECRET_NAME = "Zéphyrin Confidentiel SAS"
# Visible, without SIREN and without the accent: the same name once normalised, so the
# secret dossier's client and this one's form a pair of possible duplicates.
TWIN_NAME = "Zephyrin Confidentiel"
SECRET_SIREN = "98765432" + luhn.calc_check_digit("98765432")
NAME_WORD = "Zéphyrin"
# The secret dossier's client user, a member of it alone.
SECRET_PERSON_EMAIL = "dirigeant@cache.fr"
SECRET_PERSON_NAME = "Dirigeant Caché"

PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")
# The link of an invitation to a person of the visible twin dossier, and of a password reset link of
# theirs (build_world keeps its digest).
INVITATION_TOKEN = "jeton-d-invitation-du-test-de-fuite"
# Path parameters that address no row (the static files' path, an invitation link): what to put there.
# A source of the catalogue is no row either: the dossier in the same path is what must stay hidden; nor is
# a single sign-on provider (none is configured here: its pages send back to the sign-in page); nor is a
# figure of the Tableau de bord (its fiscal year in the same path is what must stay hidden).
# A service of the firm's catalogue belongs to the billing entity, not to a client's dossier: the same for whoever
# reads the entity's fees (build_world gives one this id).
SERVICE_ID = "01a2036b-692c-7478-92e2-0000000005e1"
BILLING_RUN_ID = "01a2036b-692c-7478-92e2-0000000007e1"  # the firm's billing run: the entity's, of no dossier
PLAIN_PARAMETERS = {"billing_run_id": BILLING_RUN_ID,
                    "file_path": "css/portal.css", "token": INVITATION_TOKEN, "code": "zelty", "provider": "oidc",
                    "key": "chiffre_affaires", "service_id": SERVICE_ID}  # fmt: skip
LINK = re.compile(r'(?:href|hx-get)="(/[^"#]*)"')
CSRF_VALUES = re.compile(r'(name="_csrf_token" value="|"x-csrftoken": ")[^"]+')
REDIRECTS = {301, 302, 303, 307, 308}
HX = {"HX-Request": "true", "HX-Target": "resultats", "HX-Current-URL": "http://127.0.0.1:8000/entreprises"}
MAX_PAGES = 1500
# Parameters that order a list or size its pages without choosing which rows it may hold: once a search has
# been read sorted by one column, another order shows the same rows the permission model let through, and
# every page at the default size holds every row. The crawl reads one order and one size of each search and
# each of its pages, not every column both ways (Portefeuille alone would add a few hundred pages).
ORDER_ONLY = {"tri", "taille"}
# Pages that only make sense with parameters of their own: without them, a plain 400.
NEEDS_PARAMETERS = {"/connexions/pennylane/retour", "/connexions/sources/retour"}


@dataclass
class World:
    granted: User
    ungranted: User
    admin: User
    entity: Dossier
    secret: Dossier
    twin: Dossier
    secret_client_id: uuid.UUID
    twin_client_id: uuid.UUID
    secret_pair_id: uuid.UUID
    visible_pair_id: uuid.UUID
    secret_run_ids: list[uuid.UUID]
    visible_run_id: uuid.UUID
    secret_person_ids: list[uuid.UUID] = field(default_factory=list)
    secret_report_id: uuid.UUID | None = None
    hidden: dict[str, uuid.UUID] = field(default_factory=dict)
    visible: dict[str, uuid.UUID] = field(default_factory=dict)


def principal(user: User) -> Principal:
    return Principal.build(user_id=user.id, email=user.email, name=user.name, locale="fr", roles=user.firm_roles)


async def _one(session: AsyncSession, statement: Any) -> Any:
    return (await session.execute(statement)).scalar_one()


async def _in_the_red(session: AsyncSession, *years: FiscalYear) -> None:
    """Figures in the red for these years: Accueil's KPI alerts name their dossiers."""
    for year in years:
        empty = compute([], start=year.start_date, end=year.end_date)
        session.add(
            YearFigures(
                fiscal_year_id=year.id, dossier_id=year.dossier_id, start_date=year.start_date,
                end_date=year.end_date, chiffre_affaires=12_000, marge_brute=0, resultat_exploitation=0,
                resultat_net=0, tresorerie_nette=-50_000, taux_marge_brute=None, taux_marge_exploitation=None,
                dso_jours=None, dpo_jours=None, figures=empty.to_json(), detail=stored_detail(empty),
                computed_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
    await session.flush()


async def build_world(session: AsyncSession) -> World:
    everything = (FirmRole.PARTNER, FirmRole.ADMIN)  # every firm-wide permission there is
    granted = await make_user(session, roles=everything, name="Agathe Habilitée")
    ungranted = await make_user(session, roles=everything, name="Bruno Tenu-Àlécart")
    admin = await make_user(session, roles=(FirmRole.ADMIN,), name="Camille Administratrice")
    entity = await make_dossier(session, name="Cabinet Lumière Facturation", is_firm_dossier=True)
    firm = await make_firm(session)
    firm.billing_entity_id = entity.id
    await session.flush()

    await make_dossier(session, name="Boulangerie Martin SARL")
    await make_dossier(session, name="Boulangerie Martin", siren=None)
    await make_dossier(session, name="Garage du Centre")
    twin = await make_dossier(session, name=TWIN_NAME, siren=None)
    # Created visible, by the ungranted partner even, then made confidential by the granted one.
    secret = await make_dossier(session, name=SECRET_NAME, siren=SECRET_SIREN, legal_form="SAS", city="Valence")
    await DossierService(session=session).set_confidentiality(
        principal(granted), secret, confidential=True, user_ids=[]
    )
    assert await _one(session, select(func.count()).select_from(DossierAccess)) == 1
    # Its Comptable sees it through that role; nobody else learns of it through them.
    comptable = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Denis Comptable")
    await add_role(session, comptable, secret, DossierRole.ACCOUNTANT)

    # The client base, as "Créer mes clients" makes it.
    await ensure_clients(session, entity.id, Dossier.id.is_not(None))
    await flag_duplicates(session, entity.id)
    secret_client_id = await _one(session, select(BillingClient.id).where(BillingClient.origin_dossier_id == secret.id))
    twin_client_id = await _one(session, select(BillingClient.id).where(BillingClient.origin_dossier_id == twin.id))
    assert await _one(
        session, select(ClientDossierLink.client_id).where(ClientDossierLink.dossier_id == secret.id)
    ) == secret_client_id  # fmt: skip
    secret_pair_id = await _one(
        session,
        select(DuplicateCandidate.id).where(
            DuplicateCandidate.client_id == twin_client_id, DuplicateCandidate.candidate_id == secret_client_id
        ),
    )
    visible_pair_id = await _one(
        session, select(DuplicateCandidate.id).where(DuplicateCandidate.id != secret_pair_id)
    )  # the two bakeries

    # The audit log recorded the dossier's creation and confidentiality, tied to it.
    events = (await session.execute(select(AuditEvent).where(AuditEvent.dossier_id == secret.id))).scalars().all()
    actions = {event.action for event in events}
    assert {"dossier.create", "dossier.update", "dossier_access.create"} <= actions, actions
    assert any((event.after or {}).get("name") == SECRET_NAME for event in events)

    # The flush hook requested its client as a job run about it; and one started by the ungranted partner.
    hook_run_id = await _one(session, select(JobRun.id).where(JobRun.dossier_id == secret.id))
    own_run = await create_dossier_clients.options(created_by_id=ungranted.id, dossier_id=secret.id).enqueue(
        session, dossier_ids=[str(secret.id)]
    )
    visible_run = await diagnostic.options(created_by_id=ungranted.id).enqueue(session)
    await session.flush()

    secret_client, twin_client = await _invite_client_users(session, granted, ungranted, secret, twin)
    # The run emailing the secret dossier's client user (started by the granted partner), and their invitation.
    person_run_id = await _one(session, select(JobRun.id).where(JobRun.person_id == secret_client.id))
    person_invitation = await InvitationService(session=session).for_user(secret_client.id)
    assert person_invitation is not None

    # Expense notes, each with a line and its receipt: one tied to the secret dossier, one on the firm's own.
    employee = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Hugo Employé")
    await add_role(session, employee, entity, DossierRole.EMPLOYEE)
    secret_note = await make_note(
        session, employee, secret, title=f"Séminaire {NAME_WORD}", day=today(), submit=True, any_dossier=True
    )
    visible_note = await make_note(session, employee, entity, title="Frais du cabinet", day=today(), submit=True)
    secret_line, visible_line = secret_note.lines[0], visible_note.lines[0]

    secret_year, secret_import = await _ledger(session, secret, f"Vente {NAME_WORD}")
    visible_year, visible_import = await _ledger(session, twin, "Vente ordinaire")
    secret_report = await _report(session, secret, secret_year, granted, f"Rapport {NAME_WORD}")
    visible_report = await _report(session, twin, visible_year, ungranted, "Rapport ordinaire")
    await _in_the_red(session, secret_year, visible_year)
    secret_notice, visible_notice = await _notices(session, ungranted, secret, twin)

    world = World(
        granted=granted,
        ungranted=ungranted,
        admin=admin,
        entity=entity,
        secret=secret,
        twin=twin,
        secret_client_id=secret_client_id,
        twin_client_id=twin_client_id,
        secret_pair_id=secret_pair_id,
        visible_pair_id=visible_pair_id,
        secret_run_ids=[hook_run_id, own_run.id, person_run_id],
        visible_run_id=visible_run.id,
        secret_person_ids=[secret_client.id, person_invitation.id],
        secret_report_id=secret_report.id,
    )
    world.hidden = {
        "dossier_id": secret.id,
        "duplicate_id": secret_pair_id,
        "run_id": own_run.id,
        "client_id": secret_client_id,
        "note_id": secret_note.id,
        "line_id": secret_line.id,
        "receipt_id": secret_line.receipt.id,
        "user_id": secret_client.id,
        "import_id": secret_import.id,
        "fiscal_year_id": secret_year.id,
        "report_file": f"{secret_report.id}.pdf",  # type: ignore[dict-item]
        "notification_id": secret_notice.id,
    }
    world.visible = {
        "dossier_id": twin.id,
        "duplicate_id": visible_pair_id,
        "run_id": visible_run.id,
        "client_id": twin_client_id,
        "note_id": visible_note.id,
        "line_id": visible_line.id,
        "receipt_id": visible_line.receipt.id,
        "user_id": twin_client.id,
        "import_id": visible_import.id,
        "fiscal_year_id": visible_year.id,
        "report_file": f"{visible_report.id}.pdf",  # type: ignore[dict-item]
        "notification_id": visible_notice.id,
    }
    return await _with_fees(session, world)


async def _with_fees(session: AsyncSession, world: World) -> World:
    """A lettre de mission of the secret dossier's client (its mission and contact name the dossier), one of the
    garage's, whose link (``INVITATION_TOKEN``) anyone may open, and a service of the firm's catalogue."""
    garage = await _one(session, select(BillingClient.id).where(BillingClient.name == "Garage du Centre"))
    letters = []
    for client_id, word in ((world.secret_client_id, NAME_WORD), (garage, "ordinaire")):
        letter = Engagement(
            entity_id=world.entity.id, client_id=client_id, reference=f"LM2026-{len(letters) + 901}",
            status=EngagementStatus.ACCEPTED, start_date=today().replace(day=1),
            renewal_date=today().replace(day=1) + dt.timedelta(days=40), contact_name=f"Contact {word}",
            missions=[Mission(label=f"Tenue {word}", rhythm=Rhythm.MONTHLY, unit_price=Decimal(350))],
        )  # fmt: skip
        session.add(letter)
        letters.append(letter)
    letters[1].token_hash = token_digest(INVITATION_TOKEN)
    session.add(Service(id=uuid.UUID(SERVICE_ID), entity_id=world.entity.id, label="Tenue comptable",
                        unit_price=Decimal(350)))  # fmt: skip
    await session.flush()
    world.hidden["engagement_id"] = letters[0].id
    world.visible["engagement_id"] = letters[1].id
    invoices = []
    for index, (client_id, word) in enumerate(((world.secret_client_id, NAME_WORD), (garage, "ordinaire"))):
        amount = Decimal("420.00")
        invoice = Invoice(
            entity_id=world.entity.id, client_id=client_id, status=InvoiceStatus.VALIDATED, series="F2026",
            sequence=901 + index, number=f"F2026-{901 + index:06d}", issue_date=today(), due_date=today(),
            client_name=f"Client {word}", total_ht=Decimal("350.00"), total_vat=Decimal("70.00"), total_ttc=amount,
            lines=[InvoiceLine(label=f"Tenue {word}", quantity=Decimal(1), unit_price=Decimal("350.00"),
                               vat_rate=Decimal("20.00"), total_ht=Decimal("350.00"))],
        )  # fmt: skip
        session.add(invoice)
        invoices.append(invoice)
        session.add(Payment(entity_id=world.entity.id, client_id=client_id, received_on=today(), amount=amount,
                            unallocated=amount, reference=f"Virement {word}"))  # fmt: skip
    await session.flush()
    session.add(BillingRun(id=uuid.UUID(BILLING_RUN_ID), entity_id=world.entity.id, period_start=today().replace(day=1),
                           period_end=today().replace(day=1), issue_date=today()))  # fmt: skip
    await session.flush()
    world.hidden["invoice_id"] = invoices[0].id
    world.visible["invoice_id"] = invoices[1].id
    return world


async def _notices(session: AsyncSession, person: User, *dossiers: Dossier) -> list[Notification]:
    """A notice to ``person`` about each dossier: about the secret one, written before it was hidden from them,
    it must stay out of their list, their bell's count and every action, as must its text."""
    notices = [
        Notification(recipient_id=person.id, kind=Kind.REPORT_READY.value, dossier_id=dossier.id,
                     target=f"/entreprises/{dossier.id}/tableau-de-bord/rapports", event_key=f"leak-test:{dossier.id}",
                     params={"title": f"Rapport {dossier.name}"})
        for dossier in dossiers
    ]  # fmt: skip
    session.add_all(notices)
    await session.flush()
    return notices


async def _ledger(session: AsyncSession, dossier: Dossier, label: str) -> tuple[FiscalYear, LedgerImport]:
    """An imported fiscal year with one entry, the import that brought it, and a Pennylane connection."""
    record = LedgerImport(
        dossier_id=dossier.id, source=LedgerSource.UPLOAD, filename=f"{dossier.siren or '000000000'}FEC20241231.txt",
        status=ImportStatus.SUCCEEDED, report=None,
    )  # fmt: skip
    session.add(record)
    await session.flush()
    year = FiscalYear(
        dossier_id=dossier.id, start_date=dt.date(2024, 1, 1), end_date=dt.date(2024, 12, 31),
        state=VersionState.ACTIVE, source=LedgerSource.UPLOAD, import_id=record.id, line_count=2, entry_count=1,
        debit_total=12_000, credit_total=12_000,
    )  # fmt: skip
    session.add(year)
    await session.flush()
    for line_no, (account, debit, credit) in enumerate((("411000", 12_000, 0), ("706000", 0, 12_000)), start=2):
        session.add(
            Line(
                fiscal_year_id=year.id, line_no=line_no, journal_code="VT", journal_label="Ventes",
                entry_number="1", entry_date=dt.date(2024, 3, 1), account_number=account, account_label=label,
                aux_account_number=None, aux_account_label=None, piece_ref="F1", piece_date=dt.date(2024, 3, 1),
                label=label, debit=debit, credit=credit, lettering=None, lettering_date=None,
                validation_date=dt.date(2024, 3, 1), currency_amount=None, currency=None, settlement_date=None,
                settlement_mode=None, nature=None, client_id=None,
            )
        )  # fmt: skip
    session.add(
        Entry(
            fiscal_year_id=year.id,
            journal_code="VT",
            number="1",
            entry_date=dt.date(2024, 3, 1),
            label=label,
            piece_ref="F1",
            first_line_no=2,
            line_count=2,
            debit_total=12_000,
            credit_total=12_000,
        )
    )
    session.add(
        Connection(
            dossier_id=dossier.id,
            provider=Provider.PENNYLANE,
            auth_method=AuthMethod.API_TOKEN,
            credentials={"api_token": f"jeton-{dossier.id.hex}"},
            token_hint="…abcd",
            label=label,
            # Its last daily refresh failed: Accueil lists it to whoever manages the dossier.
            last_error="Pennylane ne répond pas pour le moment. Réessayez plus tard.",
        )
    )
    await _till(session, dossier, label)
    await session.flush()
    return year, record


async def _report(session: AsyncSession, dossier: Dossier, year: FiscalYear, user: User, title: str) -> Report:
    """A PDF report of the fiscal year, printed, its file in place (a download answers with it)."""
    name, size = report_files(load_settings()).save_bytes(b"%PDF-1.7 " + title.encode())
    report = Report(dossier_id=dossier.id, end_date=year.end_date, fiscal_year_id=year.id,
                    period_start=year.start_date, period_end=year.end_date, title=title, requested_by_id=user.id,
                    status=ReportStatus.READY, storage_name=name, size_bytes=size)  # fmt: skip
    session.add(report)
    await session.flush()
    return report


async def _till(session: AsyncSession, dossier: Dossier, label: str) -> None:
    """A Zelty connection with its mapping and one posted ticket whose account and entry bear ``label``."""
    connection = Connection(
        dossier_id=dossier.id, provider=Provider.ZELTY, auth_method=AuthMethod.API_KEY,
        credentials={"api_key": f"cle-{dossier.id.hex}"}, token_hint="…wxyz", label=label,
    )  # fmt: skip
    session.add(connection)
    await session.flush()
    reference = ReferenceData(locations=(Location("salle", f"Salle {label}"),),
                              payment_methods=(PaymentMethod("cb", "Carte bancaire"),))  # fmt: skip
    zelty = get_source("zelty")
    assert zelty is not None
    setup = CommerceSetup(
        connection_id=connection.id, dossier_id=dossier.id, source="zelty", consumer_id=f"c-{dossier.id.hex}",
        consumer_name=label, reference=reference.to_json(), sync_start=dt.date(2024, 1, 1),
        mapping=default_mapping(zelty, reference).to_json(),
    )  # fmt: skip
    session.add(setup)
    await session.flush()
    assert setup.source_key is not None
    ticket = DraftEntry(
        kind=EntryKind.ORDER, record_id="T1", business_date=dt.date(2024, 3, 1), entry_date=dt.date(2024, 3, 1),
        journal="CA1", label=f"Vente ticket 1 – {label}", piece_ref="T1",
        lines=(DraftLine("411000", label, debit=Decimal(12), aux_account=f"C{dossier.id.hex[:8].upper()}"),
               DraftLine("7070200", label, credit=Decimal(10)), DraftLine("4457200", label, credit=Decimal(2))),
    )  # fmt: skip
    customers = {f"C{dossier.id.hex[:8].upper()}": label}
    batch = store.Batch(dossier_id=dossier.id, source_key=setup.source_key, day=ticket.business_date, drafts=[ticket],
                        final=True, customers=customers)  # fmt: skip
    await store.write(session, batch)
    await store.mark_day(session, dossier_id=dossier.id, source_key=setup.source_key, day=ticket.business_date,
                         state=DayState.CLOSED, records=1)  # fmt: skip


async def _invite_client_users(
    session: AsyncSession, granted: User, ungranted: User, secret: Dossier, twin: Dossier
) -> tuple[User, User]:
    """People invited as client users: of the secret dossier only (a person the others do not know
    of), and of the twin, whose invitation link (``INVITATION_TOKEN``) is a page anyone may open."""
    invitations = InvitationService(session=session)
    secret_client = await invitations.invite(
        principal(granted), email=SECRET_PERSON_EMAIL, name=SECRET_PERSON_NAME,
        grants=[Grant(secret.id, DossierRole.CLIENT_USER)],
    )  # fmt: skip
    twin_client = await invitations.invite(
        principal(ungranted), email="gerant@twin.fr", name="Gérant Jumeau",
        grants=[Grant(twin.id, DossierRole.CLIENT_USER)],
    )  # fmt: skip
    twin_invitation = await invitations.for_user(twin_client.user.id)
    assert twin_invitation is not None
    twin_invitation.token_hash = token_digest(INVITATION_TOKEN)
    twin_invitation.expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    # The same token opens a password reset link of the twin's person (``/mot-de-passe/{token}``).
    session.add(
        PasswordReset(email=twin_client.user.email, ip_address="192.0.2.1", user_id=twin_client.user.id,
                      token_hash=token_digest(INVITATION_TOKEN), expires_at=twin_invitation.expires_at)
    )  # fmt: skip
    await session.flush()
    return secret_client.user, twin_client.user


# --- what must never show ---------------------------------------------------------------


def _name_forms(value: str) -> set[str]:
    forms = {value, value.upper(), value.lower(), value.title(), value.casefold()}
    encoded = {quote(form) for form in forms} | {quote_plus(form) for form in forms}
    escaped = {form.encode("ascii", "backslashreplace").decode() for form in forms}  # JSON-style \u00e9
    return forms | encoded | escaped


def name_and_siren_tokens() -> set[str]:
    formatted = format_siren(SECRET_SIREN)
    return (
        _name_forms(SECRET_NAME)
        | _name_forms(NAME_WORD)
        | {SECRET_SIREN, formatted, formatted.replace(" ", "\u00a0"), formatted.replace(" ", "&nbsp;")}
    )


def person_tokens() -> set[str]:
    """The secret dossier's client user: their name and email, however written."""
    return _name_forms(SECRET_PERSON_NAME) | _name_forms(SECRET_PERSON_EMAIL)


def id_tokens(world: World) -> set[str]:
    owned = ("note_id", "line_id", "receipt_id", "import_id", "fiscal_year_id", "notification_id", "invoice_id")
    ids = [world.secret.id, world.secret_client_id, world.secret_pair_id, *world.secret_run_ids,
           *world.secret_person_ids, *(world.hidden[name] for name in owned), world.secret_report_id]  # fmt: skip
    return {str(value) for value in ids} | {value.hex for value in ids}


def leaks(body: str, tokens: Iterable[str], *, requested: str = "") -> list[str]:
    """The tokens found in ``body``; the path asked for is not a leak when the page repeats it."""
    if requested:
        path = requested.split("?", 1)[0]
        body = body.replace(path, "").replace(quote(path, safe="/"), "")
    return sorted(token for token in tokens if token in body)


# --- the routes -------------------------------------------------------------------------


def _handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    return handlers(app)


def _parameters(path: str) -> list[str]:
    return PARAMETER.findall(path)


def concrete(path: str, values: Mapping[str, object]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PLAIN_PARAMETERS:
            return PLAIN_PARAMETERS[name]
        if name not in values:
            pytest.fail(
                f"route {path}: path parameter {name!r} is unknown to the leak test. Map it, in "
                f"build_world (World.hidden / World.visible), to an object tied to the confidential dossier."
            )
        return str(values[name])

    return PARAMETER.sub(fill, path)


def _guard_permissions(handler: HTTPRouteHandler) -> set[Any]:
    return {
        permission
        for layer in handler.ownership_layers
        for guard in (layer.guards or [])
        for permission in getattr(guard, "permissions", ())
    }


def _guard_alternatives(handler: HTTPRouteHandler) -> list[tuple[Any, ...]]:
    """Guards that ask for one of several permissions (``any_of``), such as the Notes de frais pages'."""
    return [
        tuple(guard.any_of)
        for layer in handler.ownership_layers
        for guard in (layer.guards or [])
        if getattr(guard, "any_of", ())
    ]


def expected_refusal(handler: HTTPRouteHandler, user: User) -> int:
    """403 when the guards refuse this person whatever the id, otherwise 404: never anything else."""
    allowed = principal(user)
    if not all(allowed.can(permission) for permission in _guard_permissions(handler)):
        return 403
    if not all(any(allowed.can(permission) for permission in options) for options in _guard_alternatives(handler)):
        return 403
    return 404


def addresses_objects(path: str) -> bool:
    return any(name not in PLAIN_PARAMETERS for name in _parameters(path))


def normalised(body: str, *ids: object) -> str:
    body = CSRF_VALUES.sub(r"\1…", body)
    for value in ids:
        body = body.replace(str(value), "ID")
    return body


def search_queries() -> list[str]:
    formatted = format_siren(SECRET_SIREN)
    return [
        "",
        "?q=" + quote("Zéph"),
        "?q=zephyrin+conf",
        "?q=" + SECRET_SIREN[:5],
        "?q=" + SECRET_SIREN[:8],
        "?q=" + quote(formatted[:10]),
        "?q=" + quote(f"FR{SECRET_SIREN[:6]}"),
        "?page=2",
        "?page=2&taille=25",
        "?tri=-nom",
    ]


def page_kind(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What a link asks of its page: its path and query, with the values of ``ORDER_ONLY`` set aside."""
    path, _mark, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    return path, tuple(sorted((name, "…" if name in ORDER_ONLY else value) for name, value in pairs))


async def crawl(
    client: Client, seeds: Iterable[str], *, limit: int = MAX_PAGES, within: str = "/", hops: int | None = None
) -> dict[str, httpx.Response]:
    """Visit ``seeds`` and every in-app link (href, hx-get) found on the way, each kind of page once
    (``page_kind``): every seed is read, and of the links, one order and one page size of each search.

    ``within`` keeps a crawl to one part of the portal: the links of its pages are all read, those of
    the pages they lead to only when they go back into the part. ``hops`` stops following links that
    many links away from the seeds (a redirect is no hop)."""
    seen: dict[str, httpx.Response] = {}
    kinds: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    queue = [(url, 0) for url in seeds]
    seeded = set(seeds)
    while queue:
        raw, distance = queue.pop(0)
        url = html.unescape(raw)
        if url in seen or url.startswith("/static/") or url in {"/deconnexion", "/compte/langue", "/langue"}:
            continue
        kind = page_kind(url)
        if kind in kinds and url not in seeded:
            continue
        kinds.add(kind)
        response = await client.get(url, follow_redirects=False)
        seen[url] = response
        assert len(seen) <= limit, "the crawl does not end: too many distinct pages"
        if response.status_code in REDIRECTS:
            seeded.add(response.headers["location"])
            queue.append((response.headers["location"], distance))
        elif "html" in response.headers.get("content-type", "") and (hops is None or distance < hops):
            inside = url.startswith(within)
            links = (link for link in LINK.findall(response.text) if inside or link.startswith(within))
            queue.extend((link, distance + 1) for link in links)
    return seen


def allowed_statuses(requested: str, dashboard_served: bool) -> set[int]:
    """What a crawled page may answer: a page, a refusal, a redirect (and 400 where parameters are needed)."""
    allowed = {200, 403, *REDIRECTS} | ({400} if requested.split("?", maxsplit=1)[0] in NEEDS_PARAMETERS else set())
    if not dashboard_served and requested.endswith("/tableau-de-bord"):
        allowed.add(404)
    return allowed


def _names(query: str) -> set[str]:
    return {name for name, _value in parse_qsl(query.removeprefix("?"), keep_blank_values=True)}


def get_seeds(app: Litestar, values: Mapping[str, object]) -> list[str]:
    seeds: list[str] = []
    for path, handler in _handlers(app):
        if "GET" not in handler.http_methods or path.startswith("/static"):
            continue
        if addresses_objects(path):
            url = concrete(path, values)
            seeds += [url, url + "?onglet=facturation", url + "?onglet=historique"]
        elif read := query_parameters(path, handler):  # the searches it can read (fills plain parameters)
            seeds += [concrete(path, values) + query for query in search_queries() if _names(query) <= read]
        else:  # a page that reads no query string answers every search as it answers none
            seeds.append(concrete(path, values))
    return seeds


def test_the_crawl_searches_every_page_that_reads_a_query_string(app: Litestar) -> None:
    """Searches go to every page that reads a query parameter, its own or a dependency's."""
    read = {path: query_parameters(path, handler) for path, handler in _handlers(app) if "GET" in handler.http_methods}
    assert {"q", "page", "taille", "tri"} <= read["/entreprises"]
    assert {"page", "taille", "tri"} <= read["/travaux"]
    assert {"q", "page"} <= read["/facturation/clients"]
    assert "onglet" in read["/entreprises/{dossier_id:uuid}/volet"]
    assert "page" in read["/parametres/journal"]
    assert read["/parametres/roles"] == set()


async def as_user(client: Client, user: User) -> None:
    client.cookies.clear()
    signed = await sign_in(client, user.email, PASSWORD)
    assert signed.status_code in REDIRECTS, signed.text


def count_on(page: str, noun: str) -> int:
    match = re.search(rf'class="result-count"[^>]*>(\d+) {noun}', page)
    assert match, f"no '{noun}' count on the page"
    return int(match.group(1))


# --- the tests --------------------------------------------------------------------------


def test_every_path_parameter_of_the_app_is_known_to_the_leak_test(app: Litestar) -> None:
    known = {"dossier_id", "duplicate_id", "run_id", "client_id", "user_id", "note_id", "line_id", "receipt_id",
             "import_id", "fiscal_year_id", "report_file", "notification_id", "engagement_id", "invoice_id",
             *PLAIN_PARAMETERS}  # fmt: skip
    unknown = {(path, name) for path, _handler in _handlers(app) for name in _parameters(path) if name not in known}
    assert not unknown, (
        f"routes with path parameters the leak test cannot fill: {sorted(unknown)}. Map each to an object "
        "tied to the confidential dossier in tests/auth/test_confidentiality.py."
    )
    assert concrete("/x/{dossier_id:uuid}/y", {"dossier_id": "abc"}) == "/x/abc/y"
    with pytest.raises(pytest.fail.Exception, match="'nouveau_id' is unknown"):
        concrete("/x/{nouveau_id:uuid}", {"dossier_id": "abc"})


@pytest.mark.parametrize("who", ["ungranted", "admin"])
async def test_no_page_shows_a_confidential_dossier_to_someone_not_on_its_list(
    app: Litestar, client: Client, db_session: AsyncSession, who: str
) -> None:
    world = await build_world(db_session)
    user: User = getattr(world, who)
    await as_user(client, user)
    secrets = name_and_siren_tokens() | person_tokens() | id_tokens(world)
    handlers = _handlers(app)

    # Routes that address the dossier's objects: 404 (or the guard's 403), like a missing id.
    checked = 0
    for path, handler in handlers:
        if "GET" not in handler.http_methods or not addresses_objects(path):
            continue
        for query in ("", "?onglet=utilisateurs", "?onglet=facturation", "?onglet=historique"):
            for headers in ({}, HX):
                url = concrete(path, world.hidden) + query
                response = await client.get(url, headers=headers, follow_redirects=False)
                expected = expected_refusal(handler, user)
                assert response.status_code == expected, (url, headers, response.status_code)
                assert leaks(response.text, secrets, requested=url) == [], url
                missing_ids = {name: uuid.uuid4() for name in world.hidden}
                missing_url = concrete(path, missing_ids) + query
                missing = await client.get(missing_url, headers=headers, follow_redirects=False)
                assert missing.status_code == response.status_code, url
                assert normalised(response.text, *world.hidden.values()) == normalised(
                    missing.text, *missing_ids.values()
                ), f"{url} does not answer exactly as for an id that does not exist"
                checked += 1
    assert checked >= 4 * 6  # dossier page, side panel, edit form, job run
    for run_id in world.secret_run_ids:  # the one its creation requested, and the email to its client user
        assert (await client.get(f"/travaux/{run_id}")).status_code == 404

    # Every other page, with searches that would find it, and every link from there.
    pages = await crawl(client, get_seeds(app, world.visible))
    for url in get_seeds(app, world.visible):
        if not addresses_objects(url):
            pages[url + "#hx"] = await client.get(url, headers=HX, follow_redirects=False)
    assert len(pages) > 60
    # Accueil's KPI alerts link to the Tableau de bord: until a branch serves it, its address answers 404.
    dashboard_served = any(path.endswith("/tableau-de-bord") for path, _handler in handlers)
    for url, response in pages.items():
        requested = url.removesuffix("#hx")
        assert leaks(response.text, secrets, requested=requested) == [], f"{url} shows the confidential dossier"
        assert response.status_code in allowed_statuses(requested, dashboard_served), (url, response.status_code)
    required = ["/entreprises", "/entreprises/export.csv", "/parametres/journal", "/travaux", "/facturation/clients",
                "/facturation/doublons", f"/entreprises/{world.twin.id}?onglet=historique",
                f"/entreprises/{world.twin.id}?onglet=facturation", f"/travaux/{world.visible_run_id}"]  # fmt: skip
    assert [url for url in [*required, "/", "/accueil/connexions"] if pages[url].status_code != 200] == []
    assert "text/csv" in pages["/entreprises/export.csv"].headers["content-type"]
    # Accueil counts the visible twin's failing connection, never the hidden dossier's.
    assert re.search(r"<h3[^>]*>\s*1 connexion expirée ou en erreur", pages["/"].text)
    assert re.search(r"<h3[^>]*>\s*1 dossier en alerte", pages["/"].text)
    assert pages["/accueil/alertes"].status_code == 200
    # The audit log, every page of it, and the runs were crawled: none names the dossier's client user.
    journal = [url for url in pages if url.startswith("/parametres/journal")]
    assert len(journal) >= 2, journal
    # The twin's client user's invitation, visible, in words.
    assert " a invité " in html.unescape("".join(pages[url].text for url in journal))

    # Counts leave it out too.
    total_dossiers = await _one(db_session, select(func.count()).select_from(Dossier))
    total_clients = await _one(db_session, select(func.count()).select_from(BillingClient))
    assert count_on(pages["/entreprises"].text, "dossier") == total_dossiers - 1
    assert count_on(pages["/entreprises?q=" + quote("Zéph")].text, "dossier") == 1  # the visible twin only
    assert count_on(pages["/entreprises?q=" + SECRET_SIREN[:8]].text, "dossier") == 0
    export_rows = pages["/entreprises/export.csv"].text.strip().splitlines()
    assert len(export_rows) == 1 + total_dossiers - 1
    assert count_on(pages["/facturation/clients"].text, "client") == total_clients - 1
    duplicates = pages["/facturation/doublons"].text
    assert duplicates.count('class="panel duplicate"') == 1  # the bakeries only
    assert '<span class="badge badge-warn">1</span>' in duplicates
    # The notification centre: the ungranted partner's notice about the twin shows, the hidden dossier's does not.
    assert (f"Rapport {TWIN_NAME}" in html.unescape(pages["/notifications"].text)) is (who == "ungranted")


async def test_the_granted_partner_sees_it_on_the_same_pages(
    app: Litestar, client: Client, db_session: AsyncSession
) -> None:
    """The control: with the same roles and a grant, every page above shows the dossier."""
    world = await build_world(db_session)
    await as_user(client, world.granted)
    formatted = format_siren(SECRET_SIREN)
    for path, handler in _handlers(app):
        if "GET" in handler.http_methods and addresses_objects(path):
            url = concrete(path, world.hidden)
            assert (await client.get(url)).status_code == 200, url
    ledger = html.unescape((await client.get(f"/entreprises/{world.secret.id}/comptabilite")).text)
    assert f"Vente {NAME_WORD}" in ledger
    connections = html.unescape((await client.get(f"/entreprises/{world.secret.id}/connexions")).text)
    assert f"{SECRET_SIREN}FEC20241231.txt" in connections

    # The seeds and the pages they link to, where the leak tests look first, show it.
    pages = await crawl(client, get_seeds(app, world.visible), hops=1)
    assert SECRET_NAME in pages["/entreprises"].text
    assert formatted in pages["/entreprises"].text
    total_dossiers = await _one(db_session, select(func.count()).select_from(Dossier))
    assert count_on(pages["/entreprises"].text, "dossier") == total_dossiers
    assert SECRET_NAME in pages["/entreprises?q=" + quote("Zéph")].text
    assert count_on(pages["/entreprises?q=" + quote("Zéph")].text, "dossier") == 2
    assert SECRET_NAME in pages["/entreprises?q=" + SECRET_SIREN[:8]].text
    export = pages["/entreprises/export.csv"].text
    assert SECRET_NAME in export
    assert SECRET_SIREN in export
    assert any(SECRET_NAME in response.text for url, response in pages.items() if url.startswith("/parametres/journal"))
    assert any(str(run_id) in pages["/travaux"].text for run_id in world.secret_run_ids)
    # Its client user too: their invitation in the log, the run that emails them and its page.
    journal = "".join(response.text for url, response in pages.items() if url.startswith("/parametres/journal"))
    assert SECRET_PERSON_EMAIL in journal
    assert SECRET_PERSON_NAME in html.unescape(journal)
    person_run = world.secret_run_ids[-1]
    assert str(person_run) in pages["/travaux"].text
    assert (await client.get(f"/travaux/{person_run}")).status_code == 200
    clients = pages["/facturation/clients"].text
    assert SECRET_NAME in clients
    assert formatted in clients
    total_clients = await _one(db_session, select(func.count()).select_from(BillingClient))
    assert count_on(clients, "client") == total_clients
    assert SECRET_NAME in pages["/facturation/clients?q=" + quote("Zéph")].text
    duplicates = pages["/facturation/doublons"].text
    assert SECRET_NAME in duplicates
    assert duplicates.count('class="panel duplicate"') == 2
    for tab, words in (("facturation", formatted), ("historique", f"a créé le dossier {SECRET_NAME}")):
        page = (await client.get(f"/entreprises/{world.secret.id}?onglet={tab}")).text
        assert words in html.unescape(page), tab
    # Its note to approve, listed, and told of in the granted partner's notification centre.
    assert all(f"Séminaire {NAME_WORD}" in html.unescape(pages[url].text) for url in ("/notes-de-frais/a-valider",
                                                                                       "/notifications"))  # fmt: skip
    # Accueil: its note to approve and its failing connection, counted with the twin's.
    home = html.unescape(pages["/"].text)
    assert f"Séminaire {NAME_WORD}" in home
    assert SECRET_NAME in home
    assert re.search(r"<h3[^>]*>\s*2 connexions expirées ou en erreur", home)
    assert re.search(r"<h3[^>]*>\s*2 dossiers en alerte", home)
    assert f'href="/entreprises/{world.secret.id}/tableau-de-bord"' in home
    assert SECRET_NAME in pages["/notes-de-frais/suivi/lignes.csv"].text


async def _state(session: AsyncSession) -> dict[str, Any]:
    """Everything a forbidden action could change, read fresh from the database."""

    async def rows(*columns: Any) -> list[tuple[Any, ...]]:
        return sorted(tuple(row) for row in (await session.execute(select(*columns))).all())

    return {
        "dossiers": await rows(Dossier.id, Dossier.name, Dossier.siren, Dossier.is_confidential, Dossier.status),
        "access": await rows(DossierAccess.dossier_id, DossierAccess.user_id),
        "clients": await rows(BillingClient.id, BillingClient.name, BillingClient.siren),
        "links": await rows(ClientDossierLink.client_id, ClientDossierLink.dossier_id),
        "pairs": await rows(DuplicateCandidate.id, DuplicateCandidate.status),
        "firm": await rows(Firm.billing_entity_id),
        "events": await _one(session, select(func.count()).select_from(AuditEvent)),
        "runs": await _one(session, select(func.count()).select_from(JobRun)),
        "expense_notes": await rows(ExpenseNote.id, ExpenseNote.status, ExpenseNote.updated_at),
        "expense_lines": await rows(ExpenseLine.id, ExpenseLine.note_id),
        "receipts": await rows(ExpenseReceipt.id),
        "transitions": await _one(session, select(func.count()).select_from(ExpenseTransition)),
        "imports": await rows(LedgerImport.id, LedgerImport.status),
        "fiscal_years": await rows(FiscalYear.id, FiscalYear.state),
        "connections": await rows(Connection.id, Connection.status, Connection.credentials_version),
        "reports": await rows(Report.id, Report.status, Report.storage_name),
        "notifications": await rows(Notification.id, Notification.read_at),
    }


def _everything_a_form_could_post(world: World, token: str) -> dict[str, Any]:
    return {
        "_csrf_token": token,
        "nom": "Repris par un curieux",
        "identifiant": SECRET_SIREN,
        "cloture": "31/12",
        "statut": "active",
        "confidentielle": "",
        "acces": [str(world.ungranted.id), str(world.admin.id)],
        "conserver": str(world.secret_client_id),
        "entite": str(world.secret.id),
    }


@pytest.mark.parametrize("who", ["ungranted", "admin"])
async def test_no_action_reaches_a_confidential_dossier_for_someone_not_on_its_list(
    app: Litestar, client: Client, db_session: AsyncSession, who: str
) -> None:
    world = await build_world(db_session)
    user: User = getattr(world, who)
    await as_user(client, user)
    secrets = name_and_siren_tokens() | person_tokens() | id_tokens(world)
    tried = 0
    for path, handler in _handlers(app):
        if "POST" not in handler.http_methods or not addresses_objects(path):
            continue
        url = concrete(path, world.hidden)
        for headers in ({}, {"HX-Request": "true"}):
            token = await csrf_token(client, "/entreprises")
            before = await _state(db_session)
            response = await client.post(
                url, data=_everything_a_form_could_post(world, token), headers=headers, follow_redirects=False
            )
            assert response.status_code == expected_refusal(handler, user), (url, response.status_code)
            assert leaks(response.text, secrets, requested=url) == [], url
            assert await _state(db_session) == before, f"POST {url} changed something"
            tried += 1
    assert tried >= 2 * 4  # update, confidentiality, merge, dismiss… and whatever comes next

    # Creating a dossier with its SIREN is refused as for an archived dossier's, never saying it exists; the
    # partners it is granted to are told (an event and a run about it, hidden with it), nothing else changes.
    token = await csrf_token(client, "/entreprises")
    before = await _state(db_session)
    taken = await client.post(
        "/entreprises",
        data={"_csrf_token": token, "nom": "Nouvelle Société", "identifiant": SECRET_SIREN, "cloture": "31/12",
              "statut": "active"},
    )  # fmt: skip
    assert taken.status_code == 409
    assert "Ce SIREN ne peut pas être utilisé pour ce dossier. Un associé du cabinet a été prévenu." in taken.text
    assert "n'avez pas accès" not in html.unescape(taken.text)
    assert leaks(taken.text, name_and_siren_tokens() - {SECRET_SIREN}) == []
    after = await _state(db_session)
    assert {**after, "events": before["events"], "runs": before["runs"]} == before
    assert (after["events"], after["runs"]) == (before["events"] + 1, before["runs"] + 1)
    referred = await _one(
        db_session, select(JobRun.dossier_id).where(JobRun.actor_name == "clients.notify_siren_referred")
    )
    assert referred == world.secret.id
    assert "a demandé le SIREN" not in html.unescape((await client.get("/parametres/journal")).text)


async def test_the_granted_partner_can_act_on_it(client: Client, db_session: AsyncSession) -> None:
    """The control for the test above: the same POST, by someone on the list, does change things."""
    world = await build_world(db_session)
    await as_user(client, world.granted)
    token = await csrf_token(client, "/facturation/doublons")
    before = await _state(db_session)
    dismissed = await client.post(
        f"/facturation/doublons/{world.secret_pair_id}/ecarter", data={"_csrf_token": token}, follow_redirects=False
    )
    assert dismissed.status_code == 303
    after = await _state(db_session)
    assert after != before
    assert (world.secret_pair_id, DuplicateStatus.DISMISSED) in after["pairs"]


@pytest.mark.parametrize("keep", ["twin", "secret"])
async def test_merging_a_visible_client_with_a_confidential_one_leaks_nothing(
    app: Litestar, client: Client, db_session: AsyncSession, keep: str
) -> None:
    """Once the granted partner merged the twin's client with the secret dossier's, what the merge
    wrote (audit events, the kept client's new SIREN and links) stays hidden from the others."""
    world = await build_world(db_session)
    service = BillingClientService(session=db_session)
    pair = await service.get_duplicate(principal(world.granted), world.entity.id, world.secret_pair_id)
    # Keeping the twin's client (no SIREN), it takes the secret dossier's SIREN and link; or the reverse.
    kept = world.twin_client_id if keep == "twin" else world.secret_client_id
    await service.merge(pair, keep=kept)
    links = await db_session.execute(select(ClientDossierLink.dossier_id).where(ClientDossierLink.client_id == kept))
    assert set(links.scalars()) == {world.twin.id, world.secret.id}
    siren = await _one(db_session, select(BillingClient.siren).where(BillingClient.id == kept))
    assert siren == SECRET_SIREN

    await as_user(client, world.ungranted)
    # The merge wrote the two clients, their links, the pair and the audit log: every route (with the twin's
    # ids, every search it reads) and the pages they link to, where those show; the whole portal is the leak
    # test's crawl above.
    pages = await crawl(client, get_seeds(app, world.visible), hops=1)
    secrets = name_and_siren_tokens() | {str(world.secret.id)}
    for url, response in pages.items():
        assert leaks(response.text, secrets, requested=url) == [], f"{url} shows the confidential dossier"

    await as_user(client, world.granted)
    journal = await crawl(client, ["/parametres/journal"])
    assert any(" a fusionné le client " in html.unescape(response.text) for response in journal.values())
    assert any(SECRET_NAME in response.text for response in journal.values())
