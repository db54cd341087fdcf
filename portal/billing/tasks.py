"""Background work of the client base: "Créer mes clients", and the client of every new dossier."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Any

import anyio
from babel.numbers import format_currency
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing import client_base, invoice_files, reminders
from portal.billing.client_base import Outcome, ensure_clients, flag_duplicates
from portal.billing.documents import documents_of
from portal.billing.facturx import render
from portal.billing.fee_models import BillingSettings, Reminder
from portal.billing.models import BillingClient
from portal.clients.models import Dossier
from portal.firm.models import Firm
from portal.firm.services import billing_entity_id
from portal.i18n import N_
from portal.jobs.context import JobContext, JobFailed
from portal.jobs.models import JobRun
from portal.jobs.registry import Shown, job
from portal.mail import messages
from portal.mail.transport import deliver
from portal.settings import FIRM_TIMEZONE

BATCH_SIZE = 5_000
ID_CHUNK = 500

CREATED = N_("Clients créés")
ALREADY_PRESENT = N_("Déjà présents")
DUPLICATES = N_("Doublons potentiels à vérifier")
EXAMINED = N_("Dossiers examinés")
STEP_COUNT = N_("Recherche des dossiers")
STEP_CREATE = N_("Création des clients")
STEP_DUPLICATES = N_("Recherche des doublons")
STEP_DONE = N_("Terminé")
NO_ENTITY = N_("Aucune entité facturante n'est liée au cabinet : aucun client à créer.")
NOT_COUNTED = N_("Les dossiers confidentiels auxquels vous n'avez pas accès ne sont pas comptés ici.")


async def _entity(ctx: JobContext, entity_id: str | None) -> uuid.UUID | None:
    if entity_id:
        return uuid.UUID(entity_id)
    async with ctx.reader() as session:
        entity: uuid.UUID | None = (await session.execute(billing_entity_id())).scalar()
        return entity


def _resumed(ctx: JobContext) -> tuple[Outcome, dict[str, Any]]:
    """What earlier attempts of this run committed (nothing on a first attempt), and where they stood."""
    state = dict(ctx.checkpoint or {})
    figures = {name: int(state.pop(name, 0)) for name in ("dossiers", "created", "already_present", "duplicates")}
    return Outcome(**figures, confidential=dict(state.pop("confidential", None) or {})), state


async def _batch_done(ctx: JobContext, session: AsyncSession, total: Outcome, **position: Any) -> None:
    """Record the run's figures so far and where it stands, in the transaction of the batch that made them."""
    await ctx.save_checkpoint(session, asdict(total) | position)


async def _last_step(
    ctx: JobContext, total: Outcome, entity: uuid.UUID, dossier_id: uuid.UUID | None, **position: Any
) -> None:
    """Flag duplicates and write the audit event, in one transaction with the checkpoint that says so."""
    async with ctx.session() as session, session.begin():
        total.duplicates = await flag_duplicates(session, entity)
        if total.created or total.duplicates:
            record(
                session, "billing_client.bulk_create", object_type="billing_entity", object_id=str(entity),
                dossier_id=dossier_id, created=total.created, already_present=total.already_present,
                duplicates=total.duplicates,
            )  # fmt: skip
        await _batch_done(ctx, session, total, finished=True, **position)


async def summary_for(session: AsyncSession, principal: Principal, run: JobRun) -> Shown:
    """The run's figures for ``principal``: those of every dossier they may see, confidential ones included.

    The run's ``counts`` leave confidential dossiers out; its checkpoint says what was done for
    each of them, and those the reader may see are added. The note is there whoever reads it:
    whether some dossier is left out for them is never told.
    """
    counts = dict(run.counts or {})
    done: dict[str, str] = dict((run.checkpoint or {}).get("confidential") or {})
    if done and CREATED in counts:
        ids = [uuid.UUID(value) for value in done]
        seen = restrict(select(Dossier.id).where(Dossier.id.in_(ids)), principal, Permission.DOSSIERS_READ, Dossier)
        visible = [str(dossier_id) for dossier_id in (await session.execute(seen)).scalars()]
        created = sum(done[dossier_id] == client_base.CREATED for dossier_id in visible)
        counts[EXAMINED] = int(counts.get(EXAMINED, 0)) + len(visible)
        counts[CREATED] = int(counts.get(CREATED, 0)) + created
        counts[ALREADY_PRESENT] = int(counts.get(ALREADY_PRESENT, 0)) + len(visible) - created
    return Shown(counts=counts, note=NOT_COUNTED if CREATED in counts else None)


async def _summary(ctx: JobContext, total: Outcome) -> dict[str, Any]:
    counts = {EXAMINED: total.dossiers, CREATED: total.created, ALREADY_PRESENT: total.already_present,
              DUPLICATES: total.duplicates}  # fmt: skip
    await ctx.count(**counts)
    return counts


@job("billing.create_clients", title=N_("Créer mes clients"), summary=summary_for)
async def create_clients(ctx: JobContext, entity_id: str | None = None) -> dict[str, Any]:
    """Every dossier gets its client in the billing entity, batch by batch (keyset on the dossier id).

    Each batch records the run's figures and its last dossier id in its own transaction: an
    attempt that resumes the run (after a killed worker, or a failure) goes on from there, and
    its summary counts the clients created by earlier attempts as created, not as present.
    """
    entity = await _entity(ctx, entity_id)
    if entity is None:
        await ctx.count(**{N_("Résultat"): NO_ENTITY})
        return {}
    total, position = _resumed(ctx)
    if position.get("finished"):
        return await _summary(ctx, total)
    await ctx.progress(0, None, step=STEP_COUNT)
    async with ctx.reader() as session:
        # Progress counts what the summary counts: the dossiers that are not confidential.
        public = (
            select(func.count()).select_from(Dossier).where(Dossier.is_confidential.is_(False), Dossier.id != entity)
        )
        dossier_count = int((await session.execute(public)).scalar_one())
    await ctx.progress(min(total.dossiers, dossier_count), dossier_count, step=STEP_CREATE)
    lower = uuid.UUID(position["after"]) if position.get("after") else None
    while not position.get("batches_done"):
        async with ctx.reader() as session:
            after = select(Dossier.id).order_by(Dossier.id)
            if lower is not None:
                after = after.where(Dossier.id > lower)
            upper = (await session.execute(after.offset(BATCH_SIZE - 1).limit(1))).scalar()
        conditions = []
        if lower is not None:
            conditions.append(Dossier.id > lower)
        if upper is not None:
            conditions.append(Dossier.id <= upper)
        position = {"after": str(upper or lower or ""), "batches_done": upper is None}
        async with ctx.session() as session, session.begin():
            outcome = await ensure_clients(
                session, entity, and_(*conditions) if conditions else Dossier.id.is_not(None)
            )
            total.add(outcome)
            await _batch_done(ctx, session, total, **position)
        await ctx.progress(min(total.dossiers, dossier_count), dossier_count, step=STEP_CREATE)
        lower = upper
    await ctx.progress(dossier_count, dossier_count, step=STEP_DUPLICATES)
    await _last_step(ctx, total, entity, None, **position)
    await ctx.progress(dossier_count, dossier_count, step=STEP_DONE)
    return await _summary(ctx, total)


@job("billing.create_dossier_clients", title=N_("Création du client dans la base clients"), summary=summary_for)
async def create_dossier_clients(ctx: JobContext, dossier_ids: list[str]) -> dict[str, Any]:
    """The client of dossiers just created (by a person, an import or an integration), resumable like
    ``create_clients``."""
    entity = await _entity(ctx, None)
    if entity is None:
        await ctx.count(**{N_("Résultat"): NO_ENTITY})
        return {}
    ids = [uuid.UUID(value) for value in dossier_ids]
    total, position = _resumed(ctx)
    if not position.get("finished"):
        await ctx.progress(0, None, step=STEP_CREATE)
        for start in range(int(position.get("next", 0)), len(ids), ID_CHUNK):
            chunk = ids[start : start + ID_CHUNK]
            async with ctx.session() as session, session.begin():
                total.add(await ensure_clients(session, entity, Dossier.id.in_(chunk)))
                await _batch_done(ctx, session, total, next=start + ID_CHUNK)
        await _last_step(ctx, total, entity, ids[0] if len(ids) == 1 else None, next=len(ids))
    await ctx.progress(total.dossiers, total.dossiers, step=STEP_DONE)
    return await _summary(ctx, total)


DRAFTS = N_("Brouillons créés")
STEP_MISSIONS = N_("Lecture des missions à facturer")
STEP_DRAFTS = N_("Écriture des brouillons")


async def drafts_shown(session: AsyncSession, principal: Principal, run: JobRun) -> Shown:
    """A billing run's figures for ``principal``: the drafts of clients they may see (confidentiality)."""
    from portal.billing.fee_models import BillingRun, Invoice  # noqa: PLC0415 - the models import nothing of this

    billing_run = (
        await session.execute(select(BillingRun).where(BillingRun.job_run_id == run.id))
    ).scalar_one_or_none()
    if billing_run is None:
        return Shown(counts={})
    statement = restrict(
        select(func.count()).select_from(Invoice).where(Invoice.run_id == billing_run.id),
        principal,
        Permission.BILLING_FEES_READ,
        Invoice,
    )
    return Shown(counts={DRAFTS: int((await session.execute(statement)).scalar_one())})


@job("billing.draft_run", title=N_("Facturation récurrente"), summary=drafts_shown)
async def draft_run(ctx: JobContext, run_id: str) -> dict[str, Any]:
    """The drafts of a billing run, a batch of clients per transaction (each batch resumable, never doubled)."""
    from portal.billing import runs  # noqa: PLC0415 - runs starts this job
    from portal.billing.fee_models import BillingRun, BillingRunStatus  # noqa: PLC0415

    key = uuid.UUID(run_id)
    await ctx.progress(0, None, step=STEP_MISSIONS)
    async with ctx.reader() as session:
        run = await session.get(BillingRun, key)
        if run is None:
            return {}
        billables = await runs.billables_for(session, run)
    batches = runs.client_batches(billables)
    done = int((ctx.checkpoint or {}).get("batches", 0))
    await ctx.progress(done, len(batches), step=STEP_DRAFTS)
    for index in range(done, len(batches)):
        async with ctx.session() as session, session.begin():
            run = await session.get(BillingRun, key)
            if run is None:
                return {}
            await runs.write_drafts(session, run, batches[index])
            await ctx.save_checkpoint(session, {"batches": index + 1})
        await ctx.progress(index + 1, len(batches), step=STEP_DRAFTS)
    async with ctx.session() as session, session.begin():
        run = await session.get(BillingRun, key)
        if run is not None:
            run.drafts = await runs.count_drafts(session, key)
            if run.status is BillingRunStatus.RUNNING:
                run.status = BillingRunStatus.READY
    return {}


RENDERED = N_("Factures mises en PDF")
SENT_TO = N_("Envoyée à")
STEP_RENDER = N_("Factur-X : PDF et XML des factures validées")
RENDER_BATCH = 100


@job("billing.render_invoices", title=N_("Factur-X des factures validées"))
async def render_invoices(ctx: JobContext, entity_id: str) -> dict[str, Any]:
    """Every validated invoice of the entity still without its file gets its Factur-X PDF, a batch at a time.

    Idempotent: a file is kept by one conditional UPDATE (``file_name IS NULL``); an invoice another attempt
    rendered meanwhile keeps that one and this copy is discarded."""
    from portal.billing.fee_models import Invoice, InvoiceStatus  # noqa: PLC0415

    entity = uuid.UUID(entity_id)
    waiting = select(Invoice.id).where(
        Invoice.entity_id == entity, Invoice.status == InvoiceStatus.VALIDATED, Invoice.file_name.is_(None)
    )
    async with ctx.reader() as session:
        total = int((await session.execute(select(func.count()).select_from(waiting.subquery()))).scalar_one())
    done = 0
    await ctx.progress(0, total, step=STEP_RENDER)
    while True:
        async with ctx.reader() as session:
            ids = list((await session.execute(waiting.order_by(Invoice.number).limit(RENDER_BATCH))).scalars())
            if not ids:
                break
            documents = await documents_of(session, ids)
        files = await anyio.to_thread.run_sync(render, documents, ctx.settings)
        async with ctx.session() as session, session.begin():
            for invoice_id, content in zip(ids, files, strict=True):
                name = invoice_files.store(ctx.settings, content)
                kept = await session.execute(
                    update(Invoice)
                    .where(Invoice.id == invoice_id, Invoice.file_name.is_(None))
                    .values(file_name=name)
                    .execution_options(synchronize_session=False)
                )
                if not kept.rowcount:  # type: ignore[attr-defined]
                    invoice_files.discard(ctx.settings, name)
        done += len(ids)
        await ctx.progress(min(done, total), max(total, done), step=STEP_RENDER)
    await ctx.count(**{RENDERED: done})
    return {RENDERED: done}


@job("billing.send_invoice", title=N_("Envoi d'une facture"))
async def send_invoice(ctx: JobContext, invoice_id: str) -> dict[str, Any]:
    """Email a validated invoice, its Factur-X PDF attached, to the client's billing contact; ``sent_at`` once."""
    from portal.billing.fee_models import Invoice, InvoiceKind, InvoiceStatus  # noqa: PLC0415
    from portal.billing.fee_settings import settings_of  # noqa: PLC0415
    from portal.billing.invoices import InvoiceService  # noqa: PLC0415

    key = uuid.UUID(invoice_id)
    async with ctx.reader() as session:
        invoice = await session.get(Invoice, key)
        if invoice is None or invoice.status is not InvoiceStatus.VALIDATED:
            return {}
        if not invoice.client_email:
            raise JobFailed(N_("Le client n'a pas d'adresse de facturation : renseignez-la, puis envoyez à nouveau."))
        settings = await settings_of(session, invoice.entity_id)
        firm_name = (await session.execute(select(Firm.name).limit(1))).scalar_one_or_none() or ""
        documents = [] if invoice.file_name else await documents_of(session, [invoice.id])
    if invoice.file_name:
        pdf = await anyio.to_thread.run_sync(invoice_files.read, ctx.settings, invoice.file_name)
    else:
        pdf = (await anyio.to_thread.run_sync(render, documents, ctx.settings))[0]
    amount = format_currency(invoice.total_ttc, "EUR", locale="fr_FR")
    message = messages.build(
        ctx.settings, to_email=invoice.client_email, to_name=invoice.client_name, template="invoice", locale="fr",
        number=invoice.number, firm_name=firm_name, issue_date=f"{invoice.issue_date:%d/%m/%Y}",
        due_date=f"{invoice.due_date:%d/%m/%Y}", amount=amount, iban=settings.iban,
        credit_note=invoice.kind is InvoiceKind.CREDIT_NOTE,
    )  # fmt: skip
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{invoice.number}.pdf")
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    async with ctx.session() as session, session.begin():
        await InvoiceService(session).mark_sent(key)
        record(session, "invoice.sent", object_type="billing_invoice", object_id=str(key),
               number=invoice.number, to=invoice.client_email)  # fmt: skip
    await ctx.count(**{SENT_TO: invoice.client_email})
    return {SENT_TO: invoice.client_email}


# --- Relances ---------------------------------------------------------------------------------------------

REMINDERS_WRITTEN = N_("Relances à envoyer")
REMINDER_RESULT = N_("Résultat")
REMINDER_SENT = N_("Relance envoyée")
REMINDER_NOT_DUE = N_("Rien à envoyer : la relance est déjà partie, ou la facture est réglée.")


@job("billing.send_reminders", title=N_("Relances des factures échues"))
async def send_reminders(ctx: JobContext, day: str | None = None) -> dict[str, Any]:
    """Write the reminders due today (``day``: another day, ISO) and request the email of each, once."""
    entity = await _entity(ctx, None)
    if entity is None:
        await ctx.count(**{REMINDER_RESULT: NO_ENTITY})
        return {}
    on = dt.date.fromisoformat(day) if day else dt.datetime.now(FIRM_TIMEZONE).date()
    async with ctx.session() as session, session.begin():
        written = await reminders.write_due(session, entity, on)
        for reminder_id in written:
            await email_reminder.enqueue(session, reminder_id=str(reminder_id))
    counts = {REMINDERS_WRITTEN: len(written)}
    await ctx.count(**counts)
    return counts


@job("billing.email_reminder", title=N_("Envoi d'une relance"))
async def email_reminder(ctx: JobContext, reminder_id: str) -> dict[str, Any]:
    """Email one reminder to the invoice's client, unless it was sent already or the invoice was paid meanwhile."""
    key = uuid.UUID(reminder_id)
    async with ctx.reader() as session:
        found = await reminders.reminder_to_send(session, key)
        if found is None:
            await ctx.count(**{REMINDER_RESULT: REMINDER_NOT_DUE})
            return {REMINDER_RESULT: REMINDER_NOT_DUE}
        reminder, invoice = found
        firm_name = (await session.execute(select(Firm.name).limit(1))).scalar_one_or_none() or ""
        settings = (
            await session.execute(select(BillingSettings).where(BillingSettings.entity_id == invoice.entity_id))
        ).scalar_one_or_none()
        dossier_id = (
            await session.execute(select(BillingClient.origin_dossier_id).where(BillingClient.id == invoice.client_id))
        ).scalar_one_or_none()
    message = messages.build(
        ctx.settings, to_email=invoice.client_email, to_name=invoice.client_name, template="billing_reminder",
        locale="fr", client_name=invoice.client_name, invoice=invoice.number,
        issue_date=f"{invoice.issue_date:%d/%m/%Y}", due_date=f"{invoice.due_date:%d/%m/%Y}", days=reminder.delay_days,
        amount=format_currency(reminders.balance(invoice), "EUR", locale="fr_FR"),
        billed=format_currency(invoice.total_ttc, "EUR", locale="fr_FR"), firm_name=firm_name,
        iban=settings.iban if settings else "", email=settings.email if settings else "",
    )  # fmt: skip
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    async with ctx.session() as session, session.begin():
        await session.execute(
            update(Reminder)
            .where(Reminder.id == key, Reminder.sent_at.is_(None))
            .values(sent_at=dt.datetime.now(dt.UTC), updated_at=dt.datetime.now(dt.UTC))
        )
        record(
            session, "billing_reminder.sent", object_type="billing_invoice", object_id=str(invoice.id),
            dossier_id=dossier_id, invoice=invoice.number, delay=reminder.delay_days, email=invoice.client_email,
            amount=reminders.balance(invoice),
        )  # fmt: skip
    await ctx.count(**{REMINDER_RESULT: REMINDER_SENT})
    return {REMINDER_RESULT: REMINDER_SENT}
