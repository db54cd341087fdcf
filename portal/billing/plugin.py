"""The client base: its pages, the client of every new dossier, « Créer mes clients » and its hourly pass."""

from __future__ import annotations

from portal.billing import hooks, models, policy, tasks
from portal.billing.controllers import BillingController, BillingSettingsController
from portal.domain import Domain
from portal.jobs.registry import every

plugin = Domain(
    name="billing",
    models=[models],
    routes=lambda _settings: [BillingController, BillingSettingsController],
    listeners=[hooks.install],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.create_clients, tasks.create_dossier_clients],
    schedules=[every("40 * * * *", tasks.create_clients)],
)
