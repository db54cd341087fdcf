"""Notifying people of an event, and a person's own notices and preferences.

``notify`` is called in the transaction of the event (a note submitted) or by the job that
noticed it (an import finished): it writes one ``Notification`` per recipient, keyed by the
event, so a retried job or a replayed request adds nothing (the unique constraint decides,
under concurrency too); each new notice whose recipient chose email requests its email
(``notifications.send_email``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.clients.models import Dossier
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.notifications.kinds import Kind, Topic, sentence, topics_for
from portal.notifications.models import DEFAULT_CHANNEL, Channel, Notification, NotificationPreference
from portal.notifications.tasks import send_email

# The restriction (``policy.py``) keeps a person's own notices of dossiers they still see, whatever this is.
MINE = Permission.DOSSIERS_READ


@dataclass(frozen=True)
class Event:
    """What happened, once: its kind, its key (unique per event), where it is handled, what it is about."""

    kind: Kind
    key: str
    target: str
    dossier_id: uuid.UUID | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """How one recipient hears of an event (``new``: this call wrote their notice)."""

    recipient_id: uuid.UUID
    notification_id: uuid.UUID
    in_app: bool
    by_email: bool
    new: bool


async def channels(session: AsyncSession, people: Iterable[uuid.UUID], topic: Topic) -> dict[uuid.UUID, Channel]:
    """Each person's channel for ``topic`` (the default for those who chose none)."""
    wanted = list(dict.fromkeys(people))
    chosen: dict[uuid.UUID, Channel] = {}
    if wanted:
        rows = await session.execute(
            select(NotificationPreference.user_id, NotificationPreference.channel).where(
                NotificationPreference.user_id.in_(wanted), NotificationPreference.topic == topic.value
            )
        )
        chosen = dict(rows.all())
    return {person: chosen.get(person, DEFAULT_CHANNEL) for person in wanted}


async def notify(
    session: AsyncSession, event: Event, recipients: Iterable[uuid.UUID], *, email: bool = True
) -> list[Delivery]:
    """Write ``event``'s notice for each recipient, once; request the emails of the new ones.

    The recipients must come from the permission model (``portal.notifications.recipients``).
    ``email=False`` when the caller sends its own email (a report, with its PDF attached): the
    deliveries say who chose it.
    """
    chosen = await channels(session, recipients, event.kind.topic)
    deliveries = []
    for person, channel in chosen.items():
        existing = await session.scalar(
            select(Notification).where(Notification.event_key == event.key, Notification.recipient_id == person)
        )
        if existing is None:
            notice = Notification(
                recipient_id=person, kind=event.kind.value, dossier_id=event.dossier_id, target=event.target,
                params=dict(event.params), event_key=event.key, in_app=channel.in_app, by_email=channel.email,
            )  # fmt: skip
            try:
                async with session.begin_nested():
                    session.add(notice)
                    await session.flush()
            except IntegrityError:  # written meanwhile by a concurrent attempt of the same event
                existing = await session.scalar(
                    select(Notification).where(Notification.event_key == event.key, Notification.recipient_id == person)
                )
        if existing is not None:
            deliveries.append(Delivery(person, existing.id, existing.in_app, existing.by_email, new=False))
            continue
        deliveries.append(Delivery(person, notice.id, notice.in_app, notice.by_email, new=True))
        if email and notice.by_email:
            await send_email.options(dossier_id=event.dossier_id, person_id=person).enqueue_once(
                session, f"notification-email:{notice.id}", notification_id=str(notice.id)
            )
    return deliveries


@dataclass(frozen=True)
class NoticeView:
    """A notice as its recipient reads it."""

    id: uuid.UUID
    kind: str
    text: str
    target: str
    created_at: dt.datetime
    unread: bool


class NotificationService:
    """The signed-in person's own notices: never another's, never one of a dossier hidden from them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _mine(self, principal: Principal) -> Any:
        return restrict(select(Notification), principal, MINE, Notification).where(Notification.in_app.is_(True))

    async def unread_count(self, principal: Principal) -> int:
        """Read through ``ix_notification_unread``: the person's unread notices only."""
        count = restrict(select(func.count()).select_from(Notification), principal, MINE, Notification)
        count = count.where(Notification.in_app.is_(True), Notification.read_at.is_(None))
        return int(await self.session.scalar(count) or 0)

    async def page(self, principal: Principal, paging: Paging = FIRST_PAGE) -> Page[NoticeView]:
        statement = self._mine(principal).order_by(Notification.created_at.desc(), Notification.id.desc())
        found = await paginate(self.session, statement, paging)
        dossier_ids = {notice.dossier_id for notice in found.items if notice.dossier_id is not None}
        names: dict[uuid.UUID, str] = {}
        if dossier_ids:
            rows = await self.session.execute(select(Dossier.id, Dossier.name).where(Dossier.id.in_(dossier_ids)))
            names = dict(rows.all())
        views = [
            NoticeView(
                id=notice.id,
                kind=notice.kind,
                text=sentence(notice.kind, notice.params, names.get(notice.dossier_id) if notice.dossier_id else None),
                target=notice.target,
                created_at=notice.created_at,
                unread=notice.read_at is None,
            )
            for notice in found.items
        ]
        return Page(items=views, total=found.total, page=found.page, page_size=found.page_size, asked=found.asked)

    async def mark_read(self, principal: Principal, notification_id: uuid.UUID) -> Notification:
        """Mark the person's notice read (again: nothing changes) and give it back; anyone else's: 404."""
        notice: Notification | None = await self.session.scalar(
            self._mine(principal).where(Notification.id == notification_id)
        )
        if notice is None:
            raise NotFoundException
        if notice.read_at is None:
            await self.session.execute(
                update(Notification)
                .where(Notification.id == notice.id, Notification.read_at.is_(None))
                .values(read_at=dt.datetime.now(dt.UTC))
                .execution_options(synchronize_session=False)
            )
        return notice

    async def mark_all_read(self, principal: Principal) -> int:
        """Every unread notice of the person's that they may see, read now; how many."""
        ids = self._mine(principal).where(Notification.read_at.is_(None)).with_only_columns(Notification.id)
        result = await self.session.execute(
            update(Notification)
            .where(Notification.id.in_(ids.scalar_subquery()))
            .values(read_at=dt.datetime.now(dt.UTC))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class PreferenceService:
    """A person's channel per topic (Mon compte › Notifications); each change is audited (the model is)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, principal: Principal) -> dict[Topic, Channel]:
        """The person's channel for each topic they may hear of, in order."""
        topics = topics_for(principal)
        chosen = await channels_by_topic(self.session, principal.user_id)
        return {topic: chosen.get(topic, DEFAULT_CHANNEL) for topic in topics}

    async def save(self, principal: Principal, wanted: Mapping[Topic, Channel]) -> int:
        """Set the person's channels (only the topics they may hear of); how many changed."""
        allowed = set(topics_for(principal))
        rows = {
            Topic(row.topic): row
            for row in (
                await self.session.execute(
                    select(NotificationPreference).where(NotificationPreference.user_id == principal.user_id)
                )
            ).scalars()
        }
        changed = 0
        for topic, channel in wanted.items():
            if topic not in allowed:
                continue
            row = rows.get(topic)
            if row is None:
                if channel is DEFAULT_CHANNEL:
                    continue
                self.session.add(NotificationPreference(user_id=principal.user_id, topic=topic.value, channel=channel))
                changed += 1
            elif row.channel is not channel:
                row.channel = channel
                changed += 1
        await self.session.flush()
        return changed


async def channels_by_topic(session: AsyncSession, user_id: uuid.UUID) -> dict[Topic, Channel]:
    rows = await session.execute(
        select(NotificationPreference.topic, NotificationPreference.channel).where(
            NotificationPreference.user_id == user_id
        )
    )
    found: dict[Topic, Channel] = {}
    for topic, channel in rows.all():
        try:
            found[Topic(topic)] = channel
        except ValueError:
            continue  # a topic no longer offered
    return found
