"""The sandbox's shops and restaurants: what they sell, at which VAT rate, how they are paid.

Each account ("consumer" in the unified API) belongs to one source of the portal's
catalogue (``portal.integrations.commerce.sources``) and follows a profile: a restaurant
with two registers, a bakery, a ceramics workshop and a delicatessen selling online. The
profiles carry what makes the mapping screen and the posting rules worth testing: three
VAT rates in one restaurant, a payment method no default mapping knows (Lydia), tips on
card payments, meal vouchers only at lunch, product categories with a parent, and web
orders shipped to four EU countries (destination VAT, as under the OSS scheme) and to
Switzerland (an export, without VAT).

Two of the accounts are dossiers of the portal's demo (Boulangerie Martin in Villeurbanne,
Restaurant Le Cèdre in Lyon), as in the Pennylane sandbox, so that ``make run`` shows data
that belongs to them. Identifiers (consumer ids, API keys) are derived from each account's
slug: the same on every run and every machine, so a key pasted once keeps working.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

from portal.integrations.commerce.sources import Source, SourceAuth, SourceKind, get_source

NAMESPACE = uuid.UUID("6f1d2c8e-3b7a-5c41-9e0d-2a4b6c8d0e1f")
KEY_PREFIX = "sk_sandbox_"
D = Decimal


def consumer_id(slug: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"commerce/{slug}"))


def api_key(slug: str) -> str:
    """The account's API key: public by design (the index page shows it), stable across runs."""
    return KEY_PREFIX + hashlib.sha256(f"portail-cabinet/commerce/{slug}".encode()).hexdigest()[:32]


# --- what profiles are made of ----------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A VAT rate as the source lists it; e-commerce taxes name their country."""

    id: str
    label: str
    rate: Decimal  # percent
    tax_code: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    kind: str  # cash | card | voucher | cheque | wallet | transfer
    weight: int
    extra: str | None = None


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    parent_id: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: Decimal  # unit price including VAT (e-commerce: the French price)
    category_id: str
    vat: str  # POS: a rate id; e-commerce: a VAT class ("reduced", "standard", "none")
    weight: int = 10
    registers: tuple[str, ...] = ()  # POS: the registers that sell it (empty: all)
    takeaway: bool = False
    gift_card: bool = False


@dataclass(frozen=True)
class Window:
    """Opening hours of a register, and the share of its tickets that fall in them."""

    start: int  # minutes after midnight
    end: int
    weight: int


@dataclass(frozen=True)
class Register:
    """A cash desk: one location of the unified API, one journal in the books."""

    id: str
    code: str  # the ticket numbers' prefix
    name: str
    share: float  # of the day's tickets
    windows: tuple[Window, ...]
    items: tuple[int, int]  # lines per ticket, at least and at most
    street: str
    mode: str = "EAT_IN"
    stay: tuple[int, int] = (10, 90)  # seconds from opening a ticket to its payment


@dataclass(frozen=True)
class PosProfile:
    registers: tuple[Register, ...]
    methods: tuple[Method, ...]
    rates: tuple[Rate, ...]
    categories: tuple[Category, ...]
    products: tuple[Product, ...]
    weekday_factors: tuple[float, ...]  # Monday first; 0 is the weekly closing day
    regulars: tuple[tuple[str, str], ...] = ()  # (customer id, name)
    customer_rate: float = 0.0
    loyalty_percent: int = 0  # regulars' discount
    complimentary: str | None = None  # a product sometimes offered
    complimentary_rate: float = 0.0
    tip_rate: float = 0.0  # of card payments
    tips: tuple[Decimal, ...] = ()
    split_rate: float = 0.05
    voucher_faces: tuple[Decimal, ...] = (D("9.00"), D("10.00"), D("11.00"))
    refund_rate: float = 0.005
    cash_difference_rate: float = 0.2  # of a register's days
    cash_differences: tuple[Decimal, ...] = (D("-5.00"), D("-2.00"), D("-0.50"), D("0.20"), D("1.00"))

    @property
    def kind(self) -> SourceKind:
        return SourceKind.POS


@dataclass(frozen=True)
class Destination:
    """Where a web order is shipped: the VAT of that country (or none: an export)."""

    country: str
    name: str
    weight: int
    shipping: Decimal  # including VAT in the EU; before tax (there is none) for an export
    free_above: Decimal | None
    rates: tuple[tuple[str, str], ...]  # (VAT class, tax id)
    cities: tuple[tuple[str, str], ...]  # (postal code, city)
    export: bool = False

    def tax_id(self, vat: str) -> str | None:
        return dict(self.rates).get(vat)


@dataclass(frozen=True)
class ShopProfile:
    methods: tuple[Method, ...]
    taxes: tuple[Rate, ...]
    categories: tuple[Category, ...]
    products: tuple[Product, ...]
    destinations: tuple[Destination, ...]
    weekday_factors: tuple[float, ...]
    number_prefix: str
    shipping_name: str
    items: tuple[int, int] = (1, 4)
    discount_code: str = "BIENVENUE10"
    discount_rate: float = 0.08  # of orders, 10 % off
    cancel_rate: float = 0.03
    refund_rate: float = 0.05
    customers: int = 400

    @property
    def kind(self) -> SourceKind:
        return SourceKind.ECOMMERCE


Profile = PosProfile | ShopProfile


@dataclass(frozen=True, eq=False)
class Account:
    """A consumer of the unified API: a restaurant's or a shop's account at its source.

    Compared and hashed by identity: generated days are cached per account object.
    """

    slug: str
    source: Source
    name: str
    city: str
    profile: Profile
    orders_per_day: int
    history_days: int | None = None  # None: the state's
    uniform: bool = False  # exactly orders_per_day tickets every day, no closing day (benchmarks)

    @property
    def id(self) -> str:
        return consumer_id(self.slug)

    @property
    def api_key(self) -> str | None:
        return api_key(self.slug) if self.source.auth is SourceAuth.API_KEY else None

    @property
    def kind(self) -> SourceKind:
        return self.profile.kind

    @property
    def seed(self) -> str:
        return self.slug


# --- Restaurant Le Cèdre (Zelty): two registers, three rates, an odd payment method -------

_SALLE, _BAR = "loc-salle", "loc-bar"
RESTAURANT = PosProfile(
    registers=(
        Register(
            _SALLE, "S", "Salle", 0.6,
            (Window(11 * 60 + 45, 14 * 60 + 15, 5), Window(19 * 60, 22 * 60 + 30, 5)),
            (2, 7), "12 rue Mercière, 69002 Lyon", stay=(35 * 60, 95 * 60),
        ),
        Register(
            _BAR, "B", "Bar", 0.4,
            (Window(10 * 60, 12 * 60, 1), Window(12 * 60, 14 * 60 + 30, 2), Window(14 * 60 + 30, 18 * 60, 1),
             Window(18 * 60, 23 * 60, 3)),
            (1, 3), "12 rue Mercière, 69002 Lyon", stay=(60, 40 * 60),
        ),
    ),
    methods=(
        Method("esp", "Espèces", "cash", 20),
        Method("cb", "Carte bancaire", "card", 58),
        Method("tr", "Ticket restaurant", "voucher", 12, extra="Titres-restaurant papier et carte"),
        Method("chq", "Chèque", "cheque", 3),
        Method("lydia", "Lydia", "wallet", 7, extra="Paiement mobile"),
    ),
    rates=(
        Rate("tva-10", "TVA 10 %", D("10"), "FR_100"),
        Rate("tva-20", "TVA 20 %", D("20"), "FR_200"),
        Rate("tva-5.5", "TVA 5,5 %", D("5.5"), "FR_55"),
    ),
    categories=(
        Category("mezzes", "Mezzes"),
        Category("plats", "Plats"),
        Category("desserts", "Desserts"),
        Category("boissons", "Boissons"),
        Category("boissons-sans-alcool", "Boissons sans alcool", parent_id="boissons"),
        Category("boissons-alcoolisees", "Boissons alcoolisées", parent_id="boissons"),
        Category("epicerie", "Épicerie à emporter", description="Produits vendus à emporter"),
    ),
    products=(
        Product("p-houmous", "Houmous", D("6.50"), "mezzes", "tva-10", 8),
        Product("p-moutabal", "Moutabal", D("6.50"), "mezzes", "tva-10", 5),
        Product("p-taboule", "Taboulé", D("7.00"), "mezzes", "tva-10", 7),
        Product("p-falafels", "Falafels (6)", D("8.50"), "mezzes", "tva-10", 7),
        Product("p-fatayer", "Fatayer aux épinards", D("7.50"), "mezzes", "tva-10", 4),
        Product("p-mezze", "Assiette Mezze du Cèdre", D("16.50"), "mezzes", "tva-10", 8, (_SALLE,)),
        Product("p-chawarma", "Chawarma poulet", D("14.00"), "plats", "tva-10", 10, (_SALLE,)),
        Product("p-kafta", "Kafta grillée", D("15.50"), "plats", "tva-10", 7, (_SALLE,)),
        Product("p-taouk", "Chich taouk", D("15.00"), "plats", "tva-10", 7, (_SALLE,)),
        Product("p-vegetarienne", "Assiette végétarienne", D("13.50"), "plats", "tva-10", 5, (_SALLE,)),
        Product("p-agneau", "Agneau farci au riz", D("19.50"), "plats", "tva-10", 3, (_SALLE,)),
        Product("p-baklawa", "Baklawa (3)", D("5.50"), "desserts", "tva-10", 6),
        Product("p-mouhalabieh", "Mouhalabieh", D("5.00"), "desserts", "tva-10", 4, (_SALLE,)),
        Product("p-knefeh", "Knefeh", D("6.50"), "desserts", "tva-10", 2, (_SALLE,)),
        Product("p-limonade", "Limonade maison", D("4.50"), "boissons-sans-alcool", "tva-10", 8),
        Product("p-jallab", "Jallab", D("4.50"), "boissons-sans-alcool", "tva-10", 3),
        Product("p-cafe", "Café libanais", D("2.80"), "boissons-sans-alcool", "tva-10", 10),
        Product("p-the", "Thé à la menthe", D("3.50"), "boissons-sans-alcool", "tva-10", 6),
        Product("p-eau", "Eau minérale 50 cl", D("3.50"), "boissons-sans-alcool", "tva-10", 5),
        Product("p-ksara", "Verre de Château Ksara rouge", D("6.50"), "boissons-alcoolisees", "tva-20", 7),
        Product("p-almaza", "Bière Almaza 33 cl", D("5.00"), "boissons-alcoolisees", "tva-20", 8),
        Product("p-arak", "Arak (4 cl)", D("7.00"), "boissons-alcoolisees", "tva-20", 4),
        Product("p-kefraya", "Bouteille Château Kefraya 75 cl", D("32.00"), "boissons-alcoolisees", "tva-20", 2,
                (_SALLE,)),
        Product("p-houmous-emp", "Houmous à emporter 250 g", D("6.90"), "epicerie", "tva-5.5", 3, takeaway=True),
        Product("p-zaatar", "Zaatar 100 g", D("4.20"), "epicerie", "tva-5.5", 2, takeaway=True),
        Product("p-pain", "Pain libanais (6)", D("3.10"), "epicerie", "tva-5.5", 3, takeaway=True),
        Product("p-grenade", "Mélasse de grenade 25 cl", D("7.80"), "epicerie", "tva-5.5", 1, takeaway=True),
    ),
    weekday_factors=(0.0, 0.8, 0.9, 1.0, 1.3, 1.5, 0.9),  # closed on Mondays
    regulars=(
        ("cli-0012", "Karim Haddad"),
        ("cli-0027", "Sophie Lefèvre"),
        ("cli-0031", "Cabinet Rousseau & Associés"),
        ("cli-0045", "Julien Moreau"),
        ("cli-0058", "Nadia Khoury"),
    ),
    customer_rate=0.06,
    loyalty_percent=10,
    complimentary="p-cafe",
    complimentary_rate=0.03,
    tip_rate=0.18,
    tips=(D("0.50"), D("1.00"), D("2.00"), D("3.00"), D("5.00")),
    split_rate=0.08,
    refund_rate=0.012,
    cash_difference_rate=0.3,
    cash_differences=(D("-10.00"), D("-5.00"), D("-2.00"), D("-1.00"), D("-0.50"), D("-0.20"),
                      D("0.10"), D("0.50"), D("1.00"), D("2.00")),
)  # fmt: skip


# --- Boulangerie Martin (Lightspeed): one register, 5.5 % and 20 %, categories ---------------

BAKERY = PosProfile(
    registers=(
        Register(
            "loc-boutique", "C", "Caisse boutique", 1.0,
            (Window(7 * 60, 9 * 60 + 30, 6), Window(9 * 60 + 30, 11 * 60 + 30, 2),
             Window(11 * 60 + 30, 13 * 60 + 30, 4), Window(13 * 60 + 30, 16 * 60 + 30, 1),
             Window(16 * 60 + 30, 19 * 60 + 30, 5)),
            (1, 4), "8 cours Émile-Zola, 69100 Villeurbanne", mode="TAKEAWAY",
        ),
    ),
    methods=(
        Method("cash", "Espèces", "cash", 40),
        Method("card", "Carte bancaire", "card", 52),
        Method("meal-voucher", "Ticket restaurant", "voucher", 6),
        Method("cheque", "Chèque", "cheque", 2),
    ),
    rates=(
        Rate("tax-55", "TVA 5,5 %", D("5.5"), "FR_55"),
        Rate("tax-20", "TVA 20 %", D("20"), "FR_200"),
    ),
    categories=(
        Category("cat-pains", "Pains"),
        Category("cat-viennoiseries", "Viennoiseries"),
        Category("cat-patisseries", "Pâtisseries"),
        Category("cat-boissons", "Boissons"),
    ),
    products=(
        Product("b-tradition", "Baguette tradition", D("1.30"), "cat-pains", "tax-55", 30),
        Product("b-baguette", "Baguette", D("1.10"), "cat-pains", "tax-55", 14),
        Product("b-campagne", "Pain de campagne", D("3.20"), "cat-pains", "tax-55", 5),
        Product("b-cereales", "Pain aux céréales", D("3.60"), "cat-pains", "tax-55", 4),
        Product("b-croissant", "Croissant", D("1.20"), "cat-viennoiseries", "tax-55", 20),
        Product("b-chocolatine", "Pain au chocolat", D("1.35"), "cat-viennoiseries", "tax-55", 18),
        Product("b-raisins", "Pain aux raisins", D("1.60"), "cat-viennoiseries", "tax-55", 5),
        Product("b-chausson", "Chausson aux pommes", D("1.90"), "cat-viennoiseries", "tax-55", 5),
        Product("b-eclair", "Éclair au chocolat", D("3.20"), "cat-patisseries", "tax-55", 5),
        Product("b-fraises", "Tartelette aux fraises", D("3.80"), "cat-patisseries", "tax-55", 4),
        Product("b-flan", "Flan pâtissier (part)", D("2.90"), "cat-patisseries", "tax-55", 5),
        Product("b-paris-brest", "Paris-Brest", D("4.20"), "cat-patisseries", "tax-55", 3),
        Product("b-tarte", "Tarte aux pommes 6 parts", D("18.00"), "cat-patisseries", "tax-55", 1),
        Product("b-ballotin", "Ballotin de chocolats 250 g", D("14.50"), "cat-patisseries", "tax-20", 1),
        Product("b-eau", "Eau minérale 50 cl", D("1.20"), "cat-boissons", "tax-55", 4),
        Product("b-jus", "Jus d'orange 25 cl", D("2.30"), "cat-boissons", "tax-55", 3),
        Product("b-soda", "Canette de soda 33 cl", D("1.80"), "cat-boissons", "tax-55", 3),
        Product("b-cidre", "Cidre brut 75 cl", D("5.90"), "cat-boissons", "tax-20", 1),
    ),
    weekday_factors=(1.0, 0.95, 0.0, 0.95, 1.0, 1.3, 1.5),  # closed on Wednesdays
    regulars=(("lsc-104", "Restaurant Le Cèdre"), ("lsc-221", "Mairie de Villeurbanne — service des fêtes")),
    customer_rate=0.01,
    split_rate=0.02,
    refund_rate=0.004,
    cash_difference_rate=0.25,
)  # fmt: skip


# --- E-commerce: destination VAT in the EU, exports to Switzerland -----------------------

_CITIES = {
    "FR": (("75011", "Paris"), ("69003", "Lyon"), ("44000", "Nantes"), ("33000", "Bordeaux"), ("59000", "Lille"),
           ("31000", "Toulouse"), ("35000", "Rennes"), ("67000", "Strasbourg"), ("13006", "Marseille")),
    "BE": (("1000", "Bruxelles"), ("4000", "Liège"), ("5000", "Namur"), ("9000", "Gand")),
    "DE": (("10115", "Berlin"), ("80331", "München"), ("50667", "Köln"), ("20095", "Hamburg")),
    "ES": (("28001", "Madrid"), ("08001", "Barcelona"), ("46001", "Valencia"), ("41001", "Sevilla")),
    "CH": (("1201", "Genève"), ("1003", "Lausanne"), ("8001", "Zürich"), ("2000", "Neuchâtel")),
}  # fmt: skip
COUNTRY_NAMES = {"FR": "France", "BE": "Belgique", "DE": "Allemagne", "ES": "Espagne", "CH": "Suisse"}

_SHOP_TAXES = (
    Rate("tax-fr-20", "TVA France 20 %", D("20"), "FR_200", "FR"),
    Rate("tax-fr-5.5", "TVA France 5,5 %", D("5.5"), "FR_55", "FR"),
    Rate("tax-be-21", "TVA Belgique 21 %", D("21"), "BE_210", "BE"),
    Rate("tax-be-6", "TVA Belgique 6 %", D("6"), "BE_60", "BE"),
    Rate("tax-de-19", "TVA Allemagne 19 %", D("19"), "DE_190", "DE"),
    Rate("tax-de-7", "TVA Allemagne 7 %", D("7"), "DE_70", "DE"),
    Rate("tax-es-21", "TVA Espagne 21 %", D("21"), "ES_210", "ES"),
    Rate("tax-es-10", "TVA Espagne 10 %", D("10"), "ES_100", "ES"),
    Rate("tax-ch-0", "Exportation Suisse (exonérée)", D("0"), "EXPORT", "CH"),
)


def _destinations(shipping: dict[str, Decimal], free_in_france: Decimal) -> tuple[Destination, ...]:
    return (
        Destination("FR", "France", 72, shipping["FR"], free_in_france,
                    (("standard", "tax-fr-20"), ("reduced", "tax-fr-5.5")), _CITIES["FR"]),
        Destination("BE", "Belgique", 10, shipping["BE"], None,
                    (("standard", "tax-be-21"), ("reduced", "tax-be-6")), _CITIES["BE"]),
        Destination("DE", "Allemagne", 7, shipping["DE"], None,
                    (("standard", "tax-de-19"), ("reduced", "tax-de-7")), _CITIES["DE"]),
        Destination("ES", "Espagne", 6, shipping["ES"], None,
                    (("standard", "tax-es-21"), ("reduced", "tax-es-10")), _CITIES["ES"]),
        Destination("CH", "Suisse", 5, shipping["CH"], None,
                    (("standard", "tax-ch-0"), ("reduced", "tax-ch-0")), _CITIES["CH"], export=True),
    )  # fmt: skip


CERAMICS = ShopProfile(
    methods=(
        Method("shopify_payments", "Carte bancaire", "card", 70),
        Method("paypal", "PayPal", "wallet", 22),
        Method("bank_transfer", "Virement bancaire", "transfer", 8),
    ),
    taxes=tuple(tax for tax in _SHOP_TAXES if tax.rate in {D("20"), D("21"), D("19"), D("0")}),
    categories=(
        Category("arts-de-la-table", "Arts de la table"),
        Category("decoration", "Décoration"),
        Category("cartes-cadeaux", "Cartes cadeaux"),
    ),
    products=(
        Product("bol-gres", "Bol en grès émaillé", D("28.00"), "arts-de-la-table", "standard", 10),
        Product("tasses-expresso", "Tasses expresso (lot de 2)", D("32.00"), "arts-de-la-table", "standard", 8),
        Product("assiette-plate", "Assiette plate 27 cm", D("34.00"), "arts-de-la-table", "standard", 6),
        Product("assiette-creuse", "Assiette creuse 22 cm", D("30.00"), "arts-de-la-table", "standard", 5),
        Product("theiere", "Théière 1 L", D("78.00"), "arts-de-la-table", "standard", 2),
        Product("pichet", "Pichet à eau", D("55.00"), "arts-de-la-table", "standard", 2),
        Product("vase-soliflore", "Vase soliflore", D("42.00"), "decoration", "standard", 5),
        Product("vase-boule", "Vase boule", D("68.00"), "decoration", "standard", 2),
        Product("photophore", "Photophore ajouré", D("24.00"), "decoration", "standard", 4),
        Product("carte-cadeau", "Carte cadeau 50 €", D("50.00"), "cartes-cadeaux", "none", 1, gift_card=True),
    ),
    destinations=_destinations(
        {"FR": D("6.90"), "BE": D("14.90"), "DE": D("14.90"), "ES": D("16.90"), "CH": D("22.00")}, D("80.00")
    ),
    weekday_factors=(0.9, 0.8, 0.9, 1.0, 1.0, 1.2, 1.3),
    number_prefix="#",
    shipping_name="Colissimo",
    items=(1, 3),
)

DELICATESSEN = ShopProfile(
    methods=(
        Method("stripe", "Carte bancaire", "card", 68),
        Method("paypal", "PayPal", "wallet", 24),
        Method("bacs", "Virement bancaire", "transfer", 8),
    ),
    taxes=_SHOP_TAXES,
    categories=(
        Category("huiles", "Huiles et vinaigres"),
        Category("conserves", "Conserves de la mer"),
        Category("thes-cafes", "Thés et cafés"),
        Category("biscuiterie", "Biscuiterie et confiserie"),
        Category("vins", "Vins et spiritueux"),
        Category("coffrets", "Coffrets gourmands"),
    ),
    products=(
        Product("huile-olive", "Huile d'olive vierge extra 50 cl", D("18.50"), "huiles", "reduced", 8),
        Product("balsamique", "Vinaigre balsamique de Modène 25 cl", D("12.90"), "huiles", "reduced", 5),
        Product("sardines", "Sardines millésimées 2024", D("9.80"), "conserves", "reduced", 8),
        Product("rillettes", "Rillettes de maquereau", D("6.50"), "conserves", "reduced", 7),
        Product("soupe", "Soupe de poissons 75 cl", D("8.90"), "conserves", "reduced", 4),
        Product("the-jasmin", "Thé vert au jasmin 100 g", D("11.50"), "thes-cafes", "reduced", 6),
        Product("cafe-ethiopie", "Café moulu Éthiopie 250 g", D("9.90"), "thes-cafes", "reduced", 7),
        Product("galettes", "Galettes bretonnes pur beurre", D("5.20"), "biscuiterie", "reduced", 8),
        Product("caramels", "Caramels au beurre salé", D("7.40"), "biscuiterie", "reduced", 6),
        Product("chocolat", "Chocolat noir 70 % 100 g", D("4.90"), "biscuiterie", "reduced", 6),
        Product("cotes-du-rhone", "Côtes-du-Rhône 2022 75 cl", D("14.90"), "vins", "standard", 4),
        Product("champagne", "Champagne brut 75 cl", D("38.00"), "vins", "standard", 2),
        Product("calvados", "Calvados hors d'âge 70 cl", D("42.00"), "vins", "standard", 1),
        Product("coffret-apero", "Coffret apéritif", D("49.00"), "coffrets", "standard", 2),
    ),
    destinations=_destinations(
        {"FR": D("5.90"), "BE": D("11.90"), "DE": D("12.90"), "ES": D("13.90"), "CH": D("19.00")}, D("60.00")
    ),
    weekday_factors=(1.1, 1.0, 0.95, 0.95, 1.0, 0.9, 1.2),
    number_prefix="WC-",
    shipping_name="Colissimo Expert",
    items=(1, 5),
)

# Profiles an added account can follow (``CommerceState.add_account``), by name.
PROFILES: dict[str, Profile] = {
    "restaurant": RESTAURANT,
    "bakery": BAKERY,
    "ceramics": CERAMICS,
    "delicatessen": DELICATESSEN,
}


def _source(code: str) -> Source:
    source = get_source(code)
    if source is None:
        raise LookupError(f"unknown source {code!r}")
    return source


ACCOUNTS: tuple[Account, ...] = (
    Account("zelty-le-cedre", _source("zelty"), "Restaurant Le Cèdre", "Lyon", RESTAURANT, 110),
    Account("lightspeed-boulangerie-martin", _source("lightspeed"), "Boulangerie Martin", "Villeurbanne", BAKERY, 230),
    Account(
        "lightspeed-patisserie-lemoine",
        _source("lightspeed"),
        "Pâtisserie Lemoine",
        "Caluire-et-Cuire",
        replace(BAKERY, weekday_factors=(0.0, 0.9, 1.0, 1.0, 1.0, 1.3, 1.5)),  # closed on Mondays
        120,
    ),
    Account("shopify-atelier-ceramique", _source("shopify"), "Atelier Céramique", "Annecy", CERAMICS, 14),
    Account("woocommerce-epicerie-fine", _source("woocommerce"), "Épicerie fine en ligne", "Nantes", DELICATESSEN, 24),
)

# The regular customers' names, French and from the four other countries, for web orders.
FIRST_NAMES = {
    "FR": ("Camille", "Louis", "Chloé", "Hugo", "Léa", "Gabriel", "Manon", "Arthur", "Inès", "Jules", "Sarah",
           "Paul", "Émilie", "Thomas", "Claire", "Nicolas", "Juliette", "Antoine", "Margaux", "Étienne"),
    "BE": ("Lucas", "Emma", "Noah", "Olivia", "Louise", "Arthur", "Elise", "Victor"),
    "DE": ("Lukas", "Anna", "Jonas", "Lena", "Felix", "Marie", "Leon", "Sophie"),
    "ES": ("Lucía", "Hugo", "Martina", "Daniel", "Sofía", "Pablo", "Carmen", "Javier"),
    "CH": ("Luca", "Mia", "Noé", "Zoé", "Elias", "Chiara", "Matteo", "Nina"),
}  # fmt: skip
LAST_NAMES = {
    "FR": ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
           "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier"),
    "BE": ("Peeters", "Janssens", "Maes", "Jacobs", "Dupont", "Lambert", "Dubois", "Willems"),
    "DE": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
    "ES": ("García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez"),
    "CH": ("Müller", "Meier", "Schmid", "Keller", "Weber", "Favre", "Rochat", "Bianchi"),
}  # fmt: skip
