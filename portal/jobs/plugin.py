"""Background work: the Travaux pages, the outbox's commit hook, the purge of sent messages."""

from __future__ import annotations

from portal.domain import Domain
from portal.jobs import maintenance, models, outbox, policy
from portal.jobs.controllers import JobRunController
from portal.jobs.registry import every

plugin = Domain(
    name="jobs",
    models=[models],
    routes=lambda _settings: [JobRunController],
    listeners=[outbox.install],
    restrictions=policy.RESTRICTIONS,
    jobs=[maintenance.purge_outbox],
    schedules=[every("30 3 * * *", maintenance.purge_outbox)],
)
