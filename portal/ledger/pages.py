"""Parts of the dossier's Comptabilité that domains above the ledger fill in.

``JOURNALS``' part ``portail``: the journals the portal itself produced over the fiscal year shown
(POS and e-commerce entries), listed beside the imported ones, with their entries and FEC export.
Its context is built from ``(principal, session, dossier, period, journal, paging, others)``.
"""

from __future__ import annotations

from portal.web.extensions import PageParts

JOURNALS = PageParts()
PORTAL = "portail"
