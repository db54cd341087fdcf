"""Notifications: the centre and its bell, the preferences of Mon compte, the emails and the purge."""

from __future__ import annotations

from portal.accounts.pages import ACCOUNT
from portal.domain import Domain
from portal.jobs.registry import every
from portal.notifications import models, pages, policy, sentences, tasks
from portal.notifications.controllers import NotificationController, PreferenceController

plugin = Domain(
    name="notifications",
    models=[models],
    routes=lambda _settings: [NotificationController, PreferenceController],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.send_email, tasks.purge],
    schedules=[every("20 4 * * *", tasks.purge)],
    parts=[
        ACCOUNT.part("notifications", "notifications/_preferences.html", pages.preferences_part),
        *sentences.SENTENCES,
    ],
)
