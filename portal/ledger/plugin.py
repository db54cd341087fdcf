"""A dossier's ledger: its pages, FEC imports as jobs, and the hourly purge of replaced versions."""

from __future__ import annotations

from portal.domain import Domain
from portal.jobs.registry import every
from portal.ledger import cleanup, models, policy, sentences, tasks
from portal.ledger.controllers import LedgerController

plugin = Domain(
    name="ledger",
    models=[models],
    routes=lambda _settings: [LedgerController],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.import_fec, tasks.refresh_figures, cleanup.purge],
    schedules=[every("50 * * * *", cleanup.purge), every("55 * * * *", tasks.refresh_figures)],
    parts=sentences.SENTENCES,
)
