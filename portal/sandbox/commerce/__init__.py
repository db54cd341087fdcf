"""A local stand-in of the unified POS and e-commerce API (Chift's), served under ``/sandbox/commerce``.

Every POS and e-commerce source of the portal (Zelty, Lightspeed, Shopify, WooCommerce…)
is read through one API; the sandbox serves it for a few made-up restaurants and shops,
with months of tickets, closings and web orders generated on demand and the same on every
run. It follows the documented behaviour (bearer API keys, OAuth with consent, PKCE and
rotating refresh tokens, pages, day closings, rate limits), so that the portal's client is
exercised over real HTTP in tests and benchmarks, and a newcomer can connect a till offline
in ``make run`` (the index page lists the accounts and their keys).
"""

from portal.sandbox.commerce.routes import commerce_router
from portal.sandbox.commerce.state import CommerceState, current_state, reset_state, use_state

__all__ = ["CommerceState", "commerce_router", "current_state", "reset_state", "use_state"]
