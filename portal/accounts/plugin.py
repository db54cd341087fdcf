"""Accounts: the sign-in, password reset and account pages, the throttling, session and reset tables, their
purges and the emails about a person's password."""

from __future__ import annotations

from portal.accounts import models, sentences, tasks
from portal.accounts.controllers import AccountController, PasswordResetController, SignInController
from portal.domain import Domain
from portal.jobs.registry import every

plugin = Domain(
    name="accounts",
    models=[models],
    routes=lambda _settings: [SignInController, PasswordResetController, AccountController],
    jobs=[
        tasks.purge_login_attempts,
        tasks.purge_expired_sessions,
        tasks.send_password_reset,
        tasks.send_password_changed,
        tasks.send_second_factor_reset,
    ],
    schedules=[
        every("15 3 * * *", tasks.purge_login_attempts),
        every("45 3 * * *", tasks.purge_expired_sessions),
    ],
    parts=sentences.SENTENCES,
)
