"""The catalogue of POS and e-commerce sources a dossier can connect.

Every source is read through the same unified API (orders, payments, closures, payment
methods, VAT rates, categories, locations; orders, refunds, countries and taxes for
e-commerce), so a source here is a name, a kind, and how the person authorises the portal
there: a key they paste (API key) or a consent page (OAuth).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portal.i18n import N_


class SourceKind(StrEnum):
    POS = "pos"
    ECOMMERCE = "ecommerce"

    @property
    def label(self) -> str:
        return N_("Logiciel de caisse") if self is SourceKind.POS else N_("E-commerce")


class SourceAuth(StrEnum):
    API_KEY = "api_key"
    OAUTH = "oauth"


@dataclass(frozen=True)
class Source:
    code: str  # also the connection's provider value: lower-case, at most 24 characters
    name: str
    kind: SourceKind
    auth: SourceAuth
    # Whether the source gives product categories one can map sales to (else: by VAT rate only).
    categories: bool = True

    @property
    def is_pos(self) -> bool:
        return self.kind is SourceKind.POS


POS, SHOP = SourceKind.POS, SourceKind.ECOMMERCE
KEY, OAUTH = SourceAuth.API_KEY, SourceAuth.OAUTH

SOURCES: tuple[Source, ...] = (
    Source("cashpad", "Cashpad", POS, KEY),
    Source("clyo", "Clyo Systems", POS, KEY),
    Source("hiboutik", "Hiboutik", POS, KEY),
    Source("innovorder", "Innovorder", POS, KEY),
    Source("lightspeed", "Lightspeed", POS, OAUTH),
    Source("popina", "Popina", POS, KEY, categories=False),
    Source("square", "Square", POS, OAUTH),
    Source("trivec", "Trivec", POS, KEY, categories=False),
    Source("zelty", "Zelty", POS, KEY),
    Source("zettle", "Zettle", POS, OAUTH),
    Source("shopify", "Shopify", SHOP, OAUTH),
    Source("woocommerce", "WooCommerce", SHOP, KEY),
)
_BY_CODE = {source.code: source for source in SOURCES}


def get_source(code: str) -> Source | None:
    return _BY_CODE.get(code)
