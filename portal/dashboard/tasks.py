"""Background work of the dashboard: printing a PDF report, then emailing it to the people chosen.

``render_report`` is idempotent: a report already printed is left as it is (a retry, a message
delivered twice); one whose earlier attempt crashed is printed again and its file written anew
under a new name, atomically, the row pointing at it only once it is complete. The report's
row carries its step and progress, which its page polls. When it is ready, the same
transaction requests ``email_report`` once, which sends to each chosen person still allowed
(checked again then), each once: the row keeps who was already sent it; the firm's people are
notified as each chose (``portal.notifications``: in the portal, by this email, or both).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio
from sqlalchemy import select, update

from portal.clients.models import Dossier
from portal.dashboard.models import Report, ReportStatus
from portal.dashboard.reports import TEMPLATE, active_year, allowed_recipients, document, download_name, report_files
from portal.firm.models import Firm
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver
from portal.notifications.kinds import Kind
from portal.notifications.services import Event, notify
from portal.web.pdf import render_pdf

RESULT = N_("Résultat")
READY = N_("Rapport prêt")
ALREADY = N_("Le rapport était déjà prêt : rien à refaire.")
GONE = N_("Le rapport n'existe plus : rien à faire.")
NO_YEAR = N_("L'exercice du rapport n'est plus importé : le rapport ne peut pas être établi.")
FAILED = N_("Le rapport n'a pas pu être établi.")
SENT = N_("Envoyés")
LEFT_OUT = N_("Écartés (plus autorisés)")
NOT_READY = N_("Le rapport n'est pas prêt : rien n'a été envoyé.")

STEP_READING = N_("Lecture des comptes")
STEP_FIGURES = N_("Calcul des indicateurs")
STEP_LAYOUT = N_("Mise en page")
STEP_SAVING = N_("Enregistrement")
STEPS = 4


async def _set(ctx: JobContext, report_id: uuid.UUID, **values: Any) -> None:
    """Write the report's row in a short transaction of its own (the page reads it at once)."""
    async with ctx.session() as session, session.begin():
        await session.execute(update(Report).where(Report.id == report_id).values(**values))


async def _step(ctx: JobContext, report_id: uuid.UUID, done: int, step: str) -> None:
    await _set(ctx, report_id, step=step, progress_done=done, progress_total=STEPS)
    await ctx.progress(done, STEPS, step=step)


@job("dashboard.render_report", title=N_("Rapport PDF"))
async def render_report(ctx: JobContext, report_id: str) -> dict[str, Any]:
    """Print the report as PDF into ``var/reports``; then request its emails once."""
    key = uuid.UUID(report_id)
    files = report_files(ctx.settings)
    async with ctx.reader() as session:
        report = await session.get(Report, key)
        if report is None:
            return {RESULT: GONE}
        if report.status is ReportStatus.READY and report.storage_name and files.path(report.storage_name).is_file():
            return {RESULT: ALREADY}
    earlier_file = report.storage_name
    await _set(ctx, key, status=ReportStatus.RUNNING, error=None)
    try:
        await _step(ctx, key, 0, STEP_READING)
        async with ctx.reader() as session:
            report = await session.get(Report, key)
            dossier = await session.get(Dossier, report.dossier_id) if report is not None else None
            year = await active_year(session, report) if report is not None else None
            if report is None or dossier is None:
                return {RESULT: GONE}
            if year is None:
                await _set(ctx, key, status=ReportStatus.FAILED, error=NO_YEAR, step=None,
                           finished_at=dt.datetime.now(dt.UTC))  # fmt: skip
                return {RESULT: NO_YEAR}
            await _step(ctx, key, 1, STEP_FIGURES)
            context = await document(session, report, dossier, year)
        await _step(ctx, key, 2, STEP_LAYOUT)
        pdf = await render_pdf(ctx.settings, TEMPLATE, **context)
        await _step(ctx, key, 3, STEP_SAVING)
        name, size = await anyio.to_thread.run_sync(files.save_bytes, pdf)
    except Exception:
        if ctx.attempt > ctx.settings.job_max_retries:  # the last attempt: the report ends failed, visibly
            await _set(ctx, key, status=ReportStatus.FAILED, error=FAILED, step=None,
                       finished_at=dt.datetime.now(dt.UTC))  # fmt: skip
        raise
    async with ctx.session() as session, session.begin():
        done = await session.execute(
            update(Report)
            .where(Report.id == key, Report.status == ReportStatus.RUNNING)
            .values(status=ReportStatus.READY, storage_name=name, size_bytes=size, step=None, progress_done=STEPS,
                    progress_total=STEPS, error=None, finished_at=dt.datetime.now(dt.UTC))
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if done.rowcount and report.recipient_ids:  # type: ignore[attr-defined]
            await email_report.options(dossier_id=report.dossier_id).enqueue_once(
                session, f"dashboard-report-email:{key}", report_id=str(key)
            )
    if not done.rowcount:  # type: ignore[attr-defined]
        files.discard(name)  # finished meanwhile by another attempt: its file stands
        return {RESULT: ALREADY}
    if earlier_file and earlier_file != name:
        files.discard(earlier_file)  # a crashed attempt's, never served
    await ctx.count(**{RESULT: READY})
    return {RESULT: READY}


@job("dashboard.email_report", title=N_("Envoi d'un rapport PDF"))
async def email_report(ctx: JobContext, report_id: str) -> dict[str, Any]:
    """Email the ready report to each chosen person still allowed to receive it, once each."""
    key = uuid.UUID(report_id)
    files = report_files(ctx.settings)
    async with ctx.reader() as session:
        report = await session.get(Report, key)
        if report is None:
            return {RESULT: GONE}
        dossier = await session.get(Dossier, report.dossier_id)
        if dossier is None or report.status is not ReportStatus.READY or not report.storage_name:
            return {RESULT: NOT_READY}
        allowed = {person.key: person for person in await allowed_recipients(session, dossier)}
        firm_name = (await session.execute(select(Firm.name).limit(1))).scalar_one_or_none() or ""
    chosen = list(report.recipient_ids)
    left_out = sum(1 for value in chosen if value not in allowed)
    # The firm's people hear of it as each chose (in the portal, by email with the PDF, or both), once:
    # the notice is keyed by the report. Client users have nothing of the portal to open: the email.
    firm_people = [allowed[value].id for value in chosen if value in allowed and not allowed[value].client]
    link = f"/entreprises/{dossier.id}/tableau-de-bord/rapports"
    event = Event(kind=Kind.REPORT_READY, key=f"dashboard-report:{key}", target=link, dossier_id=dossier.id,
                  params={"title": report.title})  # fmt: skip
    async with ctx.session() as session, session.begin():
        by_email = {delivery.recipient_id for delivery in await notify(session, event, firm_people, email=False)
                    if delivery.by_email}  # fmt: skip
    wanted = [allowed[value] for value in chosen if value in allowed and value not in report.emailed_ids]
    targets = [person for person in wanted if person.client or person.id in by_email]
    if not targets:
        return {SENT: 0, LEFT_OUT: left_out}
    pdf = await anyio.to_thread.run_sync(files.path(report.storage_name).read_bytes)
    filename = download_name(dossier, report)
    link = f"{ctx.settings.base_url}{link}"
    sent = list(report.emailed_ids)
    for person in targets:
        message = messages.build(
            ctx.settings, to_email=person.email, to_name=person.name, template="dashboard_report",
            locale=person.locale, name=person.name, dossier_name=dossier.name, title=report.title,
            period=f"{report.period_start:%d/%m/%Y} – {report.period_end:%d/%m/%Y}", firm_name=firm_name,
            link=None if person.client else link,
        )  # fmt: skip
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
        await anyio.to_thread.run_sync(deliver, message, ctx.settings)
        sent.append(person.key)
        await _set(ctx, key, emailed_ids=list(sent))  # a retry sends to the others only
    counts = {SENT: len(targets), LEFT_OUT: left_out}
    await ctx.count(**counts)
    return counts
