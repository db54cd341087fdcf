"""Paramètres de facturation: what the firm writes once for its invoices and lettres de mission.

One ``BillingSettings`` row per billing entity, created on the first save; until then ``settings_of`` gives the
defaults (30 days, 10 % of late penalties, prefixes F and AV, reminders 7 and 30 days after the due date).
Only whoever manages the fees on the entity saves them (a partner, the entity's Gestionnaire de facturation).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from litestar.exceptions import PermissionDeniedException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import bic as bic_code
from stdnum import iban as iban_code
from stdnum.exceptions import ValidationError

from portal.accounts.addresses import InvalidEmailError, checked_email
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.billing.fee_models import BillingSettings
from portal.dashboard.amounts import NUMBER_MAX_LENGTH, NumberError, parse_number, typed
from portal.i18n import N_
from portal.web import forms

HUNDRED = Decimal(100)
MAX_PAYMENT_DAYS = 60  # C. com. L441-10: 60 days from the invoice at most
MAX_REMINDERS = 5
MAX_REMINDER_DAYS = 365
TERMS_MAX_LENGTH = 20_000
PREFIX = re.compile(r"[A-Z0-9-]{1,8}")
DEFAULTS = {
    "share_capital": "",
    "trade_registry": "",
    "email": "",
    "phone": "",
    "iban": "",
    "bic": "",
    "payment_terms_days": 30,
    "late_penalty_rate": Decimal("10.00"),
    "vat_on_debits": False,
    "general_terms": "",
    "invoice_prefix": "F",
    "credit_note_prefix": "AV",
    "reminder_days": "7,30",
}


async def settings_of(session: AsyncSession, entity_id: uuid.UUID) -> BillingSettings:
    """The billing entity's settings; the defaults (a row not added to the session) when none were saved."""
    statement = select(BillingSettings).where(BillingSettings.entity_id == entity_id)
    found: BillingSettings | None = (await session.execute(statement)).scalar_one_or_none()
    return found if found is not None else BillingSettings(entity_id=entity_id, **DEFAULTS)


def reminder_delays(settings: BillingSettings) -> list[int]:
    """The reminders' delays, in days after the due date (« 7,30 » → [7, 30])."""
    return [int(part) for part in settings.reminder_days.split(",") if part.strip().isdigit()]


def iban_display(value: str) -> str:
    """``FR7630006000011234567890189`` → ``FR76 3000 6000 0112 3456 7890 189``."""
    return iban_code.format(value) if value else ""


@dataclass
class SettingsForm:
    capital: str = forms.text(40)
    rcs: str = forms.text(120)
    email: str = forms.text(forms.EMAIL_MAX_LENGTH)
    telephone: str = forms.text(40)
    iban: str = forms.text(60)
    bic: str = forms.text(20)
    delai_paiement: str = forms.text(10)
    penalites: str = forms.text(NUMBER_MAX_LENGTH)
    tva_debits: str = forms.text(forms.CHOICE_MAX_LENGTH)
    conditions: str = forms.text(TERMS_MAX_LENGTH)
    prefixe_facture: str = forms.text(20)
    prefixe_avoir: str = forms.text(20)
    relances: str = forms.text(60)

    @classmethod
    def of(cls, settings: BillingSettings) -> SettingsForm:
        """The form as the saved settings fill it."""
        return cls(
            capital=settings.share_capital, rcs=settings.trade_registry, email=settings.email,
            telephone=settings.phone, iban=iban_display(settings.iban), bic=settings.bic,
            delai_paiement=str(settings.payment_terms_days), penalites=typed(settings.late_penalty_rate),
            tva_debits="1" if settings.vat_on_debits else "", conditions=settings.general_terms,
            prefixe_facture=settings.invoice_prefix, prefixe_avoir=settings.credit_note_prefix,
            relances=", ".join(str(days) for days in reminder_delays(settings)),
        )  # fmt: skip


@dataclass(frozen=True)
class SettingsValues:
    share_capital: str
    trade_registry: str
    email: str
    phone: str
    iban: str
    bic: str
    payment_terms_days: int
    late_penalty_rate: Decimal
    vat_on_debits: bool
    general_terms: str
    invoice_prefix: str
    credit_note_prefix: str
    reminder_days: str


def optional_email(value: str, errors: dict[str, str], field: str = "email") -> str:
    """An address typed (checked, as stored), or nothing when left blank; the message beside ``field`` when wrong."""
    if not value.strip():
        return ""
    try:
        return checked_email(value)
    except InvalidEmailError as invalid:
        errors[field] = invalid.message
        return ""


def _iban(value: str, errors: dict[str, str]) -> str:
    if not value.strip():
        return ""
    try:
        return str(iban_code.validate(value))
    except ValidationError:
        errors["iban"] = N_("IBAN invalide : vérifiez-le sur votre relevé d'identité bancaire (FR76 …).")
        return ""


def _bic(value: str, errors: dict[str, str]) -> str:
    if not value.strip():
        return ""
    try:
        return str(bic_code.validate(value))
    except ValidationError:
        errors["bic"] = N_("BIC invalide : 8 ou 11 caractères, par exemple BNPAFRPPXXX.")
        return ""


def _days(value: str, errors: dict[str, str]) -> int:
    typed_value = value.strip()
    if typed_value.isascii() and typed_value.isdigit() and int(typed_value) <= MAX_PAYMENT_DAYS:
        return int(typed_value)
    errors["delai_paiement"] = N_("Le délai de paiement est un nombre de jours entre 0 et 60.")
    return 0


def _penalty(value: str, errors: dict[str, str]) -> Decimal:
    try:
        rate = parse_number(value)
    except NumberError as wrong:
        errors["penalites"] = wrong.message
        return Decimal(0)
    if rate is None or not Decimal(0) <= rate <= HUNDRED:
        errors["penalites"] = N_("Le taux des pénalités de retard est un pourcentage entre 0 et 100.")
        return Decimal(0)
    return rate


def _prefix(value: str, field: str, errors: dict[str, str]) -> str:
    prefix = value.strip().upper()
    if not PREFIX.fullmatch(prefix):
        errors[field] = N_("De 1 à 8 caractères : lettres, chiffres ou tiret (par exemple F ou AV).")
    return prefix


def _reminders(value: str, errors: dict[str, str]) -> str:
    parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    if not parts:
        return ""
    if not all(part.isascii() and part.isdigit() and 1 <= int(part) <= MAX_REMINDER_DAYS for part in parts) or (
        len(parts) > MAX_REMINDERS
    ):
        errors["relances"] = N_("Des nombres de jours après l'échéance, séparés par des virgules : par exemple 7, 30.")
        return ""
    return ",".join(str(days) for days in sorted({int(part) for part in parts}))


@forms.length_checked
def validate(form: SettingsForm) -> forms.Checked[SettingsValues]:
    """The settings typed, or the message of each wrong field."""
    errors: dict[str, str] = {}
    values = SettingsValues(
        share_capital=form.capital.strip(), trade_registry=" ".join(form.rcs.split()),
        email=optional_email(form.email, errors), phone=form.telephone.strip(), iban=_iban(form.iban, errors),
        bic=_bic(form.bic, errors),
        payment_terms_days=_days(form.delai_paiement, errors), late_penalty_rate=_penalty(form.penalites, errors),
        vat_on_debits=form.tva_debits == "1", general_terms=form.conditions.strip().replace("\r\n", "\n"),
        invoice_prefix=_prefix(form.prefixe_facture, "prefixe_facture", errors),
        credit_note_prefix=_prefix(form.prefixe_avoir, "prefixe_avoir", errors),
        reminder_days=_reminders(form.relances, errors),
    )  # fmt: skip
    if "prefixe_avoir" not in errors and values.invoice_prefix == values.credit_note_prefix:
        errors["prefixe_avoir"] = N_("Les avoirs ont leur propre série : choisissez un préfixe différent des factures.")
    return forms.Checked(None if errors else values, errors)


class BillingSettingsService:
    """Reading and saving the entity's settings (the first save creates the row; the audit log records it)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def read(self, entity_id: uuid.UUID) -> BillingSettings:
        return await settings_of(self.session, entity_id)

    async def save(self, principal: Principal, entity_id: uuid.UUID, values: SettingsValues) -> BillingSettings:
        if not principal.can(Permission.BILLING_FEES_MANAGE, entity_id):
            raise PermissionDeniedException
        settings = await settings_of(self.session, entity_id)
        for name, value in vars(values).items():
            setattr(settings, name, value)
        if settings not in self.session:
            self.session.add(settings)
        await self.session.flush()
        return settings
