"""The audit log: every change of an audited model is recorded in its own transaction."""

from __future__ import annotations

from portal.audit import models, policy, recorder
from portal.domain import Domain

plugin = Domain(name="audit", models=[models], listeners=[recorder.install], restrictions=policy.RESTRICTIONS)
