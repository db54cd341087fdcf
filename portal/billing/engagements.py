"""Lettres de mission: writing them, sending them, their acceptance through a single-use link, renewals, and
what they bill over a period.

**Statuses.** A letter is written as *Brouillon*, *Envoyée* once sent to the client's contact, *Acceptée*
once the contact accepted it through the link, *Terminée* once the letter renewing it is accepted. A letter
not accepted yet may be edited (a sent one goes back to *Brouillon*: its link dies, the client is sent the new
version) and sent again (a new link; the previous one dies at once).

**The link.** Only the token's SHA-256 is stored (``Engagement.token_hash``); the token is drawn by the
sending job (``engagement_tasks``) and exists in the email alone. Accepting is one conditional ``UPDATE``
(the letter still *Envoyée* under that very link): of two acceptances, concurrent or not, one changes the row
and the other is told « Ce lien a déjà été utilisé », with nothing changed. The digest stays after the
acceptance, so a link used once says so rather than being unknown.

**Billing.** ``billable_missions`` gives the billing run, for a period, each mission due in it (see
``portal.billing.fees`` for how a letter's months are read): monthly missions every month of the letter,
quarterly ones every third month counted from the letter's first month (a letter starting in February bills
February, May, August and November: a year of the letter is exactly four quarters, whatever its start),
yearly ones in the letter's first month and its anniversaries. Each is priced with the letter's revision rate
applied once per full year since the letter's first month (``amounts.revised``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing import catalogue
from portal.billing.amounts import line_total, revised
from portal.billing.engagement_tasks import send_engagement
from portal.billing.fee_models import Engagement, EngagementStatus, InvoiceLine, Mission, Rhythm, Service, Unit
from portal.billing.fee_settings import optional_email, settings_of
from portal.billing.fees import MONTHS_IN_YEAR, add_years, fees, month_end, month_index, month_start, months_of
from portal.billing.models import BillingClient, ClientDossierLink
from portal.clients.names import sort_key
from portal.dashboard.amounts import NUMBER_MAX_LENGTH, NumberError, parse_number, typed
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.firm.invitations import LinkError
from portal.firm.links import token_digest
from portal.i18n import N_
from portal.web import forms

HUNDRED = Decimal(100)
MAX_MISSIONS = 30
BLANK_ROWS = 2  # empty lines the editor offers under the missions
RENEWAL_NOTICE = dt.timedelta(days=60)
CLIENT_CHOICES = 200
REFERENCE_DIGITS = 4
STEP_MONTHS = {Rhythm.MONTHLY: 1, Rhythm.QUARTERLY: 3, Rhythm.YEARLY: MONTHS_IN_YEAR}

NO_CLIENT = N_("Choisissez le client de la lettre de mission.")
NO_MISSION = N_("Ajoutez au moins une mission.")
NO_LABEL = N_("Choisissez un service du catalogue ou indiquez un libellé.")
BAD_QUANTITY = N_("La quantité est un nombre supérieur à zéro, par exemple 1 ou 1,5.")
BAD_RHYTHM = N_("Choisissez l'une des périodicités proposées.")
BAD_REVISION = N_("Le taux de révision annuelle est un pourcentage entre 0 et 100, par exemple 2,5.")
NO_START = N_("Indiquez la date de début (JJ/MM/AAAA).")
BAD_RENEWAL = N_("La date de renouvellement (JJ/MM/AAAA) doit suivre la date de début.")
TOO_MANY = N_("Une lettre de mission compte 30 missions au plus.")
NOT_EDITABLE = N_("Une lettre de mission acceptée ou terminée ne se modifie plus : renouvelez-la.")
NO_EMAIL = N_("Indiquez l'adresse e-mail du contact avant d'envoyer la lettre de mission.")
NOT_SENDABLE = N_("Cette lettre de mission est déjà acceptée : il n'y a plus rien à envoyer.")
NOTHING_TO_SEND = N_("Ajoutez au moins une mission avant d'envoyer la lettre de mission.")
NOT_RENEWABLE = N_("Seule une lettre de mission acceptée se renouvelle.")
ALREADY_RENEWED = N_("Cette lettre de mission a déjà un renouvellement en cours.")


class EngagementError(ValueError):
    """A change refused; ``message`` is a French msgid, ``field`` the form field it is about (or None)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


UNKNOWN_LINK = LinkError(
    N_("Lien invalide"),
    N_("Ce lien de lettre de mission n'est pas valide. Il a peut-être été remplacé par un envoi plus récent : "
       "utilisez le dernier courriel reçu, ou contactez le cabinet."),
    404,
)  # fmt: skip
USED_LINK = LinkError(N_("Lien déjà utilisé"), N_("Ce lien a déjà été utilisé."), 409)


# --- the editor's form --------------------------------------------------------------------------


@dataclass
class EngagementForm:
    """The editor: the letter's fields, and its missions as parallel lists (one value per line and column)."""

    client: str = forms.text(forms.CHOICE_MAX_LENGTH)
    contact: str = forms.text(forms.NAME_MAX_LENGTH)
    email: str = forms.text(forms.EMAIL_MAX_LENGTH)
    debut: str = forms.text(forms.DATE_MAX_LENGTH)
    renouvellement: str = forms.text(forms.DATE_MAX_LENGTH)
    revision: str = forms.text(NUMBER_MAX_LENGTH)
    service: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)
    libelle: list[str] = forms.texts(200)
    unite: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)
    quantite: list[str] = forms.texts(NUMBER_MAX_LENGTH)
    prix: list[str] = forms.texts(NUMBER_MAX_LENGTH)
    tva: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)
    compte: list[str] = forms.texts(catalogue.ACCOUNT_MAX_LENGTH)
    rythme: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)
    retirer: list[str] = forms.texts(10)  # the lines ticked « Retirer »
    action: str = forms.text(forms.CHOICE_MAX_LENGTH)  # « ajouter »: one more line; else save


@dataclass
class MissionRow:
    """One line of the editor, as typed."""

    service: str = ""
    libelle: str = ""
    unite: str = Unit.FLAT.value
    quantite: str = "1"
    prix: str = ""
    tva: str = "20.00"
    compte: str = "706000"
    rythme: str = Rhythm.MONTHLY.value

    @property
    def blank(self) -> bool:
        return not (self.service.strip() or self.libelle.strip() or self.prix.strip())

    def fill_from(self, service: Service) -> None:
        """The service's label, unit, price, VAT rate and account, to be edited from there."""
        self.libelle = service.label
        self.unite = service.unit.value
        self.prix = typed(service.unit_price)
        self.tva = f"{service.vat_rate:.2f}"
        self.compte = service.revenue_account

    @classmethod
    def of(cls, mission: Mission) -> MissionRow:
        return cls(
            service=str(mission.service_id or ""), libelle=mission.label, unite=mission.unit.value,
            quantite=typed(mission.quantity), prix=typed(mission.unit_price), tva=f"{mission.vat_rate:.2f}",
            compte=mission.revenue_account, rythme=mission.rhythm.value,
        )  # fmt: skip


_COLUMNS = ("service", "libelle", "unite", "quantite", "prix", "tva", "compte", "rythme")


def rows_of(form: EngagementForm) -> list[MissionRow]:
    """The lines posted, in order, less those ticked « Retirer »."""
    removed = {value for value in form.retirer if value.isdigit()}
    columns = [getattr(form, name) for name in _COLUMNS]
    rows = []
    for index, values in enumerate(itertools.zip_longest(*columns, fillvalue=None)):
        if str(index) in removed:
            continue
        row = MissionRow()
        for name, value in zip(_COLUMNS, values, strict=True):
            if value is not None:
                setattr(row, name, value)
        rows.append(row)
    return rows[: MAX_MISSIONS + BLANK_ROWS]


def form_of(engagement: Engagement) -> tuple[EngagementForm, list[MissionRow]]:
    form = EngagementForm(
        client=str(engagement.client_id), contact=engagement.contact_name, email=engagement.contact_email,
        debut=engagement.start_date.isoformat(), renouvellement=engagement.renewal_date.isoformat(),
        revision=typed(engagement.revision_rate),
    )  # fmt: skip
    return form, [MissionRow.of(mission) for mission in engagement.missions]


def prefill(rows: list[MissionRow], services: dict[str, Service], changed: int | None = None) -> None:
    """Take from its service what a line leaves blank (the label, the price; all of it for a line where neither is
    typed yet); the line whose service was just chosen (``changed``) takes everything from it."""
    for index, row in enumerate(rows):
        service = services.get(row.service)
        if service is None:
            continue
        if index == changed or not (row.libelle.strip() or row.prix.strip()):
            row.fill_from(service)
        elif not row.libelle.strip():
            row.libelle = service.label
        elif not row.prix.strip():
            row.prix = typed(service.unit_price)


@dataclass(frozen=True)
class MissionValues:
    service_id: uuid.UUID | None
    label: str
    unit: Unit
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    revenue_account: str
    rhythm: Rhythm


@dataclass(frozen=True)
class EngagementValues:
    client_id: uuid.UUID
    contact_name: str
    contact_email: str
    start_date: dt.date
    renewal_date: dt.date
    revision_rate: Decimal
    missions: tuple[MissionValues, ...] = field(default=())


def parse_id(value: str) -> uuid.UUID | None:
    """A chosen id (a client, a service), or None for a blank or malformed one."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class _Typed:
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    rhythm: Rhythm


def priced(rows: list[MissionRow]) -> list[_Typed]:
    """The lines typed well enough to be priced (the editor shows their fees as the person types)."""
    errors: dict[str, str] = {}
    typed_rows = []
    for row in rows:
        if row.blank:
            continue
        line = _Typed(
            quantity=_quantity(row.quantite, errors, "q"), unit_price=catalogue.price(row.prix, errors, "p"),
            vat_rate=catalogue.vat_rate(row.tva, errors, "t"), rhythm=_rhythm(row.rythme, errors, "r"),
        )  # fmt: skip
        if not errors:
            typed_rows.append(line)
        errors.clear()
    return typed_rows


def _quantity(value: str, errors: dict[str, str], key: str) -> Decimal:
    try:
        quantity = parse_number(value)
    except NumberError as wrong:
        errors[key] = wrong.message
        return Decimal(1)
    if quantity is None or quantity <= 0:
        errors[key] = BAD_QUANTITY
        return Decimal(1)
    return quantity


def _rhythm(value: str, errors: dict[str, str], key: str) -> Rhythm:
    try:
        return Rhythm(value)
    except ValueError:
        errors[key] = BAD_RHYTHM
        return Rhythm.MONTHLY


def _mission(index: int, row: MissionRow, services: dict[str, Service], errors: dict[str, str]) -> MissionValues:
    label = " ".join(row.libelle.split())
    if not label:
        errors[f"libelle-{index}"] = NO_LABEL
    service = services.get(row.service)
    return MissionValues(
        service_id=service.id if service else None, label=label,
        unit=catalogue.unit(row.unite, errors, f"unite-{index}"),
        quantity=_quantity(row.quantite, errors, f"quantite-{index}"),
        unit_price=catalogue.price(row.prix, errors, f"prix-{index}"),
        vat_rate=catalogue.vat_rate(row.tva, errors, f"tva-{index}"),
        revenue_account=catalogue.revenue_account(row.compte, errors, f"compte-{index}"),
        rhythm=_rhythm(row.rythme, errors, f"rythme-{index}"),
    )  # fmt: skip


def _revision(value: str, errors: dict[str, str]) -> Decimal:
    try:
        rate = parse_number(value)
    except NumberError as wrong:
        errors["revision"] = wrong.message
        return Decimal(0)
    if rate is None:
        return Decimal("0.00")
    if not Decimal(0) <= rate <= HUNDRED:
        errors["revision"] = BAD_REVISION
    return rate


def _dates(form: EngagementForm, errors: dict[str, str]) -> tuple[dt.date, dt.date]:
    start = forms.parse_date(form.debut)
    if start is None:
        errors["debut"] = NO_START
        return dt.date.min, dt.date.min
    renewal = forms.parse_date(form.renouvellement) if form.renouvellement.strip() else add_years(start, 1)
    if renewal is None or renewal <= start:
        errors["renouvellement"] = BAD_RENEWAL
        return start, start
    return start, renewal


@forms.length_checked
def validate(
    form: EngagementForm, rows: list[MissionRow], services: dict[str, Service]
) -> forms.Checked[EngagementValues]:
    """The letter typed, or the message of each wrong field (a line's fields are ``libelle-2``, ``prix-2``…)."""
    errors: dict[str, str] = {}
    client_id = parse_id(form.client)
    if client_id is None:
        errors["client"] = NO_CLIENT
    start, renewal = _dates(form, errors)
    typed_rows = [(index, row) for index, row in enumerate(rows) if not row.blank]
    if not typed_rows:
        errors["missions"] = NO_MISSION
    elif len(typed_rows) > MAX_MISSIONS:
        errors["missions"] = TOO_MANY
    missions = tuple(_mission(index, row, services, errors) for index, row in typed_rows)
    values = EngagementValues(
        client_id=client_id or uuid.UUID(int=0), contact_name=" ".join(form.contact.split()),
        contact_email=optional_email(form.email, errors), start_date=start, renewal_date=renewal,
        revision_rate=_revision(form.revision, errors), missions=missions,
    )  # fmt: skip
    return forms.Checked(None if errors else values, errors)


def yearly_fees(engagement: Engagement) -> Decimal:
    """The letter's yearly fees HT (its missions billed per act left out)."""
    return fees(engagement.missions).yearly_ht


# --- what letters bill -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BillableMission:
    """A mission due in a period: the line the billing run writes for it."""

    engagement_id: uuid.UUID
    reference: str
    client_id: uuid.UUID
    mission_id: uuid.UUID
    service_id: uuid.UUID | None
    label: str
    unit: Unit
    quantity: Decimal
    unit_price: Decimal  # revised
    vat_rate: Decimal
    revenue_account: str
    rhythm: Rhythm
    period_start: dt.date  # the first day of the first month it bills
    period_end: dt.date  # the last day of the last month it bills

    @property
    def total_ht(self) -> Decimal:
        return line_total(self.quantity, self.unit_price)


def due_months(engagement: Engagement, rhythm: Rhythm, first: int, last: int) -> list[int]:
    """The months (``fees.month_index``) between ``first`` and ``last`` in which a mission of ``engagement``
    billed at ``rhythm`` is due (none for a mission billed per act)."""
    step = STEP_MONTHS.get(rhythm)
    if step is None:
        return []
    start, end = month_index(engagement.start_date), month_index(engagement.renewal_date)
    low, high = max(first, start), min(last, end - 1)
    if low > high:
        return []
    low += (step - (low - start) % step) % step
    return list(range(low, high + 1, step))


async def billable_missions(
    session: AsyncSession, entity_id: uuid.UUID, start: dt.date, end: dt.date, *, skip_billed: bool = False
) -> list[BillableMission]:
    """Each mission of the entity's accepted letters due in ``[start, end]`` (the months whose first day lies
    there), once per month it is due, with its price revised for the full years since its letter's first month.

    ``skip_billed`` leaves out what an invoice line already bills (same mission, same ``period_start``: the
    database refuses it twice, ``uq_billing_invoice_line_mission_period``). Sorted by client, letter, mission
    and month.
    """
    first, last = months_of(start, end)
    if first > last:
        return []
    statement = (
        select(Engagement)
        .where(
            Engagement.entity_id == entity_id,
            Engagement.status == EngagementStatus.ACCEPTED,
            Engagement.start_date <= month_end(last),
            Engagement.renewal_date > month_start(first),
        )
        .options(selectinload(Engagement.missions))
        .order_by(Engagement.client_id, Engagement.start_date, Engagement.id)
    )
    engagements = list((await session.execute(statement)).unique().scalars())
    billed: set[tuple[uuid.UUID | None, dt.date | None]] = set()
    if skip_billed and engagements:
        mission_ids = [mission.id for engagement in engagements for mission in engagement.missions]
        lines = select(InvoiceLine.mission_id, InvoiceLine.period_start).where(
            InvoiceLine.mission_id.in_(mission_ids),
            InvoiceLine.period_start >= month_start(first),
            InvoiceLine.period_start <= month_end(last),
        )
        billed = {(row[0], row[1]) for row in await session.execute(lines)}
    due = []
    for engagement in engagements:
        opening = month_index(engagement.start_date)
        for mission in engagement.missions:
            for month in due_months(engagement, mission.rhythm, first, last):
                period_start = month_start(month)
                if (mission.id, period_start) in billed:
                    continue
                years = (month - opening) // MONTHS_IN_YEAR
                due.append(
                    BillableMission(
                        engagement_id=engagement.id, reference=engagement.reference, client_id=engagement.client_id,
                        mission_id=mission.id, service_id=mission.service_id, label=mission.label, unit=mission.unit,
                        quantity=mission.quantity, unit_price=revised(mission.unit_price, engagement.revision_rate,
                        years), vat_rate=mission.vat_rate, revenue_account=mission.revenue_account,
                        rhythm=mission.rhythm, period_start=period_start,
                        period_end=month_end(month + STEP_MONTHS[mission.rhythm] - 1),
                    )
                )  # fmt: skip
    return due


# --- the service -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Renewal:
    """An accepted letter to renew, and the renewal already under way (a draft or sent letter), if any."""

    engagement: Engagement
    next: Engagement | None


class EngagementService:
    """The lettres de mission a person may see (``restrict``), and their changes by whoever manages the fees."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _visible(self, principal: Principal, entity_id: uuid.UUID, permission: Permission) -> Select[Any]:
        statement = select(Engagement).where(Engagement.entity_id == entity_id)
        return restrict(statement, principal, permission, Engagement)

    async def page(
        self,
        principal: Principal,
        entity_id: uuid.UUID,
        *,
        status: EngagementStatus | None = None,
        client_id: uuid.UUID | None = None,
        paging: Paging = FIRST_PAGE,
    ) -> Page[Engagement]:
        statement = self._visible(principal, entity_id, Permission.BILLING_FEES_READ)
        if status is not None:
            statement = statement.where(Engagement.status == status)
        if client_id is not None:
            statement = statement.where(Engagement.client_id == client_id)
        statement = statement.order_by(Engagement.created_at.desc(), Engagement.id.desc())
        return await paginate(self.session, statement, paging)

    async def get(
        self,
        principal: Principal,
        entity_id: uuid.UUID,
        engagement_id: uuid.UUID,
        permission: Permission = Permission.BILLING_FEES_READ,
    ) -> Engagement:
        statement = self._visible(principal, entity_id, permission).where(Engagement.id == engagement_id)
        engagement: Engagement | None = (await self.session.execute(statement)).unique().scalar_one_or_none()
        if engagement is None:
            raise NotFoundException
        return engagement

    async def of_dossier(self, principal: Principal, entity_id: uuid.UUID, dossier_id: uuid.UUID) -> list[Engagement]:
        """The letters of the client a dossier is billed through (the dossier panel's Facturation tab)."""
        clients = select(ClientDossierLink.client_id).where(
            ClientDossierLink.billing_entity_id == entity_id, ClientDossierLink.dossier_id == dossier_id
        )
        statement = (
            self._visible(principal, entity_id, Permission.BILLING_FEES_READ)
            .where(Engagement.client_id.in_(clients))
            .order_by(Engagement.start_date.desc(), Engagement.id.desc())
            .limit(20)
        )
        return list((await self.session.execute(statement)).unique().scalars())

    async def client_id_of(self, entity_id: uuid.UUID, dossier_id: uuid.UUID) -> uuid.UUID | None:
        """The client a dossier is billed through (the caller was allowed to read the dossier's fees)."""
        statement = select(ClientDossierLink.client_id).where(
            ClientDossierLink.billing_entity_id == entity_id, ClientDossierLink.dossier_id == dossier_id
        )
        found: uuid.UUID | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def client_choices(
        self, principal: Principal, entity_id: uuid.UUID, query: str = "", chosen: uuid.UUID | None = None
    ) -> list[BillingClient]:
        """The clients a letter may be written for: the entity's clients the person may see (``restrict``), those
        whose name starts like ``query`` first ones in order, and the one chosen whatever the query."""
        statement = restrict(select(BillingClient), principal, Permission.BILLING_FEES_MANAGE, BillingClient).where(
            BillingClient.billing_entity_id == entity_id
        )
        key = sort_key(query)
        filtered = statement.where(BillingClient.sort_name.contains(key, autoescape=True)) if key else statement
        found = list(
            (await self.session.execute(filtered.order_by(BillingClient.sort_name, BillingClient.id).limit(
                CLIENT_CHOICES))).scalars()
        )  # fmt: skip
        if chosen is not None and all(client.id != chosen for client in found):
            extra = (await self.session.execute(statement.where(BillingClient.id == chosen))).scalar_one_or_none()
            if extra is not None:
                found.insert(0, extra)
        return found

    async def _client(self, principal: Principal, entity_id: uuid.UUID, client_id: uuid.UUID) -> BillingClient:
        statement = restrict(select(BillingClient), principal, Permission.BILLING_FEES_MANAGE, BillingClient).where(
            BillingClient.billing_entity_id == entity_id, BillingClient.id == client_id
        )
        client: BillingClient | None = (await self.session.execute(statement)).scalar_one_or_none()
        if client is None:
            raise EngagementError(NO_CLIENT, "client")
        return client

    @staticmethod
    def _may_manage(principal: Principal, entity_id: uuid.UUID) -> None:
        if not principal.can(Permission.BILLING_FEES_MANAGE, entity_id):
            raise PermissionDeniedException

    async def _reference(self, entity_id: uuid.UUID, year: int) -> str:
        prefix = f"LM{year}-"
        last = (
            await self.session.execute(
                select(func.max(Engagement.reference)).where(
                    Engagement.entity_id == entity_id, Engagement.reference.startswith(prefix, autoescape=True)
                )
            )
        ).scalar_one_or_none()
        number = int(last.removeprefix(prefix)) + 1 if last else 1
        return f"{prefix}{number:0{REFERENCE_DIGITS}d}"

    @staticmethod
    def _contact(client: BillingClient, values: EngagementValues) -> tuple[str, str]:
        """The contact typed, or the client's billing contact; what is typed becomes the client's."""
        name = values.contact_name or client.billing_contact
        email = values.contact_email or client.billing_email
        if values.contact_name:
            client.billing_contact = values.contact_name
        if values.contact_email:
            client.billing_email = values.contact_email
        return name, email

    @staticmethod
    def _missions(values: EngagementValues) -> list[Mission]:
        return [Mission(position=position, **vars(mission)) for position, mission in enumerate(values.missions)]

    async def _added(self, engagement: Engagement) -> Engagement:
        """Flush a new letter under the next free reference (a concurrent one may take the same: try again)."""
        for _attempt in range(5):
            engagement.reference = await self._reference(engagement.entity_id, dt.datetime.now(dt.UTC).year)
            try:
                async with self.session.begin_nested():
                    self.session.add(engagement)
                    await self.session.flush()
            except IntegrityError:
                continue
            return engagement
        raise EngagementError(N_("La lettre de mission n'a pas pu être enregistrée. Réessayez."))

    async def create(self, principal: Principal, entity_id: uuid.UUID, values: EngagementValues) -> Engagement:
        self._may_manage(principal, entity_id)
        client = await self._client(principal, entity_id, values.client_id)
        name, email = self._contact(client, values)
        engagement = Engagement(
            entity_id=entity_id, client_id=client.id, client=client, status=EngagementStatus.DRAFT,
            start_date=values.start_date, renewal_date=values.renewal_date, revision_rate=values.revision_rate,
            contact_name=name, contact_email=email, created_by_id=principal.user_id, missions=self._missions(values),
        )  # fmt: skip
        return await self._added(engagement)

    async def update(self, principal: Principal, engagement: Engagement, values: EngagementValues) -> Engagement:
        """Change a letter not accepted yet; a sent one goes back to draft (its link dies)."""
        self._may_manage(principal, engagement.entity_id)
        if engagement.status not in {EngagementStatus.DRAFT, EngagementStatus.SENT}:
            raise EngagementError(NOT_EDITABLE)
        client = await self._client(principal, engagement.entity_id, values.client_id)
        name, email = self._contact(client, values)
        engagement.client_id, engagement.client = client.id, client
        engagement.contact_name, engagement.contact_email = name, email
        engagement.start_date, engagement.renewal_date = values.start_date, values.renewal_date
        engagement.revision_rate = values.revision_rate
        engagement.status = EngagementStatus.DRAFT
        engagement.token_hash = None
        engagement.sent_at = None
        engagement.missions = self._missions(values)
        await self.session.flush()
        return engagement

    async def send(self, principal: Principal, engagement: Engagement) -> None:
        """Mark the letter sent, kill its link in force and request the email (with a new link and the PDF)."""
        self._may_manage(principal, engagement.entity_id)
        if engagement.status not in {EngagementStatus.DRAFT, EngagementStatus.SENT}:
            raise EngagementError(NOT_SENDABLE)
        if not engagement.missions:
            raise EngagementError(NOTHING_TO_SEND)
        if not engagement.contact_email:
            raise EngagementError(NO_EMAIL)
        settings = await settings_of(self.session, engagement.entity_id)
        # The terms the client is sent are the ones the letter keeps.
        terms = settings.general_terms
        await self.session.execute(
            update(Engagement)
            .where(Engagement.id == engagement.id)
            .values(status=EngagementStatus.SENT, token_hash=None, sent_at=None, general_terms=terms,
                    updated_at=dt.datetime.now(dt.UTC))
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        record(
            self.session, "billing_engagement.send", object_type="billing_engagement", object_id=str(engagement.id),
            dossier_id=engagement.client.origin_dossier_id, reference=engagement.reference,
            contact_email=engagement.contact_email,
        )  # fmt: skip
        await send_engagement.options(created_by_id=principal.user_id).enqueue(
            self.session, engagement_id=str(engagement.id)
        )
        await self.session.refresh(engagement)

    # --- the link ------------------------------------------------------------------------------

    async def open_link(self, token: str) -> Engagement:
        """The letter whose link this is (accepted ones included, to say so); ``LinkError`` when unknown."""
        statement = select(Engagement).where(Engagement.token_hash == token_digest(token))
        engagement: Engagement | None = (await self.session.execute(statement)).unique().scalar_one_or_none()
        if engagement is None or engagement.status is EngagementStatus.DRAFT:
            raise UNKNOWN_LINK
        return engagement

    async def accept(self, token: str, *, name: str, address: str) -> Engagement:
        """Accept the letter in the name typed, from ``address``; the link is spent by one conditional UPDATE."""
        engagement = await self.open_link(token)
        name = " ".join(name.split())
        if not name:
            raise EngagementError(N_("Indiquez vos nom et prénom."), "nom")
        now = dt.datetime.now(dt.UTC)
        spent = await self.session.execute(
            update(Engagement)
            .where(
                Engagement.id == engagement.id,
                Engagement.token_hash == token_digest(token),
                Engagement.status == EngagementStatus.SENT,
            )
            .values(status=EngagementStatus.ACCEPTED, accepted_at=now, accepted_by_name=name, accepted_from=address,
                    updated_at=now)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise USED_LINK
        record(
            self.session, "billing_engagement.accept", object_type="billing_engagement", object_id=str(engagement.id),
            dossier_id=engagement.client.origin_dossier_id, reference=engagement.reference, accepted_by_name=name,
            accepted_from=address, accepted_at=now,
        )  # fmt: skip
        await self.session.refresh(engagement)
        await self._end_renewed(engagement)
        return engagement

    async def _end_renewed(self, accepted: Engagement) -> None:
        """The client's accepted letters that ``accepted`` follows (ending by its start) are now *Terminée*."""
        statement = select(Engagement).where(
            Engagement.client_id == accepted.client_id,
            Engagement.entity_id == accepted.entity_id,
            Engagement.status == EngagementStatus.ACCEPTED,
            Engagement.id != accepted.id,
            Engagement.renewal_date <= accepted.start_date,
        )
        for earlier in (await self.session.execute(statement)).unique().scalars():
            earlier.status = EngagementStatus.ENDED
        await self.session.flush()

    # --- renewals ------------------------------------------------------------------------------

    async def renewals(
        self, principal: Principal, entity_id: uuid.UUID, today: dt.date, paging: Paging = FIRST_PAGE
    ) -> Page[Renewal]:
        """Accepted letters whose renewal date is past or within 60 days, soonest first, each with its renewal
        under way if one was written."""
        statement = (
            self._visible(principal, entity_id, Permission.BILLING_FEES_READ)
            .where(
                Engagement.status == EngagementStatus.ACCEPTED,
                Engagement.renewal_date <= today + RENEWAL_NOTICE,
            )
            .order_by(Engagement.renewal_date, Engagement.id)
        )
        page = await paginate(self.session, statement, paging)
        renewals = [Renewal(engagement, await self._next(engagement)) for engagement in page.items]
        return Page.of(renewals, page.total, paging)

    async def _next(self, engagement: Engagement) -> Engagement | None:
        statement = (
            select(Engagement)
            .where(
                Engagement.client_id == engagement.client_id,
                Engagement.entity_id == engagement.entity_id,
                Engagement.id != engagement.id,
                Engagement.start_date >= engagement.renewal_date,
                or_(Engagement.status == EngagementStatus.DRAFT, Engagement.status == EngagementStatus.SENT),
            )
            .order_by(Engagement.created_at.desc())
            .limit(1)
        )
        found: Engagement | None = (await self.session.execute(statement)).unique().scalar_one_or_none()
        return found

    async def renew(self, principal: Principal, engagement: Engagement) -> Engagement:
        """The next letter, as a draft: the same missions at prices revised by the revision rate, its dates a year
        on (from the old renewal date). The old letter ends when the new one is accepted."""
        self._may_manage(principal, engagement.entity_id)
        if engagement.status is not EngagementStatus.ACCEPTED:
            raise EngagementError(NOT_RENEWABLE)
        if await self._next(engagement) is not None:
            raise EngagementError(ALREADY_RENEWED)
        start = engagement.renewal_date
        years = max((month_index(start) - month_index(engagement.start_date)) // MONTHS_IN_YEAR, 1)
        missions = [
            Mission(
                position=position, service_id=mission.service_id, label=mission.label, unit=mission.unit,
                quantity=mission.quantity, unit_price=revised(mission.unit_price, engagement.revision_rate, years),
                vat_rate=mission.vat_rate, revenue_account=mission.revenue_account, rhythm=mission.rhythm,
            )
            for position, mission in enumerate(engagement.missions)
        ]  # fmt: skip
        renewal = Engagement(
            entity_id=engagement.entity_id, client_id=engagement.client_id, client=engagement.client,
            status=EngagementStatus.DRAFT, start_date=start, renewal_date=add_years(start, 1),
            revision_rate=engagement.revision_rate, contact_name=engagement.contact_name,
            contact_email=engagement.contact_email, created_by_id=principal.user_id, missions=missions,
        )  # fmt: skip
        renewal = await self._added(renewal)
        record(
            self.session, "billing_engagement.renew", object_type="billing_engagement", object_id=str(engagement.id),
            dossier_id=engagement.client.origin_dossier_id, reference=engagement.reference,
            renewal=renewal.reference,
        )  # fmt: skip
        await self.session.flush()
        return renewal
