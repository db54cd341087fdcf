"""The bell of the top bar (the signed-in person's unread count, read once per page) and the section of Mon compte.

``load`` runs before every full page a signed-in person asks for (not for htmx fragments): one
indexed count. The page's template reads it through ``unread_notifications()`` and draws the
bell with the ``bell`` macro of ``templates/notifications/_bell.html``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.policy import Principal
from portal.notifications.kinds import TOPICS
from portal.notifications.models import Channel
from portal.notifications.services import NotificationService, PreferenceService

_unread: ContextVar[int | None] = ContextVar("portal_unread_notifications", default=None)


def unread_notifications() -> int | None:
    """The count read for this request (None: not read, for a fragment or an anonymous visit)."""
    return _unread.get()


def draws_a_page(request: Request[Any, Any, Any]) -> bool:
    """A whole page may be drawn for this request (not an htmx fragment)."""
    return request.headers.get("hx-request") != "true"


async def load(principal: Principal, session: AsyncSession) -> None:
    """Read the person's unread count for the page about to be drawn."""
    _unread.set(await NotificationService(session).unread_count(principal))


async def preferences_part(principal: Principal, session: AsyncSession) -> dict[str, Any]:
    """Mon compte's Notifications section: the person's channel per topic they may hear of."""
    return {
        "notification_preferences": await PreferenceService(session).of(principal),
        "notification_topics": TOPICS,
        "notification_channels": list(Channel),
    }
