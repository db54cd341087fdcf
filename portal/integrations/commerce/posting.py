"""The posting rules: POS tickets, payments, closings and e-commerce orders as French entries.

Domain notes §5 give the scheme, which is the PCG's and the one cash-register software
documents (Kash.Click: three events, each its own entries):

==================  ==========================================  ======================================
event               debit                                        credit
==================  ==========================================  ======================================
ticket (ORDER)      411 + the customer's auxiliary, TTC           sales per VAT rate (or category), HT;
                                                                 VAT collected per rate
payment (PAYMENT)   the payment method's account, total + tip    411 + auxiliary, total; tips, the tip
closing (CLOSURE)   658 (shortage) / the method's account         the method's account / 758 (surplus)
web order           411 + auxiliary, TTC; then the method's       sales by category/country/rate HT,
                    account against 411 (PAYMENT ``web:<id>``)     shipping, gift cards sold, VAT
==================  ==========================================  ======================================

Money received debits the class-5 account and credits the customer: the seed's wording
("débit du compte client") speaks from the customer's side. A refund ticket (negative
amounts, ``refund_of``) and an e-commerce refund are the exact reverse of a sale: the same
computation, sides swapped, positive amounts.

Amounts: VAT is rounded per rate, not per line, as a receipt does: the VAT of a rate is
the sum of its items' VAT (or, when the POS sends none, TTC − TTC / (1 + rate) rounded
half-up to the cent) and HT = TTC − VAT, so each entry balances to the cent by
construction; it is checked anyway and an unbalanced entry raises rather than posts. A
general discount (``general_discount`` items, or an order ``total_discount`` that its
items do not include yet) is spread over the rates in proportion to their TTC, the last
rate taking the remainder. Foreign-currency web orders are converted per entry line with
the mapping's rate, rounded to the cent, and the customer line is their sum.

*Z de caisse* (seed 004, « Fermeture de caisse »: global entries at the till's closing): when
the connection asks for it, the entries of a register's day (tickets, payments, refunds; for a
web shop its orders, refunds and payments) are not stored one by one but summed into ONE entry
per journal and day (``Poster.summary``): each account's net movement, so sales per VAT rate
(HT), VAT collected per rate, each payment method's takings, tips, and what customers still
owe, labelled in words. The sum of balanced entries balances; it is checked all the same. The
register's closing (cash differences) stays an entry of its own.

Anything blocking that the mapping lacks raises ``Unmapped`` with the full list, so the
caller leaves the day unposted and shows it; an unmapped payment method is not blocking:
its money goes to the fallback (waiting) account and ``Poster.fallback_methods`` names it.

A ``Poster`` is built once per sync and then called for every record: everything it can
look up is resolved in ``__init__`` (dicts keyed by the rate as a Decimal, which hashes by
value, so ``Decimal("5.50")`` finds ``5.5``), and the per-order path does plain dict and
Decimal arithmetic, no logging, no context changes: a benchmark posts 100,000 orders at
2,000 orders/s per worker including the database writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from portal.integrations.commerce.entries import CENT, DraftEntry, DraftLine, EntryKind
from portal.integrations.commerce.mapping import (
    HOME_COUNTRY,
    SALES_BY_CATEGORY,
    WALK_IN_LABEL,
    CountryRule,
    Mapping,
    Missing,
    journal_names,
    missing_country,
    missing_country_tax,
    missing_currency,
    missing_journal,
    missing_sales,
    missing_vat,
    rate_label,
)
from portal.integrations.commerce.records import (
    ClosureEntry,
    CommerceCustomer,
    CommerceLine,
    CommerceOrder,
    CommerceRefund,
    Order,
    ReferenceData,
)
from portal.integrations.commerce.sources import Source

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
EURO = "EUR"
PARIS = ZoneInfo("Europe/Paris")  # the day a web order belongs to, for a French business
AUX_MAX = 17  # auxiliary account numbers: "C" + up to 16 characters
_HALF_UP = ROUND_HALF_UP


class Unmapped(Exception):  # noqa: N818 - the brief's name: what is raised is a list of unmapped items
    """Records that need what the mapping does not have yet: ``items`` says what, in French."""

    def __init__(self, items: list[Missing]) -> None:
        unique = list({item.key: item for item in items}.values())
        super().__init__("; ".join(item.message for item in unique))
        self.items = unique


class UnbalancedEntryError(ValueError):
    """An entry whose debits and credits differ: a bug in the rules, never posted."""


def customer_aux(customer_id: str, walk_in: str = "") -> str:
    """The auxiliary account of a source's customer: ``C`` + its id when that is short upper-case
    alphanumerics (``C207119551``), else ``C`` + 8 of them and 8 characters of its hash, at most 17.

    Deterministic, so a customer keeps the same auxiliary across syncs; an id that would
    collide with the walk-in auxiliary or lose characters in the cleaning is hashed.
    """
    cleaned = "".join(char for char in customer_id.upper() if char.isascii() and char.isalnum())
    plain = f"C{cleaned}"
    if cleaned == customer_id and cleaned and len(plain) <= AUX_MAX and plain != walk_in:
        return plain
    digest = hashlib.blake2b(customer_id.encode(), digest_size=4).hexdigest().upper()
    return f"C{cleaned[:8]}{digest}"


def spread(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``amount`` split in proportion to ``weights``, each share rounded to the cent, the last the remainder."""
    total = sum(weights, ZERO)
    if not total:
        return [ZERO] * (len(weights) - 1) + [amount]
    shares = []
    used = ZERO
    for weight in weights[:-1]:
        share = (amount * weight / total).quantize(CENT, _HALF_UP)
        shares.append(share)
        used += share
    shares.append(amount - used)
    return shares


def french_amount(amount: Decimal) -> str:
    """``1234.5`` → ``1 234,50`` (labels of foreign-currency orders)."""
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",")


def _signed_lines(amounts: dict[str, Decimal], label: str, out: list[DraftLine]) -> None:
    """Lines for ``account → signed amount`` (debit positive); zero amounts are dropped."""
    for account, amount in amounts.items():
        if amount > 0:
            out.append(DraftLine(account, label, debit=amount))
        elif amount < 0:
            out.append(DraftLine(account, label, credit=-amount))


def _customer_line(account: str, label: str, amount: Decimal, aux: str, aux_label: str) -> DraftLine:
    if amount >= 0:
        return DraftLine(account, label, debit=amount, aux_account=aux, aux_label=aux_label)
    return DraftLine(account, label, credit=-amount, aux_account=aux, aux_label=aux_label)


class Poster:
    """The posting rules of one connection, for one sync (see the module docstring)."""

    def __init__(self, mapping: Mapping, source: Source, reference: ReferenceData) -> None:
        self.mapping = mapping
        self.source = source
        # Auxiliary accounts met while posting (number → label), for the caller to record.
        self.customers_seen: dict[str, str] = {}
        # Payment methods posted to the fallback account (id → name), to list on the screen.
        self.fallback_methods: dict[str, str] = {}
        self._customer = mapping.customer_account
        self._walk_in = mapping.walk_in_aux
        self._tips = mapping.tips_account
        self._shortage = mapping.shortage_account
        self._surplus = mapping.surplus_account
        self._journals = {location: code for location, code in mapping.journals.items() if code}
        # Tickets naming no register: the only register's journal when there is one, else the default.
        codes = set(self._journals.values())
        self._default_journal = next(iter(codes)) if len(codes) == 1 else mapping.journal
        self._web_journal = mapping.web_journal
        self._journal_names = journal_names(mapping, reference)
        self._locations = {location.id: location.name for location in reference.locations}
        self._method_names = {method.id: method.name for method in reference.payment_methods}
        self._method_accounts = {method: account for method, account in mapping.payment_accounts.items() if account}
        self._fallback = mapping.fallback_payment_account
        self._sales = {Decimal(rate): account for rate, account in mapping.sales_by_rate.items() if account}
        self._vat = {Decimal(rate): account for rate, account in mapping.vat_accounts.items() if account}
        self._categories = {category: account for category, account in mapping.sales_by_category.items() if account}
        self._pos_by_category = mapping.sales_by == SALES_BY_CATEGORY and bool(self._categories)
        self._rules: dict[str, CountryRule] = dict(mapping.country_rules)
        self._fx = dict(mapping.currency_rates)
        self._shipping = mapping.shipping_account
        self._gift_cards = mapping.gift_card_account
        self._divisors: dict[Decimal, Decimal] = {}
        self._aux: dict[str, str] = {}

    # --- shared helpers ------------------------------------------------------------------------

    def _vat_in(self, ttc: Decimal, rate: Decimal) -> Decimal:
        """The VAT a TTC amount contains at ``rate`` percent, rounded half-up to the cent."""
        divisor = self._divisors.get(rate)
        if divisor is None:
            divisor = self._divisors[rate] = ONE + rate / HUNDRED
        return (ttc - ttc / divisor).quantize(CENT, _HALF_UP)

    def _customer_of(self, customer_id: str | None, name: str | None) -> tuple[str, str]:
        """(auxiliary, label) of a customer; tickets without one share the walk-in auxiliary."""
        if not customer_id:
            aux, label = self._walk_in, WALK_IN_LABEL
        else:
            aux = self._aux.get(customer_id) or ""
            if not aux:
                aux = self._aux[customer_id] = customer_aux(customer_id, self._walk_in)
            label = name or f"Client {customer_id}"
        if aux not in self.customers_seen:
            self.customers_seen[aux] = label
        return aux, label

    def _payment_account(self, method_id: str, method_name: str) -> str:
        account = self._method_accounts.get(method_id)
        if account is None:
            self.fallback_methods.setdefault(method_id, method_name or self._method_names.get(method_id) or method_id)
            return self._fallback
        return account

    def _method_label(self, method_id: str, method_name: str | None) -> str:
        return method_name or self._method_names.get(method_id) or method_id or "?"

    def _journal(self, location_id: str | None, missing: list[Missing]) -> str:
        if location_id is None:
            return self._default_journal
        journal = self._journals.get(location_id)
        if journal is None:
            missing.append(missing_journal(location_id, self._locations.get(location_id, location_id)))
            return ""
        return journal

    @staticmethod
    def _entry(  # noqa: PLR0917 - called for every record: positional arguments are the cheapest call
        kind: EntryKind, record_id: str, day: dt.date, journal: str, label: str, piece: str, lines: list[DraftLine]
    ) -> DraftEntry:
        debit = credit = ZERO
        for line in lines:
            debit += line.debit
            credit += line.credit
        if debit != credit:
            raise UnbalancedEntryError(f"{kind} {record_id}: débit {debit} ≠ crédit {credit}")
        return DraftEntry(kind=kind, record_id=record_id, business_date=day, entry_date=day, journal=journal,
                          label=label, piece_ref=piece, lines=tuple(lines))  # fmt: skip

    # --- POS ------------------------------------------------------------------------------------

    def order(self, order: Order, business_date: dt.date) -> list[DraftEntry]:  # noqa: C901, PLR0912, PLR0915
        """The ticket's sale (or refund) entry, then one PAYMENT entry per completed payment.

        Raises ``Unmapped`` when its register, a rate's sales account or a rate's VAT
        account is not mapped. POS tickets are in euros.
        """
        missing: list[Missing] = []
        journal = self._journal(order.location_id, missing)
        ttc: dict[Decimal, Decimal] = {}
        tax: dict[Decimal, Decimal] = {}
        by_category: dict[Decimal, dict[str, Decimal]] | None = {} if self._pos_by_category else None
        discount = discount_tax = ZERO
        discount_items = False
        for item in order.items:
            if item.type == "general_discount":
                discount += item.total
                discount_tax += item.tax_amount
                discount_items = True
                continue
            rate = item.tax_rate
            if rate in ttc:
                ttc[rate] += item.total
                tax[rate] += item.tax_amount
            else:
                ttc[rate] = item.total
                tax[rate] = item.tax_amount
            if by_category is not None and item.category_id:
                account = self._categories.get(item.category_id)
                if account is not None:
                    per_account = by_category.setdefault(rate, {})
                    per_account[account] = per_account.get(account, ZERO) + item.total
        if not discount_items and order.total_discount:
            # A total discount the items do not include yet (their sum is above the order's total by it).
            gap = sum(ttc.values(), ZERO) - order.total
            if gap and abs(gap) == abs(order.total_discount):
                discount = -gap
        rates = sorted(ttc) if len(ttc) > 1 else list(ttc)
        shares: list[Decimal] = []
        tax_shares: list[Decimal] | None = None
        if discount and rates:
            shares = spread(discount, [ttc[rate] for rate in rates])
            tax_shares = spread(discount_tax, [ttc[rate] for rate in rates]) if discount_tax else None
        sales: dict[str, Decimal] = {}
        vats: dict[str, Decimal] = {}
        customer = ZERO
        for index, rate in enumerate(rates):
            gross = ttc[rate]
            net = gross
            item_tax = tax[rate]
            if discount:
                net += shares[index]
                if rate and not item_tax:
                    vat = self._vat_in(net, rate)
                else:
                    vat = item_tax + (tax_shares[index] if tax_shares else self._vat_in(shares[index], rate))
            elif rate and not item_tax:
                vat = self._vat_in(net, rate)
            else:
                vat = item_tax
            net = net.quantize(CENT, _HALF_UP)
            vat = vat.quantize(CENT, _HALF_UP)
            ht = net - vat
            customer += net
            categorised = by_category.get(rate) if by_category else None
            if categorised:
                rest = gross - sum(categorised.values(), ZERO)
                accounts: list[str | None] = [*categorised, None] if rest else list(categorised)
                parts = spread(ht, [*categorised.values(), rest] if rest else list(categorised.values()))
            else:
                accounts, parts = [None], [ht]
            for account, part in zip(accounts, parts, strict=True):
                target = account or self._sales.get(rate)
                if target is None:
                    if part:
                        missing.append(missing_sales(rate))
                    continue
                sales[target] = sales.get(target, ZERO) - part
            if vat:
                vat_account = self._vat.get(rate)
                if vat_account is None:
                    missing.append(missing_vat(rate))
                else:
                    vats[vat_account] = vats.get(vat_account, ZERO) - vat
        if missing:
            raise Unmapped(missing)

        refund = order.refund_of is not None
        place = self._locations.get(order.location_id or "", "")
        label = f"{'Remboursement' if refund else 'Vente'} ticket {order.number}{f' – {place}' if place else ''}"
        aux, aux_label = self._customer_of(order.customer_id, order.customer_name)
        lines = [_customer_line(self._customer, label, customer, aux, aux_label)] if customer else []
        _signed_lines(sales, label, lines)
        _signed_lines(vats, label, lines)
        kind = EntryKind.REFUND if refund else EntryKind.ORDER
        entries = [self._entry(kind, order.id, business_date, journal, label, order.number, lines)] if lines else []

        for payment in order.payments:
            if not payment.completed:
                continue
            received = payment.total + payment.tip
            if not received and not payment.tip:
                continue
            account = self._payment_account(payment.method_id, payment.method_name)
            method = self._method_label(payment.method_id, payment.method_name)
            what = "Règlement" if received >= 0 else "Remboursement"
            pay_label = f"{what} {method} ticket {order.number}"
            pay_lines = [DraftLine(account, pay_label, debit=received) if received > 0
                         else DraftLine(account, pay_label, credit=-received)] if received else []  # fmt: skip
            if payment.total:
                pay_lines.append(_customer_line(self._customer, pay_label, -payment.total, aux, aux_label))
            if payment.tip:
                _signed_lines({self._tips: -payment.tip}, pay_label, pay_lines)
            entries.append(
                self._entry(EntryKind.PAYMENT, payment.id, business_date, journal, pay_label, order.number, pay_lines)
            )
        return entries

    def closure(self, entry: ClosureEntry, day: dt.date) -> DraftEntry | None:
        """The register's closing: its cash differences (counted − recorded) per payment method.

        Sales and payments are already posted ticket by ticket (``order``), so the closing
        posts only what the till says they missed: a shortage debits 658 and credits the
        method's account, a surplus debits the method's account and credits 758. None when
        nothing differs (or nothing was counted). Its record id is ``<day>/<closure id>``.
        """
        differences = [payment for payment in entry.payments if payment.difference]
        if not differences:
            return None
        missing: list[Missing] = []
        journal = self._journal(entry.location_id, missing)
        if missing:
            raise Unmapped(missing)
        place = self._locations.get(entry.location_id or "", "") or "Caisse"
        when = day.strftime("%d/%m/%Y")
        lines: list[DraftLine] = []
        for payment in differences:
            difference = payment.difference
            account = self._payment_account(payment.method_id, payment.method_name)
            line_label = (
                f"Écart de caisse {self._method_label(payment.method_id, payment.method_name)} – {place} {when}"
            )
            if difference < 0:
                lines += [DraftLine(self._shortage, line_label, debit=-difference),
                          DraftLine(account, line_label, credit=-difference)]  # fmt: skip
            else:
                lines += [DraftLine(account, line_label, debit=difference),
                          DraftLine(self._surplus, line_label, credit=difference)]  # fmt: skip
        label = f"Clôture de caisse – {place} {when}"
        return self._entry(EntryKind.CLOSURE, f"{day.isoformat()}/{entry.id}", day, journal, label, entry.id, lines)

    # --- Z de caisse ---------------------------------------------------------------------------

    def journal_name(self, journal: str) -> str:
        """What a journal stands for: its register's name (``Salle``), the web shop, or « Caisse »."""
        return self._journal_names.get(journal, journal)

    def _summary_labels(self) -> dict[str, str]:
        """Each account's line label in a Z: per VAT rate, per payment method, tips, cash differences."""
        labels: dict[str, list[str]] = {}
        for rate, account in self._sales.items():
            labels.setdefault(account, []).append(f"Ventes TVA {rate_label(rate)} (HT)")
        for rate, account in self._vat.items():
            labels.setdefault(account, []).append(f"TVA collectée {rate_label(rate)}")
        for category, account in self._categories.items():
            labels.setdefault(account, []).append(f"Ventes catégorie {category}")
        for method, account in self._method_accounts.items():
            labels.setdefault(account, []).append(f"Encaissements {self._method_names.get(method, method)}")
        labels.setdefault(self._fallback, []).append("Encaissements à affecter")
        labels.setdefault(self._tips, []).append("Pourboires")
        labels.setdefault(self._shipping, []).append("Frais de port facturés")
        labels.setdefault(self._gift_cards, []).append("Cartes cadeaux")
        return {account: " ; ".join(dict.fromkeys(names)) for account, names in labels.items()}

    def summary(
        self, drafts: Iterable[DraftEntry], *, day: dt.date, journal: str, kind: EntryKind, record_id: str, number: int
    ) -> DraftEntry | None:
        """ONE entry for ``drafts`` (a journal's day): each (account, auxiliary) with its net movement.

        Debits first (money received, what customers owe), then credits (sales per rate, VAT per
        rate, tips), each labelled in words. None when the drafts cancel out entirely.
        """
        net: dict[tuple[str, str | None], Decimal] = {}
        aux_labels: dict[str, str] = {}
        records = 0
        for draft in drafts:
            records += draft.kind is not EntryKind.PAYMENT
            for line in draft.lines:
                key = (line.account, line.aux_account)
                net[key] = net.get(key, ZERO) + line.debit - line.credit
                if line.aux_account and line.aux_label:
                    aux_labels[line.aux_account] = line.aux_label
        labels = self._summary_labels()
        place = self.journal_name(journal)
        when = day.strftime("%d/%m/%Y")
        title = "Z de caisse" if kind is EntryKind.SUMMARY else f"Z de caisse complémentaire n° {number}"
        label = f"{title} – {place} {when} – enregistrements : {records}"
        lines: list[DraftLine] = []
        for (account, aux), amount in sorted(net.items(), key=lambda item: (item[1] < 0, item[0][0], item[0][1] or "")):
            if not amount:
                continue
            if aux is not None:
                line_label = f"{title} – {aux_labels.get(aux, aux)}"
                lines.append(_customer_line(account, line_label, amount, aux, aux_labels.get(aux, aux)))
                continue
            line_label = f"{title} – {labels.get(account, account)}"
            lines.append(DraftLine(account, line_label, debit=amount) if amount > 0
                         else DraftLine(account, line_label, credit=-amount))  # fmt: skip
        if not lines:
            return None
        piece = f"Z{day:%Y%m%d}" + (f"-{number}" if number > 1 else "")
        return self._entry(kind, record_id, day, journal, label, piece, lines)

    # --- E-commerce -------------------------------------------------------------------------------

    def _web_credits(  # noqa: C901, PLR0912 - one pass over the lines, each kind its account
        self, lines: Iterable[CommerceLine], total: Decimal, country: str | None, currency: str
    ) -> tuple[dict[str, Decimal], dict[str, Decimal], Decimal]:
        """(sales-side credits, VAT credits) per account in euros, and the TTC in the order's currency."""
        missing: list[Missing] = []
        code = country or HOME_COUNTRY
        rule = self._rules.get(code)
        if rule is None:
            raise Unmapped([missing_country(code)])
        fx = None
        if currency != EURO:
            fx = self._fx.get(currency)
            if fx is None:
                missing.append(missing_currency(currency))
        lines = [line for line in lines if line.total or line.untaxed_amount or line.tax_amount]
        if not lines and total:  # an amount without lines (a refund of an amount): at the country's rate
            rate = rule.rate or ZERO
            lines = [CommerceLine("amount", "", ONE, ZERO, rate, ZERO, total)]
        sales: dict[str, Decimal] = {}
        vats: dict[str, Decimal] = {}
        ttc = ZERO
        for line in lines:
            if line.gift_card or line.kind == "gift_card":
                amount = line.total or line.untaxed_amount + line.tax_amount
                sales[self._gift_cards] = sales.get(self._gift_cards, ZERO) + amount
                ttc += amount
                continue
            rate = rule.rate if rule.rate is not None else line.tax_rate
            if line.untaxed_amount or line.tax_amount:
                vat = line.tax_amount
                ht = line.untaxed_amount or line.total - vat
            else:
                vat = self._vat_in(line.total, rate) if rate else ZERO
                ht = line.total - vat
            ttc += ht + vat
            if line.kind == "shipping":
                account: str | None = self._shipping
            else:
                account = rule.sales_account or (self._categories.get(line.category_id or "") or self._sales.get(rate))
            if account is None:
                missing.append(missing_sales(rate))
            else:
                sales[account] = sales.get(account, ZERO) + ht
            if vat:
                vat_account = rule.vat_account or self._vat.get(rate)
                if vat_account is None:
                    missing.append(missing_country_tax(code) if rate == 0 else missing_vat(rate))
                else:
                    vats[vat_account] = vats.get(vat_account, ZERO) + vat
        if missing:
            raise Unmapped(missing)
        rate_in_euros = fx or ONE
        for amounts in (sales, vats):
            for account, amount in amounts.items():
                amounts[account] = (amount * rate_in_euros).quantize(CENT, _HALF_UP)
        return sales, vats, ttc

    def _web_customer(self, customer: CommerceCustomer) -> tuple[str, str]:
        """Guests without an id are told apart by their e-mail; nobody at all is the walk-in auxiliary."""
        key = customer.id or (f"email:{customer.email.lower()}" if customer.email else None)
        return self._customer_of(key, customer.name or customer.email)

    def _web_entries(
        self,
        *,
        refund: bool,
        record_id: str,
        day: dt.date,
        label: str,
        piece: str,
        lines: tuple[CommerceLine, ...],
        total: Decimal,
        country: str | None,
        currency: str,
        customer: CommerceCustomer,
        method_id: str | None,
        method_name: str | None,
    ) -> list[DraftEntry]:
        sales, vats, ttc = self._web_credits(lines, total, country, currency)
        if currency != EURO:
            label = f"{label} – {french_amount(ttc)} {currency}"
        sign = ONE if refund else -ONE  # credits of a sale; debits of a refund
        customer_amount = -sign * (sum(sales.values(), ZERO) + sum(vats.values(), ZERO))
        aux, aux_label = self._web_customer(customer)
        entry_lines = (
            [_customer_line(self._customer, label, customer_amount, aux, aux_label)] if customer_amount else []
        )
        _signed_lines({account: sign * amount for account, amount in sales.items()}, label, entry_lines)
        _signed_lines({account: sign * amount for account, amount in vats.items()}, label, entry_lines)
        if not entry_lines:
            return []
        kind = EntryKind.WEB_REFUND if refund else EntryKind.WEB_ORDER
        entries = [self._entry(kind, record_id, day, self._web_journal, label, piece, entry_lines)]
        if method_id and customer_amount:
            account = self._payment_account(method_id, method_name or "")
            method = self._method_label(method_id, method_name)
            if refund:
                pay_label = f"Remboursement {method} – {label}"
                pay_id = f"web-refund:{record_id}"
            else:
                pay_label = f"Règlement {method} – {label}"
                pay_id = f"web:{record_id}"
            pay_lines = [
                DraftLine(account, pay_label, debit=customer_amount) if customer_amount > 0
                else DraftLine(account, pay_label, credit=-customer_amount),
                _customer_line(self._customer, pay_label, -customer_amount, aux, aux_label),
            ]  # fmt: skip
            entries.append(self._entry(EntryKind.PAYMENT, pay_id, day, self._web_journal, pay_label, piece, pay_lines))
        return entries

    def web_order(self, order: CommerceOrder, business_date: dt.date | None = None) -> list[DraftEntry]:
        """The order's WEB_ORDER entry and, when it names its payment method, its PAYMENT ``web:<order id>``.

        Nothing for a cancelled, draft, failed or pending order. The day is the order's
        date in Paris unless ``business_date`` says otherwise.
        """
        if order.cancelled:
            return []
        name = order.customer.name or order.customer.email or ""
        return self._web_entries(
            refund=False,
            record_id=order.id,
            day=business_date or order.created.astimezone(PARIS).date(),
            label=f"Commande #{order.number}{f' – {name}' if name else ''}",
            piece=order.number,
            lines=order.lines,
            total=order.total,
            country=order.country,
            currency=order.currency,
            customer=order.customer,
            method_id=order.payment_method_id,
            method_name=order.payment_method_name,
        )

    def web_refund(self, refund: CommerceRefund, business_date: dt.date | None = None) -> list[DraftEntry]:
        """The refund's WEB_REFUND entry (a sale reversed) and its reimbursement, PAYMENT ``web-refund:<id>``."""
        name = refund.customer.name or refund.customer.email or ""
        return self._web_entries(
            refund=True,
            record_id=refund.id,
            day=business_date or refund.created.astimezone(PARIS).date(),
            label=f"Remboursement commande {refund.order_id}{f' – {name}' if name else ''}",
            piece=refund.id,
            lines=refund.lines,
            total=refund.total,
            country=refund.country,
            currency=refund.currency,
            customer=refund.customer,
            method_id=refund.payment_method_id,
            method_name=None,
        )
