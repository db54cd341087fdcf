"""Accounts: the sign-in and account pages, the throttling and session tables, their purges."""

from __future__ import annotations

from portal.accounts import models, tasks
from portal.accounts.controllers import AccountController, SignInController
from portal.domain import Domain
from portal.jobs.registry import every

plugin = Domain(
    name="accounts",
    models=[models],
    routes=lambda _settings: [SignInController, AccountController],
    jobs=[tasks.purge_login_attempts, tasks.purge_expired_sessions, tasks.send_second_factor_reset],
    schedules=[
        every("15 3 * * *", tasks.purge_login_attempts),
        every("45 3 * * *", tasks.purge_expired_sessions),
    ],
)
