"""Sending a lettre de mission to the client's contact, in the background.

« Envoyer au client » marks the letter *Envoyée*, kills the link in force and requests
``billing.send_engagement``. The job draws the link's token and commits its SHA-256 (the token itself exists
only in the email), prints the letter, sends it with the PDF attached, then records the sending time.
A retry after a successful send finds the time recorded and sends nothing; a crash between the commit and the
send draws a new link on the retry (the first never left). A letter sent again before the job ran is sent
once, with the newest link; one accepted or put back to draft meanwhile is not sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio
from sqlalchemy import select, update

from portal.accounts.addresses import InvalidEmailError, checked_email
from portal.billing.engagement_pdf import TEMPLATE, letter, pdf_name
from portal.billing.fee_models import Engagement, EngagementStatus
from portal.firm.links import draw_token
from portal.i18n import N_
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.mail import messages
from portal.mail.transport import deliver
from portal.web.pdf import render_pdf

LINK_PATH = "/lettre-de-mission/"
RECIPIENT = N_("Destinataire")
RESULT = N_("Résultat")
SENT = N_("Envoyée")
GONE = N_("La lettre de mission n'existe plus : rien à envoyer.")
NOT_NEEDED = N_("La lettre de mission n'est plus à envoyer (acceptée, terminée ou remise en brouillon).")
NOTHING_OWED = N_("Déjà envoyée : rien à faire.")
UNUSABLE = N_("Adresse e-mail du contact inutilisable : rien n'est envoyé.")


def _usable(address: str) -> bool:
    try:
        checked_email(address)
    except InvalidEmailError:
        return False
    return True


@job("billing.send_engagement", title=N_("Envoi d'une lettre de mission"))
async def send_engagement(ctx: JobContext, engagement_id: str) -> dict[str, Any]:
    """Draw the letter's link, email it to the contact with the PDF, then record the sending."""
    key = uuid.UUID(engagement_id)
    async with ctx.session() as session, session.begin():
        statement = select(Engagement).where(Engagement.id == key)
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(of=Engagement)  # two sends of one letter draw in turn
        engagement = (await session.execute(statement)).unique().scalar_one_or_none()
        if engagement is None:
            return {RESULT: GONE}
        summary: dict[str, Any] = {RECIPIENT: engagement.contact_email}
        if engagement.status is not EngagementStatus.SENT:
            return summary | {RESULT: NOT_NEEDED}
        if engagement.sent_at is not None:
            return summary | {RESULT: NOTHING_OWED}
        if not _usable(engagement.contact_email):
            return summary | {RESULT: UNUSABLE}
        token, digest = draw_token()
        engagement.token_hash = digest
        document = await letter(session, engagement)
    # Committed: the link works from the moment the email can arrive.
    pdf = await render_pdf(ctx.settings, TEMPLATE, letter=document)
    message = messages.build(
        ctx.settings, to_email=engagement.contact_email, to_name=engagement.contact_name or document.client.name,
        template="engagement", locale="fr", name=engagement.contact_name, letter=document,
        link=f"{ctx.settings.base_url}{LINK_PATH}{token}",
    )  # fmt: skip
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=pdf_name(document.reference, document.client.name)
    )
    await anyio.to_thread.run_sync(deliver, message, ctx.settings)
    async with ctx.session() as session, session.begin():
        await session.execute(
            update(Engagement)
            .where(Engagement.id == key, Engagement.token_hash == digest)
            .values(sent_at=dt.datetime.now(dt.UTC))
            .execution_options(synchronize_session=False)
        )
    return summary | {RESULT: SENT}
