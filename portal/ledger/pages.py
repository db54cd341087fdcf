"""Parts of the dossier's Comptabilité that domains above the ledger fill in.

``JOURNALS``' part ``portail``: the journals the portal itself produced over the fiscal year shown
(POS and e-commerce entries), listed beside the imported ones, with their entries and FEC export; part
``facturation``: the journals of the firm's fees (invoices and payments) in the billing entity's own dossier.
Each context is built from ``(principal, session, dossier, period, journal, paging, others)``; a part whose
journal is chosen says so by ``portal_selected`` (``portail``) or ``fees_selected`` (``facturation``), and the
page then shows that journal's entries instead of the imported ones.
"""

from __future__ import annotations

from portal.web.extensions import PageParts

JOURNALS = PageParts()
PORTAL = "portail"
FEES = "facturation"
