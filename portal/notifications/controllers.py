"""The notification centre (``/notifications``) and the preferences of Mon compte (``/compte/notifications``).

Opening or marking a notice is a POST (a GET changes nothing): the person's own notice is
marked read, anyone else's answers 404, exactly as an id that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from portal.auth.guards import principal_of, signed_in
from portal.db.paging import Paging
from portal.i18n import _, ngettext
from portal.notifications.kinds import Topic
from portal.notifications.models import Channel
from portal.notifications.services import NotificationService, PreferenceService
from portal.web import forms
from portal.web.deps import PAGING, provide

LIST = "/notifications"


def _safe(target: str) -> str:
    """A notice's target is a path of the portal; anything else goes to the list."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else LIST


def _back(page: int) -> str:
    return f"{LIST}?page={page}" if page > 1 else LIST


class NotificationController(Controller):
    path = LIST
    guards = (signed_in,)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"notices": provide(NotificationService)}

    @get("/", name="notifications:list", media_type=MediaType.HTML, dependencies=PAGING)
    async def index(
        self,
        request: Request[Any, Any, Any],
        notices: NamedDependency[NotificationService],
        paging: NamedDependency[Paging],
    ) -> Template:
        """Every notice of the person's, newest first, paged; the unread ones marked."""
        principal = principal_of(request)
        return Template(
            template_name="notifications/list.html",
            context={"result": await notices.page(principal, paging),
                     "unread": await notices.unread_count(principal)},
        )  # fmt: skip

    @post("/{notification_id:uuid}/ouvrir", name="notifications:open")
    async def open(
        self,
        request: Request[Any, Any, Any],
        notices: NamedDependency[NotificationService],
        notification_id: FromPath[uuid.UUID],
    ) -> Redirect:
        """Mark the notice read and go where it is handled."""
        notice = await notices.mark_read(principal_of(request), notification_id)
        return Redirect(_safe(notice.target), status_code=303)

    @post("/{notification_id:uuid}/lue", name="notifications:read")
    async def read(
        self,
        request: Request[Any, Any, Any],
        notices: NamedDependency[NotificationService],
        notification_id: FromPath[uuid.UUID],
        page: Annotated[int, QueryParameter(ge=1)] = 1,
    ) -> Redirect:
        await notices.mark_read(principal_of(request), notification_id)
        return Redirect(_back(page), status_code=303)

    @post("/tout-lire", name="notifications:read_all")
    async def read_all(
        self, request: Request[Any, Any, Any], notices: NamedDependency[NotificationService]
    ) -> Redirect:
        count = await notices.mark_all_read(principal_of(request))
        if count:
            message = ngettext("%(num)d notification marquée comme lue.", "%(num)d notifications marquées comme lues.",
                               count)  # fmt: skip
            flash(request, message % {"num": count}, category="success")
        return Redirect(LIST, status_code=303)


class PreferenceController(Controller):
    """Mon compte › Notifications: the person's channel per topic (its section is a part of the profile page)."""

    path = "/compte/notifications"
    guards = (signed_in,)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"preferences": provide(PreferenceService)}

    @post("/", name="notifications:preferences")
    async def save(
        self,
        request: Request[Any, Any, Any],
        preferences: NamedDependency[PreferenceService],
        data: Annotated[forms.Fields, forms.POSTED],
    ) -> Redirect:
        """Save the channels posted; an unknown topic or channel is ignored (the form offers no other)."""
        wanted: dict[Topic, Channel] = {}
        for name, value in data.values.items():
            try:
                wanted[Topic(name[:40])] = Channel(value[:20])
            except ValueError:
                continue
        changed = await preferences.save(principal_of(request), wanted)
        if changed:
            flash(request, _("Vos préférences de notification sont enregistrées."), category="success")
        else:
            flash(request, _("Vos préférences de notification n'ont pas changé."), category="info")
        return Redirect("/compte#notifications", status_code=303)
