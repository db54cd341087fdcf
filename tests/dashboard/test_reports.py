"""Rapports: a dossier's fiscal year printed as a PDF by a job, its retries, its emails, its pages and who may see them.

The ledger is a small hand-made FEC of N and N-1 imported the way ``portal fec import`` does (the
import job, run here); the PDF is read back with poppler's ``pdftotext``.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import uuid
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.accounts.passwords import hash_password
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier, DossierAccess
from portal.dashboard import tasks
from portal.dashboard.models import BudgetLine, Objective, Report, ReportStatus
from portal.dashboard.reports import ReportService, allowed_recipients, download_name, report_files
from portal.firm.models import Firm
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun
from portal.jobs.runtime import Runtime
from portal.ledger.commands import import_path
from portal.ledger.models import FiscalYear, LedgerSource, VersionState
from portal.settings import FIRM_TIMEZONE, Settings
from portal.web.pdf import euros
from tests.browsing import csrf_token, sign_in
from tests.dashboard.sample_ledger import CURRENT, PREVIOUS
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_firm, make_user
from tests.pdfs import page_count, pdf_text, squeezed

Maker = async_sessionmaker[AsyncSession]
Client = httpx.AsyncClient
FIRM = "Cabinet Durand & Associés"
DOSSIER = "Boulangerie Éclair SARL"
SIREN = "552008443"


@dataclass
class World:
    dossier: Dossier
    partner: User
    admin: User
    accountant: User
    client_user: User
    stranger: User  # a Comptable of another dossier
    departed: User  # a partner whose account was disabled


def principal(user: User, roles: dict[uuid.UUID, frozenset[DossierRole]] | None = None) -> Principal:
    return Principal.build(user_id=user.id, email=user.email, name=user.name, locale="fr", roles=user.firm_roles,
                           dossier_roles=roles or {})  # fmt: skip


async def _people(session: AsyncSession, dossier: Dossier) -> World:
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Claire Associée")
    admin = await make_user(session, roles=(FirmRole.ADMIN,), name="Alain Admin")
    accountant = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Julie Comptable")
    await add_role(session, accountant, dossier, DossierRole.ACCOUNTANT)
    client_user = User(
        email="gerard@boulangerie-eclair.fr", name="Gérard Client", password_hash=hash_password(PASSWORD)
    )
    session.add(client_user)
    await session.flush()
    await add_role(session, client_user, dossier, DossierRole.CLIENT_USER)
    other = await make_dossier(session, name="Garage du Centre")
    stranger = await make_user(session, roles=(FirmRole.COLLABORATOR,), name="Thomas Ailleurs")
    await add_role(session, stranger, other, DossierRole.ACCOUNTANT)
    departed = await make_user(session, roles=(FirmRole.PARTNER,), name="Ancien Associé")
    departed.is_active = False
    await session.flush()
    return World(dossier, partner, admin, accountant, client_user, stranger, departed)


@pytest.fixture
async def imported(committed: Maker, settings: Settings, tmp_path: Path, jobs: Runtime) -> World:
    """The firm, the dossier and its people, and N-1 then N imported from FEC files through the import job."""
    async with committed() as session, session.begin():
        session.add(Firm(name=FIRM))
        dossier = await make_dossier(session, name=DOSSIER, siren=SIREN)
        world = await _people(session, dossier)
    for sample in (PREVIOUS, CURRENT):
        path = sample.write(tmp_path, SIREN)
        outcome = await import_path(settings, committed, world.dossier, path)
        assert outcome.record.status.value == "succeeded", outcome.record.error
    return world


def _context(jobs: Runtime, settings: Settings, user: User) -> JobContext:
    return JobContext(run_id=uuid.uuid4(), sessions=jobs.sessions, created_by_id=user.id, settings=settings)


async def _ask(committed: Maker, world: World, *, recipients: list[User], comment: str = "") -> Report:
    """The partner asks for the report of N, as the page does."""
    async with committed() as session, session.begin():
        service = ReportService(session)
        asked, errors = await service.check(
            principal(world.partner), world.dossier, fiscal_year=str(await _year_id(session, CURRENT.end)),
            title="Rapport de gestion 2025", comment=comment, recipients=[str(user.id) for user in recipients],
        )  # fmt: skip
        assert errors == {}
        assert asked is not None
        return await service.request(principal(world.partner), world.dossier, asked)


async def _year_id(session: AsyncSession, end: dt.date) -> uuid.UUID:
    statement = select(FiscalYear.id).where(FiscalYear.end_date == end, FiscalYear.state == VersionState.ACTIVE)
    return (await session.execute(statement)).scalar_one()


async def _report(committed: Maker, report_id: uuid.UUID) -> Report:
    async with committed() as session:
        return await session.get_one(Report, report_id)


def _outbox(folder: Path) -> list[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


# --- the job ---------------------------------------------------------------------------------------


async def test_the_job_prints_the_report_with_the_dossier_and_its_figures(
    imported: World, committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    world = imported
    report = await _ask(committed, world, recipients=[], comment="Belle progression du chiffre d'affaires.\nÀ suivre.")
    async with committed() as session:
        run = await session.get_one(JobRun, report.job_run_id)
        assert run.actor_name == "dashboard.render_report"
        assert run.dossier_id == world.dossier.id

    summary = await tasks.render_report(_context(jobs, settings, world.partner), report_id=str(report.id))
    assert summary == {tasks.RESULT: tasks.READY}
    ready = await _report(committed, report.id)
    assert ready.status is ReportStatus.READY
    assert (ready.progress_done, ready.progress_total, ready.step) == (tasks.STEPS, tasks.STEPS, None)
    assert ready.storage_name is not None
    document = report_files(settings).path(ready.storage_name).read_bytes()
    assert ready.size_bytes == len(document)
    assert document.startswith(b"%PDF-")

    text = squeezed(pdf_text(document))
    assert DOSSIER in text
    assert "552 008 443" in text
    assert FIRM in text
    assert "du 1 janvier 2025 au 31 décembre 2025" in text
    ca, ca_before = squeezed(euros(CURRENT.chiffre_affaires)), squeezed(euros(PREVIOUS.chiffre_affaires))
    assert ca == "165 000 €"
    assert f"Chiffre d'affaires {ca} {ca_before}" in text  # N then N-1 on the indicator's line
    growth = (CURRENT.chiffre_affaires - PREVIOUS.chiffre_affaires) / PREVIOUS.chiffre_affaires * 100
    assert f"+{growth.quantize(Decimal('0.1'))}".replace(".", ",") + " %" in text
    assert "Belle progression du chiffre d'affaires." in text
    assert "Page 2 / " in text
    assert page_count(document) >= 3


async def test_objectives_and_the_budget_show_in_the_report(
    imported: World, committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    world = imported
    async with committed() as session, session.begin():
        session.add(Objective(dossier_id=world.dossier.id, end_date=CURRENT.end, key="chiffre_affaires",
                              target=Decimal(150_000)))  # fmt: skip
        session.add(Objective(dossier_id=world.dossier.id, end_date=CURRENT.end, key="dso_jours", target=Decimal(30)))
        for month in range(1, 13):
            first = dt.date(CURRENT.year, month, 1)
            session.add(BudgetLine(dossier_id=world.dossier.id, end_date=CURRENT.end, key="chiffre_affaires",
                                   month=first, amount=1_500_000))  # fmt: skip
            session.add(BudgetLine(dossier_id=world.dossier.id, end_date=CURRENT.end, key="achats_consommes",
                                   month=first, amount=400_000))  # fmt: skip
    report = await _ask(committed, world, recipients=[])
    await tasks.render_report(_context(jobs, settings, world.partner), report_id=str(report.id))
    ready = await _report(committed, report.id)
    text = squeezed(pdf_text(report_files(settings).path(str(ready.storage_name)).read_bytes()))
    # CA: N, N-1, variation, the objective and 110 % of it reached.
    assert "Chiffre d'affaires 165 000 € 114 000 € +44,7 % 150 000 € 110 %" in text
    assert "Budget et réel" in text
    assert "Chiffre d'affaires 180 000 € 165 000 € -15 000 € -8,3 %" in text
    assert "Achats consommés 48 000 € 48 000 € 0" in text  # spent as planned
    assert "Objectif (au prorata)" in text  # the cumulative CA chart's objective line
    assert "Budget" in text


async def test_a_retry_of_a_ready_report_does_nothing_and_a_crashed_one_is_printed_anew(
    imported: World, committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    world = imported
    folder = report_files(settings).root
    earlier = set(folder.rglob("*.pdf"))  # other tests' reports
    report = await _ask(committed, world, recipients=[])
    context = _context(jobs, settings, world.partner)
    await tasks.render_report(context, report_id=str(report.id))
    first = await _report(committed, report.id)

    again = await tasks.render_report(context, report_id=str(report.id))
    assert again == {tasks.RESULT: tasks.ALREADY}
    second = await _report(committed, report.id)
    assert (second.storage_name, second.size_bytes, second.finished_at) == (
        first.storage_name, first.size_bytes, first.finished_at,
    )  # fmt: skip
    assert len(set(folder.rglob("*.pdf")) - earlier) == 1

    # A worker died while it printed: the row says running and names a file half there.
    assert first.storage_name is not None
    half = report_files(settings).path(first.storage_name)
    half.write_bytes(b"%PDF-1.7 half")
    async with committed() as session, session.begin():
        await session.execute(update(Report).where(Report.id == report.id).values(status=ReportStatus.RUNNING))
    redone = await tasks.render_report(context, report_id=str(report.id))
    assert redone == {tasks.RESULT: tasks.READY}
    third = await _report(committed, report.id)
    assert third.status is ReportStatus.READY
    assert third.storage_name != first.storage_name
    assert not half.exists()
    assert [path.name for path in set(folder.rglob("*.pdf")) - earlier] == [Path(str(third.storage_name)).name]
    assert report_files(settings).path(str(third.storage_name)).read_bytes().startswith(b"%PDF-")
    assert not list(folder.rglob(".upload-*"))  # no temporary file left


async def test_a_report_whose_fiscal_year_is_gone_ends_failed_with_a_reason(
    imported: World, committed: Maker, jobs: Runtime, settings: Settings
) -> None:
    report = await _ask(committed, imported, recipients=[])
    async with committed() as session, session.begin():
        await session.execute(update(FiscalYear).values(state=VersionState.RETIRED))
    summary = await tasks.render_report(_context(jobs, settings, imported.partner), report_id=str(report.id))
    assert summary == {tasks.RESULT: tasks.NO_YEAR}
    failed = await _report(committed, report.id)
    assert (failed.status, failed.error, failed.storage_name) == (ReportStatus.FAILED, tasks.NO_YEAR, None)


# --- the emails -------------------------------------------------------------------------------------


async def test_the_choice_of_recipients_is_the_people_who_may_read_the_dossier(
    imported: World, committed: Maker
) -> None:
    world = imported
    async with committed() as session:
        names = [person.name for person in await allowed_recipients(session, world.dossier)]
    assert names == ["Alain Admin", "Claire Associée", "Julie Comptable", "Gérard Client"]
    async with committed() as session, session.begin():
        await session.execute(update(Dossier).where(Dossier.id == world.dossier.id).values(is_confidential=True))
        session.add(DossierAccess(dossier_id=world.dossier.id, user_id=world.partner.id))
    async with committed() as session:
        dossier = await session.get_one(Dossier, world.dossier.id)
        names = [person.name for person in await allowed_recipients(session, dossier)]
    assert names == ["Claire Associée", "Julie Comptable", "Gérard Client"]  # the admin is not granted it

    async with committed() as session:
        asked, errors = await ReportService(session).check(
            principal(world.partner), dossier, fiscal_year=str(await _year_id(session, CURRENT.end)), title="R",
            comment="", recipients=[str(world.accountant.id), str(world.stranger.id)],
        )  # fmt: skip
    assert asked is None
    assert errors == {"destinataires": "Un des destinataires choisis ne peut pas recevoir ce rapport."}


async def test_the_email_goes_only_to_the_chosen_people_still_allowed_once_each(
    imported: World, committed: Maker, jobs: Runtime, settings: Settings, tmp_path: Path
) -> None:
    world = imported
    outbox = tmp_path / "courriels"
    mailing = settings.with_overrides(smtp_url=f"file://{outbox}")
    report = await _ask(committed, world, recipients=[world.admin, world.partner, world.accountant, world.client_user])
    await tasks.render_report(_context(jobs, mailing, world.partner), report_id=str(report.id))
    async with committed() as session:
        runs = (await session.execute(select(JobRun).where(JobRun.actor_name == "dashboard.email_report"))).scalars()
        assert [run.arguments for run in runs] == [{"report_id": str(report.id)}]

    # Meanwhile the dossier became confidential, granted to the partner only: the admin is left out.
    async with committed() as session, session.begin():
        await session.execute(update(Dossier).where(Dossier.id == world.dossier.id).values(is_confidential=True))
        session.add(DossierAccess(dossier_id=world.dossier.id, user_id=world.partner.id))
    summary = await tasks.email_report(_context(jobs, mailing, world.partner), report_id=str(report.id))
    assert summary == {tasks.SENT: 3, tasks.LEFT_OUT: 1}
    messages = _outbox(outbox)
    recipients = sorted(str(message["To"]) for message in messages)
    assert [address for address in recipients if world.admin.email in address] == []
    assert len(recipients) == 3
    ready = await _report(committed, report.id)
    async with committed() as session:
        dossier = await session.get_one(Dossier, world.dossier.id)
    for message in messages:
        [attachment] = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == download_name(dossier, ready)
        assert attachment.get_content().startswith(b"%PDF-")
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert DOSSIER in text
        link = f"/entreprises/{world.dossier.id}/tableau-de-bord/rapports"
        if world.client_user.email in str(message["To"]):
            assert link not in text  # nothing of the portal they may open
        else:
            assert link in text

    again = await tasks.email_report(_context(jobs, mailing, world.partner), report_id=str(report.id))
    assert again[tasks.SENT] == 0
    assert len(_outbox(outbox)) == 3


# --- the pages ------------------------------------------------------------------------------------------


@dataclass
class Pages:
    dossier: Dossier
    other: Dossier
    year: FiscalYear
    partner: User
    admin: User
    accountant: User
    client_user: User
    stranger: User


async def _pages_world(session: AsyncSession) -> Pages:
    await make_firm(session, name=FIRM)
    dossier = await make_dossier(session, name=DOSSIER, siren=SIREN)
    world = await _people(session, dossier)
    other = await make_dossier(session, name="Autre Dossier SAS")
    year = FiscalYear(dossier_id=dossier.id, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 12, 31),
                      state=VersionState.ACTIVE, source=LedgerSource.UPLOAD)  # fmt: skip
    session.add(year)
    await session.flush()
    return Pages(dossier, other, year, world.partner, world.admin, world.accountant, world.client_user, world.stranger)


async def _as(client: Client, user: User) -> None:
    client.cookies.clear()
    assert (await sign_in(client, user.email, PASSWORD)).status_code in {302, 303}


def _url(dossier: Dossier, rest: str = "") -> str:
    return f"/entreprises/{dossier.id}/tableau-de-bord/rapports{rest}"


async def _ready(session: AsyncSession, settings: Settings, dossier: Dossier, year: FiscalYear, user: User) -> Report:
    name, size = report_files(settings).save_bytes(b"%PDF-1.7 un rapport")
    report = Report(dossier_id=dossier.id, end_date=year.end_date, fiscal_year_id=year.id,
                    period_start=year.start_date, period_end=year.end_date, title="Rapport annuel",
                    requested_by_id=user.id, status=ReportStatus.READY, storage_name=name, size_bytes=size)  # fmt: skip
    session.add(report)
    await session.flush()
    return report


async def test_a_comptable_asks_for_a_report_and_sees_it_queued(
    client: Client, db_session: AsyncSession, settings: Settings
) -> None:
    world = await _pages_world(db_session)
    await _as(client, world.accountant)
    page = await client.get(_url(world.dossier))
    assert page.status_code == 200
    assert "Nouveau rapport" in page.text
    assert "Aucun rapport pour le moment." in page.text
    for person in (world.partner, world.accountant, world.client_user, world.admin):
        assert f'value="{person.id}"' in page.text
    assert str(world.stranger.id) not in page.text

    token = await csrf_token(client, _url(world.dossier))
    form = {"_csrf_token": token, "exercice": str(world.year.id), "titre": "  Rapport   2025 ",
            "commentaire": "Bonne année.", "destinataires": [str(world.client_user.id)]}  # fmt: skip
    created = await client.post(_url(world.dossier), data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    report = (await db_session.execute(select(Report))).scalar_one()
    assert (report.title, report.comment, report.status) == ("Rapport 2025", "Bonne année.", ReportStatus.QUEUED)
    assert report.recipient_ids == [str(world.client_user.id)]
    assert (report.requested_by_id, report.fiscal_year_id, report.end_date) == (
        world.accountant.id, world.year.id, world.year.end_date,
    )  # fmt: skip
    listed = await client.get(_url(world.dossier))
    assert "Rapport 2025" in listed.text
    assert "Julie Comptable" in listed.text
    assert 'hx-trigger="every 1s"' in listed.text  # polled until it is printed
    assert "Télécharger" not in listed.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"exercice": "autre"}, "exercice", "Choisissez l'exercice du rapport."),
        ({"titre": "   "}, "titre", "Donnez un titre au rapport."),
        ({"titre": "x" * 201}, "titre", "Ce champ ne peut pas dépasser 200 caractères."),
        ({"commentaire": "x" * 4001}, "commentaire", "Ce champ ne peut pas dépasser 4"),
        ({"destinataires": ["stranger"]}, "destinataires", "Un des destinataires choisis ne peut pas recevoir"),
    ],
)
async def test_a_wrong_form_says_why_and_asks_for_nothing(
    client: Client, db_session: AsyncSession, change: dict[str, object], field: str, message: str
) -> None:
    world = await _pages_world(db_session)
    await _as(client, world.partner)
    token = await csrf_token(client, _url(world.dossier))
    form: dict[str, object] = {"_csrf_token": token, "exercice": str(world.year.id), "titre": "Rapport",
                               "commentaire": "", "destinataires": []}  # fmt: skip
    form |= change
    if form["destinataires"] == ["stranger"]:
        form["destinataires"] = [str(world.stranger.id)]
    refused = await client.post(_url(world.dossier), data=form, follow_redirects=False)  # type: ignore[arg-type]
    assert refused.status_code == 422
    assert message in refused.text
    assert f'id="erreur-{field}"' in refused.text
    assert await db_session.scalar(select(func.count()).select_from(Report)) == 0
    assert await db_session.scalar(select(func.count()).select_from(JobRun)) == 0


async def test_the_download_is_an_attachment_named_after_the_dossier(
    client: Client, db_session: AsyncSession, settings: Settings
) -> None:
    world = await _pages_world(db_session)
    report = await _ready(db_session, settings, world.dossier, world.year, world.partner)
    await _as(client, world.accountant)
    listed = await client.get(_url(world.dossier))
    assert f'href="{_url(world.dossier, f"/{report.id}.pdf")}"' in listed.text
    assert "Prêt" in listed.text
    assert 'hx-trigger="every 1s"' not in listed.text
    download = await client.get(_url(world.dossier, f"/{report.id}.pdf"))
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7 un rapport"
    assert download.headers["content-type"] == "application/pdf"
    day = report.created_at.astimezone(FIRM_TIMEZONE).date().isoformat()
    assert (
        download.headers["content-disposition"] == f'attachment; filename="Rapport-Boulangerie-Eclair-SARL-{day}.pdf"'
    )
    assert download.headers["cache-control"] == "no-store"
    for wrong in (f"/{report.id}", f"/{report.id}.txt", "/rapport.pdf", f"/{uuid.uuid4()}.pdf"):
        assert (await client.get(_url(world.dossier, wrong))).status_code == 404, wrong
    # Another dossier's address with this report's id: 404.
    assert (await client.get(_url(world.other, f"/{report.id}.pdf"))).status_code == 404


async def test_who_may_read_ask_for_and_download_reports(
    client: Client, db_session: AsyncSession, settings: Settings
) -> None:
    world = await _pages_world(db_session)
    report = await _ready(db_session, settings, world.dossier, world.year, world.partner)
    pdf_url = _url(world.dossier, f"/{report.id}.pdf")

    await _as(client, world.admin)  # reads every dossier's indicators, plans none
    page = await client.get(_url(world.dossier))
    assert page.status_code == 200
    assert "Nouveau rapport" not in page.text
    assert (await client.get(pdf_url)).status_code == 200
    token = await csrf_token(client, "/entreprises")
    refused = await client.post(_url(world.dossier), data={"_csrf_token": token, "exercice": str(world.year.id),
                                                           "titre": "Rapport"}, follow_redirects=False)  # fmt: skip
    assert refused.status_code == 403

    await _as(client, world.stranger)  # a Comptable, of another dossier
    assert (await client.get(_url(world.dossier))).status_code == 404
    assert (await client.get(pdf_url)).status_code == 404

    await _as(client, world.client_user)  # receives reports by email, reads no indicators in the portal
    assert (await client.get(_url(world.dossier))).status_code == 403
    assert (await client.get(pdf_url)).status_code == 403

    # Confidential, granted to the Comptable (a member) only: the partner gets 404 like a missing dossier.
    world.dossier.is_confidential = True
    await db_session.flush()
    await _as(client, world.partner)
    assert (await client.get(_url(world.dossier))).status_code == 404
    assert (await client.get(pdf_url)).status_code == 404
    token = await csrf_token(client, "/entreprises")
    hidden = await client.post(_url(world.dossier), data={"_csrf_token": token, "exercice": str(world.year.id),
                                                          "titre": "Rapport"}, follow_redirects=False)  # fmt: skip
    assert hidden.status_code == 404
    await _as(client, world.accountant)
    assert (await client.get(pdf_url)).status_code == 200
