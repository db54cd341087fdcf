"""The firm's catalogue of services: what a lettre de mission's missions are chosen from.

A service has a label (unique in the entity), a unit, a price HT typed the French way (« 1 234,50 », two
decimals at most, never negative), a VAT rate among the French rates and a revenue account of class 70
(706000 for services). A service is deactivated rather than deleted: the missions and invoice lines that name
it keep it, and the editors stop offering it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.fee_models import Service, Unit
from portal.dashboard.amounts import NUMBER_MAX_LENGTH, NumberError, parse_number, typed
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.i18n import N_
from portal.web import forms

VAT_RATES = (Decimal("20.00"), Decimal("10.00"), Decimal("5.50"), Decimal("2.10"), Decimal("0.00"))
REVENUE_ACCOUNT = re.compile(r"70[0-9]{1,18}")
LABEL_MAX_LENGTH = 120
ACCOUNT_MAX_LENGTH = 20

NEGATIVE_PRICE = N_("Le prix ne peut pas être négatif.")
NO_PRICE = N_("Indiquez le prix HT, par exemple 1 234,50.")
NOT_REVENUE = N_("Choisissez un compte de produits de la classe 70, par exemple 706000 (prestations de services).")
BAD_RATE = N_("Choisissez l'un des taux de TVA proposés.")
BAD_UNIT = N_("Choisissez l'une des unités proposées.")


def rate_label(rate: Decimal) -> str:
    """« 20 % », « 5,5 % »: a VAT rate as the firm writes it."""
    return f"{typed(rate)}\u00a0%"


def price(value: str, errors: dict[str, str], field: str) -> Decimal:
    """A price HT typed the French way: two decimals at most, never negative."""
    try:
        amount = parse_number(value)
    except NumberError as wrong:
        errors[field] = wrong.message
        return Decimal(0)
    if amount is None:
        errors[field] = NO_PRICE
        return Decimal(0)
    if amount < 0:
        errors[field] = NEGATIVE_PRICE
        return Decimal(0)
    return amount


def vat_rate(value: str, errors: dict[str, str], field: str) -> Decimal:
    try:
        rate = Decimal(value.strip().replace(",", ".")).quantize(Decimal("0.01"))
    except ArithmeticError:
        rate = None
    if rate not in VAT_RATES:
        errors[field] = BAD_RATE
        return VAT_RATES[0]
    return rate


def unit(value: str, errors: dict[str, str], field: str) -> Unit:
    try:
        return Unit(value)
    except ValueError:
        errors[field] = BAD_UNIT
        return Unit.FLAT


def revenue_account(value: str, errors: dict[str, str], field: str) -> str:
    account = "".join(value.split())
    if not REVENUE_ACCOUNT.fullmatch(account):
        errors[field] = NOT_REVENUE
    return account


@dataclass
class ServiceForm:
    libelle: str = forms.text(LABEL_MAX_LENGTH)
    unite: str = forms.text(forms.CHOICE_MAX_LENGTH, Unit.FLAT.value)
    prix: str = forms.text(NUMBER_MAX_LENGTH)
    tva: str = forms.text(forms.CHOICE_MAX_LENGTH, "20.00")
    compte: str = forms.text(ACCOUNT_MAX_LENGTH, "706000")
    actif: str = forms.text(forms.CHOICE_MAX_LENGTH)  # « 1 » when ticked (a box left unticked sends nothing)

    @classmethod
    def of(cls, service: Service) -> ServiceForm:
        return cls(
            libelle=service.label, unite=service.unit.value, prix=typed(service.unit_price),
            tva=f"{service.vat_rate:.2f}", compte=service.revenue_account, actif="1" if service.active else "",
        )  # fmt: skip


@dataclass(frozen=True)
class ServiceValues:
    label: str
    unit: Unit
    unit_price: Decimal
    vat_rate: Decimal
    revenue_account: str
    active: bool


@forms.length_checked
def validate(form: ServiceForm) -> forms.Checked[ServiceValues]:
    errors: dict[str, str] = {}
    label = " ".join(form.libelle.split())
    if not label:
        errors["libelle"] = N_("Indiquez le libellé du service.")
    values = ServiceValues(
        label=label, unit=unit(form.unite, errors, "unite"), unit_price=price(form.prix, errors, "prix"),
        vat_rate=vat_rate(form.tva, errors, "tva"), revenue_account=revenue_account(form.compte, errors, "compte"),
        active=form.actif == "1",
    )  # fmt: skip
    return forms.Checked(None if errors else values, errors)


class DuplicateLabelError(ValueError):
    """Another service of the entity has that label."""

    field = "libelle"
    message = N_("Un service du catalogue porte déjà ce libellé.")


class CatalogueService:
    """The entity's catalogue as a person may see it, and its changes (by whoever manages the fees)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _visible(self, principal: Principal, entity_id: uuid.UUID) -> Any:
        statement = select(Service).where(Service.entity_id == entity_id)
        return restrict(statement, principal, Permission.BILLING_FEES_READ, Service)

    async def page(
        self, principal: Principal, entity_id: uuid.UUID, *, inactive: bool = True, paging: Paging = FIRST_PAGE
    ) -> Page[Service]:
        statement = self._visible(principal, entity_id)
        if not inactive:
            statement = statement.where(Service.active.is_(True))
        statement = statement.order_by(Service.active.desc(), func.lower(Service.label), Service.id)
        return await paginate(self.session, statement, paging)

    async def choices(self, principal: Principal, entity_id: uuid.UUID) -> list[Service]:
        """The active services, for the lettre de mission's editor."""
        statement = self._visible(principal, entity_id).where(Service.active.is_(True))
        return list((await self.session.execute(statement.order_by(func.lower(Service.label)))).scalars())

    async def get(self, principal: Principal, entity_id: uuid.UUID, service_id: uuid.UUID) -> Service:
        statement = self._visible(principal, entity_id).where(Service.id == service_id)
        service: Service | None = (await self.session.execute(statement)).scalar_one_or_none()
        if service is None:
            raise NotFoundException
        return service

    @staticmethod
    def _may_manage(principal: Principal, entity_id: uuid.UUID) -> None:
        if not principal.can(Permission.BILLING_FEES_MANAGE, entity_id):
            raise PermissionDeniedException

    async def _check_label(self, entity_id: uuid.UUID, label: str, service_id: uuid.UUID | None = None) -> None:
        """Refuse a label another service of the entity has (``uq_billing_service_label`` is the backstop)."""
        taken = select(Service.id).where(Service.entity_id == entity_id, Service.label == label)
        if service_id is not None:
            taken = taken.where(Service.id != service_id)
        if (await self.session.execute(taken)).first() is not None:
            raise DuplicateLabelError

    async def create(self, principal: Principal, entity_id: uuid.UUID, values: ServiceValues) -> Service:
        self._may_manage(principal, entity_id)
        await self._check_label(entity_id, values.label)
        service = Service(entity_id=entity_id, **vars(values))
        self.session.add(service)
        await self.session.flush()
        return service

    async def update(self, principal: Principal, service: Service, values: ServiceValues) -> Service:
        self._may_manage(principal, service.entity_id)
        await self._check_label(service.entity_id, values.label, service.id)
        for name, value in vars(values).items():
            setattr(service, name, value)
        await self.session.flush()
        return service

    async def set_active(self, principal: Principal, service: Service, *, active: bool) -> Service:
        self._may_manage(principal, service.entity_id)
        service.active = active
        await self.session.flush()
        return service
