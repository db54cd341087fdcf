"""Notes de frais: their pages, the receipts deleted from disk once their deletion commits, and the count of
notes to approve beside the menu entry."""

from __future__ import annotations

from portal.domain import Domain
from portal.expenses import models, policy, receipts, sentences
from portal.expenses.controllers import TO_APPROVE_PATH, expense_routes
from portal.expenses.services import approves_somewhere, count_to_approve
from portal.i18n import NP_
from portal.web.navigation import MenuCount

# Beside Notes de frais in the main menu: the notes waiting for the person's approval.
TO_APPROVE = MenuCount(
    TO_APPROVE_PATH,
    approves_somewhere,
    count_to_approve,
    *NP_("%(num)s note attend votre validation", "%(num)s notes attendent votre validation"),
)

plugin = Domain(
    name="expenses",
    models=[models],
    routes=lambda settings: [expense_routes(settings)],
    listeners=[receipts.install],
    restrictions=policy.RESTRICTIONS,
    parts=[TO_APPROVE, *sentences.SENTENCES],
)
