"""Accueil: each section of « Ce qui m'attend » for the people it concerns, counting only what they may see."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier, DossierAccess
from portal.expenses.services import today
from portal.firm.models import Firm
from portal.integrations.commerce.models import CommerceSetup
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport, LedgerSource, VersionState, YearFigures
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.expenses import make_note
from tests.factories.firm import PASSWORD, add_role, make_firm, make_user

Client = httpx.AsyncClient

SECRET = "Zéphyrin Secret SAS"
EMPTY = "Tout est à jour : rien ne vous attend."


@dataclass
class World:
    partner: User
    ungranted: User
    admin: User
    collaborator: User
    employee: User
    entity: Dossier
    bakery: Dossier
    garage: Dossier
    secret: Dossier


async def _connection(
    session: AsyncSession, dossier: Dossier, provider: Provider, *, status: ConnectionStatus, error: str | None = None
) -> Connection:
    connection = Connection(
        dossier_id=dossier.id, provider=provider,
        auth_method=AuthMethod.API_TOKEN if provider is Provider.PENNYLANE else AuthMethod.API_KEY,
        credentials={"api_key": "cle"}, status=status, last_error=error,
    )  # fmt: skip
    session.add(connection)
    await session.flush()
    return connection


async def _import(
    session: AsyncSession, dossier: Dossier, status: ImportStatus, *, age: dt.timedelta = dt.timedelta(hours=1)
) -> LedgerImport:
    record = LedgerImport(
        dossier_id=dossier.id, source=LedgerSource.UPLOAD, filename=f"{dossier.siren}FEC20251231.txt", status=status,
        error="Le fichier contient des erreurs." if status is ImportStatus.REFUSED else None,
    )  # fmt: skip
    session.add(record)
    await session.flush()
    record.created_at = dt.datetime.now(dt.UTC) - age
    await session.flush()
    return record


async def build_world(session: AsyncSession) -> World:
    firm = await make_firm(session)
    partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    ungranted = await make_user(session, roles=(FirmRole.PARTNER,), name="Bruno Associé")
    admin = await make_user(session, roles=(FirmRole.ADMIN,), name="Marc Admin")
    collaborator = await make_user(session, name="Thomas Petit")
    employee = await make_user(session, name="Julie Bernard")
    entity = await make_dossier(session, name="Cabinet Durand", is_firm_dossier=True)
    firm.billing_entity_id = entity.id
    bakery = await make_dossier(session, name="Boulangerie Martin")
    garage = await make_dossier(session, name="Garage du Centre")
    secret = await make_dossier(session, name=SECRET, is_confidential=True)
    session.add(DossierAccess(dossier_id=secret.id, user_id=partner.id))
    await add_role(session, collaborator, bakery, DossierRole.ACCOUNTANT)
    await add_role(session, employee, entity, DossierRole.EMPLOYEE)
    await session.flush()

    # Notes: one to approve on the firm's dossier, one on the secret dossier, one of the partner's own.
    await make_note(session, employee, entity, title="Déplacement Lyon", day=today(), submit=True)
    await make_note(session, employee, secret, title="Séminaire secret", day=today(), submit=True, any_dossier=True)
    await add_role(session, partner, entity, DossierRole.EMPLOYEE)
    await make_note(session, partner, entity, title="Frais de l'associée", day=today(), submit=True)

    # Connections: Pennylane lost on the bakery, a till failing on the garage, the secret's Pennylane lost.
    lost = "Pennylane n'accepte plus l'autorisation de ce dossier : reconnectez Pennylane."
    await _connection(session, bakery, Provider.PENNYLANE, status=ConnectionStatus.AUTHORIZATION_LOST, error=lost)
    till = await _connection(session, garage, Provider.ZELTY, status=ConnectionStatus.CONNECTED)
    blocked = "Mapping à compléter : rien n'a été synchronisé."
    session.add(
        CommerceSetup(
            connection_id=till.id, dossier_id=garage.id, source="zelty", consumer_id="c1",
            sync_start=dt.date(2026, 1, 1), last_error=blocked,
        )
    )  # fmt: skip
    await _connection(session, secret, Provider.PENNYLANE, status=ConnectionStatus.AUTHORIZATION_LOST)
    await _connection(session, entity, Provider.PENNYLANE, status=ConnectionStatus.CONNECTED)  # healthy
    await _connection(session, garage, Provider.PENNYLANE, status=ConnectionStatus.DISCONNECTED)  # nobody's concern

    # Imports: the bakery's failure was fixed by a later success; the garage's refusal stands; the secret's too;
    # an old failure is forgotten.
    await _import(session, bakery, ImportStatus.FAILED, age=dt.timedelta(days=2))
    await _import(session, bakery, ImportStatus.SUCCEEDED, age=dt.timedelta(days=1))
    await _import(session, garage, ImportStatus.REFUSED)
    await _import(session, secret, ImportStatus.FAILED)
    await _import(session, entity, ImportStatus.FAILED, age=dt.timedelta(days=60))
    return World(partner, ungranted, admin, collaborator, employee, entity, bakery, garage, secret)


async def _home(client: Client, user: User) -> str:
    client.cookies.clear()
    signed = await sign_in(client, user.email, PASSWORD)
    assert signed.status_code in {302, 303}
    assert signed.headers["location"] == "/"
    page = await client.get("/")
    assert page.status_code == 200
    return html.unescape(page.text)


def _count(page: str, pattern: str) -> int | None:
    match = re.search(r"<h3[^>]*>\s*" + pattern, page)
    return int(match.group(1)) if match else None


def _section(page: str, key: str) -> str:
    match = re.search(rf'id="attente-{key}".*?</article>', page, re.DOTALL)
    assert match, f"no section {key}"
    return match.group(0)


NOTES = r"(\d+) notes? de frais à valider"
MINE = r"Mes notes de frais : (\d+)"
CONNECTIONS = r"(\d+) connexions? expirées? ou en erreur"
IMPORTS = r"(\d+) imports? refusés? ou en échec"
BILLING = r"(\d+) dossiers? sans client"


async def test_a_partner_sees_every_section_and_the_granted_confidential_dossier(
    client: Client, db_session: AsyncSession
) -> None:
    world = await build_world(db_session)
    page = await _home(client, world.partner)
    assert 'aria-current="page">Accueil</a>' in page
    # Julie's two notes (the secret one included: granted), never the partner's own.
    assert _count(page, NOTES) == 2
    notes = _section(page, "notes-to-approve")
    assert "Déplacement Lyon" in notes
    assert "Séminaire secret" in notes
    assert "Frais de l'associée" not in notes
    assert "/notes-de-frais/a-valider" in notes
    # Her own note waits.
    assert _count(page, MINE) == 1
    assert "Frais de l'associée" in _section(page, "my-notes")
    # Connections: the bakery's Pennylane, the garage's till, the secret's Pennylane.
    assert _count(page, CONNECTIONS) == 3
    connections = _section(page, "connections")
    assert f'href="/entreprises/{world.bakery.id}/connexions"' in connections
    assert f'href="/entreprises/{world.garage.id}/connexions/sources/zelty"' in connections
    assert "Mapping à compléter" in connections
    assert SECRET in connections
    # Imports: the garage's refusal and the secret's failure; not the bakery's (fixed) nor the old one.
    assert _count(page, IMPORTS) == 2
    imports = _section(page, "imports")
    assert "Garage du Centre" in imports
    assert "Boulangerie Martin" not in imports
    # Billing: no client yet for the three client dossiers.
    assert _count(page, BILLING) == 3
    assert f'href="/entreprises/{world.bakery.id}?onglet=facturation"' in _section(page, "billing")
    assert EMPTY not in page


async def test_an_ungranted_partner_never_sees_nor_counts_the_confidential_dossier(
    client: Client, db_session: AsyncSession
) -> None:
    world = await build_world(db_session)
    page = await _home(client, world.ungranted)
    assert SECRET not in page
    assert "Séminaire secret" not in page
    assert str(world.secret.id) not in page
    assert _count(page, NOTES) == 2  # Julie's firm note and the other partner's
    assert _count(page, CONNECTIONS) == 2
    assert _count(page, IMPORTS) == 1
    assert _count(page, BILLING) == 2
    assert _count(page, MINE) is None  # files no note
    for path in ("/accueil/connexions", "/accueil/imports", "/accueil/facturation"):
        listed = html.unescape((await client.get(path)).text)
        assert SECRET not in listed, path
        assert str(world.secret.id) not in listed, path


async def test_an_admin_sees_connections_imports_and_billing_but_approves_no_note(
    client: Client, db_session: AsyncSession
) -> None:
    world = await build_world(db_session)
    page = await _home(client, world.admin)
    assert _count(page, NOTES) is None
    assert _count(page, MINE) is None
    assert _count(page, CONNECTIONS) == 2
    assert _count(page, IMPORTS) == 1
    assert _count(page, BILLING) == 2
    assert SECRET not in page


async def test_a_collaborator_sees_only_their_dossiers(client: Client, db_session: AsyncSession) -> None:
    world = await build_world(db_session)
    page = await _home(client, world.collaborator)
    assert _count(page, CONNECTIONS) == 1
    connections = _section(page, "connections")
    assert "Boulangerie Martin" in connections
    assert "Garage du Centre" not in connections
    assert _count(page, IMPORTS) is None  # the bakery's failure was fixed since
    assert _count(page, NOTES) is None
    assert _count(page, BILLING) is None
    assert (await client.get("/accueil/facturation")).status_code == 403
    listed = html.unescape((await client.get("/accueil/connexions")).text)
    assert "Boulangerie Martin" in listed
    assert "Garage du Centre" not in listed


async def test_an_employee_sees_their_own_notes_waiting_or_refused(client: Client, db_session: AsyncSession) -> None:
    world = await build_world(db_session)
    page = await _home(client, world.employee)
    assert _count(page, MINE) == 1  # the secret one is on a dossier they are not Employé of, nor granted
    mine = _section(page, "my-notes")
    assert "Déplacement Lyon" in mine
    assert "en attente de validation" in mine
    assert _count(page, NOTES) is None
    assert _count(page, CONNECTIONS) is None
    assert (await client.get("/accueil/connexions")).status_code == 403


async def test_nothing_waiting_shows_the_empty_state(client: Client, db_session: AsyncSession) -> None:
    await make_firm(db_session)
    someone = await make_user(db_session, name="Léa Nouvelle")
    dossier = await make_dossier(db_session, name="Fleuriste")
    await add_role(db_session, someone, dossier, DossierRole.ACCOUNTANT)
    page = await _home(client, someone)
    assert EMPTY in page
    assert "<h3" not in page


async def test_a_full_list_pages_past_the_ten_shown(client: Client, db_session: AsyncSession) -> None:
    await make_firm(db_session)
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    for number in range(12):
        dossier = await make_dossier(db_session, name=f"Dossier {number:02d}")
        await _connection(db_session, dossier, Provider.PENNYLANE, status=ConnectionStatus.AUTHORIZATION_LOST)
    page = await _home(client, partner)
    assert _count(page, CONNECTIONS) == 12
    connections = _section(page, "connections")
    assert connections.count('class="todo-item"') == 10
    assert "Voir tout (12)" in connections
    listed = (await client.get("/accueil/connexions")).text
    assert listed.count('class="todo-item"') == 12


# --- KPI alerts ------------------------------------------------------------------------------------------


def _figures(year: int, monthly: list[int]) -> dict[str, object]:
    months = {f"{year}-{month:02d}": f"{amount}.00" for month, amount in enumerate(monthly, start=1)}
    return {"chiffre_affaires": f"{sum(monthly)}.00", "ca_mensuel": months}


async def _year(
    session: AsyncSession, dossier: Dossier, year: int, monthly: list[int], *, cash: int = 1_000_00, dso: str = "30"
) -> None:
    """An active fiscal year of ``dossier`` with its figures (CA per month in euros, trésorerie in cents, DSO)."""
    fiscal_year = FiscalYear(
        dossier_id=dossier.id, start_date=dt.date(year, 1, 1), end_date=dt.date(year, 12, 31),
        state=VersionState.ACTIVE, source=LedgerSource.UPLOAD,
    )  # fmt: skip
    session.add(fiscal_year)
    await session.flush()
    session.add(
        YearFigures(
            fiscal_year_id=fiscal_year.id, dossier_id=dossier.id, start_date=fiscal_year.start_date,
            end_date=fiscal_year.end_date, chiffre_affaires=sum(monthly) * 100, marge_brute=0,
            resultat_exploitation=0, resultat_net=0, tresorerie_nette=cash, taux_marge_brute=None,
            taux_marge_exploitation=None, dso_jours=Decimal(dso), dpo_jours=None,
            figures=_figures(year, monthly), detail={}, computed_at=dt.datetime.now(dt.UTC),
        )
    )  # fmt: skip
    await session.flush()


ALERTS = r"(\d+) dossiers? en alerte"
FULL = [10_000] * 12
HALF_YEAR = [6_000] * 6 + [0] * 6


async def test_kpi_alerts_on_my_dossiers_follow_the_firm_s_thresholds(client: Client, db_session: AsyncSession) -> None:
    world = await build_world(db_session)
    # The bakery: CA down 40 % on N-1 at the same date (6 months of sales against the same 6 of 2025).
    await _year(db_session, world.bakery, 2025, FULL)
    await _year(db_session, world.bakery, 2026, HALF_YEAR)
    # The garage: negative trésorerie and a DSO of 75 days; its CA holds.
    await _year(db_session, world.garage, 2025, FULL)
    await _year(db_session, world.garage, 2026, FULL, cash=-2_500_00, dso="75")
    # The secret dossier: everything wrong, for the granted partner only.
    await _year(db_session, world.secret, 2026, FULL, cash=-1_00, dso="90")
    # An older year in alert is not the latest: the entity's 2024 is followed by a healthy 2025.
    await _year(db_session, world.entity, 2024, FULL, cash=-5_00)
    await _year(db_session, world.entity, 2025, FULL)

    page = await _home(client, world.partner)
    assert _count(page, ALERTS) == 3
    alerts = _section(page, "alerts")
    assert f'href="/entreprises/{world.bakery.id}/tableau-de-bord"' in alerts
    assert "Chiffre d'affaires en baisse de 40 % sur N-1 à date" in alerts
    assert "Trésorerie nette négative : -2 500,00 €" in alerts.replace("\u202f", " ").replace("\xa0", " ")
    assert "DSO de 75 jours" in alerts
    assert SECRET in alerts
    assert "Cabinet Durand" not in alerts

    ungranted = await _home(client, world.ungranted)
    assert _count(ungranted, ALERTS) == 2
    assert SECRET not in ungranted
    listed = html.unescape((await client.get("/accueil/alertes")).text)
    assert "Garage du Centre" in listed
    assert SECRET not in listed

    # The collaborator: only the dossiers they are Comptable on (the bakery).
    mine = await _home(client, world.collaborator)
    assert _count(mine, ALERTS) == 1
    assert "Boulangerie Martin" in _section(mine, "alerts")
    assert _count(await _home(client, world.employee), ALERTS) is None  # no dashboard to read

    # Stricter thresholds, the trésorerie not signalled: only the garage's DSO stays.
    firm = (await db_session.execute(select(Firm))).scalar_one()
    firm.alert_revenue_drop_percent, firm.alert_dso_days, firm.alert_negative_cash = 50, 70, False
    await db_session.flush()
    page = await _home(client, world.ungranted)
    assert _count(page, ALERTS) == 1
    alerts = _section(page, "alerts")
    assert "DSO de 75 jours" in alerts
    assert "Trésorerie" not in alerts
