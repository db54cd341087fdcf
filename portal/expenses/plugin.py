"""Notes de frais: their pages, and the receipts deleted from disk once their deletion commits."""

from __future__ import annotations

from portal.domain import Domain
from portal.expenses import models, policy, receipts, sentences
from portal.expenses.controllers import expense_routes

plugin = Domain(
    name="expenses",
    models=[models],
    routes=lambda settings: [expense_routes(settings)],
    listeners=[receipts.install],
    restrictions=policy.RESTRICTIONS,
    parts=sentences.SENTENCES,
)
