"""The audit log's words for the notification preferences of Mon compte."""

from __future__ import annotations

from portal.audit.sentences import Field, Sentences, labels, person
from portal.i18n import N_
from portal.notifications.kinds import TOPICS
from portal.notifications.models import Channel

PREFERENCES = Sentences(
    "notification_preference",
    N_("Notifications"),
    {
        "create": N_("%(actor)s a choisi comment être prévenu : %(topic)s"),
        "update": N_("%(actor)s a changé comment être prévenu : %(topic)s"),
        "delete": N_("%(actor)s a remis le choix par défaut pour : %(topic)s"),
    },
    {
        "user_id": Field(N_("Personne"), person),
        "topic": Field(N_("Sujet"), labels({topic.value: info.label for topic, info in TOPICS.items()})),
        "channel": Field(N_("Par"), labels({channel.value: channel.label for channel in Channel})),
    },
)

SENTENCES = (PREFERENCES,)
