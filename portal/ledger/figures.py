"""The figures of a fiscal year (soldes intermédiaires de gestion, DSO, DPO, trésorerie nette), from its
pre-aggregated balances.

Pure functions, no database: ``compute`` takes the balances of a fiscal-year version (per account, month,
à-nouveaux or not, and for VAT lines whether their entry posts to sales or purchases), and ``explain`` says
how one figure is made, account by account, with the same definitions, so what the page shows and what an
accountant re-adds are the same numbers.

S(p) is the sum of credit − debit over the accounts starting with p (a product's balance), D(p) the sum of
debit − credit (a charge's). The choices, after the PCG's SIG table:

- Chiffre d'affaires = S(70) (709 nets itself out).
- Achats consommés = D of 601, 602, 607, 6031, 6032, 6037, 6081, 6082, 6087, 6091, 6092, 6097;
  marge brute = CA − achats consommés.
- Marge commerciale = S(707) + S(7097) − D(607, 6097, 6037).
- Valeur ajoutée = S(70) + S(713) + S(72) − D(60) − D(61) − D(62) (= marge commerciale + production −
  consommations en provenance de tiers).
- EBE = VA + S(74) − D(63) − D(64).
- Résultat d'exploitation = EBE + S(75 but 755) + S(781) + S(791) − D(65 but 655) − D(681): 657/757 stay in
  65/75, 655/755 (quotes-parts de résultat sur opérations faites en commun) sit below.
- Résultat financier = S(76, 786, 796) − D(66, 686); résultat courant avant impôt = REX + S(755) − D(655) +
  résultat financier; résultat exceptionnel = S(77, 787, 797) − D(67, 687); résultat net = S(7) − D(6).
- DSO = mean of opening and closing receivables (411, 413, 416, 418) ÷ CA TTC × 360, CA TTC = CA + the VAT
  collected (4457…) on entries posting to 70; the opening is the à-nouveaux lines, else N-1's closing
  when that year is imported, else nothing. DPO = payables (401, 403, 408, 409; credit − debit) ÷
  (D(60) − D(603) + D(61) + D(62) + deductible VAT 4456… but 44562 on entries posting to 60/61/62) × 360.
- Trésorerie nette = debit balances of the 50, 51 (but 519) and 53 accounts, account by account, − S(519)
  − the credit balances of the 512 accounts.

Amounts are Decimal euros to the cent, rates in % to one decimal, days to one decimal (ROUND_HALF_UP).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from portal.i18n import N_

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)
YEAR_DAYS = Decimal(360)
MONTH_DAYS = Decimal(30)

# Line flags (``ledger_balance.flags``), set on VAT lines (4456…, 4457…) only.
SALES_ENTRY = 1  # the line's entry also posts to 70…
PURCHASE_ENTRY = 2  # the line's entry also posts to 60…, 61… or 62…


class Kind(StrEnum):
    AMOUNT = "amount"
    RATE = "rate"
    DAYS = "days"


@dataclass(frozen=True)
class Definition:
    key: str
    label: str
    group: str
    kind: Kind
    formula: str
    # For days and charges a lower figure is better (objectives, alerts, colours).
    lower_is_better: bool = False


GROUPS: tuple[tuple[str, str], ...] = (
    ("rentabilite", N_("Rentabilité")),
    ("activite", N_("Activité")),
    ("tresorerie", N_("Trésorerie")),
    ("resultats", N_("Soldes intermédiaires de gestion")),
)

DEFINITIONS: tuple[Definition, ...] = (
    Definition("chiffre_affaires", N_("Chiffre d'affaires"), "rentabilite", Kind.AMOUNT,
               N_("Ventes de produits, de marchandises et de services (70), rabais déduits (709).")),
    Definition("marge_brute", N_("Marge brute"), "rentabilite", Kind.AMOUNT,
               N_("Chiffre d'affaires − achats consommés (601, 602, 603x, 607, 608x, 609x).")),
    Definition("taux_marge_brute", N_("Taux de marge brute"), "rentabilite", Kind.RATE,
               N_("Marge brute ÷ chiffre d'affaires.")),
    Definition("resultat_exploitation", N_("Résultat d'exploitation"), "rentabilite", Kind.AMOUNT,
               N_("EBE + autres produits (75) + reprises (781, 791) − autres charges (65) − dotations (681).")),
    Definition("taux_marge_exploitation", N_("Marge d'exploitation"), "rentabilite", Kind.RATE,
               N_("Résultat d'exploitation ÷ chiffre d'affaires.")),
    Definition("dso_jours", N_("Délai de recouvrement clients"), "activite", Kind.DAYS,
               N_("Créances clients moyennes (ouverture et clôture) ÷ chiffre d'affaires TTC × 360."),
               lower_is_better=True),
    Definition("dso_jours_cloture", N_("Délai de recouvrement clients (clôture)"), "activite", Kind.DAYS,
               N_("Créances clients à la clôture ÷ chiffre d'affaires TTC × 360."), lower_is_better=True),
    Definition("dpo_jours", N_("Délai de paiement fournisseurs"), "activite", Kind.DAYS,
               N_("Dettes fournisseurs ÷ achats et charges externes TTC × 360.")),
    Definition("tresorerie_nette", N_("Trésorerie nette"), "tresorerie", Kind.AMOUNT,
               N_("Disponibilités et valeurs mobilières (50, 51, 53) − concours bancaires (519, 512 créditeurs).")),
    Definition("marge_commerciale", N_("Marge commerciale"), "resultats", Kind.AMOUNT,
               N_("Ventes de marchandises (707, 7097) − coût d'achat des marchandises vendues (607, 6097, 6037).")),
    Definition("valeur_ajoutee", N_("Valeur ajoutée"), "resultats", Kind.AMOUNT,
               N_("Chiffre d'affaires + production stockée et immobilisée − achats et charges externes.")),
    Definition("ebe", N_("Excédent brut d'exploitation"), "resultats", Kind.AMOUNT,
               N_("Valeur ajoutée + subventions (74) − impôts et taxes (63) − charges de personnel (64).")),
    Definition("resultat_financier", N_("Résultat financier"), "resultats", Kind.AMOUNT,
               N_("Produits financiers (76, 786, 796) − charges financières (66, 686).")),
    Definition("resultat_courant_avant_impot", N_("Résultat courant avant impôt"), "resultats", Kind.AMOUNT,
               N_("Résultat d'exploitation + quotes-parts (755 − 655) + résultat financier.")),
    Definition("resultat_exceptionnel", N_("Résultat exceptionnel"), "resultats", Kind.AMOUNT,
               N_("Produits exceptionnels (77, 787, 797) − charges exceptionnelles (67, 687).")),
    Definition("resultat_net", N_("Résultat net"), "resultats", Kind.AMOUNT,
               N_("Total des produits (classe 7) − total des charges (classe 6).")),
)  # fmt: skip
BY_KEY: dict[str, Definition] = {definition.key: definition for definition in DEFINITIONS}
KEYS: tuple[str, ...] = (
    "chiffre_affaires", "marge_brute", "taux_marge_brute", "marge_commerciale", "valeur_ajoutee", "ebe",
    "resultat_exploitation", "taux_marge_exploitation", "resultat_financier", "resultat_courant_avant_impot",
    "resultat_exceptionnel", "resultat_net", "dso_jours", "dso_jours_cloture", "dpo_jours", "tresorerie_nette",
)  # fmt: skip
MONTHLY_KEYS: tuple[str, ...] = (
    "chiffre_affaires", "achats_consommes", "marge_brute", "charges_externes", "impots_taxes",
    "charges_personnel", "dotations", "valeur_ajoutee", "ebe", "resultat_exploitation", "resultat_financier",
    "resultat_exceptionnel", "resultat_net",
)  # fmt: skip
BUDGET_KEYS: tuple[str, ...] = (
    "chiffre_affaires", "achats_consommes", "charges_externes", "impots_taxes", "charges_personnel", "dotations",
)  # fmt: skip
# The monthly lines that are not figures of their own, with their labels (budget lines are charges but for CA).
LINE_LABELS: dict[str, str] = {
    "chiffre_affaires": N_("Chiffre d'affaires"),
    "achats_consommes": N_("Achats consommés"),
    "marge_brute": N_("Marge brute"),
    "charges_externes": N_("Autres achats et charges externes"),
    "impots_taxes": N_("Impôts et taxes"),
    "charges_personnel": N_("Charges de personnel"),
    "dotations": N_("Dotations d'exploitation"),
    "valeur_ajoutee": N_("Valeur ajoutée"),
    "ebe": N_("Excédent brut d'exploitation"),
    "resultat_exploitation": N_("Résultat d'exploitation"),
    "resultat_financier": N_("Résultat financier"),
    "resultat_exceptionnel": N_("Résultat exceptionnel"),
    "resultat_net": N_("Résultat net"),
}
CHARGE_LINES = frozenset({"achats_consommes", "charges_externes", "impots_taxes", "charges_personnel", "dotations"})


OPENING_JOURNALS = frozenset({"AN", "ANO", "RAN", "OUV"})
OPENING_WORDS = ("nouveau", "ouverture")


def is_opening(journal_code: str, journal_label: str) -> bool:
    """The à-nouveaux journal: code AN, ANO, RAN or OUV, or a label containing « nouveau » or « ouverture »."""
    label = journal_label.casefold()
    return journal_code.strip().upper() in OPENING_JOURNALS or any(word in label for word in OPENING_WORDS)


@dataclass(frozen=True)
class BalanceRow:
    """The lines of one account in one month of a fiscal year, as ``ledger_balance`` keeps them (cents)."""

    account: str
    month: dt.date
    opening: bool
    flags: int
    debit: int
    credit: int


# --- the definitions as sums of account selections ---------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Accounts starting with one of ``prefixes`` and none of ``excluding``."""

    prefixes: tuple[str, ...]
    excluding: tuple[str, ...] = ()
    # Only lines carrying this flag (VAT lines of sales or purchase entries).
    flag: int = 0

    def matches(self, account: str) -> bool:
        return account.startswith(self.prefixes) and not (self.excluding and account.startswith(self.excluding))


@dataclass(frozen=True)
class Part:
    """``sign`` × the balance of a selection: a product's credit − debit, or a charge's debit − credit."""

    label: str
    selection: Selection
    sign: int  # +1 added, −1 subtracted
    charge: bool  # balance read as debit − credit


def _product(label: str, *prefixes: str, excluding: tuple[str, ...] = ()) -> Part:
    return Part(label, Selection(prefixes, excluding), +1, charge=False)


def _charge(label: str, *prefixes: str, excluding: tuple[str, ...] = ()) -> Part:
    return Part(label, Selection(prefixes, excluding), -1, charge=True)


def _alone(part: Part) -> Part:
    """A charge counted for itself: its debit − credit, added."""
    return Part(part.label, part.selection, +1, charge=True)


_CONSUMED = ("601", "602", "607", "6031", "6032", "6037", "6081", "6082", "6087", "6091", "6092", "6097")
_SALES = _product(N_("Ventes de produits, de marchandises et de services (70)"), "70")
_CONSUMED_PART = _charge(N_("Achats consommés"), *_CONSUMED)
_EXTERNAL_PART = _charge(N_("Autres achats et charges externes (60, 61, 62)"), "60", "61", "62", excluding=_CONSUMED)
_VALUE_ADDED = (
    _SALES,
    _product(N_("Production stockée (713)"), "713"),
    _product(N_("Production immobilisée (72)"), "72"),
    _charge(N_("Achats et variations de stocks (60)"), "60"),
    _charge(N_("Services extérieurs (61, 62)"), "61", "62"),
)
_EBE = (
    *_VALUE_ADDED,
    _product(N_("Subventions d'exploitation (74)"), "74"),
    _charge(N_("Impôts, taxes et versements assimilés (63)"), "63"),
    _charge(N_("Charges de personnel (64)"), "64"),
)
_OPERATING = (
    *_EBE,
    _product(N_("Autres produits de gestion courante (75, sauf 755)"), "75", excluding=("755",)),
    _product(N_("Reprises et transferts de charges d'exploitation (781, 791)"), "781", "791"),
    _charge(N_("Autres charges de gestion courante (65, sauf 655)"), "65", excluding=("655",)),
    _charge(N_("Dotations d'exploitation (681)"), "681"),
)
_FINANCIAL = (
    _product(N_("Produits financiers (76, 786, 796)"), "76", "786", "796"),
    _charge(N_("Charges financières (66, 686)"), "66", "686"),
)

PARTS: dict[str, tuple[Part, ...]] = {
    "chiffre_affaires": (_SALES,),
    # A charge line alone is a positive amount (what was spent), as a budget line is typed.
    "achats_consommes": (_alone(_CONSUMED_PART),),
    "marge_brute": (_SALES, _CONSUMED_PART),
    "charges_externes": (_alone(_EXTERNAL_PART),),
    "impots_taxes": (_alone(_charge(N_("Impôts, taxes et versements assimilés (63)"), "63")),),
    "charges_personnel": (_alone(_charge(N_("Charges de personnel (64)"), "64")),),
    "dotations": (_alone(_charge(N_("Dotations d'exploitation (681)"), "681")),),
    "marge_commerciale": (
        _product(N_("Ventes de marchandises (707, 7097)"), "707", "7097"),
        _charge(N_("Coût d'achat des marchandises vendues (607, 6097, 6037)"), "607", "6097", "6037"),
    ),
    "valeur_ajoutee": _VALUE_ADDED,
    "ebe": _EBE,
    "resultat_exploitation": _OPERATING,
    "resultat_financier": _FINANCIAL,
    "resultat_courant_avant_impot": (
        *_OPERATING,
        _product(N_("Quotes-parts de résultat sur opérations faites en commun (755)"), "755"),
        _charge(N_("Quotes-parts de résultat sur opérations faites en commun (655)"), "655"),
        *_FINANCIAL,
    ),
    "resultat_exceptionnel": (
        _product(N_("Produits exceptionnels (77, 787, 797)"), "77", "787", "797"),
        _charge(N_("Charges exceptionnelles (67, 687)"), "67", "687"),
    ),
    "resultat_net": (_product(N_("Produits (classe 7)"), "7"), _charge(N_("Charges (classe 6)"), "6")),
}

_RECEIVABLES = Selection(("411", "413", "416", "418"))
_PAYABLES = Selection(("401", "403", "408", "409"))
_SALES_VAT = Selection(("4457",), flag=SALES_ENTRY)
_PURCHASES = (
    _charge(N_("Achats (60, sauf 603)"), "60", excluding=("603",)),
    _charge(N_("Services extérieurs (61, 62)"), "61", "62"),
)
_PURCHASE_VAT = Selection(("4456",), ("44562",), flag=PURCHASE_ENTRY)


# --- figures ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One part of a figure: a label, its sign, its accounts with their amounts (euros) and its total.

    ``role`` places it in the formula: "" for a sum, "diviseur" for the divisor of a rate or a delay,
    "ouverture" / "clôture" for the balances a delay averages.
    """

    label: str
    sign: int
    lines: tuple[tuple[str, Decimal], ...]
    total: Decimal
    role: str = ""


@dataclass(frozen=True)
class Figures:
    start: dt.date
    end: dt.date
    values: Mapping[str, Decimal | None]
    monthly: Mapping[str, Mapping[str, Decimal | None]]
    # Where the opening receivables came from: "a-nouveaux", "n-1" or "" (none).
    opening_source: str = ""
    extras: Mapping[str, Decimal] = field(default_factory=dict)

    def months(self) -> list[str]:
        return [f"{month:%Y-%m}" for month in months_of(self.start, self.end)]

    def to_json(self) -> dict[str, object]:
        """The figures as ``portal kpi --json`` prints them: amounts as strings with a dot and two decimals."""
        result: dict[str, object] = {key: _text(self.values[key], BY_KEY[key].kind) for key in KEYS}
        result["ca_mensuel"] = {
            month: _text(value, Kind.AMOUNT) for month, value in self.monthly["chiffre_affaires"].items()
        }
        return result


def _text(value: Decimal | None, kind: Kind) -> str | None:
    if value is None:
        return None
    return f"{value:.2f}" if kind is Kind.AMOUNT else f"{value:.1f}"


def months_of(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first day of every month from ``start``'s to ``end``'s."""
    result: list[dt.date] = []
    month = start.replace(day=1)
    while month <= end:
        result.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return result


def _euros(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def _ratio(numerator: Decimal, divisor: Decimal, factor: Decimal) -> Decimal | None:
    if divisor == 0:
        return None
    return (numerator * factor / divisor).quantize(TENTH, rounding=ROUND_HALF_UP)


class _Balances:
    """Per-account balances (cents, debit − credit) of a set of rows."""

    def __init__(self, rows: Iterable[BalanceRow]) -> None:
        self.by_account: dict[str, int] = defaultdict(int)
        self.flagged: dict[tuple[str, int], int] = defaultdict(int)
        self.add(rows)

    def add(self, rows: Iterable[BalanceRow]) -> None:
        for row in rows:
            self.by_account[row.account] += row.debit - row.credit
            if row.flags:
                self.flagged[(row.account, row.flags)] += row.debit - row.credit

    def debit_balances(self, selection: Selection) -> dict[str, int]:
        """Debit − credit per account of the selection (flag honoured), accounts in order."""
        if selection.flag:
            totals: dict[str, int] = defaultdict(int)
            for (account, flags), amount in self.flagged.items():
                if flags & selection.flag and selection.matches(account):
                    totals[account] += amount
            return dict(sorted(totals.items()))
        return {account: amount for account, amount in sorted(self.by_account.items()) if selection.matches(account)}

    def debit(self, selection: Selection) -> int:
        return sum(self.debit_balances(selection).values())

    def parts(self, parts: Sequence[Part]) -> int:
        """Σ sign × balance, in cents (credit − debit for a product, debit − credit for a charge)."""
        total = 0
        for part in parts:
            amount = self.debit(part.selection)
            total += part.sign * (amount if part.charge else -amount)
        return total


def _cash(balances: _Balances) -> tuple[int, int]:
    """(active, passive) trésorerie in cents, account by account."""
    active = sum(max(amount, 0) for amount in balances.debit_balances(Selection(("50", "51", "53"), ("519",))).values())
    passive = -balances.debit(Selection(("519",))) + sum(
        max(-amount, 0) for amount in balances.debit_balances(Selection(("512",))).values()
    )
    return active, passive


@dataclass(frozen=True)
class _Delays:
    receivables_open: int
    receivables_close: int
    sales_ttc: int
    payables: int
    purchases_ttc: int
    opening_source: str


def _delays(year: _Balances, opening: _Balances | None, previous: _Balances | None) -> _Delays:
    if opening is not None:
        receivables_open, source = opening.debit(_RECEIVABLES), "a-nouveaux"
    elif previous is not None:
        receivables_open, source = previous.debit(_RECEIVABLES), "n-1"
    else:
        receivables_open, source = 0, ""
    sales = year.parts(PARTS["chiffre_affaires"]) - year.debit(_SALES_VAT)
    purchases = year.parts(_PURCHASES) * -1 + year.debit(_PURCHASE_VAT)
    return _Delays(
        receivables_open=receivables_open,
        receivables_close=year.debit(_RECEIVABLES),
        sales_ttc=sales,
        payables=-year.debit(_PAYABLES),
        purchases_ttc=purchases,
        opening_source=source,
    )


def compute(
    rows: Iterable[BalanceRow], *, start: dt.date, end: dt.date, previous: Iterable[BalanceRow] | None = None
) -> Figures:
    """Every figure of a fiscal year from its balances (and N-1's, for the opening receivables)."""
    rows = list(rows)
    year = _Balances(rows)
    opening_rows = [row for row in rows if row.opening]
    opening = _Balances(opening_rows) if opening_rows else None
    before = _Balances(previous) if previous is not None else None
    amounts = {key: year.parts(PARTS[key]) for key in PARTS}
    delays = _delays(year, opening, before)
    active, passive = _cash(year)
    euros = {key: _euros(cents) for key, cents in amounts.items()}
    sales = euros["chiffre_affaires"]
    values: dict[str, Decimal | None] = {key: euros[key] for key in KEYS if key in euros}
    values["taux_marge_brute"] = _ratio(euros["marge_brute"], sales, HUNDRED)
    values["taux_marge_exploitation"] = _ratio(euros["resultat_exploitation"], sales, HUNDRED)
    sales_ttc = _euros(delays.sales_ttc)
    mean = _euros(delays.receivables_open + delays.receivables_close) / 2
    values["dso_jours"] = _ratio(mean, sales_ttc, YEAR_DAYS)
    values["dso_jours_cloture"] = _ratio(_euros(delays.receivables_close), sales_ttc, YEAR_DAYS)
    values["dpo_jours"] = _ratio(_euros(delays.payables), _euros(delays.purchases_ttc), YEAR_DAYS)
    values["tresorerie_nette"] = _euros(active - passive)
    return Figures(
        start=start,
        end=end,
        values={key: values[key] for key in KEYS},
        monthly=_monthly(rows, start, end),
        opening_source=delays.opening_source,
        extras={
            "chiffre_affaires_ttc": sales_ttc,
            "creances_ouverture": _euros(delays.receivables_open),
            "creances_cloture": _euros(delays.receivables_close),
            "dettes_fournisseurs": _euros(delays.payables),
            "achats_ttc": _euros(delays.purchases_ttc),
            "tresorerie_active": _euros(active),
            "tresorerie_passive": _euros(passive),
        },
    )


def _monthly(rows: list[BalanceRow], start: dt.date, end: dt.date) -> dict[str, dict[str, Decimal | None]]:
    """Each income-statement line per month, and DSO/DPO at each month's end (closing balances to date,
    flows since the start of the year, × 30 days per month elapsed)."""
    by_month: dict[dt.date, list[BalanceRow]] = defaultdict(list)
    for row in rows:
        by_month[row.month.replace(day=1)].append(row)
    months = months_of(start, end)
    result: dict[str, dict[str, Decimal | None]] = {key: {} for key in (*MONTHLY_KEYS, "dso_jours", "dpo_jours")}
    cumulated = _Balances(())  # the year to date, one month added at a time
    for elapsed, month in enumerate(months, start=1):
        label = f"{month:%Y-%m}"
        balances = _Balances(by_month.get(month, ()))
        for key in MONTHLY_KEYS:
            result[key][label] = _euros(balances.parts(PARTS[key]))
        cumulated.add(by_month.get(month, ()))
        delays = _delays(cumulated, None, None)
        days = MONTH_DAYS * elapsed
        result["dso_jours"][label] = _ratio(_euros(delays.receivables_close), _euros(delays.sales_ttc), days)
        result["dpo_jours"][label] = _ratio(_euros(delays.payables), _euros(delays.purchases_ttc), days)
    return result


# --- how a figure is computed ----------------------------------------------------------------------------


def _term(balances: _Balances, part: Part, role: str = "") -> Term:
    lines = tuple(
        (account, _euros(-amount if not part.charge else amount))
        for account, amount in balances.debit_balances(part.selection).items()
        if amount
    )
    return Term(part.label, part.sign, lines, sum((amount for _, amount in lines), Decimal("0.00")), role)


def _selection_term(balances: _Balances, label: str, selection: Selection, sign: int, role: str) -> Term:
    lines = tuple(
        (account, _euros(sign * amount)) for account, amount in balances.debit_balances(selection).items() if amount
    )
    return Term(label, 1, lines, sum((amount for _, amount in lines), Decimal("0.00")), role)


def explain(
    key: str,
    rows: Iterable[BalanceRow],
    *,
    previous: Iterable[BalanceRow] | None = None,
) -> tuple[Term, ...]:
    """The terms of a figure, each with its accounts and amounts, as ``compute`` adds them."""
    rows = list(rows)
    year = _Balances(rows)
    if key in PARTS:
        return tuple(_term(year, part) for part in PARTS[key])
    if key in {"taux_marge_brute", "taux_marge_exploitation"}:
        numerator = "marge_brute" if key == "taux_marge_brute" else "resultat_exploitation"
        return (
            *(_term(year, part) for part in PARTS[numerator]),
            _term(year, _SALES, "diviseur"),
        )
    if key in {"dso_jours", "dso_jours_cloture"}:
        terms = [_selection_term(year, N_("Créances clients à la clôture (411, 413, 416, 418)"), _RECEIVABLES, 1,
                                 "clôture")]  # fmt: skip
        if key == "dso_jours":
            opening_rows = [row for row in rows if row.opening]
            if opening_rows:
                terms.append(_selection_term(_Balances(opening_rows), N_("Créances clients à l'ouverture (à-nouveaux)"),
                                             _RECEIVABLES, 1, "ouverture"))  # fmt: skip
            elif previous is not None:
                terms.append(_selection_term(_Balances(previous), N_("Créances clients à l'ouverture (clôture N-1)"),
                                             _RECEIVABLES, 1, "ouverture"))  # fmt: skip
        terms.append(_term(year, _SALES, "diviseur"))
        terms.append(_selection_term(year, N_("TVA collectée sur les ventes (4457, écritures passant en 70)"),
                                     _SALES_VAT, -1, "diviseur"))  # fmt: skip
        return tuple(terms)
    if key == "dpo_jours":
        return (
            _selection_term(year, N_("Dettes fournisseurs (401, 403, 408, 409)"), _PAYABLES, -1, ""),
            *(_term(year, part, "diviseur") for part in _PURCHASES),
            _selection_term(year, N_("TVA déductible sur ces achats (4456, sauf 44562)"), _PURCHASE_VAT, 1,
                            "diviseur"),
        )  # fmt: skip
    if key == "tresorerie_nette":
        active = tuple(
            (account, _euros(amount))
            for account, amount in year.debit_balances(Selection(("50", "51", "53"), ("519",))).items()
            if amount > 0
        )
        bank_credit = tuple(
            (account, _euros(-amount))
            for account, amount in year.debit_balances(Selection(("512",))).items()
            if amount < 0
        )
        overdraft = tuple(
            (account, _euros(-amount)) for account, amount in year.debit_balances(Selection(("519",))).items() if amount
        )
        return (
            Term(N_("Disponibilités débitrices (50, 51, 53)"), 1, active, sum((a for _, a in active), Decimal("0.00"))),
            Term(N_("Concours bancaires courants (519)"), -1, overdraft,
                 sum((a for _, a in overdraft), Decimal("0.00"))),
            Term(N_("Banques créditrices (512)"), -1, bank_credit, sum((a for _, a in bank_credit), Decimal("0.00"))),
        )  # fmt: skip
    raise KeyError(key)


@dataclass(frozen=True)
class Step:
    """A step of the SIG cascade: an amount added (``total`` False) or a subtotal reached (``total`` True)."""

    label: str
    amount: Decimal
    total: bool


def _step(label: str, amount: Decimal) -> Step:
    return Step(label, amount, total=False)


def _total(label: str, amount: Decimal) -> Step:
    return Step(label, amount, total=True)


def cascade(figures: Figures) -> tuple[Step, ...]:
    """From the chiffre d'affaires to the résultat net, each subtotal reached by the steps before it."""
    values = figures.values
    monthly_total = {key: sum((v or Decimal(0) for v in figures.monthly[key].values()), Decimal("0.00"))
                     for key in ("achats_consommes", "impots_taxes", "charges_personnel")}  # fmt: skip

    def value(key: str) -> Decimal:
        return values[key] or Decimal("0.00")

    sales, gross, added = value("chiffre_affaires"), value("marge_brute"), value("valeur_ajoutee")
    ebe, operating, current = value("ebe"), value("resultat_exploitation"), value("resultat_courant_avant_impot")
    exceptional, net = value("resultat_exceptionnel"), value("resultat_net")
    # A charge line alone is what was spent (positive): it lowers the result.
    taxes, staff = monthly_total["impots_taxes"], monthly_total["charges_personnel"]
    return (
        _total(N_("Chiffre d'affaires"), sales),
        _step(N_("Achats consommés"), gross - sales),
        _total(N_("Marge brute"), gross),
        _step(N_("Production et charges externes"), added - gross),
        _total(N_("Valeur ajoutée"), added),
        _step(N_("Impôts et taxes"), -taxes),
        _step(N_("Charges de personnel"), -staff),
        _step(N_("Subventions d'exploitation"), ebe - added + taxes + staff),
        _total(N_("Excédent brut d'exploitation"), ebe),
        _step(N_("Dotations, reprises et autres"), operating - ebe),
        _total(N_("Résultat d'exploitation"), operating),
        _step(N_("Résultat financier et quotes-parts"), current - operating),
        _total(N_("Résultat courant avant impôt"), current),
        _step(N_("Résultat exceptionnel"), exceptional),
        _step(N_("Impôts sur les bénéfices et autres"), net - current - exceptional),
        _total(N_("Résultat net"), net),
    )
