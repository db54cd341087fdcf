"""Every change of an audited model is logged with its author, request and values."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership
from portal.audit.context import Actor, acting_as
from portal.audit.models import AuditEvent
from portal.audit.recorder import record
from portal.auth.roles import DossierRole, FirmRole
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user


async def _events(session: AsyncSession, object_id: str) -> list[AuditEvent]:
    rows = await session.execute(
        select(AuditEvent).where(AuditEvent.object_id == object_id).order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return list(rows.scalars())


async def test_creation_is_logged_without_secrets(db_session: AsyncSession) -> None:
    author = Actor(user_id=None, label="admin@cabinet-test.fr", request_id="req-123456789")
    with acting_as(author):
        user = await make_user(db_session, email="nouvelle@cabinet-test.fr")
    [event] = await _events(db_session, str(user.id))
    assert event.action == "user_account.create"
    assert event.actor_label == "admin@cabinet-test.fr"
    assert event.request_id == "req-123456789"
    assert event.before is None
    assert event.after is not None
    assert event.after["email"] == "nouvelle@cabinet-test.fr"
    assert event.after["is_active"] is True
    assert "password_hash" not in event.after


async def test_update_records_before_and_after(db_session: AsyncSession) -> None:
    dossier = await make_dossier(db_session, name="Garage du Centre", legal_form="SARL")
    with acting_as(Actor(user_id=None, label="associe@cabinet-test.fr")):
        dossier.legal_form = "SAS"
        dossier.name = "Garage du Centre"  # unchanged values are not logged
        await db_session.flush()
    events = await _events(db_session, str(dossier.id))
    assert [event.action for event in events] == ["dossier.create", "dossier.update"]
    assert events[1].before == {"legal_form": "SARL"}
    assert events[1].after == {"legal_form": "SAS"}
    assert events[1].actor_label == "associe@cabinet-test.fr"


async def test_deletion_keeps_the_last_values(db_session: AsyncSession) -> None:
    dossier = await make_dossier(db_session, name="Atelier éphémère")
    await db_session.delete(dossier)
    await db_session.flush()
    events = await _events(db_session, str(dossier.id))
    assert events[-1].action == "dossier.delete"
    assert events[-1].before is not None
    assert events[-1].before["name"] == "Atelier éphémère"


async def test_sign_in_is_logged_with_the_request_id(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    user = await make_user(db_session, roles=(FirmRole.ADMIN,))
    client.headers["X-Request-ID"] = "connexion-42424242"
    await sign_in(client, user.email, PASSWORD)
    sign_ins = [event for event in await _events(db_session, str(user.id)) if event.action == "auth.sign_in"]
    assert len(sign_ins) == 1
    assert sign_ins[0].request_id == "connexion-42424242"
    assert sign_ins[0].actor_id == user.id
    assert sign_ins[0].after == {"method": "password"}  # single sign-on says "oidc"
    journal = await client.get("/parametres/journal")
    assert journal.status_code == 200
    assert "auth.sign_in" not in journal.text  # the log speaks in words
    assert f"Connexion de {user.name}" in journal.text


async def test_events_about_a_person_name_them(db_session: AsyncSession) -> None:
    """An account, its firm roles (added through ``user.roles``, keyed only at the flush), its dossier roles and
    what is recorded about it name the person, so the log hides them with that person."""
    person = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    dossier = await make_dossier(db_session)
    db_session.add(DossierMembership(dossier_id=dossier.id, user_id=person.id, role=DossierRole.ACCOUNTANT))
    record(db_session, "user.deactivate", object_type="user_account", object_id=str(person.id))
    await db_session.flush()
    events = (await db_session.execute(select(AuditEvent.action, AuditEvent.person_id))).all()
    about = dict(events)
    assert about["user_account.create"] == person.id
    assert about["user_role.create"] == person.id
    assert about["dossier_membership.create"] == person.id
    assert about["user.deactivate"] == person.id
    assert about["dossier.create"] is None
