"""The client base and the firm's fees: Paramètres de facturation, the catalogue, lettres de mission (their public
link), Renouvellements, Dossiers non facturés, invoices and billing runs, payments, bank matching, reminders, the aged
balance and the books; their parts of the dossier panel, the settings and the Comptabilité; the client of every new
dossier, « Créer mes clients » and its hourly pass."""

from __future__ import annotations

from portal.billing import engagement_tasks, fee_models, hooks, invoice_sentences, models, policy, sentences, tasks
from portal.billing.books import export_books, fee_journals
from portal.billing.controllers import BillingController, BillingSettingsController, dossier_tab, settings_section
from portal.billing.fee_controllers import EngagementLinkController, FeesController, billing_home
from portal.billing.invoice_controllers import FeeReportController, InvoiceController
from portal.billing.payment_pages import PaymentsController
from portal.billing.run_controllers import BillingRunController
from portal.clients.pages import PANEL_TABS
from portal.domain import Domain
from portal.firm.pages import GENERAL_SETTINGS
from portal.jobs.registry import every
from portal.ledger.pages import FEES, JOURNALS

plugin = Domain(
    name="billing",
    models=[models, fee_models],
    routes=lambda _settings: [
        billing_home,
        BillingController,
        BillingSettingsController,
        FeesController,
        EngagementLinkController,
        InvoiceController,
        BillingRunController,
        FeeReportController,
        PaymentsController,
        export_books,
    ],
    listeners=[hooks.install],
    restrictions=policy.RESTRICTIONS,
    jobs=[
        tasks.create_clients,
        tasks.create_dossier_clients,
        tasks.draft_run,
        tasks.render_invoices,
        tasks.send_invoice,
        tasks.send_reminders,
        tasks.email_reminder,
        engagement_tasks.send_engagement,
    ],
    # Dossiers written outside the ORM (bulk loads) get their client at the next hourly pass; the reminders of
    # invoices past due go every morning.
    schedules=[every("40 * * * *", tasks.create_clients), every("0 7 * * *", tasks.send_reminders)],
    parts=[
        *sentences.SENTENCES,
        *sentences.FEES_SENTENCES,
        *invoice_sentences.SENTENCES,
        PANEL_TABS.part("facturation", "billing/_partials/dossier_tab.html", dossier_tab),
        GENERAL_SETTINGS.part("billing", "billing/_partials/settings.html", settings_section),
        JOURNALS.part(FEES, "billing/_partials/fee_journals.html", fee_journals),
    ],
)
