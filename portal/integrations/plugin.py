"""Source connections: Pennylane and the POS / e-commerce sources, their pages and their jobs."""

from __future__ import annotations

from portal.domain import Domain
from portal.integrations import models, policy, sentences
from portal.integrations.commerce import models as commerce_models
from portal.integrations.commerce import policy as commerce_policy
from portal.integrations.commerce import tasks as commerce_tasks
from portal.integrations.commerce.controllers import (
    CommerceCallbackController,
    CommerceController,
    export_entries,
    export_portal_journals,
    ledger_journals,
)
from portal.integrations.controllers import integration_routes
from portal.integrations.pennylane import tasks as pennylane_tasks
from portal.jobs.registry import every
from portal.ledger.pages import JOURNALS, PORTAL

plugin = Domain(
    name="integrations",
    models=[models, commerce_models],
    routes=lambda settings: [
        integration_routes(settings),
        CommerceController,
        CommerceCallbackController,
        export_entries,
        export_portal_journals,
    ],
    restrictions=[*policy.RESTRICTIONS, *commerce_policy.RESTRICTIONS],
    jobs=[
        pennylane_tasks.fiscal_years,
        pennylane_tasks.import_fiscal_years,
        pennylane_tasks.revoke,
        pennylane_tasks.refresh,
        pennylane_tasks.daily,
        commerce_tasks.reference,
        commerce_tasks.sync_connection,
        commerce_tasks.scheduled,
        commerce_tasks.revoke,
    ],
    parts=[
        JOURNALS.part(PORTAL, "integrations/commerce/_partials/ledger_journals.html", ledger_journals),
        *sentences.SENTENCES,
    ],
    schedules=[
        every("0 6 * * *", commerce_tasks.scheduled, name="commerce.daily", frequency="daily"),
        every("0 6 1 * *", commerce_tasks.scheduled, name="commerce.monthly", frequency="monthly"),
        every("0 6 * * *", pennylane_tasks.daily, name="pennylane.daily"),
    ],
)
