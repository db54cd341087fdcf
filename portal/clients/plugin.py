"""Dossiers: their pages, the word index kept by a flush hook, the confidentiality rule."""

from __future__ import annotations

from portal.clients import models, policy, search, sentences, tasks
from portal.clients.controllers import DossierController
from portal.domain import Domain

plugin = Domain(
    name="clients",
    models=[models],
    routes=lambda _settings: [DossierController],
    listeners=[search.install],
    restrictions=policy.RESTRICTIONS,
    jobs=[tasks.notify_siren_referred],
    parts=sentences.SENTENCES,
)
