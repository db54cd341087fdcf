"""Background work: the Travaux pages and the health check, the outbox's commit hook, the purge of sent messages."""

from __future__ import annotations

from portal.domain import Domain
from portal.jobs import diagnostic, maintenance, models, outbox, policy
from portal.jobs.controllers import JobRunController, health
from portal.jobs.registry import every

plugin = Domain(
    name="jobs",
    models=[models],
    routes=lambda _settings: [JobRunController, health],
    listeners=[outbox.install],
    restrictions=policy.RESTRICTIONS,
    jobs=[maintenance.purge_outbox, diagnostic.diagnostic],
    schedules=[every("30 3 * * *", maintenance.purge_outbox)],
)
