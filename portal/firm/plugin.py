"""The firm, its people and settings: invitations and their emails."""

from __future__ import annotations

from portal.domain import Domain
from portal.firm import models, policy, tasks
from portal.firm.controllers import InvitationLinkController, SettingsController, UserController

plugin = Domain(
    name="firm",
    models=[models],
    routes=lambda _settings: [UserController, InvitationLinkController, SettingsController],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.send_invitation, tasks.send_access_notice],
)
