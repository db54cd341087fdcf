"""A dossier's Tableau de bord over HTTP: two hand-made fiscal years imported through the Connexions upload,
their figures read beside each other, how one is computed, objectives, and who may see it.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.dashboard.board import next_sync
from portal.dashboard.models import BudgetLine, Objective
from portal.integrations.models import AuthMethod, Connection, Provider
from portal.ledger.importer import run_import
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport, VersionState
from portal.settings import FIRM_TIMEZONE, Settings
from tests.browsing import csrf_token, sign_in
from tests.dashboard.fec import YEAR_2024, YEAR_2025, fec, total
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient
NNBSP, NBSP = "\u202f", "\u00a0"


def euros(value: Decimal, *, signed: bool = False) -> str:
    """``Decimal("1234.5")`` as the page writes it: ``1 234,50 €`` (narrow no-break spaces, as babel)."""
    sign = "−" if value < 0 else "+" if signed and value > 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    groups = f"{int(whole):,}".replace(",", NNBSP)
    return f"{sign}{groups},{cents}{NBSP}€"


def percent(value: Decimal, *, signed: bool = False) -> str:
    sign = "−" if value < 0 else "+" if signed and value > 0 else ""
    return f"{sign}{abs(value):.1f}".replace(".", ",") + f"{NNBSP}%"


async def _upload_and_import(
    client: Client, session_maker: async_sessionmaker[AsyncSession], settings: Settings, dossier: Dossier, *,
    content: bytes, year: int,
) -> None:  # fmt: skip
    """The FEC uploaded from Connexions as a person does, then the import the worker would run, run here."""
    page = f"/entreprises/{dossier.id}/connexions"
    token = await csrf_token(client, page)
    name = f"{dossier.siren}FEC{year}1231.txt"
    response = await client.post(
        f"{page}/fec",
        data={"_csrf_token": token, "debut": f"01/01/{year}", "fin": f"31/12/{year}"},
        files={"fichier": (name, io.BytesIO(content), "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    async with session_maker() as session:
        record = (
            (
                await session.execute(
                    select(LedgerImport)
                    .where(LedgerImport.dossier_id == dossier.id)
                    .order_by(LedgerImport.created_at.desc())
                )
            )
            .scalars()
            .first()
        )
    assert record is not None
    outcome = await run_import(session_maker, settings.imports_dir, record.id)
    assert outcome.status is ImportStatus.SUCCEEDED


async def _two_years(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> Dossier:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    assert (await sign_in(client, partner.email, PASSWORD)).status_code in {302, 303}
    dossier = await make_dossier(db_session, name="Atelier Lumière")
    await _upload_and_import(client, session_maker, settings, dossier, content=fec(YEAR_2025), year=2025)
    await _upload_and_import(client, session_maker, settings, dossier, content=fec(YEAR_2024), year=2024)  # N-1 after N
    return dossier


async def _years(db_session: AsyncSession, dossier: Dossier) -> dict[int, FiscalYear]:
    statement = select(FiscalYear).where(FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE)
    years = (await db_session.execute(statement.execution_options(populate_existing=True))).scalars()
    return {year.end_date.year: year for year in years}


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def card(page: str, key: str) -> dict[str, str]:
    """A KPI card's value, N-1, difference and % difference, as shown (titles too)."""
    match = re.search(rf'<article class="kpi-card" id="kpi-{key}".*?</article>', page, re.DOTALL)
    assert match, f"no card for {key}"
    block = match.group(0)
    shown: dict[str, str] = {}
    for name in ("value", "previous", "difference", "percent"):
        found = re.search(rf"<(?:p|dd)([^>]*)data-{name}([^>]*)>(.*?)</(?:p|dd)>", block, re.DOTALL)
        assert found, (key, name)
        shown[name] = _text(found.group(3)).replace("▲ ", "").replace("▼ ", "")
        title = re.search(r'title="([^"]*)"', found.group(1) + found.group(2))
        shown[f"{name}_title"] = html.unescape(title.group(1)) if title else ""
    objective = re.search(r"<div class=\"kpi-objective\" data-objective>(.*?)</div>", block, re.DOTALL)
    shown["objective"] = _text(objective.group(1)) if objective else ""
    return shown


async def test_the_dashboard_shows_each_figure_beside_n_minus_1(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    dossier = await _two_years(client, db_session, session_maker, settings)
    response = await client.get(f"/entreprises/{dossier.id}/tableau-de-bord")
    assert response.status_code == 200, response.text
    page = response.text

    revenue = {
        year: total(entries, ("70",), credit_side=True) for year, entries in ((2025, YEAR_2025), (2024, YEAR_2024))
    }
    assert revenue == {2025: Decimal(3000), 2024: Decimal(2000)}
    shown = card(page, "chiffre_affaires")
    assert shown["value"] == euros(revenue[2025])
    assert shown["previous"] == euros(revenue[2024])
    assert shown["difference"] == euros(revenue[2025] - revenue[2024], signed=True)
    assert shown["percent"] == percent((revenue[2025] - revenue[2024]) / revenue[2024] * 100, signed=True)

    # Résultat net = class 7 − class 6.
    net = {
        year: total(entries, ("7",), credit_side=True) - total(entries, ("6",), credit_side=False)
        for year, entries in ((2025, YEAR_2025), (2024, YEAR_2024))
    }
    shown = card(page, "resultat_net")
    assert (shown["value"], shown["previous"]) == (euros(net[2025]), euros(net[2024]))
    assert shown["difference"] == euros(net[2025] - net[2024], signed=True)

    # The groups the seed names, in French.
    text = html.unescape(page)
    for heading in ("Rentabilité", "Activité", "Trésorerie", "Soldes intermédiaires de gestion"):
        assert f">{heading}</h2>" in text
    # The charts, each with its table; the CA by month table gives January of both years.
    assert text.count("<figure") == 4
    assert text.count("Voir les données") == 4
    assert re.search(
        rf"<th scope=\"row\">janv\.</th><td[^>]*>{euros(Decimal(1000))}</td><td[^>]*>{euros(Decimal(1000))}</td>", text
    )
    assert re.search(rf"<th scope=\"row\">mars</th><td[^>]*>{euros(Decimal(2000))}</td>", text)
    # Last synchronisation: the upload; no Pennylane connection, so nothing scheduled.
    assert "Fichier FEC importé" in text
    assert "Synchronisation manuelle" in text

    # N-1 chosen: no year before it, said so.
    years = await _years(db_session, dossier)
    earlier = await client.get(f"/entreprises/{dossier.id}/tableau-de-bord?exercice={years[2024].id}")
    shown = card(earlier.text, "chiffre_affaires")
    assert shown["value"] == euros(revenue[2024])
    assert shown["previous"] == "—"
    assert shown["previous_title"] == "Pas d'exercice précédent importé."
    assert "pas de comparaison N-1" in html.unescape(earlier.text)


async def test_each_figure_links_to_how_it_is_computed(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    dossier = await _two_years(client, db_session, session_maker, settings)
    years = await _years(db_session, dossier)
    board = await client.get(f"/entreprises/{dossier.id}/tableau-de-bord")
    link = f"/entreprises/{dossier.id}/tableau-de-bord/{years[2025].id}/chiffre_affaires"
    assert f'href="{link}"' in board.text

    response = await client.get(link)
    assert response.status_code == 200
    text = html.unescape(response.text)
    assert "Chiffre d'affaires" in text
    rows = dict(
        re.findall(r'<tr data-account="(\d+)"><td class="mono">\d+</td><td>[^<]*</td><td[^>]*>([^<]*)</td>', text)
    )
    assert rows["706000"] == euros(Decimal(2500))
    assert rows["707000"] == euros(Decimal(500))
    assert "Prestations de services" in text
    assert "Ventes de marchandises" in text
    assert euros(Decimal(3000)) in text  # the total

    assert (await client.get(f"/entreprises/{dossier.id}/tableau-de-bord/{years[2025].id}/inconnu")).status_code == 404
    other = await make_dossier(db_session, name="Autre Dossier")
    assert (
        await client.get(f"/entreprises/{other.id}/tableau-de-bord/{years[2025].id}/chiffre_affaires")
    ).status_code == 404


async def test_objectives_and_budget_show_their_progress(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    dossier = await _two_years(client, db_session, session_maker, settings)
    end = dt.date(2025, 12, 31)
    db_session.add(Objective(dossier_id=dossier.id, end_date=end, key="chiffre_affaires", target=Decimal("6000.00")))
    for month, cents in ((1, 80_000), (2, 120_000), (3, 150_000)):
        db_session.add(
            BudgetLine(
                dossier_id=dossier.id, end_date=end, key="chiffre_affaires", month=dt.date(2025, month, 1), amount=cents
            )
        )
    await db_session.flush()
    page = html.unescape((await client.get(f"/entreprises/{dossier.id}/tableau-de-bord")).text)
    shown = card(page, "chiffre_affaires")
    assert euros(Decimal(6000)) in shown["objective"]
    assert f"50{NNBSP}%" in shown["objective"]  # 3 000 of 6 000
    assert 'value="50"' in page
    # The cumulative chart: the objective spread by month (500 in January) and the budget summed (800, 2 000, 3 500).
    cell = r"<td[^>]*>([^<]*)</td>"
    january = re.search(rf'<th scope="row">janv\.</th>{cell}{cell}{cell}{cell}', page)
    march = re.search(rf'<th scope="row">mars</th>{cell}{cell}{cell}{cell}', page)
    assert january
    assert march
    assert january.groups()[2:] == (euros(Decimal(500)), euros(Decimal(800)))
    assert march.groups()[2:] == (euros(Decimal(1500)), euros(Decimal(3500)))


async def test_a_pennylane_connection_shows_the_next_daily_synchronisation(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    dossier = await _two_years(client, db_session, session_maker, settings)
    db_session.add(
        Connection(
            dossier_id=dossier.id, provider=Provider.PENNYLANE, auth_method=AuthMethod.API_TOKEN, token_hint="…abcd"
        )
    )
    await db_session.flush()
    text = html.unescape((await client.get(f"/entreprises/{dossier.id}/tableau-de-bord")).text)
    assert "Chaque jour à 06:00" in text
    assert "Synchronisation manuelle" not in text


def test_the_next_synchronisation_is_the_next_six_oclock_in_paris() -> None:
    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text)

    assert next_sync(at("2026-12-07T04:59:00+00:00")) == at("2026-12-07T06:00:00+01:00")  # 05:59 in Paris
    assert next_sync(at("2026-12-07T05:00:00+00:00")) == at("2026-12-08T06:00:00+01:00")  # 06:00 sharp: tomorrow
    assert next_sync(at("2026-03-28T12:00:00+00:00")) == at("2026-03-29T06:00:00+02:00")  # summer time starts
    assert next_sync(at("2026-12-07T05:00:00+00:00")).tzinfo == FIRM_TIMEZONE


async def test_no_fiscal_year_yet_says_so_and_leads_to_connexions(client: Client, db_session: AsyncSession) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await sign_in(client, partner.email, PASSWORD)
    dossier = await make_dossier(db_session, name="Tout Neuf")
    response = await client.get(f"/entreprises/{dossier.id}/tableau-de-bord")
    assert response.status_code == 200
    text = html.unescape(response.text)
    assert "Aucun exercice importé" in text
    assert f'href="/entreprises/{dossier.id}/connexions"' in text
    assert "<figure" not in text


async def test_only_those_who_may_read_the_dossiers_figures_see_them(
    client: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    dossier = await _two_years(client, db_session, session_maker, settings)
    years = await _years(db_session, dossier)
    urls = [
        f"/entreprises/{dossier.id}/tableau-de-bord",
        f"/entreprises/{dossier.id}/tableau-de-bord/{years[2025].id}/chiffre_affaires",
    ]
    # A Comptable of another dossier: this one answers as if it did not exist.
    elsewhere = await make_user(db_session, email="comptable.ailleurs@cabinet.fr")
    await add_role(db_session, elsewhere, await make_dossier(db_session, name="Son Dossier"), DossierRole.ACCOUNTANT)
    client.cookies.clear()
    await sign_in(client, elsewhere.email, PASSWORD)
    assert [(await client.get(url)).status_code for url in urls] == [404, 404]

    # The dossier's own Comptable reads it.
    mine = await make_user(db_session, email="comptable.du.dossier@cabinet.fr")
    await add_role(db_session, mine, dossier, DossierRole.ACCOUNTANT)
    client.cookies.clear()
    await sign_in(client, mine.email, PASSWORD)
    assert [(await client.get(url)).status_code for url in urls] == [200, 200]

    # Confidential, granted to nobody else: a partner not on its list gets 404 too.
    granted = await make_user(db_session, roles=(FirmRole.PARTNER,), email="associe.accorde@cabinet.fr")
    ungranted = await make_user(db_session, roles=(FirmRole.PARTNER,), email="associe.autre@cabinet.fr")
    principal = Principal.build(
        user_id=granted.id, email=granted.email, name=granted.name, locale="fr", roles=granted.firm_roles
    )
    await DossierService(session=db_session).set_confidentiality(principal, dossier, confidential=True, user_ids=[])
    client.cookies.clear()
    await sign_in(client, ungranted.email, PASSWORD)
    assert [(await client.get(url)).status_code for url in urls] == [404, 404]
    client.cookies.clear()
    await sign_in(client, granted.email, PASSWORD)
    assert [(await client.get(url)).status_code for url in urls] == [200, 200]
