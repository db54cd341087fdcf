"""The client base: its pages and its parts of the dossier panel and the settings, the client of every new
dossier, « Créer mes clients » and its hourly pass; the fees: Paramètres de facturation, the catalogue,
lettres de mission (their public link), Renouvellements and Dossiers non facturés."""

from __future__ import annotations

from portal.billing import engagement_tasks, fee_models, hooks, models, policy, sentences, tasks
from portal.billing.controllers import BillingController, BillingSettingsController, dossier_tab, settings_section
from portal.billing.fee_controllers import EngagementLinkController, FeesController, billing_home
from portal.clients.pages import PANEL_TABS
from portal.domain import Domain
from portal.firm.pages import GENERAL_SETTINGS
from portal.jobs.registry import every

plugin = Domain(
    name="billing",
    models=[models, fee_models],
    routes=lambda _settings: [
        billing_home,
        BillingController,
        BillingSettingsController,
        FeesController,
        EngagementLinkController,
    ],
    listeners=[hooks.install],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.create_clients, tasks.create_dossier_clients, engagement_tasks.send_engagement],
    # Dossiers written outside the ORM (bulk loads) get their client at the next hourly pass.
    schedules=[every("40 * * * *", tasks.create_clients)],
    parts=[
        *sentences.SENTENCES,
        *sentences.FEES_SENTENCES,
        PANEL_TABS.part("facturation", "billing/_partials/dossier_tab.html", dossier_tab),
        GENERAL_SETTINGS.part("billing", "billing/_partials/settings.html", settings_section),
    ],
)
