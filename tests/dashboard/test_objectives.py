"""Objectifs: the progress rule, the form's reading, and the page over HTTP on a shop imported for N-1 and N."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.models import AuditEvent
from portal.dashboard.amounts import shown
from portal.dashboard.models import Objective
from portal.dashboard.objectives import ObjectiveService, objective_progress, read_targets
from portal.ledger import figures
from portal.ledger.services import LedgerService
from tests.browsing import csrf_token
from tests.dashboard.books import current_months, previous_months, total
from tests.dashboard.shop import (
    Client,
    Shop,
    amount,
    as_user,
    person,
    shop_fixture,  # noqa: F401 - the fixture
    text_of,
)


def test_progress_is_realised_over_target_and_lower_is_better_for_delays() -> None:
    revenue = objective_progress("chiffre_affaires", Decimal("120000.00"), Decimal(100000))
    assert (revenue.percent, revenue.achieved, revenue.lower_is_better) == (Decimal("120.0"), True, False)
    assert revenue.verdict == "Objectif atteint"
    short = objective_progress("chiffre_affaires", Decimal(50000), Decimal(150000))
    assert (short.percent, short.achieved, short.bar) == (Decimal("33.3"), False, 33)
    late = objective_progress("dso_jours", Decimal("50.0"), Decimal(45))
    assert (late.percent, late.achieved, late.lower_is_better) == (Decimal("111.1"), False, True)
    assert late.verdict == "Objectif non atteint"
    early = objective_progress("dso_jours", Decimal("30.0"), Decimal(45))
    assert early.achieved is True
    loss = objective_progress("resultat_net", Decimal(-5000), Decimal(0))
    assert (loss.percent, loss.achieved) == (None, False)
    assert objective_progress("chiffre_affaires", None, Decimal(1)).achieved is None
    assert objective_progress("chiffre_affaires", Decimal(1), None).verdict == ""


def test_the_form_reads_french_decimals_and_says_what_is_wrong() -> None:
    read = read_targets({"chiffre_affaires": "150 000,50", "taux_marge_brute": "55,5", "dso_jours": "45",
                         "ebe": "", "resultat_net": "-1\u202f200", "marge_brute": "12.5"})  # fmt: skip
    assert read.errors == {}
    assert read.targets["chiffre_affaires"] == Decimal("150000.50")
    assert read.targets["taux_marge_brute"] == Decimal("55.5")
    assert read.targets["resultat_net"] == Decimal(-1200)
    assert read.targets["marge_brute"] == Decimal("12.5")
    assert read.targets["ebe"] is None
    assert set(read.targets) == set(figures.KEYS)
    wrong = read_targets({"chiffre_affaires": "beaucoup", "dso_jours": "-3", "marge_brute": "1,234", "ebe": "9" * 40,
                          "taux_marge_brute": "5000", "resultat_net": "1.234,50"})  # fmt: skip
    assert set(wrong.errors) == {"chiffre_affaires", "dso_jours", "marge_brute", "ebe", "taux_marge_brute",
                                 "resultat_net"}  # fmt: skip
    assert wrong.values["chiffre_affaires"] == "beaucoup"
    assert read_targets({"ebe": "9" * 20}).errors == {"ebe": "Valeur trop grande."}
    assert shown(Decimal(1234), 0).replace("\u202f", " ") == "1 234"
    assert len(wrong.values["ebe"]) == 30


async def test_the_imported_years_give_the_figures_the_page_shows(shop: Shop, db_session: AsyncSession) -> None:
    ledger = LedgerService(db_session)
    now = await ledger.figures(shop.current)
    before = await ledger.figures(shop.previous)
    assert now.values["chiffre_affaires"] == total(current_months(), "chiffre_affaires")
    assert before.values["chiffre_affaires"] == total(previous_months(), "chiffre_affaires")
    previous = await ledger.previous_year(shop.current)
    assert previous is not None
    assert previous.id == shop.previous.id
    for key in figures.BUDGET_KEYS:  # a charge line alone is what was spent: positive, as budgeted
        for first, month in previous_months().items():
            assert before.monthly[key][f"{first:%Y-%m}"] == month.budget_lines()[key], (key, first)


async def test_a_partner_sets_objectives_in_one_go_and_sees_the_progress(
    client: Client, db_session: AsyncSession, shop: Shop
) -> None:
    await as_user(client, shop.partner)
    page = await client.get(shop.url("objectifs"))
    assert page.status_code == 200
    text = text_of(page)
    ca_now, ca_before = total(current_months(), "chiffre_affaires"), total(previous_months(), "chiffre_affaires")
    assert f"{amount(ca_now)} €" in text
    assert f"{amount(ca_before)} €" in text
    for definition in figures.DEFINITIONS:
        assert f'name="{definition.key}"' in page.text

    token = await csrf_token(client, shop.url("objectifs"))
    target = ca_now * 2
    saved = await client.post(shop.url("objectifs"), data={
        "_csrf_token": token, "chiffre_affaires": shown(target), "dso_jours": "45", "taux_marge_brute": "55,5",
    }, follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303, saved.text
    rows = (await db_session.execute(select(Objective).where(Objective.dossier_id == shop.dossier.id))).scalars()
    stored = {row.key: (row.end_date, Decimal(row.target)) for row in rows}
    assert stored == {"chiffre_affaires": (dt.date(2025, 12, 31), target), "dso_jours": (dt.date(2025, 12, 31),
                      Decimal(45)), "taux_marge_brute": (dt.date(2025, 12, 31), Decimal("55.5"))}  # fmt: skip
    events = await db_session.execute(select(AuditEvent.action).where(AuditEvent.dossier_id == shop.dossier.id))
    assert list(events.scalars()).count("dashboard_objective.create") == 3

    shown_again = text_of(await client.get(saved.headers["location"]))
    assert "Objectifs enregistrés." in shown_again
    assert "50,0 %" in shown_again  # half the target reached
    assert "Objectif non atteint" in shown_again
    progress = (await ObjectiveService(db_session).revenue_progress([shop.dossier.id]))[shop.dossier.id]
    assert progress.percent == Decimal("50.0")
    assert progress.target == target

    # A wrong value: nothing saved, every value typed shown back, the message beside its field.
    token = await csrf_token(client, shop.url("objectifs"))
    refused = await client.post(shop.url("objectifs"), data={
        "_csrf_token": token, "chiffre_affaires": "", "dso_jours": "quarante", "ebe": "12 000",
    })  # fmt: skip
    assert refused.status_code == 422
    refused_text = text_of(refused)
    assert "Valeur invalide : saisissez un nombre, par exemple 12 345,67." in refused_text
    assert 'value="quarante"' in refused.text
    assert 'value="12 000"' in refused.text
    assert 'aria-describedby="erreur-dso_jours"' in refused.text
    after = await ObjectiveService(db_session).targets(shop.dossier.id, dt.date(2025, 12, 31))
    assert after == {"chiffre_affaires": target, "dso_jours": Decimal(45), "taux_marge_brute": Decimal("55.5")}

    # Blank removes an objective, a new value replaces one, the others stay as they are.
    token = await csrf_token(client, shop.url("objectifs"))
    cleared = await client.post(shop.url("objectifs"), data={
        "_csrf_token": token, "chiffre_affaires": "", "dso_jours": "40", "taux_marge_brute": "55,5",
    }, follow_redirects=False)  # fmt: skip
    assert cleared.status_code == 303
    after = await ObjectiveService(db_session).targets(shop.dossier.id, dt.date(2025, 12, 31))
    assert after == {"dso_jours": Decimal(40), "taux_marge_brute": Decimal("55.5")}
    events = await db_session.execute(select(AuditEvent.action).where(AuditEvent.dossier_id == shop.dossier.id))
    actions = list(events.scalars())
    assert (actions.count("dashboard_objective.update"), actions.count("dashboard_objective.delete")) == (1, 1)
    assert (await ObjectiveService(db_session).revenue_progress([shop.dossier.id]))[shop.dossier.id].target is None

    # Objectives belong to their year: N-1's page has none.
    previous_page = await client.get(shop.url("objectifs", shop.previous))
    assert 'name="dso_jours" value=""' in previous_page.text


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("partner", (200, 303)),
        ("accountant", (200, 303)),
        ("admin", (200, 403)),
        ("employee", (404, 404)),
        ("client", (404, 404)),
        ("other", (404, 404)),
    ],
)
async def test_who_may_read_and_set_objectives(
    client: Client, db_session: AsyncSession, shop: Shop, who: str, expected: tuple[int, int]
) -> None:
    read, write = expected
    user = await person(db_session, who, shop.dossier)
    await as_user(client, user)
    page = await client.get(shop.url("objectifs"))
    assert page.status_code == read
    if read == 200:
        assert ('name="chiffre_affaires"' in page.text) is (write == 303)
    token = await csrf_token(client, "/compte")
    posted = await client.post(shop.url("objectifs"), data={"_csrf_token": token, "chiffre_affaires": "1000"},
                               follow_redirects=False)  # fmt: skip
    assert posted.status_code == write
    stored = await ObjectiveService(db_session).targets(shop.dossier.id, dt.date(2025, 12, 31))
    assert stored == ({"chiffre_affaires": Decimal(1000)} if write == 303 else {})


async def test_a_change_must_name_one_of_the_dossiers_years(
    client: Client, db_session: AsyncSession, shop: Shop
) -> None:
    await as_user(client, shop.partner)
    token = await csrf_token(client, shop.url("objectifs"))
    elsewhere = f"/entreprises/{shop.dossier.id}/tableau-de-bord/objectifs?exercice=pas-un-exercice"
    response = await client.post(elsewhere, data={"_csrf_token": token, "chiffre_affaires": "1000"})
    assert response.status_code == 404
    assert (await client.get(elsewhere)).status_code == 200  # the page falls back to the latest year
