"""Notes de frais, from the people's side: filing, receipts, the barème, approving, Suivi and the exports."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import html
import io
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.app import create_app
from portal.audit.models import AuditEvent
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.expenses.accounting import FEC_COLUMNS
from portal.expenses.categories import ExpenseCategory
from portal.expenses.mileage import scale_for
from portal.expenses.models import ExpenseLine, ExpenseNote, ExpenseReceipt, ExpenseTransition, NoteStatus
from portal.expenses.schemas import MileageValues
from portal.expenses.services import ExpenseNoteService, today
from portal.settings import FIRM_TIMEZONE, Settings
from tests.browsing import csrf_token, running, sign_in
from tests.factories.clients import make_dossier
from tests.factories.expenses import line_of, make_note, pdf_bytes, png_bytes, principal_of
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient
NOTE_LINK = re.compile(r'href="/notes-de-frais/([0-9a-f-]{36})"')
RECEIPT_LINK = re.compile(r'href="/notes-de-frais/justificatifs/([0-9a-f-]{36})"')
BASE = "http://127.0.0.1:8000"
DAY = (today() - dt.timedelta(days=3)).isoformat()


@dataclass
class Firm:
    dossier: Dossier
    employee: User
    colleague: User
    partner: User
    billing_manager: User
    collaborator: User


async def _firm(session: AsyncSession) -> Firm:
    dossier = await make_dossier(session, name="Cabinet Lumière", is_firm_dossier=True)
    employee = await make_user(session, name="Claire Martin")
    colleague = await make_user(session, name="Hugo Bernard")
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Paul Associé")
    billing_manager = await make_user(session, name="Inès Facturation")
    collaborator = await make_user(session, name="Sans Rôle")
    for person in (employee, colleague):
        await add_role(session, person, dossier, DossierRole.EMPLOYEE)
    await add_role(session, billing_manager, dossier, DossierRole.BILLING_MANAGER)
    return Firm(dossier, employee, colleague, partner, billing_manager, collaborator)


async def _employee(session: AsyncSession) -> User:
    """Just an Employé of a firm dossier (for the tests that need nobody else)."""
    dossier = await make_dossier(session, name="Cabinet Lumière", is_firm_dossier=True)
    employee = await make_user(session, name="Claire Martin")
    await add_role(session, employee, dossier, DossierRole.EMPLOYEE)
    return employee


async def _as(client: Client, user: User) -> None:
    client.cookies.clear()
    response = await sign_in(client, user.email, PASSWORD)
    assert response.status_code in {302, 303}, response.text


def _text(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def _new_note(client: Client, title: str = "Frais de mars") -> str:
    token = await csrf_token(client, "/notes-de-frais/nouvelle")
    response = await client.post("/notes-de-frais/", data={"titre": title, "_csrf_token": token})
    assert response.status_code == 303, _text(response)
    return response.headers["location"].rsplit("/", 1)[-1]


def _line_fields(**fields: str) -> dict[str, str]:
    values = {
        "date": DAY,
        "fournisseur": "Brasserie du Port",
        "categorie": "business_meal",
        "montant_ttc": "60,00",
        "tva_recuperable": "10,00",
        "objet": "Déjeuner client Dupont",
    }
    values.update(fields)
    return values


async def _add_line(
    client: Client, note_id: str, *, file: tuple[str, bytes, str] | None = ("ticket.png", png_bytes(), "image/png"),
    **fields: str,
) -> httpx.Response:  # fmt: skip
    token = await csrf_token(client, f"/notes-de-frais/{note_id}")
    files = {"justificatif": file} if file else None
    return await client.post(
        f"/notes-de-frais/{note_id}/lignes",
        data={**_line_fields(**fields), "_csrf_token": token},
        files=files,
        follow_redirects=False,
    )


async def _add_trip(client: Client, note_id: str, **fields: str) -> httpx.Response:
    token = await csrf_token(client, f"/notes-de-frais/{note_id}")
    data = {"date": DAY, "trajet": "Lyon - Vienne, client Durand", "cv": "5", "km": "120", **fields}
    return await client.post(
        f"/notes-de-frais/{note_id}/indemnites", data={**data, "_csrf_token": token}, follow_redirects=False
    )


async def _post(client: Client, note_id: str, action: str, **data: str) -> httpx.Response:
    token = await csrf_token(client, f"/notes-de-frais/{note_id}")
    return await client.post(
        f"/notes-de-frais/{note_id}/{action}", data={**data, "_csrf_token": token}, follow_redirects=False
    )


async def _note(session: AsyncSession, note_id: str | Any) -> ExpenseNote:
    statement = select(ExpenseNote).where(ExpenseNote.id == _uuid(note_id)).execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one()


def _uuid(value: Any) -> Any:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def _count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _stored_files(settings: Settings) -> set[str]:
    root = settings.receipts_dir
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


# --- filing -------------------------------------------------------------------------------------------------


async def test_an_employee_files_a_note_with_receipts_and_a_trip(
    client: Client, db_session: AsyncSession, settings: Settings
) -> None:
    firm = await _firm(db_session)
    await _as(client, firm.employee)
    page = await client.get("/notes-de-frais")
    assert page.status_code == 200
    assert "Mes notes de frais" in _text(page)
    assert "Nouvelle note de frais" in _text(page)

    note_id = await _new_note(client, "Déplacement Vienne")
    files_before = _stored_files(settings)
    added = await _add_line(client, note_id, file=("../../etc/ticket resto.png", png_bytes(), "text/plain"))
    assert added.status_code == 303, _text(added)
    pdf = await _add_line(
        client, note_id, file=("facture.pdf", pdf_bytes(), "application/octet-stream"), categorie="transport",
        fournisseur="SNCF", montant_ttc="48.20", tva_recuperable="",
    )  # fmt: skip
    assert pdf.status_code == 303, _text(pdf)
    trip = await _add_trip(client, note_id)
    assert trip.status_code == 303, _text(trip)

    note = await _note(db_session, note_id)
    assert note.status is NoteStatus.DRAFT
    assert note.reference.startswith(f"NDF-{today().year}-")
    meal = next(line for line in note.lines if line.category is ExpenseCategory.BUSINESS_MEAL)
    assert (meal.amount_ttc, meal.vat_amount, meal.amount_ht) == (Decimal("60.00"), Decimal("10.00"), Decimal("50.00"))
    assert meal.purpose == "Déjeuner client Dupont"
    train = next(line for line in note.lines if line.category is ExpenseCategory.TRANSPORT)
    assert (train.amount_ttc, train.vat_amount) == (Decimal("48.20"), Decimal("0.00"))
    # 5 CV, 120 km, the first trip of the year: 120 × 0.636 = 76.32 €, and no VAT.
    mileage = next(line for line in note.lines if line.category is ExpenseCategory.MILEAGE)
    assert (mileage.amount_ttc, mileage.vat_amount) == (Decimal("76.32"), Decimal("0.00"))
    assert (mileage.horsepower, mileage.distance_km, mileage.electric, mileage.prior_km) == (5, 120, False, 0)
    trip_year = int(DAY[:4])
    assert mileage.scale_year == scale_for(trip_year).year

    # The receipts: random names chosen by the server, the type found from the content.
    assert meal.receipt is not None
    assert train.receipt is not None
    assert meal.receipt.content_type == "image/png"
    assert train.receipt.content_type == "application/pdf"
    assert meal.receipt.original_name == "ticket resto.png"
    new_files = _stored_files(settings) - files_before
    assert new_files == {meal.receipt.storage_name, train.receipt.storage_name}
    assert all(re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}\.(png|pdf)", name) for name in new_files)
    assert (settings.receipts_dir / meal.receipt.storage_name).read_bytes() == png_bytes()
    assert not list(settings.receipts_dir.rglob(".upload-*"))

    page = _text(await client.get(f"/notes-de-frais/{note_id}"))
    bareme = (
        f"Barème {mileage.scale_year} (en vigueur en {trip_year}), 5 CV"
        if trip_year > mileage.scale_year
        else f"Barème {mileage.scale_year}, 5 CV"
    )
    for shown in ("Brasserie du Port", "SNCF", "Lyon - Vienne, client Durand", "76,32", "60,00", "10,00",
                  "d × 0,636", bareme, "premier trajet déclaré cette année", "184,52", "Soumettre"):  # fmt: skip
        assert shown in page, shown

    receipt = await client.get(f"/notes-de-frais/justificatifs/{meal.receipt.id}")
    assert receipt.status_code == 200
    assert receipt.headers["content-type"] == "image/png"
    assert receipt.headers["x-content-type-options"] == "nosniff"
    assert receipt.headers["content-disposition"].startswith("inline")
    assert "private" in receipt.headers["cache-control"]
    assert receipt.content == png_bytes()
    receipt = await client.get(f"/notes-de-frais/justificatifs/{train.receipt.id}")
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.content == pdf_bytes()


async def test_a_second_trip_counts_the_kilometres_already_declared_this_year(
    client: Client, db_session: AsyncSession
) -> None:
    await _as(client, await _employee(db_session))
    note_id = await _new_note(client)
    assert (await _add_trip(client, note_id)).status_code == 303
    second = await _add_trip(client, note_id, km="4900", electrique="on")
    assert second.status_code == 303
    note = await _note(db_session, note_id)
    latest = max((line for line in note.lines if line.is_mileage), key=lambda line: line.prior_km or 0)
    assert latest.prior_km == 120
    # f(5020) − f(120) = (5020 × 0.357 + 1395) − 76.32 = 3110.82, +20 % electric = 3732.984 → 3732.98
    assert latest.amount_ttc == Decimal("3732.98")
    page = _text(await client.get(f"/notes-de-frais/{note_id}"))
    assert "d × 0,636 puis d × 0,357 + 1 395" in page.replace("\u202f", " ").replace("\xa0", " ")
    assert "+20 % véhicule électrique" in page
    assert "après 120 km déjà déclarés cette année" in page


async def test_mileage_preview_shows_the_amount_before_saving(client: Client, db_session: AsyncSession) -> None:
    await _as(client, await _employee(db_session))
    note_id = await _new_note(client)
    preview = await client.get(
        f"/notes-de-frais/{note_id}/indemnites/apercu",
        params={"date": DAY, "cv": "5", "km": "120"},
        headers={"HX-Request": "true"},
    )
    assert preview.status_code == 200
    assert "76,32" in _text(preview)
    assert "d × 0,636" in _text(preview)
    empty = await client.get(f"/notes-de-frais/{note_id}/indemnites/apercu", headers={"HX-Request": "true"})
    assert "Renseignez" in _text(empty)


BAD_LINES = [
    pytest.param({"montant_ttc": "-12,50"}, None, "Le montant TTC ne peut pas être négatif.", id="negative"),
    pytest.param({"montant_ttc": "0"}, None, "Le montant TTC doit être supérieur à zéro.", id="zero"),
    pytest.param({"montant_ttc": "12,505"}, None, "Montant invalide : deux décimales au plus.", id="mills"),
    pytest.param({"montant_ttc": "douze"}, None, "Montant invalide : saisissez un nombre", id="not-a-number"),
    pytest.param(
        {"tva_recuperable": "70"}, None, "La TVA récupérable ne peut pas dépasser le montant TTC.", id="vat-above-ttc"
    ),
    pytest.param(
        {"tva_recuperable": "15"}, None, "La TVA récupérable dépasse la TVA que ce montant peut contenir", id="vat-25%"
    ),
    pytest.param({"tva_recuperable": "-1"}, None, "La TVA récupérable ne peut pas être négative.", id="vat-negative"),
    pytest.param(
        {"categorie": "transport", "tva_recuperable": "2"},
        None,
        "TVA non récupérable sur les billets de train, d'avion et les taxis.",
        id="vat-on-train",
    ),
    pytest.param(
        {"categorie": "lodging", "tva_recuperable": "2"},
        None,
        "TVA non récupérable sur l'hébergement du personnel.",
        id="vat-on-hotel",
    ),
    pytest.param(
        {"categorie": "fuel", "montant_ttc": "60", "tva_recuperable": "10"},
        None,
        "La TVA récupérable dépasse 80 % de la TVA",
        id="fuel-above-80%",
    ),
    pytest.param({"categorie": "mileage"}, None, "Catégorie inconnue.", id="mileage-by-receipt"),
    pytest.param({"categorie": ""}, None, "Choisissez une catégorie.", id="no-category"),
    pytest.param({"fournisseur": "  "}, None, "Le fournisseur est obligatoire.", id="no-merchant"),
    pytest.param({"montant_ttc": ""}, None, "Le montant TTC est obligatoire.", id="no-amount"),
    pytest.param({"date": ""}, None, "La date est obligatoire.", id="no-date"),
    pytest.param({"date": "31/02/2026"}, None, "Date invalide", id="bad-date"),
    pytest.param(
        {"date": (today() + dt.timedelta(days=1)).isoformat()},
        None,
        "La date ne peut pas être dans le futur.",
        id="future",
    ),
    pytest.param({}, "missing", "Joignez le justificatif", id="no-receipt"),
    pytest.param(
        {},
        ("facture.pdf", b"Ceci est un fichier texte, pas un PDF.\n", "application/pdf"),
        "Le justificatif doit être une image (JPEG, PNG ou WebP) ou un PDF.",
        id="text-renamed-pdf",
    ),
    pytest.param(
        {},
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image/png"),
        "Le justificatif doit être une image (JPEG, PNG ou WebP) ou un PDF.",
        id="forged-png",
    ),
    pytest.param(
        {},
        ("scan.pdf", b"%PDF-1.4\n1 0 obj <<>> endobj\n", "application/pdf"),
        "Le justificatif doit être une image (JPEG, PNG ou WebP) ou un PDF.",
        id="truncated-pdf",
    ),
    pytest.param(
        {},
        ("vide.png", b"", "image/png"),
        "Le fichier du justificatif est vide.",
        id="empty-file",
    ),
]


@pytest.mark.parametrize(("fields", "file", "message"), BAD_LINES)
async def test_bad_lines_are_refused_in_french_and_nothing_is_written(
    *, client: Client, db_session: AsyncSession, settings: Settings, fields: dict[str, str], file: Any, message: str
) -> None:
    await _as(client, await _employee(db_session))
    note_id = await _new_note(client)
    files_before = _stored_files(settings)
    lines_before = await _count(db_session, ExpenseLine)
    upload = None if file == "missing" else (file or ("ticket.png", png_bytes(), "image/png"))
    response = await _add_line(client, note_id, file=upload, **fields)
    assert response.status_code == 422, _text(response)[:300]
    page = _text(response)
    assert message in page
    assert "La ligne n'a pas été ajoutée : corrigez les champs signalés." in page
    assert await _count(db_session, ExpenseLine) == lines_before
    assert await _count(db_session, ExpenseReceipt) == 0
    assert _stored_files(settings) == files_before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"km": "-40"}, "Le nombre de kilomètres doit être supérieur à zéro."),
        ({"km": "12,5"}, "Le nombre de kilomètres doit être un nombre entier."),
        ({"km": ""}, "Le nombre de kilomètres est obligatoire."),
        ({"cv": "9"}, "Choisissez la puissance fiscale du véhicule."),
        ({"trajet": ""}, "Indiquez le trajet et son objet."),
        ({"date": (today() + dt.timedelta(days=2)).isoformat()}, "La date ne peut pas être dans le futur."),
    ],
)
async def test_bad_trips_are_refused_in_french(
    client: Client, db_session: AsyncSession, fields: dict[str, str], message: str
) -> None:
    await _as(client, await _employee(db_session))
    note_id = await _new_note(client)
    response = await _add_trip(client, note_id, **fields)
    assert response.status_code == 422
    assert message in _text(response)
    assert await _count(db_session, ExpenseLine) == 0


async def test_an_oversized_receipt_is_refused(client: Client, db_session: AsyncSession, settings: Settings) -> None:
    await _as(client, await _employee(db_session))
    note_id = await _new_note(client)
    too_big = png_bytes() + b"\x00" * (settings.receipt_max_bytes - len(png_bytes()) + 1)
    response = await _add_line(client, note_id, file=("scan.png", too_big, "image/png"))
    assert response.status_code == 422
    assert "Le justificatif dépasse la taille maximale de 10 Mo." in _text(response)
    assert await _count(db_session, ExpenseLine) == 0
    # Far bigger bodies are cut off before they are read.
    way_too_big = b"\x00" * (settings.receipt_max_bytes + 200_000)
    response = await _add_line(client, note_id, file=("scan.png", way_too_big, "image/png"))
    assert response.status_code == 413
    assert await _count(db_session, ExpenseLine) == 0


async def test_a_note_needs_a_title_and_one_of_the_persons_firm_dossiers(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await _firm(db_session)
    other = await make_dossier(db_session, name="Cabinet Lumière Lyon", is_firm_dossier=True)
    await add_role(db_session, firm.employee, other, DossierRole.EMPLOYEE)
    client_dossier = await make_dossier(db_session, name="Client SARL")
    await _as(client, firm.employee)
    form = _text(await client.get("/notes-de-frais/nouvelle"))
    assert "Cabinet Lumière Lyon" in form
    assert "Client SARL" not in form
    token = await csrf_token(client, "/notes-de-frais/nouvelle")
    refused = await client.post(
        "/notes-de-frais/", data={"titre": "Frais", "dossier": str(client_dossier.id), "_csrf_token": token}
    )
    assert refused.status_code == 422
    assert "Choisissez l'un des dossiers du cabinet où vous êtes Employé." in _text(refused)
    untitled = await client.post(
        "/notes-de-frais/", data={"titre": " ", "dossier": str(other.id), "_csrf_token": token}
    )
    assert untitled.status_code == 422
    assert "Donnez un titre à la note" in _text(untitled)
    assert await _count(db_session, ExpenseNote) == 0
    created = await client.post(
        "/notes-de-frais/", data={"titre": "Frais de Lyon", "dossier": str(other.id), "_csrf_token": token}
    )
    assert created.status_code == 303
    note = (await db_session.execute(select(ExpenseNote))).scalar_one()
    assert note.dossier_id == other.id


# --- the flow -----------------------------------------------------------------------------------------------


async def test_submit_then_a_partner_approves_then_marks_it_paid(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    await _as(client, firm.employee)
    note_id = await _new_note(client)
    empty = await _post(client, note_id, "soumettre")
    assert empty.status_code == 422
    assert "Ajoutez au moins une ligne avant de soumettre la note." in _text(empty)
    assert (await _note(db_session, note_id)).status is NoteStatus.DRAFT

    assert (await _add_line(client, note_id)).status_code == 303
    submitted = await _post(client, note_id, "soumettre")
    assert submitted.status_code == 303
    assert (await _note(db_session, note_id)).status is NoteStatus.SUBMITTED
    # Lines are frozen once submitted.
    late = await _add_line(client, note_id)
    assert late.status_code == 409
    assert "Cette note n'est plus un brouillon" in _text(late)
    line = (await _note(db_session, note_id)).lines[0]
    removed = await _post(client, note_id, f"lignes/{line.id}/supprimer")
    assert removed.status_code == 409
    assert await _count(db_session, ExpenseLine) == 1
    # The author cannot approve.
    assert (await _post(client, note_id, "approuver")).status_code == 403

    await _as(client, firm.partner)
    waiting = _text(await client.get("/notes-de-frais/a-valider"))
    assert "Claire Martin" in waiting
    assert note_id in waiting
    approved = await _post(client, note_id, "approuver")
    assert approved.status_code == 303
    note = await _note(db_session, note_id)
    assert note.status is NoteStatus.APPROVED
    assert note.accounting_date == today()
    assert note.payable_account == "421"
    assert note_id not in _text(await client.get("/notes-de-frais/a-valider"))
    again = await _post(client, note_id, "approuver")
    assert again.status_code == 409
    paid = await _post(client, note_id, "payer")
    assert paid.status_code == 303
    assert (await _note(db_session, note_id)).status is NoteStatus.PAID

    transitions = (
        (await db_session.execute(select(ExpenseTransition).order_by(ExpenseTransition.created_at))).scalars().all()
    )
    assert [(t.from_status, t.to_status) for t in transitions] == [
        (NoteStatus.DRAFT, NoteStatus.SUBMITTED),
        (NoteStatus.SUBMITTED, NoteStatus.APPROVED),
        (NoteStatus.APPROVED, NoteStatus.PAID),
    ]
    assert [t.actor_id for t in transitions] == [firm.employee.id, firm.partner.id, firm.partner.id]
    actions = (
        (
            await db_session.execute(
                select(AuditEvent.action).where(
                    AuditEvent.object_id == note_id, AuditEvent.dossier_id == firm.dossier.id
                )
            )
        )
        .scalars()
        .all()
    )
    assert {"expense_note.submitted", "expense_note.approved", "expense_note.paid"} <= set(actions)
    history = _text(await client.get(f"/notes-de-frais/{note_id}"))
    assert "Soumise → Approuvée" in history
    assert "Paul Associé" in history

    await _as(client, firm.employee)
    mine = _text(await client.get("/notes-de-frais"))
    assert "Payée" in mine
    assert "60,00" in mine


async def test_a_refusal_needs_a_reason_and_the_author_corrects_and_resubmits(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await _firm(db_session)
    note = await make_note(db_session, firm.employee, firm.dossier, submit=True)
    await _as(client, firm.billing_manager)
    refused = await _post(client, str(note.id), "refuser", commentaire="   ")
    assert refused.status_code == 422
    assert "Indiquez le motif du refus : il est obligatoire." in _text(refused)
    assert (await _note(db_session, note.id)).status is NoteStatus.SUBMITTED
    refused = await _post(client, str(note.id), "refuser", commentaire="Ticket illisible, merci de le refaire.")
    assert refused.status_code == 303
    assert (await _note(db_session, note.id)).status is NoteStatus.REFUSED

    await _as(client, firm.employee)
    page = _text(await client.get(f"/notes-de-frais/{note.id}"))
    assert "Motif du refus" in page
    assert "Ticket illisible, merci de le refaire." in page
    assert (await _add_line(client, str(note.id))).status_code == 409  # refused is not a draft
    assert (await _post(client, str(note.id), "brouillon")).status_code == 303
    assert (await _note(db_session, note.id)).status is NoteStatus.DRAFT
    line = (await _note(db_session, note.id)).lines[0]
    assert (await _post(client, str(note.id), f"lignes/{line.id}/supprimer")).status_code == 303
    assert (await _add_line(client, str(note.id), montant_ttc="61,20", tva_recuperable="10,20")).status_code == 303
    assert (await _post(client, str(note.id), "soumettre")).status_code == 303
    note = await _note(db_session, note.id)
    assert note.status is NoteStatus.SUBMITTED
    assert [line.amount_ttc for line in note.lines] == [Decimal("61.20")]


async def test_nobody_approves_their_own_note_not_even_a_partner(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    await add_role(db_session, firm.partner, firm.dossier, DossierRole.EMPLOYEE)
    await _as(client, firm.partner)
    note_id = await _new_note(client)
    assert (await _add_line(client, note_id)).status_code == 303
    assert (await _post(client, note_id, "soumettre")).status_code == 303
    assert note_id not in _text(await client.get("/notes-de-frais/a-valider"))
    refused = await _post(client, note_id, "approuver")
    assert refused.status_code == 403
    assert "Vous ne pouvez pas valider, refuser ni payer votre propre note de frais." in _text(refused)
    assert (await _post(client, note_id, "refuser", commentaire="non")).status_code == 403
    note = await _note(db_session, note_id)
    assert note.status is NoteStatus.SUBMITTED
    assert await _count(db_session, ExpenseTransition) == 1

    # Another partner approves it; a partner's expenses are owed on 467, not 421.
    other = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await _as(client, other)
    assert (await _post(client, note_id, "approuver")).status_code == 303
    assert (await _note(db_session, note_id)).payable_account == "467"


async def test_the_billing_manager_approves_the_notes_of_their_dossier_only(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await _firm(db_session)
    elsewhere = await make_dossier(db_session, name="Cabinet Lumière Grenoble", is_firm_dossier=True)
    await add_role(db_session, firm.colleague, elsewhere, DossierRole.EMPLOYEE)
    mine = await make_note(db_session, firm.employee, firm.dossier, submit=True)
    theirs = await make_note(db_session, firm.colleague, elsewhere, submit=True)
    await _as(client, firm.billing_manager)
    assert "Notes de frais" in _text(await client.get("/entreprises"))
    waiting = _text(await client.get("/notes-de-frais/a-valider"))
    assert str(mine.id) in waiting
    assert str(theirs.id) not in waiting
    assert (await client.get(f"/notes-de-frais/{theirs.id}")).status_code == 404
    assert (await _post(client, str(theirs.id), "approuver")).status_code == 404
    assert (await _post(client, str(mine.id), "approuver")).status_code == 303
    assert (await _note(db_session, mine.id)).status is NoteStatus.APPROVED
    assert (await _note(db_session, theirs.id)).status is NoteStatus.SUBMITTED


async def test_people_without_a_role_are_refused(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    note = await make_note(db_session, firm.employee, firm.dossier, submit=True)
    receipt_id = note.lines[0].receipt.id  # type: ignore[union-attr]
    await _as(client, firm.collaborator)
    assert ">Notes de frais</a>" not in (await client.get("/entreprises")).text
    assert (await client.get("/notes-de-frais")).status_code == 403
    assert (await client.get("/notes-de-frais/nouvelle")).status_code == 403
    assert (await client.get("/notes-de-frais/suivi")).status_code == 403
    assert (await client.get("/notes-de-frais/suivi/ecritures.csv")).status_code == 403
    # Nothing of the section opens to them, existing or not.
    assert (await client.get(f"/notes-de-frais/{note.id}")).status_code == 403
    assert (await client.get(f"/notes-de-frais/{uuid.uuid4()}")).status_code == 403
    assert (await client.get(f"/notes-de-frais/justificatifs/{receipt_id}")).status_code == 403
    assert (await _post_with(client, f"/notes-de-frais/{note.id}/approuver")).status_code == 403
    assert (await _note(db_session, note.id)).status is NoteStatus.SUBMITTED


async def _post_with(client: Client, path: str) -> httpx.Response:
    token = await csrf_token(client, "/entreprises")
    return await client.post(path, data={"_csrf_token": token}, follow_redirects=False)


async def test_a_receipt_is_not_shown_to_another_employee(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    note = await make_note(db_session, firm.employee, firm.dossier)
    receipt_id = note.lines[0].receipt.id  # type: ignore[union-attr]
    await _as(client, firm.colleague)
    assert (await client.get(f"/notes-de-frais/justificatifs/{receipt_id}")).status_code == 404
    assert (await client.get(f"/notes-de-frais/{note.id}")).status_code == 404
    assert str(note.id) not in (await client.get("/notes-de-frais")).text
    assert (await _add_line(client, str(note.id))).status_code == 404
    assert (await _post_with(client, f"/notes-de-frais/{note.id}/soumettre")).status_code == 404
    await _as(client, firm.employee)
    assert (await client.get(f"/notes-de-frais/justificatifs/{receipt_id}")).status_code == 200
    await _as(client, firm.partner)
    assert (await client.get(f"/notes-de-frais/justificatifs/{receipt_id}")).status_code == 200


async def test_a_deleted_line_takes_its_receipt_file_with_it(
    client: Client, db_session: AsyncSession, settings: Settings
) -> None:
    await _as(client, await _employee(db_session))
    note_id = await _new_note(client)
    assert (await _add_line(client, note_id)).status_code == 303
    line = (await _note(db_session, note_id)).lines[0]
    assert line.receipt is not None
    stored = settings.receipts_dir / line.receipt.storage_name
    assert stored.is_file()
    assert (await _post(client, note_id, f"lignes/{line.id}/supprimer")).status_code == 303
    assert await _count(db_session, ExpenseLine) == 0
    assert await _count(db_session, ExpenseReceipt) == 0
    assert not stored.exists()
    # The audit log has it all, tied to the note's dossier (so it hides with a confidential one).
    note = await _note(db_session, note_id)
    events = (await db_session.execute(select(AuditEvent.action, AuditEvent.dossier_id))).all()
    expense_events = {action: dossier_id for action, dossier_id in events if action.startswith("expense_")}
    assert set(expense_events) >= {"expense_note.create", "expense_line.create", "expense_receipt.create",
                                   "expense_line.delete", "expense_receipt.delete"}  # fmt: skip
    assert set(expense_events.values()) == {note.dossier_id}


# --- a confidential firm dossier ----------------------------------------------------------------------------


async def test_notes_of_a_confidential_firm_dossier_stay_hidden(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    granted = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Agathe Habilitée")
    secret = await make_dossier(db_session, name="Holding Secrète", is_firm_dossier=True)
    await add_role(db_session, firm.colleague, secret, DossierRole.EMPLOYEE)
    expenses = ((ExpenseCategory.OTHER, "987.65", "0"),)
    note = await make_note(
        db_session, firm.colleague, secret, title="Frais confidentiels", expenses=expenses, day=today(), submit=True
    )
    await DossierService(session=db_session).set_confidentiality(
        await principal_of(db_session, granted), secret, confidential=True, user_ids=[]
    )
    visible = await make_note(db_session, firm.employee, firm.dossier, day=today(), submit=True)
    receipt_id = note.lines[0].receipt.id  # type: ignore[union-attr]

    await _as(client, firm.partner)
    waiting = _text(await client.get("/notes-de-frais/a-valider"))
    assert str(visible.id) in waiting
    assert "Frais confidentiels" not in waiting
    assert (await client.get(f"/notes-de-frais/{note.id}")).status_code == 404
    assert (await client.get(f"/notes-de-frais/justificatifs/{receipt_id}")).status_code == 404
    assert (await _post(client, str(visible.id), "approuver")).status_code == 303
    assert (await _post_with(client, f"/notes-de-frais/{note.id}/approuver")).status_code == 404
    tracking = _text(await client.get("/notes-de-frais/suivi"))
    assert "987,65" not in tracking  # a comma: no token or id can contain it
    assert "Hugo Bernard" not in tracking
    lines = (await client.get("/notes-de-frais/suivi/lignes.csv")).text
    assert "Holding Secrète" not in lines
    assert "Frais confidentiels" not in lines
    assert note.reference not in lines

    # The granted partner and the author see it.
    await _as(client, granted)
    assert (await client.get(f"/notes-de-frais/{note.id}")).status_code == 200
    assert "Frais confidentiels" in _text(await client.get("/notes-de-frais/a-valider"))
    assert "987,65" in _text(await client.get("/notes-de-frais/suivi"))
    await _as(client, firm.colleague)
    assert (await client.get(f"/notes-de-frais/{note.id}")).status_code == 200


# --- Suivi and the exports ----------------------------------------------------------------------------------


async def _approved(session: AsyncSession, firm: Firm, approver: User, **note: Any) -> ExpenseNote:
    made = await make_note(session, note.pop("author", firm.employee), firm.dossier, submit=True, **note)
    await ExpenseNoteService(session=session).approve(await principal_of(session, approver), made)
    return made


async def test_suivi_totals_by_month_and_employee_and_the_csv_export(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    year = today().year - 1
    await _approved(db_session, firm, firm.partner, day=dt.date(year, 3, 5))
    await _approved(
        db_session, firm, firm.partner, author=firm.colleague, day=dt.date(year, 3, 20),
        expenses=((ExpenseCategory.TOLLS_PARKING, "12.00", "2.00"),), trips=((4, 100),),
    )  # fmt: skip
    await make_note(db_session, firm.employee, firm.dossier, day=dt.date(year, 4, 2), submit=True)
    await make_note(db_session, firm.employee, firm.dossier, day=dt.date(year, 4, 9))  # a draft: never counted

    await _as(client, firm.partner)
    query = {"du": f"{year}-01", "au": f"{year}-12"}
    page = _text(await client.get("/notes-de-frais/suivi", params=query))
    assert f"03/{year}" in page
    assert f"04/{year}" in page
    # March: Claire 60.00; Hugo 12.00 + 60.60 (100 km × 0.606) = 72.60; April: Claire 60.00 (submitted).
    assert "72,60" in page
    assert "192,60" in page  # the period's total
    approved_only = _text(await client.get("/notes-de-frais/suivi", params={**query, "statut": "approuvees"}))
    assert "132,60" in approved_only
    assert f"04/{year}" not in approved_only

    export = await client.get("/notes-de-frais/suivi/lignes.csv", params=query)
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"  # one charset only
    assert export.headers["cache-control"] == "no-store"
    assert "attachment" in export.headers["content-disposition"]
    rows = _csv(export)
    assert rows[0][:6] == ["Note", "Titre", "Employé", "Dossier", "Statut", "Date"]
    body = rows[1:]
    assert len(body) == 4
    trip = next(row for row in body if row[6] == "Indemnités kilométriques")
    assert trip[2] == "Hugo Bernard"
    assert trip[7] == "6251"
    assert trip[10:16] == ["60,60", "0,00", "60,60", "4", "100", "non"]
    assert {row[4] for row in body} == {"Approuvée", "Soumise"}


async def test_the_accounting_export_balances_each_approved_note(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    await add_role(db_session, firm.partner, firm.dossier, DossierRole.EMPLOYEE)
    employee_note = await _approved(
        db_session, firm, firm.partner, day=today(),
        expenses=((ExpenseCategory.BUSINESS_MEAL, "60.00", "10.00"), (ExpenseCategory.TRANSPORT, "48.20", "0"),
                  (ExpenseCategory.FUEL, "90.00", "12.00")),
        trips=((5, 120),),
    )  # fmt: skip
    partner_note = await _approved(db_session, firm, firm.billing_manager, author=firm.partner, day=today())
    await make_note(db_session, firm.colleague, firm.dossier, day=today(), submit=True)  # not approved: no entry

    await _as(client, firm.billing_manager)
    export = await client.get("/notes-de-frais/suivi/ecritures.csv")
    assert export.status_code == 200
    rows = _csv(export)
    assert rows[0] == list(FEC_COLUMNS)
    assert FEC_COLUMNS == ("JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum",
                           "CompteLib", "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit",
                           "Credit")  # fmt: skip
    entries: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        entries.setdefault(row[2], []).append(row)
    assert set(entries) == {employee_note.reference, partner_note.reference}

    def amount(value: str) -> Decimal:
        assert re.fullmatch(r"\d+,\d{2}", value), value
        return Decimal(value.replace(",", "."))

    for lines in entries.values():
        assert sum(amount(row[11]) for row in lines) == sum(amount(row[12]) for row in lines)
        assert {row[0] for row in lines} == {"NDF"}
        assert {row[3] for row in lines} == {today().strftime("%Y%m%d")}

    employee = {row[4]: row for row in entries[employee_note.reference]}
    assert set(employee) == {"6257", "6251", "6061", "44566", "421"}
    assert amount(employee["6257"][11]) == Decimal("50.00")
    assert amount(employee["6251"][11]) == Decimal("124.52")  # train 48.20 + mileage 76.32, no VAT
    assert amount(employee["6061"][11]) == Decimal("78.00")
    assert amount(employee["44566"][11]) == Decimal("22.00")
    assert amount(employee["421"][12]) == Decimal("274.52")
    assert employee["421"][7] == "Claire Martin"
    assert employee["421"][6].startswith("CLAIREMARTIN")
    assert employee["6257"][6] == ""
    partner = {row[4] for row in entries[partner_note.reference]}
    assert partner == {"6257", "44566", "467"}


# --- two approvers at once ----------------------------------------------------------------------------------


async def test_two_approvers_clicking_at_once_make_one_transition(
    settings: Settings, committed: async_sessionmaker[AsyncSession]
) -> None:
    async with committed() as session:
        firm = await _firm(session)
        note = await make_note(session, firm.employee, firm.dossier, submit=True)
        await session.commit()
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with running(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with (
            Client(transport=transport, base_url=BASE) as first,
            Client(transport=transport, base_url=BASE) as second,
        ):
            await _as(first, firm.partner)
            await _as(second, firm.billing_manager)
            tokens = [await csrf_token(client, f"/notes-de-frais/{note.id}") for client in (first, second)]
            responses = await asyncio.gather(*(
                client.post(f"/notes-de-frais/{note.id}/approuver", data={"_csrf_token": token}, follow_redirects=False)
                for client, token in zip((first, second), tokens, strict=True)
            ))  # fmt: skip
    assert sorted(response.status_code for response in responses) == [303, 409]
    refused = next(response for response in responses if response.status_code == 409)
    assert "Cette note a changé entre-temps" in _text(refused)
    async with committed() as session:
        transitions = (
            (await session.execute(select(ExpenseTransition).where(ExpenseTransition.note_id == note.id)))
            .scalars()
            .all()
        )
        assert sorted(t.to_status.value for t in transitions) == ["approved", "submitted"]
        assert (await _note(session, note.id)).status is NoteStatus.APPROVED


# --- approvers land on À valider; the lists' dates; receipts as thumbnails; entries on screen --------------


NAV_COUNT = re.compile(r'href="/notes-de-frais"[^>]*>Notes de frais <span class="nav-count"[^>]*>(\d+)</span>')
TAB_COUNT = re.compile(
    r'href="/notes-de-frais/a-valider"[^>]*>À valider <span class="badge badge-accent tab-count"[^>]*>(\d+)</span>'
)


def _words(response: httpx.Response) -> str:
    """The page's text without its tags."""
    return re.sub(r"<[^>]+>", "", _text(response))


def _menu_count(page: str) -> int | None:
    found = NAV_COUNT.search(page)
    return int(found.group(1)) if found else None


async def test_an_approver_lands_on_a_valider_with_its_count_in_the_menu_and_the_tab(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await _firm(db_session)
    await add_role(db_session, firm.partner, firm.dossier, DossierRole.EMPLOYEE)
    await make_note(db_session, firm.employee, firm.dossier, submit=True)
    await make_note(db_session, firm.colleague, firm.dossier, submit=True)
    await make_note(db_session, firm.colleague, firm.dossier)  # a draft waits for nobody
    await make_note(db_session, firm.partner, firm.dossier, submit=True)  # their own: never counted for them
    # A confidential firm dossier not granted to the partner: its notes neither show nor count.
    secret = await make_dossier(db_session, name="Cabinet Secret", is_firm_dossier=True, is_confidential=True)
    await add_role(db_session, firm.colleague, secret, DossierRole.EMPLOYEE)
    await make_note(db_session, firm.colleague, secret, submit=True)

    await _as(client, firm.partner)
    home = _text(await client.get("/"))
    assert _menu_count(home) == 2
    assert "(2 notes attendent votre validation)" in home
    landing = await client.get("/notes-de-frais")
    assert landing.status_code == 303
    assert landing.headers["location"] == "/notes-de-frais/a-valider"
    waiting = _text(await client.get("/notes-de-frais/a-valider"))
    tab = TAB_COUNT.search(waiting)
    assert tab is not None
    assert tab.group(1) == "2"
    assert "2 notes à valider" in waiting
    assert _menu_count(waiting) == 2
    assert "Cabinet Secret" not in waiting
    # Their own notes are one tab away.
    mine = _text(await client.get("/notes-de-frais/mes-notes"))
    assert 'aria-current="page">Mes notes de frais' in mine
    assert len(NOTE_LINK.findall(mine)) == 1  # the partner's own note, not those waiting for them

    # The billing manager approves the notes of their dossier only: the partner's own one counts for them.
    await _as(client, firm.billing_manager)
    assert _menu_count(_text(await client.get("/entreprises"))) == 3
    # An Employé approves nothing: no count, and Notes de frais is their own notes.
    await _as(client, firm.employee)
    page = await client.get("/notes-de-frais")
    assert page.status_code == 200
    assert _menu_count(_text(page)) is None
    assert "À valider" not in _text(page)

    # Once nothing waits, the approver's Notes de frais is their own notes again, with no count.
    for note in (
        await db_session.execute(select(ExpenseNote).where(ExpenseNote.status == NoteStatus.SUBMITTED))
    ).scalars():
        note.status = NoteStatus.APPROVED
    await db_session.flush()
    await _as(client, firm.partner)
    landing = await client.get("/notes-de-frais")
    assert landing.status_code == 200
    assert "Mes notes de frais" in _text(landing)
    assert _menu_count(_text(landing)) is None
    assert TAB_COUNT.search(_text(landing)) is None


async def test_notes_lists_show_the_period_and_the_day_submitted(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    note = await make_note(
        db_session, firm.employee, firm.dossier, day=dt.date(2026, 3, 2),
        expenses=((ExpenseCategory.BUSINESS_MEAL, "60.00", "10.00"),),
    )  # fmt: skip
    await ExpenseNoteService(session=db_session).add_mileage_line(
        await principal_of(db_session, firm.employee), note,
        MileageValues(dt.date(2026, 3, 27), "Lyon - Vienne", 5, 40, electric=False),
    )  # fmt: skip
    await ExpenseNoteService(session=db_session).submit(await principal_of(db_session, firm.employee), note)
    note = await _note(db_session, note.id)
    assert note.submitted_at is not None
    submitted = note.submitted_at.astimezone(FIRM_TIMEZONE).strftime("%d/%m/%Y %H:%M")
    await _as(client, firm.employee)
    mine = _words(await client.get("/notes-de-frais/mes-notes"))
    assert "Période" in mine
    assert "02/03/2026 – 27/03/2026" in mine
    assert submitted in mine
    await _as(client, firm.partner)
    waiting = _words(await client.get("/notes-de-frais/a-valider"))
    assert "02/03/2026 – 27/03/2026" in waiting
    assert submitted in waiting


async def test_receipts_show_as_thumbnails_reduced_by_the_server_and_pdfs_as_an_icon(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await _firm(db_session)
    await _as(client, firm.employee)
    note_id = await _new_note(client)
    photo = png_bytes((1200, 900), "orange")
    assert (await _add_line(client, note_id, file=("photo.png", photo, "image/png"))).status_code == 303
    pdf = await _add_line(
        client, note_id, file=("facture.pdf", pdf_bytes(), "application/pdf"), categorie="transport",
        fournisseur="SNCF", montant_ttc="48,20", tva_recuperable="",
    )  # fmt: skip
    assert pdf.status_code == 303
    note = await _note(db_session, note_id)
    image_receipt = line_of(note, ExpenseCategory.BUSINESS_MEAL).receipt
    pdf_receipt = line_of(note, ExpenseCategory.TRANSPORT).receipt
    assert image_receipt is not None
    assert pdf_receipt is not None

    page = _text(await client.get(f"/notes-de-frais/{note_id}"))
    thumb = f'src="/notes-de-frais/justificatifs/{image_receipt.id}/miniature" width="96" height="96"'
    assert thumb in page
    assert f'href="/notes-de-frais/justificatifs/{image_receipt.id}"' in page  # the original, a click away
    assert f"/notes-de-frais/justificatifs/{pdf_receipt.id}/miniature" not in page
    assert 'class="receipt-pdf"' in page
    assert f'href="/notes-de-frais/justificatifs/{pdf_receipt.id}"' in page

    mini = await client.get(f"/notes-de-frais/justificatifs/{image_receipt.id}/miniature")
    assert mini.status_code == 200
    assert mini.headers["content-type"] == "image/jpeg"
    assert mini.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(mini.content)) as reduced:
        assert reduced.format == "JPEG"
        assert max(reduced.size) <= 192
        assert reduced.size == (192, 144)  # the photo's 4:3 kept
    assert len(mini.content) < len(photo)
    assert (await client.get(f"/notes-de-frais/justificatifs/{pdf_receipt.id}/miniature")).status_code == 404
    # Another employee does not see it, like the original.
    await _as(client, firm.colleague)
    assert (await client.get(f"/notes-de-frais/justificatifs/{image_receipt.id}/miniature")).status_code == 404
    await _as(client, firm.collaborator)
    assert (await client.get(f"/notes-de-frais/justificatifs/{image_receipt.id}/miniature")).status_code == 403


async def test_suivi_shows_the_entries_of_approved_notes_balanced_with_totals(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await _firm(db_session)
    meal_and_train = (
        (ExpenseCategory.BUSINESS_MEAL, "60.00", "10.00"),
        (ExpenseCategory.TRANSPORT, "48.20", "0.00"),
    )
    first = await make_note(db_session, firm.employee, firm.dossier, expenses=meal_and_train, submit=True)
    second = await make_note(db_session, firm.colleague, firm.dossier, submit=True)
    await _as(client, firm.partner)
    assert (await _post(client, str(first.id), "approuver")).status_code == 303
    assert (await _post(client, str(second.id), "approuver")).status_code == 303
    month = today().strftime("%Y-%m")
    page = _text(await client.get("/notes-de-frais/suivi", params={"du": month, "au": month}))
    assert "Écritures comptables" in page
    assert "2 écritures" in page
    block = page[page.index('data-entry="' + first.reference + '"') :]
    block = block[: block.index("</tbody>")]
    for shown in ("NDF", "6257", "Réceptions", "6251", "Voyages et déplacements", "44566",
                  "TVA sur autres biens et services", "421", "Personnel - rémunérations dues", "Claire Martin",
                  "50,00", "48,20", "10,00", "108,20", "Équilibrée"):  # fmt: skip
        assert shown in block, shown
    # 108,20 € debited (50 + 48,20 + 10) and credited to Claire, then 60 € for Hugo: 168,20 € each side.
    footer = page[page.index("Total de la période") :]
    assert "débit = crédit" in footer
    assert footer.count("168,20") == 2
    # The CSV export is still there, with the same lines.
    rows = _csv(await client.get("/notes-de-frais/suivi/ecritures.csv", params={"du": month, "au": month}))
    assert len(rows) == 1 + 4 + 3  # the header, Claire's entry, Hugo's (6257, 44566, 421)


async def test_a_note_says_when_it_was_approved_to_the_minute(client: Client, db_session: AsyncSession) -> None:
    firm = await _firm(db_session)
    note = await make_note(db_session, firm.employee, firm.dossier, submit=True)
    await _as(client, firm.partner)
    assert (await _post(client, str(note.id), "approuver")).status_code == 303
    approval = (
        await db_session.execute(select(ExpenseTransition).where(ExpenseTransition.to_status == NoteStatus.APPROVED))
    ).scalar_one()
    local = approval.created_at.astimezone(FIRM_TIMEZONE)
    page = _text(await client.get(f"/notes-de-frais/{note.id}"))
    shown = page[page.index("Approuvée le") :]
    assert shown.startswith(f"Approuvée le</dt><dd>{local.strftime('%d/%m/%Y %H:%M')} · Paul Associé</dd>")
