"""The firm, its people and settings: invitations and their emails, the rule on second factors."""

from __future__ import annotations

from portal.accounts.second_factor import REQUIREMENT
from portal.domain import Domain
from portal.firm import models, policy, sentences, services, tasks
from portal.firm.controllers import InvitationLinkController, SettingsController, UserController

plugin = Domain(
    name="firm",
    models=[models],
    routes=lambda _settings: [UserController, InvitationLinkController, SettingsController],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.send_invitation, tasks.send_access_notice],
    # Sign-in (accounts, below) reads the firm's rule on second factors through this.
    parts=[*sentences.SENTENCES, REQUIREMENT.provided_by(services.second_factor_requirement)],
)
