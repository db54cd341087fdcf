"""Notifications: who is told (the permission model), how (each person's channel), once (retries), and
the centre's pages (one's own notices only; another's or a hidden dossier's answers 404)."""

from __future__ import annotations

import html
import uuid
from email import message_from_bytes, policy

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.expenses.services import ExpenseNoteService, today
from portal.jobs.context import JobContext
from portal.jobs.models import OutboxMessage
from portal.ledger.models import ImportStatus, LedgerImport, LedgerSource
from portal.ledger.tasks import tell_outcome
from portal.notifications import tasks
from portal.notifications.kinds import Kind, Topic
from portal.notifications.models import Channel, Notification, NotificationPreference
from portal.notifications.services import Event, NotificationService, PreferenceService, notify
from portal.settings import Settings
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note, principal_of
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient


def _context(session_maker: async_sessionmaker[AsyncSession], settings: Settings) -> JobContext:
    def sessions(*, read_only: bool = False) -> AsyncSession:
        return session_maker()

    return JobContext(run_id=uuid.uuid4(), sessions=sessions, created_by_id=None, settings=settings)  # type: ignore[arg-type]


async def _firm(session: AsyncSession) -> tuple[User, User, Dossier]:
    """A partner (approver) and Julie, Employé of the firm's dossier."""
    firm_dossier = await make_dossier(session, name="Cabinet Durand & Associés", is_firm_dossier=True)
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    julie = await make_user(session, name="Julie Bernard")
    await add_role(session, julie, firm_dossier, DossierRole.EMPLOYEE)
    return partner, julie, firm_dossier


async def _notices(session: AsyncSession, **where: object) -> list[Notification]:
    statement = select(Notification).filter_by(**where).order_by(Notification.created_at)
    return list((await session.execute(statement)).scalars())


async def _email_runs(session: AsyncSession) -> list[OutboxMessage]:
    statement = select(OutboxMessage).where(OutboxMessage.actor_name == "notifications.send_email")
    return list((await session.execute(statement)).scalars())


async def _choose(session: AsyncSession, user: User, topic: Topic, channel: Channel) -> None:
    await PreferenceService(session).save(await principal_of(session, user), {topic: channel})


def _outbox(settings: Settings) -> list[str]:
    folder = settings.mail_outbox_dir
    assert folder is not None
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found.append(f"{message['To']}\n{message['Subject']}\n{body.get_content()}")
    return found


async def test_a_submitted_note_tells_its_approvers_in_both_ways_by_default_and_a_decision_tells_its_author(
    db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    partner, julie, firm_dossier = await _firm(db_session)
    other_partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Paul Associé")
    await make_user(db_session, roles=(FirmRole.ADMIN,), name="Marc Admin")  # no approver: never told
    note = await make_note(db_session, julie, firm_dossier, title="Salon de Lyon", day=today(), submit=True)

    notices = await _notices(db_session, kind=Kind.EXPENSE_SUBMITTED)
    assert {notice.recipient_id for notice in notices} == {partner.id, other_partner.id}  # never the author
    assert all(notice.in_app and notice.by_email for notice in notices)
    assert {notice.target for notice in notices} == {f"/notes-de-frais/{note.id}"}
    assert len(await _email_runs(db_session)) == 2
    view = (await NotificationService(db_session).page(await principal_of(db_session, partner))).items[0]
    assert view.text == (f"Julie Bernard a soumis la note de frais {note.reference} (Salon de Lyon) : "
                         "elle attend votre validation.")  # fmt: skip

    # The email: in the person's language, the same sentence and the link where it is handled.
    mine = next(notice for notice in notices if notice.recipient_id == partner.id)
    context = _context(session_maker, settings)
    before = len(_outbox(settings))
    assert await tasks.send_email(context, str(mine.id)) == {tasks.RESULT: tasks.SENT}
    assert await tasks.send_email(context, str(mine.id)) == {tasks.RESULT: tasks.ALREADY}  # a retry sends nothing
    (sent,) = _outbox(settings)[before:]
    assert partner.email in sent
    assert f"{settings.base_url}/notes-de-frais/{note.id}" in sent
    assert "Julie Bernard a soumis la note de frais" in sent

    service = ExpenseNoteService(session=db_session)
    await service.refuse(await principal_of(db_session, partner), note, "Il manque le justificatif du train.")
    (refused,) = await _notices(db_session, kind=Kind.EXPENSE_REFUSED)
    assert refused.recipient_id == julie.id
    (view,) = (await NotificationService(db_session).page(await principal_of(db_session, julie))).items
    assert view.text == (f"Votre note de frais {note.reference} (Salon de Lyon) a été refusée par Claire Durand : "
                         "« Il manque le justificatif du train. ».")  # fmt: skip


async def test_each_person_s_channel_is_honoured(
    db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    partner, julie, firm_dossier = await _firm(db_session)
    in_app_only = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Paul Associé")
    await _choose(db_session, partner, Topic.EXPENSE_TO_APPROVE, Channel.EMAIL)
    await _choose(db_session, in_app_only, Topic.EXPENSE_TO_APPROVE, Channel.IN_APP)
    await make_note(db_session, julie, firm_dossier, day=today(), submit=True)

    # Email only: no notice in the portal, the email requested.
    email_only = await principal_of(db_session, partner)
    notices = NotificationService(db_session)
    assert await notices.unread_count(email_only) == 0
    assert (await notices.page(email_only)).total == 0
    (runs,) = [run.job_run.arguments for run in await _email_runs(db_session)]
    (mine,) = await _notices(db_session, recipient_id=partner.id)
    assert runs == {"notification_id": str(mine.id)}
    assert (mine.in_app, mine.by_email) == (False, True)
    # In the portal only: the bell counts it, and no email is requested for them.
    bell = await principal_of(db_session, in_app_only)
    assert await notices.unread_count(bell) == 1
    (theirs,) = await _notices(db_session, recipient_id=in_app_only.id)
    assert (theirs.in_app, theirs.by_email) == (True, False)
    context = _context(session_maker, settings)
    assert await tasks.send_email(context, str(theirs.id)) == {tasks.RESULT: tasks.ALREADY}


async def test_a_retried_job_never_notifies_twice(
    db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    partner, _julie, _firm_dossier = await _firm(db_session)
    dossier = await make_dossier(db_session, name="Garage du Centre")
    record = LedgerImport(dossier_id=dossier.id, source=LedgerSource.UPLOAD, filename="FEC2025.txt",
                          status=ImportStatus.SUCCEEDED, created_by_id=partner.id)  # fmt: skip
    db_session.add(record)
    await db_session.flush()
    context = _context(session_maker, settings)
    for _attempt in range(3):  # the job retried, a message delivered twice
        await tell_outcome(context, record.id)
    (notice,) = await _notices(db_session, kind=Kind.IMPORT_SUCCEEDED)
    assert notice.recipient_id == partner.id
    assert notice.target == f"/entreprises/{dossier.id}/connexions/imports/{record.id}"
    assert len(await _email_runs(db_session)) == 1
    (view,) = (await NotificationService(db_session).page(await principal_of(db_session, partner))).items
    assert view.text == "L'import de « FEC2025.txt » dans le dossier Garage du Centre est terminé."

    # The same event told again, directly: the unique (event, recipient) decides, nothing is added.
    event = Event(kind=Kind.IMPORT_SUCCEEDED, key=notice.event_key, target=notice.target, dossier_id=dossier.id)
    (delivery,) = await notify(db_session, event, [partner.id])
    assert (delivery.new, delivery.notification_id) == (False, notice.id)
    duplicate = Notification(
        recipient_id=partner.id, kind=notice.kind, target=notice.target, event_key=notice.event_key
    )
    async with db_session.begin_nested() as savepoint:
        db_session.add(duplicate)
        with pytest.raises(IntegrityError):
            await db_session.flush()
        await savepoint.rollback()
    assert await db_session.scalar(select(func.count()).select_from(Notification)) == 1


async def test_a_confidential_dossier_is_never_notified_to_someone_it_is_hidden_from(
    db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    granted = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Agathe Habilitée")
    hidden_from = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Bruno Tenu-Àlécart")
    employee = await make_user(db_session, name="Hugo Employé")
    secret = await make_dossier(db_session, name="Zéphyrin Holding", is_firm_dossier=True)
    await add_role(db_session, employee, secret, DossierRole.EMPLOYEE)
    await DossierService(session=db_session).set_confidentiality(
        await principal_of(db_session, granted), secret, confidential=True, user_ids=[]
    )
    note = await make_note(db_session, employee, secret, title="Zéphyrin", day=today(), submit=True)
    notices = await _notices(db_session, kind=Kind.EXPENSE_SUBMITTED)
    assert [notice.recipient_id for notice in notices] == [granted.id]

    # A notice written before the dossier was hidden from someone disappears with it: list, count, email.
    stale = Notification(
        recipient_id=hidden_from.id, kind=Kind.EXPENSE_SUBMITTED.value, dossier_id=secret.id,
        target=f"/notes-de-frais/{note.id}", event_key="avant-la-confidentialite",
        params={"author": "Hugo Employé", "reference": note.reference, "title": "Zéphyrin"},
    )  # fmt: skip
    db_session.add(stale)
    await db_session.flush()
    principal = await principal_of(db_session, hidden_from)
    service = NotificationService(db_session)
    assert await service.unread_count(principal) == 0
    assert (await service.page(principal)).total == 0
    assert await tasks.send_email(_context(session_maker, settings), str(stale.id)) == {tasks.RESULT: tasks.WITHDRAWN}
    assert await service.unread_count(await principal_of(db_session, granted)) == 1


async def test_the_centre_shows_one_s_own_notices_and_answers_404_for_anyone_else_s(
    client: Client, db_session: AsyncSession
) -> None:
    partner, julie, firm_dossier = await _firm(db_session)
    note = await make_note(db_session, julie, firm_dossier, title="Salon de Lyon", day=today(), submit=True)
    for number in range(3):
        db_session.add(Notification(recipient_id=partner.id, kind=Kind.REPORT_READY.value, dossier_id=firm_dossier.id,
                                    target="/notes-de-frais", event_key=f"rapport-{number}",
                                    params={"title": f"Rapport {number}"}))  # fmt: skip
    await db_session.flush()
    (julies,) = [notice for notice in await _notices(db_session) if notice.recipient_id == partner.id][:1]
    julie_notice = Notification(recipient_id=julie.id, kind=Kind.EXPENSE_APPROVED.value, dossier_id=firm_dossier.id,
                                target=f"/notes-de-frais/{note.id}", event_key="pour-julie")  # fmt: skip
    db_session.add(julie_notice)
    await db_session.flush()

    assert (await sign_in(client, partner.email, PASSWORD)).status_code == 303
    page = html.unescape((await client.get("/notifications")).text)
    assert '<span class="bell-count" aria-hidden="true">4</span>' in page
    assert "4 non lues" in page
    assert f"Julie Bernard a soumis la note de frais {note.reference}" in page
    assert "Le rapport « Rapport 2 » du dossier Cabinet Durand & Associés est prêt." in page

    token = await csrf_token(client, "/notifications")
    # Julie's notice, by its id: as for an id that does not exist, 404, and nothing changes.
    for action in ("ouvrir", "lue"):
        for notice_id in (julie_notice.id, uuid.uuid4()):
            refused = await client.post(f"/notifications/{notice_id}/{action}", data={"_csrf_token": token})
            assert refused.status_code == 404
    await db_session.refresh(julie_notice)
    assert julie_notice.read_at is None

    opened = await client.post(f"/notifications/{julies.id}/ouvrir", data={"_csrf_token": token})
    assert (opened.status_code, opened.headers["location"]) == (303, f"/notes-de-frais/{note.id}")
    assert '<span class="bell-count" aria-hidden="true">3</span>' in (await client.get("/")).text
    done = await client.post("/notifications/tout-lire", data={"_csrf_token": token}, follow_redirects=True)
    assert "3 notifications marquées comme lues." in html.unescape(done.text)
    assert 'class="bell-count"' not in done.text
    assert "Aucune notification" not in done.text  # read ones stay listed
    assert (
        await db_session.scalar(select(func.count()).select_from(Notification).where(Notification.read_at.is_(None)))
        == 1
    )  # fmt: skip  (Julie's)


async def test_preferences_are_chosen_in_mon_compte_and_audited(client: Client, db_session: AsyncSession) -> None:
    partner, julie, _firm_dossier = await _firm(db_session)
    assert (await sign_in(client, julie.email, PASSWORD)).status_code == 303
    page = html.unescape((await client.get("/compte")).text)
    assert 'id="notifications"' in page
    assert "Mes notes de frais" in page
    assert "Notes de frais à valider" not in page  # Julie approves nothing: not offered
    token = await csrf_token(client, "/compte")
    saved = await client.post(
        "/compte/notifications",
        data={"_csrf_token": token, "expense_decided": "email", "expense_to_approve": "email", "inconnu": "x"},
        follow_redirects=True,
    )
    assert "Vos préférences de notification sont enregistrées." in html.unescape(saved.text)
    rows = (await db_session.execute(select(NotificationPreference))).scalars().all()
    assert [(row.user_id, row.topic, row.channel) for row in rows] == [(julie.id, "expense_decided", Channel.EMAIL)]
    assert 'value="email" checked' in saved.text
    events = await db_session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.object_type == "notification_preference")
    )
    assert events == 1
    # Everyone else keeps the default: both.
    assert (await PreferenceService(db_session).of(await principal_of(db_session, partner)))[
        Topic.EXPENSE_TO_APPROVE
    ] is Channel.BOTH
