"""The sandbox's companies, their fiscal years and their books: made up, the same on every run.

The three companies are dossiers of the portal's demo (same names, same SIRENs), so a
newcomer who connects one of them in ``make run`` sees data that belongs to it. Each has
calendar fiscal years 2023 to 2026, and books generated year after year from a seeded
random generator: the opening entries of a year carry the balances of the previous one,
and what is unpaid at the year end (invoices, December's social charges and VAT) is paid,
and lettered, the next year. The FEC text is written here, as an outside system would
write it, not with the portal's writer.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from stdnum import luhn
from stdnum.fr import siren as siren_module

YEARS = (2023, 2024, 2025, 2026)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def fictional_siren(base: str) -> str:
    """A SIREN that passes the Luhn check, built from an 8-digit base (the demo's dossiers use the same)."""
    number = base + luhn.calc_check_digit(base)
    siren_module.validate(number)
    return number


MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip

JOURNALS = {
    "AN": "À nouveaux",
    "VT": "Ventes",
    "AC": "Achats",
    "BQ": "Banque",
    "OD": "Opérations diverses",
}
ACCOUNTS = {
    "101300": "Capital souscrit - appelé, versé",
    "106800": "Autres réserves",
    "110000": "Report à nouveau (solde créditeur)",
    "119000": "Report à nouveau (solde débiteur)",
    "120000": "Résultat de l'exercice (bénéfice)",
    "129000": "Résultat de l'exercice (perte)",
    "215400": "Matériel industriel",
    "218300": "Matériel de bureau et matériel informatique",
    "401000": "Fournisseurs",
    "411000": "Clients",
    "421000": "Personnel - rémunérations dues",
    "431000": "Sécurité sociale",
    "445510": "TVA à décaisser",
    "445660": "TVA déductible sur autres biens et services",
    "445670": "Crédit de TVA à reporter",
    "445711": "TVA collectée 20 %",
    "445712": "TVA collectée 10 %",
    "445713": "TVA collectée 5,5 %",
    "512000": "Banque",
    "606100": "Fournitures non stockables (eau, énergie)",
    "607000": "Achats de marchandises",
    "613200": "Locations immobilières",
    "626000": "Frais postaux et de télécommunications",
    "627000": "Services bancaires et assimilés",
    "641000": "Rémunérations du personnel",
    "645000": "Charges de sécurité sociale et de prévoyance",
    "706000": "Prestations de services",
    "707000": "Ventes de marchandises",
}
COLLECTED_VAT = {Decimal("0.20"): "445711", Decimal("0.10"): "445712", Decimal("0.055"): "445713"}
RATE_WORDS = {Decimal("0.20"): "20 %", Decimal("0.10"): "10 %", Decimal("0.055"): "5,5 %"}
# Accounts whose year-end balance is a list of items settled the next year, carried one by one.
ITEMISED = ("411000", "401000", "431000", "445510")
LETTERED = ("411000", "401000")
RESULT = "result"  # the year's income and expenses, summed at closing
FEC_HEADER = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
)  # fmt: skip


# --- the companies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """A customer or a supplier, with its auxiliary account."""

    code: str
    name: str
    weight: int = 1
    delay: tuple[int, int] = (15, 45)  # days from invoice to payment


@dataclass(frozen=True)
class SaleLine:
    account: str
    rate: Decimal
    share: Decimal  # of an invoice's amount before tax


@dataclass(frozen=True)
class Supplier:
    party: Party
    account: str
    rate: Decimal
    per_month: float  # 0.34: about one invoice a quarter
    amount: tuple[int, int]  # before tax, euros


@dataclass(frozen=True)
class FiscalYear:
    id: int
    start: date
    finish: date
    status: str  # open | reopen | closed | frozen


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    siren: str
    legal_form: str
    city: str
    customers: tuple[Party, ...]
    sales: tuple[SaleLine, ...]
    invoices_per_month: tuple[int, int]
    invoice_amount: tuple[int, int]  # before tax, euros
    suppliers: tuple[Supplier, ...]
    salaries: tuple[int, ...]  # monthly gross, euros
    opening: tuple[tuple[str, int], ...]  # first year's balances (debit > 0), the bank makes them balance
    last_closed_status: str = "closed"

    @property
    def fiscal_years(self) -> tuple[FiscalYear, ...]:
        return tuple(
            FiscalYear(
                id=self.id * 10 + index,
                start=date(year, 1, 1),
                finish=date(year, 12, 31),
                status="open" if year == YEARS[-1] else self.last_closed_status if year == YEARS[-2] else "closed",
            )
            for index, year in enumerate(YEARS)
        )


def _rate(text: str) -> Decimal:
    return Decimal(text)


COMPANIES: tuple[Company, ...] = (
    Company(
        id=48211,
        name="Boulangerie Martin",
        siren=fictional_siren("81234567"),
        legal_form="SARL",
        city="Villeurbanne",
        customers=(
            Party("C0001", "Clients comptoir", weight=6, delay=(0, 1)),
            Party("C0002", "Hôtel des Brotteaux", weight=2),
            Party("C0003", "Café du Parc", weight=2, delay=(10, 30)),
            Party("C0004", "Crèche Les Lutins", weight=1, delay=(20, 40)),
            Party("C0005", "Mairie de Villeurbanne", weight=1, delay=(30, 60)),
        ),
        sales=(
            SaleLine("707000", _rate("0.055"), _rate("0.60")),
            SaleLine("707000", _rate("0.10"), _rate("0.25")),
            SaleLine("707000", _rate("0.20"), _rate("0.15")),
        ),
        invoices_per_month=(10, 14),
        invoice_amount=(600, 2600),
        suppliers=(
            Supplier(Party("F0001", "Moulins Bourgeois", delay=(20, 40)), "607000", _rate("0.055"), 2, (1200, 2600)),
            Supplier(Party("F0002", "Metro France", delay=(0, 5)), "607000", _rate("0.20"), 1, (400, 1100)),
            Supplier(Party("F0003", "EDF Entreprises", delay=(10, 20)), "606100", _rate("0.20"), 1, (380, 720)),
            Supplier(Party("F0004", "Eau du Grand Lyon", delay=(20, 30)), "606100", _rate("0.055"), 0.34, (90, 180)),
            Supplier(Party("F0005", "Orange Business", delay=(5, 15)), "626000", _rate("0.20"), 1, (45, 70)),
            Supplier(Party("F0006", "SCI Les Tilleuls", delay=(0, 5)), "613200", _rate("0.20"), 1, (2300, 2300)),
        ),
        salaries=(2150, 1920, 1850, 1780),
        opening=(("101300", -8000), ("106800", -12500), ("215400", 18400)),
    ),
    Company(
        id=48212,
        name="Garage du Centre",
        siren=fictional_siren("79876543"),
        legal_form="EURL",
        city="Lyon",
        customers=(
            Party("C0001", "Bernard Lucas", weight=2, delay=(0, 3)),
            Party("C0002", "Taxis Lyonnais", weight=3, delay=(20, 45)),
            Party("C0003", "Sophie Roux", weight=2, delay=(0, 3)),
            Party("C0004", "Ambulances Rhône Secours", weight=2, delay=(30, 60)),
            Party("C0005", "Transports Gauthier", weight=2, delay=(30, 50)),
        ),
        sales=(
            SaleLine("706000", _rate("0.20"), _rate("0.55")),
            SaleLine("707000", _rate("0.20"), _rate("0.45")),
        ),
        invoices_per_month=(16, 24),
        invoice_amount=(180, 1900),
        suppliers=(
            Supplier(Party("F0001", "Autodistribution Rhône", delay=(25, 45)), "607000", _rate("0.20"), 3, (700, 2400)),
            Supplier(Party("F0002", "Würth France", delay=(25, 45)), "607000", _rate("0.20"), 1, (150, 600)),
            Supplier(Party("F0003", "EDF Entreprises", delay=(10, 20)), "606100", _rate("0.20"), 1, (210, 430)),
            Supplier(Party("F0004", "Orange Business", delay=(5, 15)), "626000", _rate("0.20"), 1, (55, 80)),
            Supplier(Party("F0005", "SCI du Centre", delay=(0, 5)), "613200", _rate("0.20"), 1, (2900, 2900)),
        ),
        salaries=(2480, 2100, 1950),
        opening=(("101300", -5000), ("106800", -9300), ("215400", 26800), ("218300", 1900)),
    ),
    Company(
        id=48213,
        name="Restaurant Le Cèdre",
        siren=fictional_siren("88321456"),
        legal_form="SAS",
        city="Lyon",
        customers=(
            Party("C0001", "Clients comptoir", weight=8, delay=(0, 1)),
            Party("C0002", "Agence Lumière Événements", weight=1, delay=(20, 45)),
            Party("C0003", "Cabinet Morel Avocats", weight=1, delay=(15, 30)),
            Party("C0004", "Comité social Presqu'île", weight=1, delay=(30, 45)),
        ),
        sales=(
            SaleLine("706000", _rate("0.10"), _rate("0.70")),
            SaleLine("707000", _rate("0.20"), _rate("0.22")),
            SaleLine("707000", _rate("0.055"), _rate("0.08")),
        ),
        invoices_per_month=(9, 13),
        invoice_amount=(1400, 4200),
        suppliers=(
            Supplier(Party("F0001", "Metro France", delay=(0, 5)), "607000", _rate("0.055"), 4, (900, 1900)),
            Supplier(Party("F0002", "Cave des Terreaux", delay=(20, 40)), "607000", _rate("0.20"), 1, (800, 2100)),
            Supplier(Party("F0003", "EDF Entreprises", delay=(10, 20)), "606100", _rate("0.20"), 1, (520, 980)),
            Supplier(Party("F0004", "Eau du Grand Lyon", delay=(20, 30)), "606100", _rate("0.055"), 0.34, (150, 260)),
            Supplier(Party("F0005", "Bouygues Telecom Pro", delay=(5, 15)), "626000", _rate("0.20"), 1, (60, 85)),
            Supplier(Party("F0006", "Foncière Presqu'île", delay=(0, 5)), "613200", _rate("0.20"), 1, (3900, 3900)),
        ),
        salaries=(2600, 2050, 1890, 1820, 1750),
        opening=(("101300", -10000), ("106800", -21000), ("215400", 34500), ("218300", 2800)),
        last_closed_status="frozen",
    ),
)


def company(company_id: int) -> Company | None:
    return next((found for found in COMPANIES if found.id == company_id), None)


# --- the books ---------------------------------------------------------------------------


@dataclass
class Line:
    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    aux: Party | None = None
    label: str = ""  # the entry's label when empty
    letter: str = ""
    letter_date: date | None = None


@dataclass
class Entry:
    journal: str
    day: date
    piece_ref: str
    label: str
    lines: list[Line]
    number: str = ""


@dataclass
class OpenItem:
    """What a year leaves to settle: an unpaid invoice, December's social charges or VAT."""

    line: Line
    piece_ref: str
    piece_date: date
    label: str
    settle_on: date
    settle_label: str


@dataclass
class Carry:
    """What a year hands to the next: its closing balances and the items still open."""

    balances: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    open_items: list[OpenItem] = field(default_factory=list)
    letters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    vat_credit: Decimal = ZERO


def money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def debit(account: str, amount: Decimal, aux: Party | None = None, label: str = "") -> Line:
    return Line(account, debit=amount, aux=aux, label=label)


def credit(account: str, amount: Decimal, aux: Party | None = None, label: str = "") -> Line:
    return Line(account, credit=amount, aux=aux, label=label)


def _letter_code(counter: int) -> str:
    """0 → A, 25 → Z, 26 → AA…: the usual lettering codes."""
    code = ""
    counter += 1
    while counter:
        counter, rest = divmod(counter - 1, 26)
        code = chr(ord("A") + rest) + code
    return code


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


class YearBook:
    """One company's entries for one calendar year."""

    def __init__(self, company: Company, year: int, carry: Carry) -> None:
        self.company = company
        self.year = year
        self.carry = carry
        self.entries: list[Entry] = []
        self.open_items: list[OpenItem] = []
        # A string seed is hashed with SHA-512 by `random`: the same books on every run and machine.
        self.rng = random.Random(f"{company.siren}:{year}")  # noqa: S311 - made-up books, not secrets
        self.collected: dict[int, dict[Decimal, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.deductible: dict[int, Decimal] = defaultdict(Decimal)
        self.invoice_count = 0

    @property
    def year_end(self) -> date:
        return date(self.year, 12, 31)

    def add(self, journal: str, day: date, piece_ref: str, label: str, lines: list[Line]) -> Entry:
        if sum(line.debit for line in lines) != sum(line.credit for line in lines):
            msg = f"unbalanced entry {piece_ref}"
            raise AssertionError(msg)
        entry = Entry(journal, day, piece_ref, label, [line for line in lines if line.debit or line.credit])
        self.entries.append(entry)
        return entry

    def letter(self, account: str, *lines: Line, on: date) -> None:
        code = _letter_code(self.carry.letters[account])
        self.carry.letters[account] += 1
        for line in lines:
            line.letter, line.letter_date = code, on

    def settle(self, item: OpenItem, on: date) -> None:
        """Pay an open item through the bank on ``on`` (or leave it open past the year end)."""
        if on > self.year_end:
            item.settle_on = on
            self.open_items.append(item)
            return
        owed = item.line.credit - item.line.debit  # > 0: the company owes it
        side = Line(item.line.account, debit=max(owed, ZERO), credit=max(-owed, ZERO), aux=item.line.aux)
        bank = Line("512000", debit=max(-owed, ZERO), credit=max(owed, ZERO))
        self.add("BQ", on, item.piece_ref, item.settle_label, [side, bank])
        if item.line.account in LETTERED:
            self.letter(item.line.account, item.line, side, on=on)

    # --- the year's events ---

    def build(self) -> list[Entry]:
        self.opening()
        for month in range(1, 13):
            self.sales(month)
            self.purchases(month)
            self.payroll(month)
            self.bank_fees(month)
            self.vat_return(month)
        return self.entries

    def opening(self) -> None:
        start = date(self.year, 1, 1)
        label = f"Reprise des soldes au {start:%d/%m/%Y}"
        lines: list[Line] = []
        report = ZERO
        for (account, aux_code), balance in sorted(self.carry.balances.items()):
            if account == RESULT:
                lines.append(Line("129000" if balance > 0 else "120000", max(balance, ZERO), max(-balance, ZERO)))
            elif account.startswith(("11", "12")):
                report += balance
            elif balance and account not in ITEMISED:
                aux = self._party(aux_code)
                lines.append(Line(account, debit=max(balance, ZERO), credit=max(-balance, ZERO), aux=aux))
        if report:
            lines.append(Line("119000" if report > 0 else "110000", debit=max(report, ZERO), credit=max(-report, ZERO)))
        carried = []
        for item in self.carry.open_items:
            line = Line(item.line.account, item.line.debit, item.line.credit, item.line.aux, item.label)
            lines.append(line)
            carried.append(replace(item, line=line))
        # The first year starts from the company's own balances; the bank makes them balance.
        if not self.carry.balances:
            for account, amount in self.company.opening:
                value = money(abs(amount))
                lines.append(debit(account, value) if amount > 0 else credit(account, value))
            bank = -sum(amount for _, amount in self.company.opening)
            lines.append(debit("512000", money(bank)))
        self.add("AN", start, f"AN{self.year}", label, lines)
        for item in carried:
            settle_on = item.settle_on if item.settle_on.year == self.year else start + timedelta(days=14)
            self.settle(replace(item, settle_on=settle_on), settle_on)

    def _party(self, code: str) -> Party | None:
        if not code:
            return None
        parties = [*self.company.customers, *(supplier.party for supplier in self.company.suppliers)]
        return next(party for party in parties if party.code == code)

    def sales(self, month: int) -> None:
        rng = self.rng
        count = rng.randint(*self.company.invoices_per_month)
        days = sorted(rng.randint(1, _month_end(self.year, month).day) for _ in range(count))
        customers = self.company.customers
        for day_of_month in days:
            day = date(self.year, month, day_of_month)
            customer = rng.choices(customers, weights=[party.weight for party in customers])[0]
            self.invoice_count += 1
            ref = f"F{self.year}-{self.invoice_count:04d}"
            label = f"Facture {ref} {customer.name}"
            total = Decimal(rng.randint(*self.company.invoice_amount))
            revenue: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
            for sale in self.company.sales:
                jitter = Decimal(rng.randint(80, 120)) / 100
                revenue[sale.account, sale.rate] += money(total * sale.share * jitter)
            vat: dict[Decimal, Decimal] = defaultdict(Decimal)
            for (_, rate), amount in revenue.items():
                vat[rate] += money(amount * rate)
            gross = sum(revenue.values(), ZERO) + sum(vat.values(), ZERO)
            receivable = debit("411000", gross, customer)
            lines = [receivable]
            lines += [credit(account, amount) for (account, _), amount in sorted(revenue.items())]
            lines += [credit(COLLECTED_VAT[rate], amount) for rate, amount in sorted(vat.items(), reverse=True)]
            self.add("VT", day, ref, label, lines)
            for rate, amount in vat.items():
                self.collected[month][rate] += amount
            paid_on = day + timedelta(days=rng.randint(*customer.delay))
            self.settle(OpenItem(receivable, ref, day, label, paid_on, f"Règlement {customer.name} {ref}"), paid_on)

    def purchases(self, month: int) -> None:
        rng = self.rng
        for supplier in self.company.suppliers:
            whole, part = divmod(supplier.per_month, 1)
            count = int(whole) + (1 if rng.random() < part else 0)
            for _ in range(count):
                day = date(self.year, month, rng.randint(1, 28))
                party = supplier.party
                ref = f"{party.code}-{self.year % 100:02d}{month:02d}-{rng.randint(100, 999)}"
                label = f"Facture {party.name} {ref}"
                amount = money(rng.uniform(*supplier.amount))
                tax = money(amount * supplier.rate)
                payable = credit("401000", amount + tax, party)
                self.add("AC", day, ref, label, [debit(supplier.account, amount), debit("445660", tax), payable])
                self.deductible[month] += tax
                paid_on = day + timedelta(days=rng.randint(*party.delay))
                self.settle(OpenItem(payable, ref, day, label, paid_on, f"Paiement {party.name} {ref}"), paid_on)

    def payroll(self, month: int) -> None:
        if not self.company.salaries:
            return
        rng = self.rng
        day = _month_end(self.year, month)
        words = f"{MONTHS[month - 1]} {self.year}"
        gross = sum((money(salary * rng.uniform(0.98, 1.04)) for salary in self.company.salaries), ZERO)
        employee = money(gross * Decimal("0.22"))
        employer = money(gross * Decimal("0.42"))
        net = gross - employee
        ref = f"PAIE-{self.year}-{month:02d}"
        social = credit("431000", employee + employer)
        self.add(
            "OD",
            day,
            ref,
            f"Salaires {words}",
            [debit("641000", gross), debit("645000", employer), social, credit("421000", net)],
        )
        self.add("BQ", day, ref, f"Virement des salaires {words}", [debit("421000", net), credit("512000", net)])
        paid_on = day + timedelta(days=15)
        item = OpenItem(social, ref, day, f"Cotisations URSSAF {words}", paid_on, f"Paiement URSSAF {words}")
        self.settle(item, paid_on)

    def bank_fees(self, month: int) -> None:
        day = _month_end(self.year, month)
        fees = money(self.rng.uniform(18, 46))
        label = f"Frais bancaires {MONTHS[month - 1]} {self.year}"
        self.add("BQ", day, f"REL-{self.year}-{month:02d}", label, [debit("627000", fees), credit("512000", fees)])

    def vat_return(self, month: int) -> None:
        """The monthly return (CA3), booked on the month's last day and paid on the 20th after."""
        day = _month_end(self.year, month)
        words = f"{MONTHS[month - 1]} {self.year}"
        collected = self.collected[month]
        deductible = self.deductible[month]
        due = sum(collected.values(), ZERO) - deductible - self.carry.vat_credit
        lines = [debit(COLLECTED_VAT[rate], amount) for rate, amount in sorted(collected.items(), reverse=True)]
        lines.append(credit("445660", deductible))
        if self.carry.vat_credit:
            lines.append(credit("445670", self.carry.vat_credit))
        payable = credit("445510", max(due, ZERO))
        lines += [payable, debit("445670", max(-due, ZERO))]
        self.carry.vat_credit = max(-due, ZERO)
        ref = f"CA3-{self.year}-{month:02d}"
        self.add("OD", day, ref, f"Déclaration de TVA {words}", lines)
        if due > 0:
            paid_on = day + timedelta(days=20)
            self.settle(
                OpenItem(payable, ref, day, f"TVA à décaisser {words}", paid_on, f"Paiement TVA {words}"), paid_on
            )

    def close(self) -> Carry:
        """Number the entries, then hand the balances and the open items to the next year."""
        self.entries.sort(key=lambda entry: entry.day)  # stable: same-day entries keep their order
        counters: dict[str, int] = defaultdict(int)
        for entry in self.entries:
            counters[entry.journal] += 1
            entry.number = f"{entry.journal}{self.year % 100:02d}{counters[entry.journal]:05d}"
        balances: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for entry in self.entries:
            for line in entry.lines:
                account = line.account if line.account[0] in "12345" else RESULT
                balances[account, line.aux.code if line.aux else ""] += line.debit - line.credit
        for account in ITEMISED:
            booked = sum((value for (found, _), value in balances.items() if found == account), ZERO)
            items = sum(
                (item.line.debit - item.line.credit for item in self.open_items if item.line.account == account), ZERO
            )
            if booked != items:
                msg = f"{self.company.name} {self.year}: {account} does not match its open items"
                raise AssertionError(msg)
        return Carry(
            balances={key: value for key, value in balances.items() if value},
            open_items=self.open_items,
            letters=self.carry.letters,
            vat_credit=self.carry.vat_credit,
        )


@cache
def books(company_id: int) -> dict[int, tuple[Entry, ...]]:
    """Every year's entries of a company, generated once per process."""
    found = company(company_id)
    if found is None:
        return {}
    carry = Carry()
    years: dict[int, tuple[Entry, ...]] = {}
    for year in YEARS:
        book = YearBook(found, year, carry)
        book.build()
        carry = book.close()
        years[year] = tuple(book.entries)
    return years


# --- the FEC -----------------------------------------------------------------------------


def _amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _day(value: date | None) -> str:
    return f"{value:%Y%m%d}" if value else ""


def fec_file_name(found: Company, period_end: date) -> str:
    """``<SIREN>FEC<AAAAMMJJ>.txt``, the date being the end of the period."""
    return f"{found.siren}FEC{period_end:%Y%m%d}.txt"


def fec_text(company_id: int, start: date, end: date, *, today: date | None = None) -> str:
    """The FEC of the entries dated ``start``..``end`` (none after ``today``): tab-separated, UTF-8."""
    last = min(end, today or date.today())  # noqa: DTZ011 - a calendar day is what the books know
    rows = ["\t".join(FEC_HEADER)]
    for year, entries in books(company_id).items():
        if year < start.year or year > last.year:
            continue
        for entry in entries:
            if not start <= entry.day <= last:
                continue
            # Entries are validated within a few days, and never later than today.
            valid = min(entry.day + timedelta(days=int(entry.number[-1]) % 4), last)
            for line in entry.lines:
                # Lettering done after the period's end is not known yet.
                lettered = line.letter_date is not None and line.letter_date <= last
                rows.append(
                    "\t".join(
                        (
                            entry.journal,
                            JOURNALS[entry.journal],
                            entry.number,
                            _day(entry.day),
                            line.account,
                            ACCOUNTS[line.account],
                            line.aux.code if line.aux else "",
                            line.aux.name if line.aux else "",
                            entry.piece_ref,
                            _day(entry.day),
                            line.label or entry.label,
                            _amount(line.debit),
                            _amount(line.credit),
                            line.letter if lettered else "",
                            _day(line.letter_date) if lettered else "",
                            _day(valid),
                            "",
                            "",
                        )
                    )
                )
    return "\n".join(rows) + "\n"
