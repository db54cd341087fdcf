"""Sign-in and sessions: the sign-in page, the throttling and session tables, their purges."""

from __future__ import annotations

from portal.auth import models, tasks
from portal.auth.controllers import SignInController
from portal.domain import Domain
from portal.jobs.registry import every

plugin = Domain(
    name="auth",
    models=[models],
    routes=lambda _settings: [SignInController],
    jobs=[tasks.purge_login_attempts, tasks.purge_expired_sessions],
    schedules=[
        every("15 3 * * *", tasks.purge_login_attempts),
        every("45 3 * * *", tasks.purge_expired_sessions),
    ],
)
