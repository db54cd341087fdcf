"""Pennylane (API v2): connecting a company by OAuth or a personal API token, reading its
fiscal years and exporting its FEC.

In ``make run`` and tests the URLs point at the local sandbox (``portal.sandbox``), which
follows the same documented API.
"""

from portal.integrations.pennylane.client import FiscalYearInfo, PennylaneClient, TokenCallback
from portal.integrations.pennylane.errors import (
    AuthorizationError,
    AuthorizationLost,
    MissingScope,
    PennylaneError,
    RateLimited,
)
from portal.integrations.pennylane.oauth import (
    SCOPES,
    AuthorizationStart,
    PennylaneEndpoints,
    finish_authorization,
    start_authorization,
)

__all__ = [
    "SCOPES",
    "AuthorizationError",
    "AuthorizationLost",
    "AuthorizationStart",
    "FiscalYearInfo",
    "MissingScope",
    "PennylaneClient",
    "PennylaneEndpoints",
    "PennylaneError",
    "RateLimited",
    "TokenCallback",
    "finish_authorization",
    "start_authorization",
]
