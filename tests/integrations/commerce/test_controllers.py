"""A dossier's POS and e-commerce sources through its pages: connecting with a key, the mapping
screen and its French refusals, the schedule, who may do what, and confidential dossiers.

The reference data a worker would read from the source is written here directly (what the
``commerce.reference`` job stores), so these tests need no source; the sync itself is
proven against the sandbox in ``tests/integrations/commerce/test_sync.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import DossierMembership, User
from portal.accounts.passwords import hash_password
from portal.app import create_app
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier, DossierAccess
from portal.integrations.commerce import mapping as mappings
from portal.integrations.commerce import store
from portal.integrations.commerce.entries import DraftEntry, DraftLine, EntryKind
from portal.integrations.commerce.models import CommerceEntry, CommerceSetup, SyncFrequency
from portal.integrations.commerce.records import Location, PaymentMethod, ReferenceData, TaxRate
from portal.integrations.commerce.sources import get_source
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from portal.jobs.models import JobRun, OutboxMessage
from portal.ledger import fec
from portal.sandbox.commerce import CommerceState
from portal.settings import Settings
from tests import commerce_fixtures
from tests.balances import fec_balance, page_totals
from tests.browsing import csrf_token, serve_in_process, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient
commerce = commerce_fixtures.commerce
commerce_settings = commerce_fixtures.commerce_settings
CEDRE = "zelty-le-cedre"
KEY = "zelty-sk-live-0123456789abcdef"
ZELTY = get_source("zelty")
assert ZELTY is not None
REFERENCE = ReferenceData(
    locations=(Location("loc-salle", "Salle"), Location("loc-bar", "Bar")),
    payment_methods=(
        PaymentMethod("pm-cash", "Espèces"),
        PaymentMethod("pm-card", "Carte bancaire"),
        PaymentMethod("pm-lydia", "Lydia"),
    ),
    tax_rates=(TaxRate("t10", "TVA 10 %", Decimal(10)), TaxRate("t20", "TVA 20 %", Decimal(20))),
)


@contextlib.asynccontextmanager
async def _portal(settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[Client]:
    app: Litestar = create_app(
        settings, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )
    async with serve_in_process(app) as client:
        yield client


@pytest.fixture
async def till(
    commerce_settings: Settings, session_maker: async_sessionmaker[AsyncSession], jobs: object
) -> AsyncIterator[Client]:
    """The portal (in process) whose POS and e-commerce API is the sandbox: keys are tried there."""
    async with _portal(commerce_settings, session_maker) as client:
        yield client


async def _person(client: Client, db_session: AsyncSession, *roles: FirmRole, name: str = "Claire Durand") -> User:
    user = await make_user(db_session, roles=roles, name=name)
    assert (await sign_in(client, user.email, PASSWORD)).status_code in {302, 303}
    return user


def _page(dossier: Dossier, suffix: str = "") -> str:
    return f"/entreprises/{dossier.id}/connexions/sources/zelty{suffix}"


async def _post(client: Client, dossier: Dossier, suffix: str, data: dict[str, str]) -> httpx.Response:
    token = await csrf_token(client, _page(dossier))
    return await client.post(_page(dossier, suffix), data={"_csrf_token": token, **data}, follow_redirects=False)


async def _connected(db_session: AsyncSession, dossier: Dossier, *, reference: bool = True) -> CommerceSetup:
    """A Zelty connection as the reference job leaves it (account known, defaults drawn)."""
    connection = Connection(
        dossier_id=dossier.id, provider=Provider.ZELTY, auth_method=AuthMethod.API_KEY,
        status=ConnectionStatus.CONNECTED, credentials={"api_key": KEY}, token_hint="…cdef",
    )  # fmt: skip
    db_session.add(connection)
    await db_session.flush()
    assert ZELTY is not None
    setup = CommerceSetup(
        connection_id=connection.id, dossier_id=dossier.id, source="zelty", sync_start=dt.date(2026, 1, 1),
        sync_frequency=SyncFrequency.DAILY, consumer_id="cedre" if reference else None,
        consumer_name="Restaurant Le Cèdre" if reference else None,
        reference=REFERENCE.to_json() if reference else None,
        mapping=mappings.default_mapping(ZELTY, REFERENCE).to_json() if reference else None,
    )  # fmt: skip
    db_session.add(setup)
    await db_session.flush()
    return setup


async def test_the_catalogue_shows_on_the_connexions_page(client: Client, db_session: AsyncSession) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    page = await client.get(f"/entreprises/{dossier.id}/connexions")
    assert page.status_code == 200
    assert "Caisses et e-commerce" in page.text
    for name in ("Zelty", "Lightspeed", "Shopify", "WooCommerce", "Cashpad", "Square"):
        assert name in page.text
    assert (await client.get(_page(dossier))).status_code == 200
    assert (await client.get(f"/entreprises/{dossier.id}/connexions/sources/inconnu")).status_code == 404


async def test_a_key_too_short_is_refused_in_french_and_nothing_is_stored(
    client: Client, db_session: AsyncSession
) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    response = await _post(client, dossier, "/cle", {"cle": "abc"})
    assert response.status_code == 422
    assert "trop courte" in html.unescape(response.text)
    response = await _post(client, dossier, "/cle", {"cle": "une clé avec espaces 1234567"})
    assert response.status_code == 422
    assert "ne contient pas d'espace" in html.unescape(response.text)
    assert await db_session.scalar(select(func.count()).select_from(Connection)) == 0


async def test_a_key_the_source_accepts_is_stored_encrypted_and_a_worker_reads_the_account(
    till: Client, db_session: AsyncSession, commerce: CommerceState
) -> None:
    await _person(till, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    key = commerce.account(CEDRE).api_key
    assert key is not None
    response = await _post(till, dossier, "/cle", {"cle": f"  {key}  "})
    assert response.status_code == 303
    connection = (await db_session.execute(select(Connection))).scalar_one()
    assert connection.provider is Provider.ZELTY
    assert connection.credentials == {"api_key": key}
    raw = await db_session.scalar(text("SELECT credentials FROM integration_connection"))
    assert key not in str(raw)
    assert str(raw).startswith("gAAAAA")
    setup = (await db_session.execute(select(CommerceSetup))).scalar_one()
    assert setup.sync_start == dt.date(dt.datetime.now(dt.UTC).year, 1, 1) or setup.sync_start.month == 1
    run = (await db_session.execute(select(JobRun).where(JobRun.actor_name == "commerce.reference"))).scalar_one()
    assert run.arguments == {"connection_id": str(connection.id)}
    page = await till.get(_page(dossier))
    assert "…" + key[-4:] in page.text
    assert key not in page.text


async def _nothing_kept(db_session: AsyncSession) -> None:
    """No connection, no setup, no job (so no email, nothing in Travaux): as if nothing was pasted."""
    for model in (Connection, CommerceSetup, JobRun, OutboxMessage):
        assert await db_session.scalar(select(func.count()).select_from(model)) == 0, model


async def test_a_mistyped_key_is_refused_by_the_source_on_the_form_and_nothing_is_kept(
    till: Client, db_session: AsyncSession, commerce: CommerceState
) -> None:
    """The sandbox answers 401 for a key it does not know: « Clé refusée par Zelty » on the form, before
    anything is saved; never « Zelty est connecté », then a lost authorisation and its emails."""
    await _person(till, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    key = commerce.account(CEDRE).api_key
    assert key is not None
    typo = key[:-4] + "zz99"
    response = await _post(till, dossier, "/cle", {"cle": typo})
    assert response.status_code == 422
    text_ = html.unescape(response.text)
    assert "Clé refusée par Zelty : la clé se terminant par « …zz99 » n'est pas reconnue." in text_
    assert "Rien n'a été enregistré." in text_
    assert 'aria-invalid="true" aria-describedby="erreur-cle"' in response.text
    assert typo not in response.text  # the secret is not written back into the page
    assert "est connecté" not in text_
    assert "Autorisation" not in text_
    await _nothing_kept(db_session)
    assert (await till.get("/travaux")).text.count("Lecture du compte") == 0


async def test_a_key_of_another_software_is_refused_in_the_sources_name(
    till: Client, db_session: AsyncSession, commerce: CommerceState
) -> None:
    await _person(till, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    shop_key = commerce.account("woocommerce-epicerie-fine").api_key
    assert shop_key is not None
    response = await _post(till, dossier, "/cle", {"cle": shop_key})
    assert response.status_code == 422
    assert "Clé refusée par Zelty : cette clé est celle d'un compte WooCommerce." in html.unescape(response.text)
    await _nothing_kept(db_session)


async def test_a_source_that_cannot_check_the_key_says_so_and_nothing_is_kept(
    till: Client, db_session: AsyncSession, commerce: CommerceState, commerce_settings: Settings,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:  # fmt: skip
    """Down (5xx after a retry) or unreachable: its own message, not « clé refusée »; nothing saved."""
    await _person(till, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    key = commerce.account(CEDRE).api_key
    assert key is not None
    commerce.fail_next(5, status=503)
    response = await _post(till, dossier, "/cle", {"cle": key})
    assert response.status_code == 422
    down = html.unescape(response.text)
    assert "Zelty ne répond pas pour le moment : la clé n'a pas pu être vérifiée et rien n'a été enregistré." in down
    assert "Clé refusée" not in down
    await _nothing_kept(db_session)

    nowhere = commerce_settings.with_overrides(commerce_api_url="http://127.0.0.1:9/api")  # nothing listens there
    async with _portal(nowhere, session_maker) as elsewhere:
        elsewhere.cookies = till.cookies
        response = await _post(elsewhere, dossier, "/cle", {"cle": key})
    assert response.status_code == 422
    assert "Zelty ne répond pas pour le moment" in html.unescape(response.text)
    await _nothing_kept(db_session)


async def test_the_mapping_screen_lists_what_is_missing_and_refuses_a_wrong_account_whole(
    client: Client, db_session: AsyncSession
) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    page = html.unescape((await client.get(_page(dossier, "/mapping"))).text)
    assert "Moyen de paiement « Lydia » sans compte" in page
    assert 'value="530000"' in page  # Espèces → Caisse by default
    before = dict(setup.mapping or {})
    response = await _post(client, dossier, "/mapping", {
        "payment.pm-lydia": "467100", "sales_rate.10": "ABC", "journal.loc-salle": "SAL", "journal.loc-bar": "BAR",
    })  # fmt: skip
    assert response.status_code == 422
    assert "Numéro de compte invalide" in html.unescape(response.text)
    await db_session.refresh(setup)
    assert setup.mapping == before, "nothing half-applied"
    response = await _post(client, dossier, "/mapping", {
        "payment.pm-lydia": "467100", "journal.loc-salle": "SAL", "journal.loc-bar": "BAR",
    })  # fmt: skip
    assert response.status_code == 303
    await db_session.refresh(setup)
    saved = mappings.Mapping.from_json(setup.mapping)
    assert saved.payment_accounts["pm-lydia"] == "467100"
    assert saved.journals == {"loc-salle": "SAL", "loc-bar": "BAR"}
    page = html.unescape((await client.get(_page(dossier, "/mapping"))).text)
    assert "Le mapping est complet." in page


async def test_sync_now_refuses_while_a_blocking_value_is_not_mapped(client: Client, db_session: AsyncSession) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    mapping = mappings.Mapping.from_json(setup.mapping)
    del mapping.sales_by_rate["10"]
    setup.mapping = mapping.to_json()
    await db_session.flush()
    response = await _post(client, dossier, "/synchroniser", {})
    assert response.status_code == 422
    text_ = html.unescape(response.text)
    assert "Complétez le mapping avant de synchroniser" in text_
    assert "Taux de TVA 10 % sans compte de ventes" in text_
    assert await db_session.scalar(select(func.count()).select_from(JobRun)) == 0
    mapping.sales_by_rate["10"] = "7060100"
    setup.mapping = mapping.to_json()
    await db_session.flush()
    assert (await _post(client, dossier, "/synchroniser", {})).status_code == 303
    run = (await db_session.execute(select(JobRun))).scalar_one()
    assert (run.actor_name, run.arguments["mode"]) == ("commerce.sync", "manual")
    response = await _post(client, dossier, "/synchroniser", {})
    assert response.status_code == 422
    assert "déjà en cours" in html.unescape(response.text)


async def test_the_schedule_form_checks_its_dates(client: Client, db_session: AsyncSession) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)).strftime("%d/%m/%Y")
    response = await _post(client, dossier, "/synchronisation", {"debut": future, "frequence": "daily"})
    assert response.status_code == 422
    assert "ne peut pas être dans le futur" in html.unescape(response.text)
    response = await _post(client, dossier, "/synchronisation", {"debut": "31/02/2026", "frequence": "daily"})
    assert response.status_code == 422
    assert "Date invalide" in html.unescape(response.text)
    response = await _post(client, dossier, "/synchronisation", {"debut": "01/03/2026", "frequence": "monthly"})
    assert response.status_code == 303
    await db_session.refresh(setup)
    assert (setup.sync_start, setup.sync_frequency) == (dt.date(2026, 3, 1), SyncFrequency.MONTHLY)


async def _post_entries(db_session: AsyncSession, dossier: Dossier, setup: CommerceSetup) -> None:
    assert setup.source_key is not None
    draft = DraftEntry(
        kind=EntryKind.ORDER, record_id="T-1042", business_date=dt.date(2026, 3, 2), entry_date=dt.date(2026, 3, 2),
        journal="CA1", label="Vente ticket 1042 – Salle", piece_ref="1042",
        lines=(
            DraftLine("411000", "Vente ticket 1042", debit=Decimal("33.00"), aux_account="COMPTOIR"),
            DraftLine("7060100", "Ventes 10 %", credit=Decimal("30.00")),
            DraftLine("4457100", "TVA 10 %", credit=Decimal("3.00")),
        ),
    )  # fmt: skip
    batch = store.Batch(dossier_id=dossier.id, source_key=setup.source_key, day=draft.business_date, drafts=[draft],
                        final=True)  # fmt: skip
    assert await store.write(db_session, batch) == 1


async def test_entries_show_with_their_lines_and_balance(client: Client, db_session: AsyncSession) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    await _post_entries(db_session, dossier, setup)
    page = html.unescape((await client.get(_page(dossier, "/ecritures"))).text)
    assert "Vente ticket 1042 – Salle" in page
    assert "7060100" in page
    assert "33,00" in page
    balance = html.unescape((await client.get(_page(dossier, "/ecritures?vue=balance"))).text)
    assert 'data-compte="4457100"' in balance
    filtered = html.unescape((await client.get(_page(dossier, "/ecritures?du=03/03/2026"))).text)
    assert "Vente ticket 1042" not in filtered
    bad = await client.get(_page(dossier, "/ecritures?du=hier"))
    assert "Date invalide" in html.unescape(bad.text)


async def test_entries_export_as_a_fec_the_dgfip_rules_accept(
    client: Client, db_session: AsyncSession, tmp_path: Path
) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    await _post_entries(db_session, dossier, setup)
    page = html.unescape((await client.get(_page(dossier, "/ecritures"))).text)
    assert "/ecritures/fec" in page
    response = await client.get(_page(dossier, "/ecritures/fec?du=01/03/2026&au=31/03/2026"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=iso-8859-15"  # one charset, the file's own
    assert response.headers["cache-control"] == "no-store"
    assert "ecritures-zelty-" in response.headers["content-disposition"]
    text_ = response.content.decode("iso8859-15")
    assert text_.startswith("JournalCode\tJournalLib\tEcritureNum")
    assert "\t7060100\tVentes de prestations de services" in text_ or "\t7060100\t" in text_
    assert "\tCOMPTOIR\tClients comptoir\t" in text_
    path = tmp_path / "ecritures.txt"
    path.write_bytes(response.content)
    report = fec.check(path)
    assert report.errors == [], [issue.message for issue in report.errors]
    empty = await client.get(_page(dossier, "/ecritures/fec?du=01/04/2026"))
    assert empty.content.decode("iso8859-15").count("\r\n") == 1  # the header line only


async def test_a_confidential_dossier_s_sources_answer_404_to_whoever_it_is_hidden_from(
    client: Client, db_session: AsyncSession
) -> None:
    owner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    dossier = await make_dossier(db_session, name="Holding Secrète", is_confidential=True)
    db_session.add(DossierAccess(dossier_id=dossier.id, user_id=owner.id))
    setup = await _connected(db_session, dossier)
    await _post_entries(db_session, dossier, setup)
    await _person(client, db_session, FirmRole.PARTNER, name="Autre Associé")
    for suffix in ("", "/mapping", "/ecritures", "/ecritures?vue=balance"):
        assert (await client.get(_page(dossier, suffix))).status_code == 404, suffix
    token = await csrf_token(client, "/entreprises")
    for suffix in ("/synchroniser", "/mapping", "/cle", "/deconnecter", "/inviter"):
        response = await client.post(_page(dossier, suffix), data={"_csrf_token": token}, follow_redirects=False)
        assert response.status_code == 404, suffix
    assert await db_session.scalar(select(func.count()).select_from(CommerceEntry)) == 1


async def test_a_person_invited_onto_the_mapping_edits_it_and_nothing_else(
    client: Client, db_session: AsyncSession
) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    other = await make_dossier(db_session, name="Garage du Centre")
    setup = await _connected(db_session, dossier)
    await _post_entries(db_session, dossier, setup)
    # Someone of the client company, with no role in the firm: only the mapping of this dossier.
    mapper = User(email="nadia@le-cedre.fr", name="Nadia Haddad", password_hash=hash_password(PASSWORD), roles=[])
    db_session.add(mapper)
    await db_session.flush()
    await add_role(db_session, mapper, dossier, DossierRole.MAPPER)
    del partner
    assert (await sign_in(client, mapper.email, PASSWORD)).status_code in {302, 303}
    listing = await client.get(f"/entreprises/{dossier.id}/connexions/sources")
    assert listing.status_code == 200
    assert f"/entreprises/{dossier.id}/connexions/sources/zelty/mapping" in listing.text
    panel = await client.get(f"/entreprises/{dossier.id}/volet")
    assert "Mapping des caisses et boutiques" in html.unescape(panel.text)
    assert (await client.get(_page(dossier, "/mapping"))).status_code == 200
    response = await _post(client, dossier, "/mapping", {"payment.pm-lydia": "467100"})
    assert response.status_code == 303
    await db_session.refresh(setup)
    assert mappings.Mapping.from_json(setup.mapping).payment_accounts["pm-lydia"] == "467100"
    # The dossier is theirs to see (403 for what they may not do); another one does not exist for them (404).
    assert (await client.get(_page(dossier, "/ecritures"))).status_code == 403
    assert (await client.get(f"/entreprises/{dossier.id}/connexions")).status_code in {403, 404}
    assert (await client.get(f"/entreprises/{other.id}/connexions/sources/zelty/mapping")).status_code == 404
    token = await csrf_token(client, _page(dossier, "/mapping"))
    for suffix in ("/synchroniser", "/cle", "/deconnecter", "/synchronisation", "/inviter"):
        response = await client.post(_page(dossier, suffix), data={"_csrf_token": token}, follow_redirects=False)
        assert response.status_code == 403, suffix


async def test_inviting_someone_onto_the_mapping_gives_them_that_role_and_sends_the_invitation(
    client: Client, db_session: AsyncSession
) -> None:
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    await _connected(db_session, dossier)
    response = await _post(client, dossier, "/inviter", {"email": "pas-une-adresse", "nom": "Nadia"})
    assert response.status_code == 422
    assert "Adresse e-mail invalide" in html.unescape(response.text)
    response = await _post(client, dossier, "/inviter", {"email": "nadia@le-cedre.fr", "nom": "Nadia Haddad"})
    assert response.status_code == 303
    invited = (await db_session.execute(select(User).where(User.email == "nadia@le-cedre.fr"))).scalar_one()
    roles = await db_session.execute(
        select(DossierMembership.role).where(DossierMembership.user_id == invited.id,
                                             DossierMembership.dossier_id == dossier.id)
    )  # fmt: skip
    assert list(roles.scalars()) == [DossierRole.MAPPER]
    assert (
        await db_session.scalar(
            select(func.count()).select_from(JobRun).where(JobRun.actor_name == "firm.send_invitation")
        )
        == 1
    )


def test_every_catalogue_source_is_a_connection_provider() -> None:
    from portal.integrations.commerce.sources import SOURCES  # noqa: PLC0415

    assert {source.code for source in SOURCES} <= {provider.value for provider in Provider}


async def test_the_balance_total_row_is_the_sum_of_the_exported_fec(client: Client, db_session: AsyncSession) -> None:
    """The balance of the posted entries (labels, soldes on their side, the total row summed by the database)
    against the same sums worked out with Decimal from the FEC the page exports for the same filters."""
    await _person(client, db_session, FirmRole.PARTNER)
    dossier = await make_dossier(db_session, name="Restaurant Le Cèdre")
    setup = await _connected(db_session, dossier)
    await _post_entries(db_session, dossier, setup)
    exported = (await client.get(_page(dossier, "/ecritures/fec"))).content.decode("iso8859-15")
    expected = fec_balance(exported)
    assert expected.totals.debit == expected.totals.credit > 0
    page = (await client.get(_page(dossier, "/ecritures?vue=balance"))).text
    assert page_totals(page, "balance") == expected.totals
    text = html.unescape(page)
    assert "Solde débiteur" in text
    assert "Solde créditeur" in text
    assert f"Total ({len(expected.rows)} comptes)" in text
    label = mappings.account_label("4457100")
    assert f'<span class="mono">4457100</span> <span class="account-label">{label}</span>' in text
