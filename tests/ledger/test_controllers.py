"""Importing FEC files into a dossier from its Connexions page: real files, bad files, re-imports, export.

The upload goes through the page as a person sends it; the import the worker would run
is run here inline, in the test's transaction, with the same function (``run_import``).
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.app import create_app
from portal.auth.roles import DossierRole, FirmRole
from portal.jobs.models import JobRun
from portal.ledger import fec
from portal.ledger.models import Entry, FiscalYear, ImportStatus, LedgerImport, Line
from portal.settings import Settings
from tests.browsing import csrf_token, serve_in_process, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.ledger.uploads import active_years, latest_import, partner, run, upload
from tests.samples import FEC_SAMPLES

Client = httpx.AsyncClient
DATA = FEC_SAMPLES
_partner, _upload, _latest_import, _run, _active_years = partner, upload, latest_import, run, active_years
NEOLEGAL = DATA / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
PIPE = DATA / "neolegal-fec-reader" / "111111111FEC20221231.TXT"
TAB_SMALL = DATA / "lsn-fec-reader" / "sample_tab.txt"


async def test_a_real_fec_uploaded_from_connexions_becomes_the_dossiers_ledger(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Exploitation Agricole du Val", closing_day=31, closing_month=8)
    page = await client.get(f"/entreprises/{dossier.id}/connexions")
    assert page.status_code == 200
    for label in ("Connexions", "Pennylane", "Connecter Pennylane", "Fichier FEC", "Importer le fichier"):
        assert label in html.unescape(page.text)

    uploaded = await _upload(client, dossier, NEOLEGAL.name, NEOLEGAL.read_bytes())
    assert uploaded.status_code == 303, uploaded.text
    record = await _latest_import(db_session, dossier)
    assert record.status is ImportStatus.QUEUED
    assert record.filename == NEOLEGAL.name
    run = await db_session.get(JobRun, record.job_run_id)
    assert run is not None
    assert run.actor_name == "ledger.import_fec"
    assert run.dossier_id == dossier.id

    record = await _run(session_maker, settings, record)
    assert record.status is ImportStatus.SUCCEEDED, record.report
    (year,) = await _active_years(db_session, dossier)
    assert (year.start_date.isoformat(), year.end_date.isoformat()) == ("2021-09-01", "2022-08-31")
    assert year.line_count == 5_422
    assert year.entry_count == 2_033
    assert year.debit_total == year.credit_total > 0
    lines = await db_session.scalar(select(func.count()).select_from(Line).where(Line.fiscal_year_id == year.id))
    assert lines == 5_422

    ledger = await client.get(f"/entreprises/{dossier.id}/comptabilite")
    assert ledger.status_code == 200
    assert "2 033 écritures" in html.unescape(ledger.text).replace("\u202f", " ").replace("\xa0", " ")
    first = (
        (
            await db_session.execute(
                select(Entry).where(Entry.fiscal_year_id == year.id).order_by(Entry.entry_date, Entry.first_line_no)
            )
        )
        .scalars()
        .first()
    )
    assert first is not None
    assert html.escape(first.label, quote=False) in ledger.text
    report = await client.get(f"/entreprises/{dossier.id}/connexions/imports/{record.id}")
    assert "Le fichier est conforme" in html.unescape(report.text)
    balance = await client.get(f"/entreprises/{dossier.id}/comptabilite", params={"vue": "balance"})
    assert 'id="balance"' in balance.text


async def test_importing_the_same_fiscal_year_again_replaces_it_and_never_doubles_it(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Maison Reprise")
    for attempt in range(2):
        assert (await _upload(client, dossier, NEOLEGAL.name, NEOLEGAL.read_bytes())).status_code == 303
        record = await _run(session_maker, settings, await _latest_import(db_session, dossier))
        assert record.status is ImportStatus.SUCCEEDED
        assert record.replaced is (attempt == 1)
    years = await _active_years(db_session, dossier)
    assert len(years) == 1
    all_lines = await db_session.scalar(
        select(func.count()).select_from(Line).join(FiscalYear, FiscalYear.id == Line.fiscal_year_id)
        .where(FiscalYear.dossier_id == dossier.id)
    )  # fmt: skip
    assert all_lines == 5_422  # the replaced version's lines are gone too
    versions = await db_session.scalar(
        select(func.count()).select_from(FiscalYear).where(FiscalYear.dossier_id == dossier.id)
    )
    assert versions == 1


async def test_a_broken_fec_is_refused_whole_with_a_line_numbered_report(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Fichier Abîmé")
    lines = NEOLEGAL.read_bytes().split(b"\n")
    # Line 3 of the file gets an amount with a decimal point; line 5 loses its account number.
    fields = lines[2].split(b"\t")
    fields[11] = b"12.50"
    lines[2] = b"\t".join(fields)
    fields = lines[4].split(b"\t")
    fields[4] = b""
    lines[4] = b"\t".join(fields)
    broken = b"\n".join(lines)
    assert (await _upload(client, dossier, NEOLEGAL.name, broken)).status_code == 303
    record = await _run(session_maker, settings, await _latest_import(db_session, dossier))
    assert record.status is ImportStatus.REFUSED
    assert await _active_years(db_session, dossier) == []
    assert await db_session.scalar(select(func.count()).select_from(FiscalYear)) == 0  # staging removed too
    report = await client.get(f"/entreprises/{dossier.id}/connexions/imports/{record.id}")
    text = html.unescape(report.text)
    assert "rien n'a été importé" in text
    rows = re.findall(
        r'<tr class="issue issue-error">\s*<td>.*?</td>\s*<td class="num">(\d+)</td>', report.text, re.DOTALL
    )
    assert {"3", "5"} <= set(rows), rows

    # Corrected, the same file imports.
    assert (await _upload(client, dossier, NEOLEGAL.name, NEOLEGAL.read_bytes())).status_code == 303
    record = await _run(session_maker, settings, await _latest_import(db_session, dossier))
    assert record.status is ImportStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("vide.txt", b"", "Le fichier est vide"),
        (
            "export.csv",
            (
                b"JournalCode;JournalLib;EcritureNum;EcritureDate;CompteNum;CompteLib;CompAuxNum;CompAuxLib;"
                b"PieceRef;PieceDate;EcritureLib;Debit;Credit;EcritureLet;DateLet;ValidDate;Montantdevise;Idevise\r\n"
                b"VT;Ventes;1;20240105;411000;Clients;;;F1;20240105;Vente;120,00;0,00;;;20240105;;\r\n"
            ),
            "séparateur",
        ),
        ("facture.pdf", b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n", "FEC"),
        ("clients.txt", b"Nom\tVille\nBoulangerie\tLyon\n", "FEC"),
    ],
)
async def test_a_bad_upload_gets_a_clear_french_message_and_nothing_is_kept(
    client: Client, db_session: AsyncSession, settings: Settings, *, name: str, content: bytes, message: str
) -> None:
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Mauvais Fichier")
    before = _stored(settings)
    response = await _upload(client, dossier, name, content)
    assert response.status_code == 422
    assert message in html.unescape(response.text)
    assert await db_session.scalar(select(func.count()).select_from(LedgerImport)) == 0
    assert _stored(settings) == before


def _stored(settings: Settings) -> set[Path]:
    """The files waiting in the imports folder."""
    return (
        {path for path in settings.imports_dir.rglob("*") if path.is_file()} if settings.imports_dir.exists() else set()
    )


async def test_a_file_over_the_size_limit_is_refused_in_french(
    settings: Settings, session_maker: async_sessionmaker[AsyncSession], db_session: AsyncSession, jobs: object
) -> None:
    small = settings.with_overrides(fec_max_bytes=2_000)
    app: Litestar = create_app(
        small, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )
    async with serve_in_process(app) as client:
        await _partner(client, db_session)
        dossier = await make_dossier(db_session, name="Trop Gros")
        response = await _upload(client, dossier, NEOLEGAL.name, NEOLEGAL.read_bytes()[:50_000])
        assert response.status_code in {413, 422}
        assert "taille maximale" in html.unescape(response.text)
        # Over the route's limit the body is refused unread: a file, not a form, is too large.
        response = await _upload(client, dossier, "gros.txt", b"0" * 200_000)
        assert response.status_code == 413
        assert "Fichier trop volumineux" in response.text
        assert "Formulaire trop volumineux" not in response.text
    assert await db_session.scalar(select(func.count()).select_from(LedgerImport)) == 0


async def test_the_export_is_named_by_siren_and_closing_date_and_reimports_identically(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Aller Retour")
    assert (await _upload(client, dossier, PIPE.name, PIPE.read_bytes())).status_code == 303
    record = await _run(session_maker, settings, await _latest_import(db_session, dossier))
    assert record.status is ImportStatus.SUCCEEDED, record.report
    (year,) = await _active_years(db_session, dossier)
    exported = await client.get(f"/entreprises/{dossier.id}/comptabilite/exercices/{year.id}/fec")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/plain; charset=iso-8859-15"  # one charset, the file's own
    assert exported.headers["cache-control"] == "no-store"
    disposition = exported.headers["content-disposition"]
    assert f"{dossier.siren}FEC{year.end_date:%Y%m%d}.txt" in disposition

    path = tmp_path / f"{dossier.siren}FEC{year.end_date:%Y%m%d}.txt"
    path.write_bytes(exported.content)
    with fec.FecFile.open(path) as reread:
        again = [row[1:] for batch in reread.batches() for row in batch]
        assert reread.report.ok, reread.report.issues[:3]
    with fec.FecFile.open(PIPE) as original:
        first = [row[1:] for batch in original.batches() for row in batch]
    assert again == first


async def test_connexions_and_ledger_are_404_to_someone_without_a_role_on_the_dossier(
    client: Client, db_session: AsyncSession
) -> None:
    comptable = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    mine = await make_dossier(db_session, name="Le Mien")
    other = await make_dossier(db_session, name="Pas Le Mien")
    await add_role(db_session, comptable, mine, DossierRole.ACCOUNTANT)
    assert (await sign_in(client, comptable.email, PASSWORD)).status_code in {302, 303}
    assert (await client.get(f"/entreprises/{mine.id}/connexions")).status_code == 200
    assert (await client.get(f"/entreprises/{mine.id}/comptabilite")).status_code == 200
    for path in ("connexions", "comptabilite", "connexions/pennylane/exercices"):
        assert (await client.get(f"/entreprises/{other.id}/{path}")).status_code == 404
    token = await csrf_token(client, f"/entreprises/{mine.id}/connexions")
    refused = await client.post(
        f"/entreprises/{other.id}/connexions/fec", data={"_csrf_token": token},
        files={"fichier": (TAB_SMALL.name, io.BytesIO(TAB_SMALL.read_bytes()), "text/plain")},
    )  # fmt: skip
    assert refused.status_code == 404
    assert await db_session.scalar(select(func.count()).select_from(LedgerImport)) == 0


async def test_a_fiscal_year_overlapping_another_is_refused_and_given_dates_are_used(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _partner(client, db_session)
    dossier = await make_dossier(db_session, name="Deux Calendriers")
    assert (await _upload(client, dossier, NEOLEGAL.name, NEOLEGAL.read_bytes())).status_code == 303
    assert (await _run(session_maker, settings, await _latest_import(db_session, dossier))).status is (
        ImportStatus.SUCCEEDED
    )
    # The same lines said to be the calendar year 2022: it overlaps the year already imported.
    response = await _upload(client, dossier, "export.txt", NEOLEGAL.read_bytes(), debut="01/01/2022", fin="31/12/2022")
    assert response.status_code == 303
    record = await _run(session_maker, settings, await _latest_import(db_session, dossier))
    assert record.status is ImportStatus.REFUSED
    report = html.unescape((await client.get(f"/entreprises/{dossier.id}/connexions/imports/{record.id}")).text)
    assert "chevauche l'exercice du 01/09/2021 au 31/08/2022" in report
    # The lines of 2021 fall outside 2022.
    assert "Lignes datées hors de l'exercice du 01/01/2022 au 31/12/2022 : " in report
    years = await _active_years(db_session, dossier)
    assert [(year.start_date.isoformat(), year.end_date.isoformat()) for year in years] == [
        ("2021-09-01", "2022-08-31")
    ]
    assert await db_session.scalar(select(func.count()).select_from(FiscalYear)) == 1

    bad = await _upload(client, dossier, NEOLEGAL.name, NEOLEGAL.read_bytes(), debut="31/12/2022", fin="01/01/2022")
    assert bad.status_code == 422
    assert "La date de fin d'exercice doit suivre la date de début." in html.unescape(bad.text)
    bad = await _upload(client, dossier, NEOLEGAL.name, NEOLEGAL.read_bytes(), debut="2022-13-45")
    assert bad.status_code == 422
    assert "Date invalide" in html.unescape(bad.text)
