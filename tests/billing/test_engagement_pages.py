"""Lettres de mission over HTTP: the editor and its messages, the pages each role may open, the dossier's
Facturation tab; and, on committed data with the real workers and an SMTP server, the letter sent with its PDF
and a link the client accepts once, the token found nowhere but in the email."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.audit.models import AuditEvent
from portal.billing.fee_models import Engagement, EngagementStatus, Rhythm
from portal.jobs.runtime import Runtime
from portal.settings import Settings
from tests.billing.test_controllers import as_user, post
from tests.browsing import csrf_token, serve_in_process, sign_in
from tests.factories.engagements import client_of, fees_place, make_engagement, make_service
from tests.factories.firm import PASSWORD
from tests.firm.test_invitation_mail import all_sent, everything_stored, visitor
from tests.smtp import Inbox, link_token, smtp_server

Client = httpx.AsyncClient
Maker = async_sessionmaker[AsyncSession]
LINK = re.compile(r"http://[^\s\"<>]+/lettre-de-mission/([A-Za-z0-9_-]+)")
ALERT = re.compile(r'id="erreur-([\w-]+)" role="alert">([^<]*)<')
D = dt.date


def _letter_form(client_id: str, **values: object) -> dict[str, object]:
    return {
        "client": client_id, "contact": "Sophie Martin", "email": "sophie.martin@boulangerie.example.fr",
        "debut": "2026-01-01", "renouvellement": "", "revision": "2,5",
        "service": ["", ""], "libelle": ["Tenue comptable", "Révision et bilan"], "unite": ["forfait", "forfait"],
        "quantite": ["1", "1"], "prix": ["350", "1 800"], "tva": ["20.00", "20.00"], "compte": ["706000", "706000"],
        "rythme": ["monthly", "yearly"],
    } | values  # fmt: skip


async def test_a_partner_writes_a_letter_and_each_mistake_shows_beside_its_field(
    client: Client, db_session: AsyncSession
) -> None:
    place = await fees_place(db_session)
    bakery = await client_of(db_session, place.bakery)
    await as_user(client, place.partner)
    wrong = await post(client, "/facturation/lettres-de-mission/nouvelle",
                       _letter_form("", revision="101", libelle=["", "Révision et bilan"],
                                    prix=["350", "1 800,001"]))  # type: ignore[arg-type]  # fmt: skip
    assert wrong.status_code == 422
    errors = {field: html.unescape(text) for field, text in ALERT.findall(wrong.text)}
    assert errors == {
        "client": "Choisissez le client de la lettre de mission.",
        "revision": "Le taux de révision annuelle est un pourcentage entre 0 et 100, par exemple 2,5.",
        "libelle-0": "Choisissez un service du catalogue ou indiquez un libellé.",
        "prix-1": "Valeur invalide : deux décimales au plus.",
    }
    assert (await db_session.execute(select(func.count()).select_from(Engagement))).scalar_one() == 0

    saved = await post(client, "/facturation/lettres-de-mission/nouvelle", _letter_form(str(bakery.id)))  # type: ignore[arg-type]
    assert saved.status_code == 303
    page = html.unescape((await client.get(saved.headers["location"])).text)
    assert "Brouillon" in page
    # 350 × 12 + 1 800 = 6 000 HT a year; VAT 20 %: 1 200; 7 200 TTC.
    assert "6\u202f000,00\xa0€" in page
    assert "7\u202f200,00\xa0€" in page
    await db_session.refresh(bakery)
    assert (bakery.billing_contact, bakery.billing_email) == ("Sophie Martin", "sophie.martin@boulangerie.example.fr")
    letter = (await db_session.execute(select(Engagement))).unique().scalar_one()
    assert letter.reference.startswith("LM20")
    assert letter.renewal_date == D(2027, 1, 1)
    kinds = set((await db_session.execute(select(AuditEvent.action))).scalars())
    assert {"billing_engagement.create", "billing_mission.create"} <= kinds
    listing = html.unescape((await client.get("/facturation/lettres-de-mission?statut=draft")).text)
    assert letter.reference in listing
    assert "1 lettre de mission" in listing
    assert "0 lettre de mission" in html.unescape(
        (await client.get("/facturation/lettres-de-mission?statut=accepted")).text
    )

    pdf = await client.get(f"/facturation/lettres-de-mission/{letter.id}/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


async def test_choosing_a_service_fills_its_line_over_htmx(client: Client, db_session: AsyncSession) -> None:
    place = await fees_place(db_session)
    service = await make_service(db_session, place.entity.id, "Liasse fiscale", "450.00")
    await as_user(client, place.partner)
    token = await csrf_token(client, "/facturation/lettres-de-mission/nouvelle")
    line = {"service": [str(service.id)], "libelle": ["Autre chose"], "prix": ["1"], "unite": ["heure"],
            "quantite": ["1"], "tva": ["10.00"], "compte": ["706000"], "rythme": ["yearly"]}  # fmt: skip
    data = _letter_form("", action="actualiser", **line)
    answer = await client.post("/facturation/lettres-de-mission/nouvelle", data={"_csrf_token": token, **data},
                               headers={"HX-Request": "true", "HX-Trigger": "service-0"})  # fmt: skip
    assert answer.status_code == 200
    text = html.unescape(answer.text)
    assert 'id="libelle-0" name="libelle" value="Liasse fiscale"' in text
    assert 'id="prix-0" name="prix" value="450"' in text
    assert "450,00\xa0€" in text  # the yearly fees, recomputed


async def test_who_opens_the_letters(client: Client, db_session: AsyncSession) -> None:
    place = await fees_place(db_session)
    bakery, garage = await client_of(db_session, place.bakery), await client_of(db_session, place.garage)
    mine = await make_engagement(db_session, place.entity.id, bakery, [("Tenue", Rhythm.MONTHLY, "350")],
                                 start=D(2026, 1, 1))  # fmt: skip
    other = await make_engagement(db_session, place.entity.id, garage, [("Tenue", Rhythm.MONTHLY, "280")],
                                  start=D(2026, 1, 1))  # fmt: skip
    await as_user(client, place.accountant)  # Comptable of the bakery
    listing = await client.get("/facturation/lettres-de-mission")
    assert mine.reference in listing.text
    assert other.reference not in listing.text
    assert (await client.get(f"/facturation/lettres-de-mission/{other.id}")).status_code == 404
    assert (await client.get(f"/facturation/lettres-de-mission/{mine.id}")).status_code == 200
    assert (await client.get("/facturation/lettres-de-mission/nouvelle")).status_code == 403
    assert (await post(client, f"/facturation/lettres-de-mission/{mine.id}/envoyer")).status_code == 403
    tab = html.unescape((await client.get(f"/entreprises/{place.bakery.id}?onglet=facturation")).text)
    assert mine.reference in tab
    assert "4\u202f200,00\xa0€ HT par an" in tab
    await as_user(client, place.manager)  # Gestionnaire de facturation: every letter, and the editor
    assert (await client.get(f"/facturation/lettres-de-mission/{other.id}")).status_code == 200
    assert (await client.get("/facturation/lettres-de-mission/nouvelle")).status_code == 200
    assert (await client.get("/facturation", follow_redirects=False)).headers[
        "location"
    ] == "/facturation/lettres-de-mission"


# --- sent by email, accepted through the link (committed data, real workers) --------------------


@pytest.fixture
def inbox(jobs: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_server() as (url, received):
        monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(smtp_url=url, dev_mail_page=False))
        yield received


@pytest.fixture
def live_app(settings: Settings, committed: Maker) -> Litestar:
    return create_app(settings, background=True, embedded_worker=False, migrate_on_start=False)


async def test_the_letter_goes_out_with_its_pdf_and_its_link_serves_once(
    live_app: Litestar, committed: Maker, inbox: Inbox
) -> None:
    async with committed() as session, session.begin():
        place = await fees_place(session)
        bakery = await client_of(session, place.bakery)
        letter = await make_engagement(session, place.entity.id, bakery, [("Tenue comptable", Rhythm.MONTHLY, "350")],
                                       start=D(2026, 1, 1), status=EngagementStatus.DRAFT,
                                       contact_email="sophie.martin@boulangerie.example.fr")  # fmt: skip
        partner_email, letter_id = place.partner.email, letter.id
    async with serve_in_process(live_app) as client:
        await sign_in(client, partner_email, PASSWORD)
        token = await csrf_token(client, f"/facturation/lettres-de-mission/{letter_id}")
        sent = await client.post(f"/facturation/lettres-de-mission/{letter_id}/envoyer", data={"_csrf_token": token})
        assert sent.status_code == 303
        [message] = await inbox.wait_for(1)
        await all_sent(committed, "billing.send_engagement")
        assert "sophie.martin@boulangerie.example.fr" in str(message["To"])
        assert "Lettre de mission LM" in str(message["Subject"])
        [attachment] = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content().startswith(b"%PDF")
        link = link_token(message, LINK)
        assert link not in await everything_stored(committed)  # only its SHA-256 is kept
        detail = html.unescape((await client.get(f"/facturation/lettres-de-mission/{letter_id}")).text)
        assert "Envoyée le" in detail

        async with visitor(live_app) as guest:
            page = await guest.get(f"/lettre-de-mission/{link}")
            assert page.status_code == 200
            assert "J'accepte la lettre de mission" in html.unescape(page.text)
            assert page.headers["referrer-policy"] == "no-referrer"
            assert (await guest.get(f"/lettre-de-mission/{link}/pdf")).content.startswith(b"%PDF")
            form = await csrf_token(guest, f"/lettre-de-mission/{link}")
            accepted = await guest.post(
                f"/lettre-de-mission/{link}", data={"_csrf_token": form, "nom": "Sophie Martin"}
            )
            assert accepted.status_code == 200
            assert "acceptée le" in html.unescape(accepted.text)
            again = await guest.post(f"/lettre-de-mission/{link}", data={"_csrf_token": form, "nom": "Paul"})
            assert again.status_code == 409
            assert "Ce lien a déjà été utilisé." in html.unescape(again.text)
            assert (await guest.get("/lettre-de-mission/pas-un-vrai-lien-1234567890")).status_code == 404
        detail = html.unescape((await client.get(f"/facturation/lettres-de-mission/{letter_id}")).text)
        assert 'id="statut-lettre">Acceptée<' in detail
        assert "par Sophie Martin" in detail
    async with committed() as session:
        stored = (await session.execute(select(Engagement).where(Engagement.id == letter_id))).unique().scalar_one()
        assert (stored.status, stored.accepted_by_name) == (EngagementStatus.ACCEPTED, "Sophie Martin")
