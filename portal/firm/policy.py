"""Which people a person sees on the Utilisateurs pages.

The people of the firm (anyone holding a firm role) are seen by every holder of the
permission. Someone who is only a user of dossiers (an Employé, a client user…) is seen
by those who may see at least one of these dossiers: a client user of a confidential
dossier does not exist for someone the dossier is hidden from, so the person never
gives the dossier away. People with no role at all are seen by everyone, as is oneself.

The same rule hides what is written about a hidden person elsewhere: audit events about
them (their account, roles, memberships, invitation) or by them, and job runs about them
(the invitation's email) or started by them. Those rows carry the person (``person_id``);
whether they show is decided when they are read, so a person who joins the firm or a
visible dossier later comes into view with their history, and one who leaves it goes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from portal.accounts.models import DossierMembership, User, UserRole
from portal.audit.models import AuditEvent
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.clients.models import Dossier
from portal.clients.policy import visible
from portal.jobs.models import JobRun


def seen_member() -> Any:
    """An alias of ``DossierMembership`` for the person looked at.

    The visibility rule (``portal.clients.policy``) correlates its own membership
    subqueries (the viewer's) on the plain table: without an alias, the two would merge.
    """
    return aliased(DossierMembership, name="seen_member")


def user_visible(principal: Principal) -> ColumnElement[bool]:
    """``User`` may be seen by ``principal`` (who holds the permission to read people)."""
    membership = seen_member()
    return or_(
        User.id == principal.user_id,
        exists().where(UserRole.user_id == User.id),
        not_(exists().where(membership.user_id == User.id)),
        exists(
            select(membership.id)
            .join(Dossier, Dossier.id == membership.dossier_id)
            .where(membership.user_id == User.id, visible(principal))
        ),
    )


def hidden_people(principal: Principal) -> Select[Any]:
    """The ids of the people ``principal`` may not see (``user_visible``): a few, those of hidden dossiers only."""
    return select(User.id).where(not_(user_visible(principal)))


def not_hidden_person(
    principal: Principal, *columns: ColumnElement[Any] | InstrumentedAttribute[Any]
) -> ColumnElement[bool]:
    """For rows naming people through ``columns`` (NULL: nobody): none of them is hidden from ``principal``.

    One ``NOT IN`` over the hidden people, computed once per statement, per column.
    """
    hidden = hidden_people(principal)
    return and_(*(or_(column.is_(None), column.not_in(hidden)) for column in columns))


def _users(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    if not principal.can(permission):
        return statement.where(false())
    return statement.where(user_visible(principal))


def _audit_events(statement: Select[Any], principal: Principal, _permission: Permission) -> Select[Any]:
    return statement.where(not_hidden_person(principal, AuditEvent.person_id, AuditEvent.actor_id))


def _job_runs(statement: Select[Any], principal: Principal, _permission: Permission) -> Select[Any]:
    return statement.where(not_hidden_person(principal, JobRun.person_id, JobRun.created_by_id))


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = (
    (User, _users),
    (AuditEvent, _audit_events),
    (JobRun, _job_runs),
)
