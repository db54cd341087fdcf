"""A local stand-in of Pennylane's API v2 and OAuth, served under ``/sandbox/pennylane``.

It follows the documented behaviour (consent, PKCE, rotating refresh tokens, scopes, cursor
pagination, asynchronous FEC exports with expiring links, rate limits), so that the portal's
client is exercised over real HTTP in tests and a newcomer can connect Pennylane offline.
"""

from portal.sandbox.pennylane.routes import pennylane_router
from portal.sandbox.pennylane.state import SandboxState, current_state, reset_state, use_state

__all__ = ["SandboxState", "current_state", "pennylane_router", "reset_state", "use_state"]
