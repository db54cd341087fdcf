"""The accounting mapping of one POS or e-commerce connection: which journal, which PCG accounts.

A source speaks of registers, payment methods, VAT rates, product categories, delivery
countries and currencies; the books speak of journals and accounts. The mapping is that
translation, chosen once per connection on the mapping screen and kept as JSON on the
connection (``Mapping.to_json`` / ``Mapping.from_json``). ``default_mapping`` fills in
what the PCG settles by itself, so that most connections only need a glance;
``missing`` lists what is still open, and whether it stops the posting (``blocking``: a
record that needs it is not posted at all, its day stays unposted) or only sends amounts
to a waiting account (an unknown payment method: its money goes to 471 until someone says
where it belongs, which is what a waiting account is for).

Accounts are PCG numbers, digits only, written on at least six digits as most French
ledgers are (``530000``); the class is checked where a wrong one would silently mislead
the VAT return or the cash balance (sales 70, VAT collected 4457, customers 411, payment
methods class 5 or a third-party/waiting account). VAT rates are percentages, and as keys
they are normalised (``Decimal("5.50")``, ``"5.5"`` and ``"5,5"`` are the key ``"5.5"``).

The defaults, and why:

- **Payment methods** by name: cash → 530000 "Caisse"; cheques → 511200 "Chèques à
  encaisser"; transfers → 512000 "Banque". Card takings → **511500** "Cartes bancaires à
  encaisser", a sub-account the firm opens under 511 "Valeurs à l'encaissement" (the PCG
  lets a company open sub-accounts of a listed account; 5115 itself is not a French PCG
  account, domain notes §5). Until the acquirer settles them (a day or two later, net of
  its fees) card takings are values being collected, exactly what 511 is for: not 512,
  whose balance must match the bank statement's net batches, and not 58, which is for
  transfers between the firm's own treasury accounts. Meal vouchers (titres-restaurant)
  are remitted to their issuer for payment the same way: 511800 "Titres-restaurant à
  encaisser". Payment institutions holding the shop's money until a payout (PayPal,
  Stripe, Shopify Payments) are 517 "Autres organismes financiers". Gift cards used as a
  payment consume the advance received when the card was sold: 419100. An unrecognised
  method (Lydia, a gateway name) gets no default: it is listed as missing.
- **Tips** → 428600 "Personnel – autres charges à payer": tips paid by card are collected
  for the staff, to whom they must be handed in full (Code du travail L3244-1); they are
  a debt to the staff, not the business's revenue.
- **Sales**: restaurants (the POS sources made for them) sell a service, meals served,
  → 706 "Prestations de services"; shops and web shops resell goods → 707 "Ventes de
  marchandises". One sub-account per VAT rate, ``706``/``707`` + ``0`` + the rate's code
  (its tenths on three digits: 20 % → 200, 5,5 % → 055), so the balance gives the bases
  of the VAT return directly; VAT collected likewise ``4457`` + the code (4457200 for 20 %).
- **Customers**: 411000 with one auxiliary account per customer of the source, and one
  shared auxiliary ``COMPTOIR`` for tickets without a customer ("clients comptoir").
- **Cash differences**: 658000 (shortage, "Charges diverses de gestion courante") and
  758000 (surplus, "Produits divers de gestion courante").
- **E-commerce**: journal ``WEB`` (not ``VTE``, which the firm's own invoicing uses);
  shipping → 708500 "Ports et frais accessoires facturés"; gift cards sold → 419100
  "Clients – avances et acomptes reçus" (a multi-purpose voucher is an advance: its VAT is
  due when it is spent); the home country ``FR`` is booked at the rates the shop charged.
  Other countries (OSS, exports) and currency rates are the firm's decision: no default.

Form fields of the mapping screen (``parse_form``). Every field is optional: a field
absent from the form keeps its current value, a field present and empty clears an
optional choice (and is an error for a required one). ``<rate>`` is a percentage
(``5.5`` or ``5,5``), ``<CC>`` an ISO country code, ``<CUR>`` an ISO currency code.

POS:
    ``journal.<location_id>``  journal code of a register (2–5 upper-case letters/digits, distinct)
    ``journal``                journal of tickets that name no register
    ``sales_by``               ``vat_rate`` or ``category``
    ``customer``               customers' collective account (411…), required
    ``walk_in``                auxiliary account of tickets without a customer, required
    ``tips``                   tips account, required
    ``shortage`` / ``surplus`` cash differences (6… / 7…), required
E-commerce:
    ``web_journal``            the journal of orders and refunds, required
    ``country_rate.<CC>``      VAT rate applied to orders delivered there, or ``lines`` (the
                               rates the shop charged on each line); empty: no rule
    ``country_sales.<CC>``     that country's own sales account (optional: OSS, exports)
    ``country_vat.<CC>``       that country's own VAT/tax account (optional, 44…)
    ``shipping``               shipping charged (70…), required
    ``gift_cards``             gift cards sold (4…), required
    ``currency.<CUR>``         euros for one unit of the currency (``0,92``); empty: none
Both:
    ``payment.<method_id>``    account of a payment method; empty: unmapped (fallback)
    ``fallback_payment``       account of unmapped payment methods, required
    ``sales_rate.<rate>``      sales account of a VAT rate (70…)
    ``sales_category.<id>``    sales account of a product category (70…)
    ``vat.<rate>``             VAT collected account of a rate (4457…)
    ``customer``               as above (e-commerce customers are 411 too)

Errors are French msgids (``N_``), keyed by field name; on any error nothing is applied.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from portal.i18n import N_, gettext
from portal.integrations.commerce.records import ReferenceData
from portal.integrations.commerce.sources import Source
from portal.web import forms

SALES_BY_RATE = "vat_rate"
SALES_BY_CATEGORY = "category"
LINE_RATES = "lines"  # form value of ``country_rate.<CC>``: the rates the shop charged on each line
HOME_COUNTRY = "FR"  # e-commerce orders that name no country are domestic sales
WALK_IN_LABEL = "Clients comptoir"

# Restaurant-oriented POS: their sales are meals served, a service (706), not goods resold (707).
RESTAURANT_SOURCES = frozenset({"cashpad", "innovorder", "popina", "trivec", "zelty"})

# French VAT rates (metropolitan, Corsica, overseas departments) that get default accounts.
# 1,75 % and 1,05 % (overseas) have no code in tenths: they are mapped by hand.
FRENCH_RATES = frozenset(Decimal(rate) for rate in ("20", "13", "10", "8.5", "5.5", "2.1", "0.9", "0"))

CASH = ("530000", "Caisse")
CHEQUES = ("511200", "Chèques à encaisser")
CARDS = ("511500", "Cartes bancaires à encaisser")
MEAL_VOUCHERS = ("511800", "Titres-restaurant à encaisser")
BANK = ("512000", "Banque")
PAYPAL = ("517100", "PayPal")
STRIPE = ("517200", "Stripe")
SHOPIFY_PAYMENTS = ("517300", "Shopify Payments")
WAITING = ("471000", "Compte d'attente")
TIPS = ("428600", "Personnel – autres charges à payer (pourboires)")
CUSTOMERS = ("411000", "Clients")
SHORTAGE = ("658000", "Charges diverses de gestion courante (écarts de caisse)")
SURPLUS = ("758000", "Produits divers de gestion courante (écarts de caisse)")
SHIPPING = ("708500", "Ports et frais accessoires facturés")
GIFT_CARDS = ("419100", "Clients – avances et acomptes reçus (cartes cadeaux)")
SERVICES = ("706", "Prestations de services")
GOODS = ("707", "Ventes de marchandises")
VAT_COLLECTED = ("4457", "TVA collectée")
POS_JOURNAL = "CA"
WEB_JOURNAL = "WEB"
WALK_IN = "COMPTOIR"

# Payment methods recognised by name: (words of the normalised name, account). First match wins,
# so "carte cadeau" is a gift card before it is a card.
_METHOD_RULES: tuple[tuple[frozenset[str], tuple[str, str]], ...] = (
    (frozenset({"cadeau", "gift", "giftcard", "bon", "voucher", "avoir"}), GIFT_CARDS),
    (frozenset({"restaurant", "resto", "tr", "swile", "edenred", "sodexo", "pluxee", "dejeuner", "meal"}),
     MEAL_VOUCHERS),
    (frozenset({"espece", "especes", "cash", "liquide", "liquides", "numeraire"}), CASH),
    (frozenset({"cheque", "cheques", "check", "chq"}), CHEQUES),
    (frozenset({"paypal"}), PAYPAL),
    (frozenset({"stripe"}), STRIPE),
    (frozenset({"shopify_payments", "shopifypayments"}), SHOPIFY_PAYMENTS),
    (frozenset({"virement", "transfer", "bacs", "sepa", "wire", "bank", "banque"}), BANK),
    (frozenset({"carte", "cb", "card", "credit", "debit", "visa", "mastercard", "amex", "tpe", "sumup", "bancaire"}),
     CARDS),
)  # fmt: skip

# Labels of the accounts the defaults use, for the caller that creates them (CompteLib).
PCG_LABELS: dict[str, str] = dict(
    (CASH, CHEQUES, CARDS, MEAL_VOUCHERS, BANK, PAYPAL, STRIPE, SHOPIFY_PAYMENTS, WAITING, TIPS, CUSTOMERS,
     SHORTAGE, SURPLUS, SHIPPING, GIFT_CARDS, SERVICES, GOODS, VAT_COLLECTED,
     ("4191", "Clients – avances et acomptes reçus"), ("411", "Clients"), ("44", "État et autres collectivités"),
     ("445", "État – taxes sur le chiffre d'affaires"), ("47", "Comptes transitoires ou d'attente"),
     ("5", "Comptes financiers"), ("511", "Valeurs à l'encaissement"), ("512", "Banques"),
     ("517", "Autres organismes financiers"), ("53", "Caisse"), ("58", "Virements internes"),
     ("467", "Autres comptes débiteurs ou créditeurs"), ("428", "Personnel – charges à payer"),
     ("6", "Charges"), ("658", "Charges diverses de gestion courante"), ("7", "Produits"), ("70", "Ventes"),
     ("708", "Produits des activités annexes"), ("758", "Produits divers de gestion courante"))
)  # fmt: skip


# --- Rates, accounts, journals --------------------------------------------------------------


def parse_rate(value: Decimal | str | int) -> Decimal:
    """A VAT rate in percent from a Decimal, an int or text (``5,5``, ``5.50``, ``5,5 %``); raises ValueError."""
    if isinstance(value, Decimal):
        rate = value
    else:
        text = str(value).replace("%", "").replace(",", ".").strip()
        try:
            rate = Decimal(text)
        except InvalidOperation as error:
            raise ValueError(text) from error
    if not rate.is_finite() or rate < 0 or rate >= 100:  # noqa: PLR2004 - a percentage
        raise ValueError(str(value))
    return rate


def rate_key(value: Decimal | str | int) -> str:
    """The normalised key of a rate: ``Decimal("5.50")``, ``"5.5"``, ``"5,5"`` → ``"5.5"``; ``20`` → ``"20"``."""
    text = format(parse_rate(value).normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def rate_label(value: Decimal | str | int) -> str:
    """A rate as the French screens write it: ``5,5 %``."""
    return f"{rate_key(value).replace('.', ',')} %"


def rate_code(value: Decimal | str | int) -> str | None:
    """The rate's code in account numbers: its tenths on three digits (20 → ``200``, 5,5 → ``055``), or None."""
    tenths = parse_rate(value) * 10
    if tenths != tenths.to_integral_value():
        return None
    return f"{int(tenths):03d}"


def clean_account(text: str) -> str:
    """An account number as typed, without spaces (``706 000`` → ``706000``)."""
    return "".join(text.split())


_ACCOUNT = re.compile(r"[0-9]{3,12}")
_JOURNAL = re.compile(r"[A-Z0-9]{2,5}")
_AUX = re.compile(r"[A-Z0-9]{1,17}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")

ERR_REQUIRED = N_("Ce compte est obligatoire.")
ERR_DIGITS = N_("Numéro de compte invalide : des chiffres uniquement (ex. 706000).")
ERR_LENGTH = N_("Numéro de compte invalide : de 3 à 12 chiffres.")
ERR_SALES = N_("Un compte de ventes commence par 70.")
ERR_VAT = N_("Un compte de TVA collectée commence par 4457.")
ERR_TAX = N_("Un compte de taxe commence par 44.")
ERR_PAYMENT = N_(
    "Un compte de règlement est un compte de classe 5 (caisse, banque, valeurs à l'encaissement), "
    "467, 4191 ou un compte d'attente (471 à 473)."
)
ERR_CUSTOMER = N_("Le compte collectif des clients commence par 411.")
ERR_TIPS = N_("Les pourboires vont à un compte de tiers (classe 4, ex. 428600) ou de produits (classe 7).")
ERR_SHORTAGE = N_("Un manquant de caisse va à un compte de charges, classe 6 (ex. 658000).")
ERR_SURPLUS = N_("Un excédent de caisse va à un compte de produits, classe 7 (ex. 758000).")
ERR_GIFT_CARDS = N_("Les cartes cadeaux vendues vont à un compte de tiers, classe 4 (ex. 419100).")
ERR_JOURNAL = N_("Code journal invalide : de 2 à 5 lettres majuscules ou chiffres (ex. CA1).")
ERR_JOURNAL_TWICE = N_("Chaque caisse a son propre journal : ce code est déjà pris par une autre caisse.")
ERR_AUX = N_("Compte auxiliaire invalide : de 1 à 17 lettres majuscules ou chiffres (ex. COMPTOIR).")
ERR_SALES_BY = N_("Choisissez la ventilation des ventes : par taux de TVA ou par catégorie de produits.")
ERR_NO_CATEGORIES = N_("Ce logiciel ne transmet pas de catégories de produits : ventilez les ventes par taux de TVA.")
ERR_RATE = N_("Taux de TVA invalide (ex. 20 ou 5,5).")
ERR_COUNTRY = N_("Code pays invalide : deux lettres (ex. DE).")
ERR_COUNTRY_RATE = N_("Indiquez le taux de TVA appliqué aux commandes livrées dans ce pays.")
ERR_CURRENCY = N_("Code devise invalide : trois lettres (ex. USD).")
ERR_CURRENCY_RATE = N_("Taux de conversion invalide : le nombre d'euros pour une unité de la devise (ex. 0,92).")

# What an account must start with, per use, and the message when it does not.
_PAYMENT_PREFIXES = ("5", "467", "471", "472", "473", "4191")
_RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "sales": (("70",), ERR_SALES),
    "vat": (("4457",), ERR_VAT),
    "tax": (("44",), ERR_TAX),
    "payment": (_PAYMENT_PREFIXES, ERR_PAYMENT),
    "customer": (("411",), ERR_CUSTOMER),
    "tips": (("4", "7"), ERR_TIPS),
    "shortage": (("6",), ERR_SHORTAGE),
    "surplus": (("7",), ERR_SURPLUS),
    "gift_cards": (("4",), ERR_GIFT_CARDS),
}


def check_account(number: str, use: str) -> str | None:
    """The msgid of what is wrong with ``number`` as an account for ``use`` (a key of the rules), or None."""
    if not number.isdigit() or not number.isascii():
        return ERR_DIGITS
    if not _ACCOUNT.fullmatch(number):
        return ERR_LENGTH
    prefixes, message = _RULES[use]
    return None if number.startswith(prefixes) else message


def journal_names(mapping: Mapping, reference: ReferenceData, shop: str = "") -> dict[str, str]:
    """What each journal stands for, in words (a FEC's JournalLib): its register's name (``Salle``),
    the web shop's, or « Caisse » for the journal of tickets that name no register."""
    locations = {location.id: location.name for location in reference.locations}
    names: dict[str, list[str]] = {}
    for location, code in mapping.journals.items():
        if code:
            names.setdefault(code, []).append(locations.get(location, location))
    result = {code: ", ".join(sorted(registers)) for code, registers in names.items()}
    result.setdefault(mapping.journal, "Caisse")
    result.setdefault(mapping.web_journal, shop or "Boutique en ligne")
    return result


def account_label(number: str) -> str:
    """A label for an account the mapping uses: the PCG's, by the longest known prefix."""
    for length in range(len(number), 0, -1):
        label = PCG_LABELS.get(number[:length])
        if label is not None:
            return label
    return number


def default_sales_account(source: Source) -> str:
    """706 for restaurant POS (meals served are a service), 707 for everything else (goods resold)."""
    return SERVICES[0] if source.code in RESTAURANT_SOURCES else GOODS[0]


def sales_account_for_rate(base: str, rate: Decimal) -> str | None:
    """The default sales sub-account of a rate: ``7070200`` (707, 20 %); None for a rate without a code."""
    code = rate_code(rate)
    return None if code is None else f"{base}0{code}"


def vat_account_for_rate(rate: Decimal) -> str | None:
    """The default VAT collected account of a rate: ``4457`` + its code (4457200 for 20 %); None at 0 %."""
    code = rate_code(rate)
    return None if code is None or rate == 0 else f"{VAT_COLLECTED[0]}{code}"


def _words(name: str) -> set[str]:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = set(re.split(r"[^a-z0-9_]+", ascii_name)) - {""}
    return words | {word.replace("_", "") for word in words} | set(re.split(r"[^a-z0-9]+", ascii_name))


def recognise_payment_method(name: str, method_id: str = "") -> tuple[str, str] | None:
    """The default (account, label) of a payment method from its name (or id), or None if unknown."""
    words = _words(name) | _words(method_id)
    for keywords, account in _METHOD_RULES:
        if words & keywords:
            return account
    return None


# --- The mapping ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountryRule:
    """How orders delivered to a country are booked.

    ``rate`` is the VAT rate applied there (0 for an export), or None for the rates the
    shop charged on each line (the home country, where a shop sells at several rates).
    The amounts are always the shop's: what the customer paid. The rule's own accounts,
    when set, take those sales and taxes apart (OSS sales to another EU country, exports
    exonérées, a foreign sales tax collected for another state).
    """

    rate: Decimal | None = None
    sales_account: str | None = None
    vat_account: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"rate": None if self.rate is None else rate_key(self.rate), "sales_account": self.sales_account,
                "vat_account": self.vat_account}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CountryRule:
        rate = data.get("rate")
        return cls(
            rate=None if rate in {None, ""} else Decimal(rate_key(rate)),
            sales_account=data.get("sales_account") or None,
            vat_account=data.get("vat_account") or None,
        )


@dataclass
class Mapping:
    """One connection's journals and accounts (see the module docstring for the defaults)."""

    # POS
    journals: dict[str, str] = field(default_factory=dict)  # location id → journal code
    journal: str = POS_JOURNAL  # tickets that name no register
    tips_account: str = TIPS[0]
    sales_by: str = SALES_BY_RATE
    walk_in_aux: str = WALK_IN
    shortage_account: str = SHORTAGE[0]
    surplus_account: str = SURPLUS[0]
    # Both
    payment_accounts: dict[str, str] = field(default_factory=dict)  # payment method id → account
    fallback_payment_account: str = WAITING[0]
    sales_by_rate: dict[str, str] = field(default_factory=dict)  # rate key → sales account
    sales_by_category: dict[str, str] = field(default_factory=dict)  # category id → sales account
    vat_accounts: dict[str, str] = field(default_factory=dict)  # rate key → VAT collected account
    customer_account: str = CUSTOMERS[0]
    # E-commerce
    web_journal: str = WEB_JOURNAL
    country_rules: dict[str, CountryRule] = field(default_factory=dict)  # ISO country code → rule
    shipping_account: str = SHIPPING[0]
    gift_card_account: str = GIFT_CARDS[0]
    currency_rates: dict[str, Decimal] = field(default_factory=dict)  # currency → euros per unit

    VERSION = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.VERSION,
            "journals": dict(self.journals),
            "journal": self.journal,
            "tips_account": self.tips_account,
            "sales_by": self.sales_by,
            "walk_in_aux": self.walk_in_aux,
            "shortage_account": self.shortage_account,
            "surplus_account": self.surplus_account,
            "payment_accounts": dict(self.payment_accounts),
            "fallback_payment_account": self.fallback_payment_account,
            "sales_by_rate": dict(self.sales_by_rate),
            "sales_by_category": dict(self.sales_by_category),
            "vat_accounts": dict(self.vat_accounts),
            "customer_account": self.customer_account,
            "web_journal": self.web_journal,
            "country_rules": {code: rule.to_json() for code, rule in self.country_rules.items()},
            "shipping_account": self.shipping_account,
            "gift_card_account": self.gift_card_account,
            "currency_rates": {code: str(rate) for code, rate in self.currency_rates.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Mapping:
        data = data or {}
        base = cls()

        def text(name: str) -> str:
            value = data.get(name)
            return str(value) if value else str(getattr(base, name))

        return cls(
            journals={str(k): str(v) for k, v in (data.get("journals") or {}).items()},
            journal=text("journal"),
            tips_account=text("tips_account"),
            sales_by=text("sales_by"),
            walk_in_aux=text("walk_in_aux"),
            shortage_account=text("shortage_account"),
            surplus_account=text("surplus_account"),
            payment_accounts={str(k): str(v) for k, v in (data.get("payment_accounts") or {}).items()},
            fallback_payment_account=text("fallback_payment_account"),
            sales_by_rate={rate_key(k): str(v) for k, v in (data.get("sales_by_rate") or {}).items()},
            sales_by_category={str(k): str(v) for k, v in (data.get("sales_by_category") or {}).items()},
            vat_accounts={rate_key(k): str(v) for k, v in (data.get("vat_accounts") or {}).items()},
            customer_account=text("customer_account"),
            web_journal=text("web_journal"),
            country_rules={str(k).upper(): CountryRule.from_json(v)
                           for k, v in (data.get("country_rules") or {}).items()},
            shipping_account=text("shipping_account"),
            gift_card_account=text("gift_card_account"),
            currency_rates={str(k).upper(): Decimal(str(v)) for k, v in (data.get("currency_rates") or {}).items()},
        )  # fmt: skip

    def copy(self) -> Mapping:
        """A copy whose dictionaries can be changed without touching this one."""
        return replace(self, journals=dict(self.journals), payment_accounts=dict(self.payment_accounts),
                       sales_by_rate=dict(self.sales_by_rate), sales_by_category=dict(self.sales_by_category),
                       vat_accounts=dict(self.vat_accounts), country_rules=dict(self.country_rules),
                       currency_rates=dict(self.currency_rates))  # fmt: skip


# --- Defaults -----------------------------------------------------------------------------------


def _french_rates(source: Source, reference: ReferenceData) -> list[Decimal]:
    """The reference's rates that are French rates (e-commerce: taxes of no country or of France)."""
    rates: dict[str, Decimal] = {}
    for tax in reference.tax_rates:
        if not source.is_pos and tax.country not in {None, HOME_COUNTRY}:
            continue
        if tax.rate in FRENCH_RATES:
            rates.setdefault(rate_key(tax.rate), tax.rate)
    return list(rates.values())


def complete(mapping: Mapping, source: Source, reference: ReferenceData) -> Mapping:
    """``mapping`` with defaults for what the reference lists and the mapping does not have yet.

    Choices already made are kept; this is how a register, a payment method or a rate that
    appears after the connection was set up gets its default (unknown ones stay missing).
    """
    result = mapping.copy()
    if source.is_pos:
        _default_journals(result, reference)
    for method in reference.payment_methods:
        known = None if method.id in result.payment_accounts else recognise_payment_method(method.name, method.id)
        if known is not None:
            result.payment_accounts[method.id] = known[0]
    base = default_sales_account(source)
    for rate in _french_rates(source, reference):
        key = rate_key(rate)
        sales, vat = sales_account_for_rate(base, rate), vat_account_for_rate(rate)
        if sales:
            result.sales_by_rate.setdefault(key, sales)
        if vat:
            result.vat_accounts.setdefault(key, vat)
    if not source.is_pos:
        result.country_rules.setdefault(HOME_COUNTRY, CountryRule(rate=None))
    return result


def _default_journals(mapping: Mapping, reference: ReferenceData) -> None:
    """``CA1``, ``CA2``… for the registers without a journal, skipping codes already taken."""
    taken = set(mapping.journals.values())
    number = 1
    for location in reference.locations:
        if location.id in mapping.journals:
            continue
        while f"{POS_JOURNAL}{number}" in taken:
            number += 1
        mapping.journals[location.id] = f"{POS_JOURNAL}{number}"
        taken.add(mapping.journals[location.id])


def default_mapping(source: Source, reference: ReferenceData) -> Mapping:
    """The mapping a new connection starts with: everything the PCG settles, nothing it does not."""
    return complete(Mapping(), source, reference)


# --- What is not mapped yet -------------------------------------------------------------------------


@dataclass(frozen=True)
class Missing:
    """Something not mapped yet, as the screen lists it; ``blocking``: records needing it are not posted.

    ``message`` is the French text, ``text()`` the text in the current language (from
    ``msgid`` and ``params``); ``field`` is the form field that settles it.
    """

    key: str
    field: str
    msgid: str
    params: tuple[tuple[str, str], ...] = ()
    blocking: bool = True

    @property
    def message(self) -> str:
        return self.msgid % dict(self.params)

    def text(self) -> str:
        """The message in the current language."""
        return gettext(self.msgid) % dict(self.params)


MISSING_JOURNAL = N_("Caisse « %(name)s » sans journal : ses tickets ne peuvent pas être comptabilisés")
MISSING_PAYMENT = N_(
    "Moyen de paiement « %(name)s » sans compte : ses règlements iront au compte d'attente %(account)s"
)
MISSING_SALES = N_("Taux de TVA %(rate)s sans compte de ventes")
MISSING_VAT = N_("Taux de TVA %(rate)s sans compte de TVA collectée")
MISSING_CATEGORY = N_("Catégorie « %(name)s » sans compte de ventes : ses ventes iront au compte de leur taux de TVA")
MISSING_COUNTRY = N_("Pays de livraison %(code)s sans règle de TVA")
MISSING_COUNTRY_TAX = N_("Pays de livraison %(code)s : taxe facturée sans compte de TVA")
MISSING_CURRENCY = N_("Devise %(code)s sans taux de conversion")


def missing_journal(location_id: str, name: str) -> Missing:
    return Missing(f"journal:{location_id}", f"journal.{location_id}", MISSING_JOURNAL, (("name", name),))


def missing_payment(method_id: str, name: str, fallback: str) -> Missing:
    return Missing(f"payment:{method_id}", f"payment.{method_id}", MISSING_PAYMENT,
                   (("name", name), ("account", fallback)), blocking=False)  # fmt: skip


def missing_sales(rate: Decimal) -> Missing:
    key = rate_key(rate)
    return Missing(f"sales_rate:{key}", f"sales_rate.{key}", MISSING_SALES, (("rate", rate_label(rate)),))


def missing_vat(rate: Decimal) -> Missing:
    key = rate_key(rate)
    return Missing(f"vat:{key}", f"vat.{key}", MISSING_VAT, (("rate", rate_label(rate)),))


def missing_category(category_id: str, name: str) -> Missing:
    return Missing(f"sales_category:{category_id}", f"sales_category.{category_id}", MISSING_CATEGORY,
                   (("name", name),), blocking=False)  # fmt: skip


def missing_country(code: str) -> Missing:
    return Missing(f"country:{code}", f"country_rate.{code}", MISSING_COUNTRY, (("code", code),))


def missing_country_tax(code: str) -> Missing:
    return Missing(f"country_vat:{code}", f"country_vat.{code}", MISSING_COUNTRY_TAX, (("code", code),))


def missing_currency(code: str) -> Missing:
    return Missing(f"currency:{code}", f"currency.{code}", MISSING_CURRENCY, (("code", code),))


def _rate_needs(mapping: Mapping, rate: Decimal, *, sales: bool = True, vat: bool = True) -> list[Missing]:
    key = rate_key(rate)
    found = []
    if sales and not mapping.sales_by_rate.get(key):
        found.append(missing_sales(rate))
    if vat and rate != 0 and not mapping.vat_accounts.get(key):
        found.append(missing_vat(rate))
    return found


def _country_needs(mapping: Mapping, reference: ReferenceData, code: str, rule: CountryRule) -> list[Missing]:
    """The rate accounts a country's orders need: its rule's rate, or the shop's rates for that country."""
    if rule.rate is not None:
        rates = [rule.rate]
    else:
        rates = [tax.rate for tax in reference.tax_rates if (tax.country or HOME_COUNTRY) == code]
    found: list[Missing] = []
    for rate in rates:
        found += _rate_needs(mapping, rate, sales=rule.sales_account is None, vat=rule.vat_account is None)
    return found


def missing(
    mapping: Mapping, source: Source, reference: ReferenceData, *, currencies: Iterable[str] = ()
) -> list[Missing]:
    """What the mapping does not cover yet among what the reference lists, blocking items first.

    ``currencies``: the currencies of the orders seen (the reference data lists none).
    """
    found: dict[str, Missing] = {}

    def add(items: Iterable[Missing]) -> None:
        for item in items:
            found.setdefault(item.key, item)

    if source.is_pos:
        add(missing_journal(loc.id, loc.name) for loc in reference.locations if not mapping.journals.get(loc.id))
        for tax in reference.tax_rates:
            add(_rate_needs(mapping, tax.rate))
        if mapping.sales_by == SALES_BY_CATEGORY:
            add(missing_category(category.id, category.name) for category in reference.categories
                if not mapping.sales_by_category.get(category.id))  # fmt: skip
    else:
        add(missing_country(country.code) for country in reference.countries
            if country.code not in mapping.country_rules)  # fmt: skip
        for code, rule in sorted(mapping.country_rules.items()):
            add(_country_needs(mapping, reference, code, rule))
        add(missing_currency(code.upper()) for code in sorted(set(currencies))
            if code.upper() != "EUR" and code.upper() not in mapping.currency_rates)  # fmt: skip
    add(missing_payment(method.id, method.name, mapping.fallback_payment_account)
        for method in reference.payment_methods if not mapping.payment_accounts.get(method.id))  # fmt: skip
    return sorted(found.values(), key=lambda item: not item.blocking)


# --- The mapping screen's form ------------------------------------------------------------------------


_SINGLE_ACCOUNT_NAMES = ("fallback_payment", "tips", "customer", "shortage", "surplus", "shipping", "gift_cards")
# Each field's maximum length (the template's ``maxlength``), by field name or by prefix before the dot.
ACCOUNT_MAX_LENGTH = 20  # 3 to 12 digits, typed with spaces ("706 000")
_FIELD_LIMITS: dict[str, int] = {
    "journal": 5, "web_journal": 5, "walk_in": 17, "sales_by": forms.CHOICE_MAX_LENGTH,
    "country_rate": 10, "currency": 20,
    **dict.fromkeys(("payment", "sales_rate", "sales_category", "vat", "country_sales", "country_vat",
                     *_SINGLE_ACCOUNT_NAMES), ACCOUNT_MAX_LENGTH),
}  # fmt: skip
_NAME_MAX_LENGTH = 200  # a field's name holds an id of the source's data


def field_limit(name: str) -> int | None:
    """The maximum length of the field ``name`` of the screen, None if the field is not the mapping's."""
    if len(name) > _NAME_MAX_LENGTH:
        return None
    return _FIELD_LIMITS.get(name, _FIELD_LIMITS.get(name.partition(".")[0]) if "." in name else None)


def read_form(form: AbcMapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The screen's fields as posted, each cut to its limit, and the message of each that was longer.

    Fields that are not the mapping's (the CSRF token, a button) are left out: ``parse_form`` ignores them.
    """
    values: dict[str, str] = {}
    too_long: dict[str, str] = {}
    for name in form:
        limit = field_limit(name)
        if limit is None:
            continue
        value = str(form.get(name) or "")
        if len(value) > limit:
            value, too_long[name] = value[:limit], forms.too_long(limit)
        values[name] = value
    return values, too_long


def _value(raw: str | list[str]) -> str:
    if isinstance(raw, list):
        raw = next((value for value in reversed(raw) if value.strip()), raw[-1] if raw else "")
    return raw.strip()


def _parse_decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_form(  # noqa: C901, PLR0912, PLR0915 - one flat pass over the screen's fields reads best
    form: AbcMapping[str, str | list[str]], source: Source, reference: ReferenceData, current: Mapping
) -> tuple[Mapping, dict[str, str]]:
    """The mapping the screen's ``form`` describes, and its errors (field → French msgid).

    On any error the returned mapping is ``current`` unchanged: nothing is half-applied.
    """
    new = current.copy()
    errors: dict[str, str] = {}
    rules: dict[str, dict[str, str]] = {}  # country → its three fields as typed
    del reference  # the form may name items the reference does not list yet (seen in orders)

    def account(name: str, text: str, use: str, *, required: bool) -> str | None:
        number = clean_account(text)
        if not number:
            if required:
                errors[name] = ERR_REQUIRED
            return None
        problem = check_account(number, use)
        if problem:
            errors[name] = problem
            return None
        return number

    def rate_of(name: str, text: str) -> str | None:
        try:
            return rate_key(text)
        except ValueError:
            errors[name] = ERR_RATE
            return None

    for name, raw in form.items():
        value = _value(raw)
        prefix, _dot, key = name.partition(".")
        if prefix == "journal" and key:
            code = value.upper()
            if _JOURNAL.fullmatch(code):
                new.journals[key] = code
            else:
                errors[name] = ERR_JOURNAL
        elif name in {"journal", "web_journal"}:
            code = value.upper()
            if _JOURNAL.fullmatch(code):
                setattr(new, name, code)
            else:
                errors[name] = ERR_JOURNAL
        elif prefix == "payment" and key:
            number = account(name, value, "payment", required=False)
            if number:
                new.payment_accounts[key] = number
            elif name not in errors:
                new.payment_accounts.pop(key, None)
        elif prefix in {"sales_rate", "vat"} and key:
            rate = rate_of(name, key)
            target = new.sales_by_rate if prefix == "sales_rate" else new.vat_accounts
            number = account(name, value, "sales" if prefix == "sales_rate" else "vat", required=False)
            if rate is not None and number:
                target[rate] = number
            elif rate is not None and name not in errors:
                target.pop(rate, None)
        elif prefix == "sales_category" and key:
            number = account(name, value, "sales", required=False)
            if number:
                new.sales_by_category[key] = number
            elif name not in errors:
                new.sales_by_category.pop(key, None)
        elif prefix in {"country_rate", "country_sales", "country_vat"} and key:
            code = key.upper()
            if _COUNTRY.fullmatch(code):
                rules.setdefault(code, {})[prefix] = value
            else:
                errors[name] = ERR_COUNTRY
        elif prefix == "currency" and key:
            code = key.upper()
            rate_value = _parse_decimal(value) if value else None
            if not _CURRENCY.fullmatch(code):
                errors[name] = ERR_CURRENCY
            elif not value:
                new.currency_rates.pop(code, None)
            elif rate_value is None or rate_value <= 0:
                errors[name] = ERR_CURRENCY_RATE
            else:
                new.currency_rates[code] = rate_value
        elif name == "sales_by":
            if value not in {SALES_BY_RATE, SALES_BY_CATEGORY}:
                errors[name] = ERR_SALES_BY
            elif value == SALES_BY_CATEGORY and not source.categories:
                errors[name] = ERR_NO_CATEGORIES
            else:
                new.sales_by = value
        elif name == "walk_in":
            aux = value.upper()
            if _AUX.fullmatch(aux):
                new.walk_in_aux = aux
            else:
                errors[name] = ERR_AUX
        elif name in _SINGLE_ACCOUNTS:
            attribute, use = _SINGLE_ACCOUNTS[name]
            number = account(name, value, use, required=True)
            if number:
                setattr(new, attribute, number)
        # Anything else (the CSRF token, a button's name) is not the mapping's: ignored.

    for code, typed in rules.items():
        _parse_country_rule(code, typed, new=new, current=current, errors=errors, account=account)

    journals = [journal for location, journal in new.journals.items() if location]
    for name in form:
        prefix, _dot, key = name.partition(".")
        if prefix == "journal" and key and name not in errors and journals.count(new.journals[key]) > 1:
            errors[name] = ERR_JOURNAL_TWICE
    return (current, errors) if errors else (new, errors)


_SINGLE_ACCOUNTS: dict[str, tuple[str, str]] = {
    "fallback_payment": ("fallback_payment_account", "payment"),
    "tips": ("tips_account", "tips"),
    "customer": ("customer_account", "customer"),
    "shortage": ("shortage_account", "shortage"),
    "surplus": ("surplus_account", "surplus"),
    "shipping": ("shipping_account", "sales"),
    "gift_cards": ("gift_card_account", "gift_cards"),
}


def _parse_country_rule(
    code: str,
    typed: dict[str, str],
    *,
    new: Mapping,
    current: Mapping,
    errors: dict[str, str],
    account: Callable[..., str | None],
) -> None:
    """Apply one country's fields: absent ones keep the current rule's values; all empty removes the rule."""
    old = current.country_rules.get(code)
    rate_text = typed.get("country_rate")
    if rate_text is None:
        rate_text = "" if old is None else (LINE_RATES if old.rate is None else rate_key(old.rate))
    sales = typed.get("country_sales", (old.sales_account or "") if old else "")
    vat = typed.get("country_vat", (old.vat_account or "") if old else "")
    if not rate_text and not clean_account(sales) and not clean_account(vat):
        new.country_rules.pop(code, None)
        return
    rate: Decimal | None = None
    if not rate_text:
        errors[f"country_rate.{code}"] = ERR_COUNTRY_RATE
    elif rate_text.lower() != LINE_RATES:
        try:
            rate = Decimal(rate_key(rate_text))
        except ValueError:
            errors[f"country_rate.{code}"] = ERR_RATE
    sales_account = account(f"country_sales.{code}", sales, "sales", required=False)
    vat_account = account(f"country_vat.{code}", vat, "tax", required=False)
    new.country_rules[code] = CountryRule(rate=rate, sales_account=sales_account, vat_account=vat_account)
