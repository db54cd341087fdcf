"""Prévisionnel: the grid, « Pré-remplir depuis N-1 », the CSV format, « Réel vs budget », and the page over HTTP."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.policy import Principal
from portal.clients.services import DossierService
from portal.dashboard import budget_csv
from portal.dashboard.amounts import from_cents, to_cents, typed
from portal.dashboard.budget import (
    FAVOURABLE,
    ON_BUDGET,
    UNFAVOURABLE,
    BudgetService,
    Grid,
    compare,
    field_name,
    months_of,
    parse_rate,
    prefill,
    read_grid,
)
from portal.dashboard.models import BudgetLine
from portal.dashboard.objectives import ObjectiveService
from portal.ledger import figures
from portal.ledger.services import LedgerService
from tests.browsing import csrf_token
from tests.dashboard.books import current_months, previous_months
from tests.dashboard.shop import (
    Client,
    Shop,
    amount,
    as_user,
    person,
    shop_fixture,  # noqa: F401 - the fixture
    text_of,
)
from tests.factories.clients import make_dossier

MONTHS_2025 = months_of(dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def _figures(monthly: dict[str, dict[str, Decimal]], start: dt.date, end: dt.date) -> figures.Figures:
    return figures.Figures(start=start, end=end, values={}, monthly=monthly)


def test_the_months_of_a_fiscal_year() -> None:
    assert months_of(dt.date(2024, 9, 1), dt.date(2025, 8, 31))[0] == dt.date(2024, 9, 1)
    assert months_of(dt.date(2024, 9, 1), dt.date(2025, 8, 31))[-1] == dt.date(2025, 8, 1)
    assert len(months_of(dt.date(2024, 4, 15), dt.date(2025, 12, 31))) == 21  # a long first year


def test_prefill_takes_the_same_month_of_n_minus_1_times_the_rate_rounded_half_up() -> None:
    previous = _figures({"chiffre_affaires": {"2024-01": Decimal("0.10"), "2024-02": Decimal("1234.56")},
                         "charges_externes": {"2024-01": Decimal("100.00")}},
                        dt.date(2024, 1, 1), dt.date(2024, 12, 31))  # fmt: skip
    grid = prefill(previous, MONTHS_2025, Decimal(5))
    assert grid["chiffre_affaires"][dt.date(2025, 1, 1)] == 11  # 0,105 → 0,11 (half up, not to even)
    assert grid["chiffre_affaires"][dt.date(2025, 2, 1)] == 129_629  # 1 296,288 → 1 296,29
    assert grid["charges_externes"] == {dt.date(2025, 1, 1): 10_500}
    assert dt.date(2025, 3, 1) not in grid["chiffre_affaires"]  # N-1 had no such month
    assert parse_rate("5") == Decimal(5)
    assert parse_rate("-2,5") == Decimal("-2.5")
    assert parse_rate("") == Decimal(0)
    for wrong in ("cinq", "-150", "2000"):
        with pytest.raises(ValueError, match="aux"):
            parse_rate(wrong)


def test_the_grid_reads_every_cell_and_refuses_the_wrong_ones() -> None:
    posted = {field_name("chiffre_affaires", MONTHS_2025[0]): "12 345,67",
              field_name("dotations", MONTHS_2025[11]): "200",
              field_name("charges_externes", MONTHS_2025[1]): "douze",
              field_name("impots_taxes", MONTHS_2025[2]): "1,234",
              "chiffre_affaires.2030-01": "1"}  # fmt: skip
    read = read_grid(posted, MONTHS_2025)
    assert set(read.errors) == {field_name("charges_externes", MONTHS_2025[1]),
                                field_name("impots_taxes", MONTHS_2025[2])}  # fmt: skip
    assert read.grid == {"chiffre_affaires": {MONTHS_2025[0]: 1_234_567}, "dotations": {MONTHS_2025[11]: 20_000}}
    assert read.values[field_name("charges_externes", MONTHS_2025[1])] == "douze"
    too_long = read_grid({field_name("dotations", MONTHS_2025[0]): "1" * 31}, MONTHS_2025)
    assert too_long.errors == {field_name("dotations", MONTHS_2025[0]): "Valeur trop longue."}
    assert too_long.values[field_name("dotations", MONTHS_2025[0])] == "1" * 30


def test_variances_are_favourable_over_budget_for_revenue_and_under_budget_for_charges() -> None:
    actual = _figures({"chiffre_affaires": {"2025-01": Decimal(1100), "2025-02": Decimal(900)},
                       "charges_externes": {"2025-01": Decimal(550), "2025-02": Decimal(400)}},
                      dt.date(2025, 1, 1), dt.date(2025, 12, 31))  # fmt: skip
    grid: Grid = {"chiffre_affaires": {MONTHS_2025[0]: 100_000, MONTHS_2025[1]: 100_000, MONTHS_2025[2]: 100_000},
                  "charges_externes": {MONTHS_2025[0]: 50_000, MONTHS_2025[1]: 50_000}}  # fmt: skip
    result = compare(actual, grid, MONTHS_2025, dt.date(2025, 2, 1))
    revenue, charges = result.lines[0], result.lines[2]
    assert (revenue.months[0].variance, revenue.months[0].percent, revenue.months[0].verdict) == (
        Decimal(100), Decimal("10.0"), FAVOURABLE)  # fmt: skip
    assert revenue.months[1].verdict == UNFAVOURABLE
    assert (charges.months[0].variance, charges.months[0].verdict) == (Decimal(50), UNFAVOURABLE)
    assert charges.months[1].verdict == FAVOURABLE
    assert charges.months[2].verdict == ON_BUDGET  # no budget that month: zero against zero
    assert charges.months[2].percent is None
    assert (revenue.to_date.real, revenue.to_date.budget, revenue.to_date.verdict) == (
        Decimal(2000), Decimal(2000), ON_BUDGET)  # fmt: skip
    assert (revenue.year.budget, revenue.year.variance) == (Decimal(3000), Decimal(-1000))
    assert result.lines[1].year.budget is None  # achats consommés: no budget, no variance
    assert result.lines[1].year.verdict is None


def test_the_csv_format_reads_what_it_writes_and_lists_every_error() -> None:
    grid: Grid = {"chiffre_affaires": {MONTHS_2025[0]: 1_234_567, MONTHS_2025[11]: -50},
                  "charges_personnel": {MONTHS_2025[5]: 300_000}}  # fmt: skip
    written = budget_csv.write(grid, MONTHS_2025)
    assert written.splitlines()[0] == "poste;" + ";".join(f"2025-{month:02d}" for month in range(1, 13))
    assert written.splitlines()[1].startswith("chiffre_affaires;12345,67;;")
    assert budget_csv.read(("\ufeff" + written).encode(), MONTHS_2025) == (grid, [])
    assert budget_csv.read(written.encode("cp1252"), MONTHS_2025) == (grid, [])
    template = budget_csv.write({}, MONTHS_2025).encode()
    assert budget_csv.read(template, MONTHS_2025) == ({}, [])
    by_name = b"Poste;2025-03;03/2025\n"
    assert [error.message for error in budget_csv.read(by_name, MONTHS_2025)[1]] == [budget_csv.MONTH_TWICE]
    named = b"poste;2025-03\nCharges de personnel;1 000,50\nchiffre_affaires;\n"
    assert budget_csv.read(named, MONTHS_2025) == ({"charges_personnel": {MONTHS_2025[2]: 100_050}}, [])

    wrong = (b"poste;2025-01;2024-12;2025-02\n"
             b"chiffre_affaires;100;;abc\n"
             b"loyers;5\n"
             b"\n"
             b"chiffre_affaires;1\n"
             b"dotations;1;;2;3\n")  # fmt: skip
    found, errors = budget_csv.read(wrong, MONTHS_2025)
    assert found == {}
    assert [(error.line, error.message, error.column) for error in errors] == [
        (1, budget_csv.BAD_MONTH, None),
        (2, "Valeur invalide : saisissez un nombre, par exemple 12 345,67.", "2025-02"),
        (3, budget_csv.UNKNOWN_LINE, None),
        (5, budget_csv.LINE_TWICE, None),
        (6, budget_csv.TOO_MANY, None),
    ]
    assert budget_csv.read(b"", MONTHS_2025)[1][0].message == budget_csv.EMPTY
    assert budget_csv.read(b"date;montant\n", MONTHS_2025)[1][0].message == budget_csv.BAD_HEADER
    assert budget_csv.read(b"x" * (budget_csv.MAX_BYTES + 1), MONTHS_2025)[1][0].message == budget_csv.TOO_LARGE
    assert budget_csv.read(b"\x00\x01", MONTHS_2025)[1][0].message == budget_csv.NOT_TEXT


# --- over HTTP ---------------------------------------------------------------------------------------


async def _grid(db_session: AsyncSession, shop: Shop) -> Grid:
    return await BudgetService(db_session).grid(shop.dossier.id, dt.date(2025, 12, 31))


def _expected_prefill(rate: Decimal) -> Grid:
    """N-1's months × (1 + rate), rounded half up to the cent, from the books themselves."""
    grid: Grid = {}
    for first, month in previous_months().items():
        for key, figure in month.budget_lines().items():
            value = (figure * (1 + rate / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            grid.setdefault(key, {})[first.replace(year=2025)] = to_cents(value)
    return grid


async def test_prefill_from_n_minus_1_then_a_cell_changed_then_real_vs_budget(
    client: Client, db_session: AsyncSession, shop: Shop
) -> None:
    await as_user(client, shop.partner)
    page = await client.get(shop.url("previsionnel"))
    assert page.status_code == 200
    assert "Aucun budget pour cet exercice" in text_of(page)
    token = await csrf_token(client, shop.url("previsionnel"))
    base = f"/entreprises/{shop.dossier.id}/tableau-de-bord/previsionnel"
    query = f"?exercice={shop.current.id}"

    prefilled = await client.post(f"{base}/pre-remplir{query}", data={"_csrf_token": token, "taux": "5"},
                                  follow_redirects=False)  # fmt: skip
    assert prefilled.status_code == 303, prefilled.text
    expected = _expected_prefill(Decimal(5))
    assert await _grid(db_session, shop) == expected
    assert "Prévisionnel pré-rempli" in text_of(await client.get(prefilled.headers["location"]))

    # Again: a budget exists, so it asks first and changes nothing.
    asked = await client.post(f"{base}/pre-remplir{query}", data={"_csrf_token": token, "taux": "10"})
    assert asked.status_code == 200
    assert "Un prévisionnel existe déjà pour cet exercice." in text_of(asked)
    assert 'name="confirmer" value="1"' in asked.text
    assert await _grid(db_session, shop) == expected
    refused = await client.post(f"{base}/pre-remplir{query}", data={"_csrf_token": token, "taux": "dix"})
    assert refused.status_code == 422
    assert "Taux invalide" in text_of(refused)

    # One cell changed in the grid; a wrong cell elsewhere first: nothing saved, everything shown back.
    page = await client.get(shop.url("previsionnel"))
    values = {name: value for name, value in _inputs(page.text).items() if "." in name}
    january = field_name("chiffre_affaires", dt.date(2025, 1, 1))
    assert values[january] == typed(from_cents(expected["chiffre_affaires"][dt.date(2025, 1, 1)]))
    wrong = {**values, january: "12 000", field_name("dotations", dt.date(2025, 3, 1)): "trois cents"}
    bad = await client.post(base + query, data={"_csrf_token": token, **wrong})
    assert bad.status_code == 422
    assert 'value="trois cents"' in bad.text
    assert 'value="12 000"' in bad.text
    assert "Rien n'a été enregistré" in text_of(bad)
    assert await _grid(db_session, shop) == expected
    saved = await client.post(base + query, data={"_csrf_token": token, **values, january: "12 000"},
                              follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    changed = {**expected, "chiffre_affaires": {**expected["chiffre_affaires"], dt.date(2025, 1, 1): 1_200_000}}
    assert await _grid(db_session, shop) == changed

    # Réel vs budget: January's CA is 11 600 against 12 000, unfavourable; to date means January to June.
    page = await client.get(shop.url("previsionnel"))
    text = text_of(page)
    assert "Réel vs budget" in text
    assert "À date" in text
    actual = await LedgerService(db_session).figures(shop.current)
    january_real = actual.monthly["chiffre_affaires"]["2025-01"]
    assert january_real == current_months()[dt.date(2025, 1, 1)].sales
    assert f"{amount(january_real - Decimal(12_000))} défavorable" in text
    budget_to_date = sum(
        (Decimal(amount) / 100 for month, amount in changed["chiffre_affaires"].items() if month.month <= 6),
        Decimal(0),
    )
    real_to_date = sum((month.sales for month in current_months().values()), Decimal(0))
    gap = real_to_date - budget_to_date
    assert f"{'+' if gap > 0 else ''}{amount(gap)} {'favorable' if gap > 0 else 'défavorable'}" in text
    assert "juin 2025" in text  # the last month with entries


def _inputs(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="text" inputmode="decimal" name="([^"]+)" id="[^"]+" value="([^"]*)"', page))


async def test_the_csv_import_export_and_template(client: Client, db_session: AsyncSession, shop: Shop) -> None:
    await as_user(client, shop.partner)
    base = f"/entreprises/{shop.dossier.id}/tableau-de-bord/previsionnel"
    query = f"?exercice={shop.current.id}"
    template = await client.get(f"{base}/modele.csv{query}")
    assert template.status_code == 200
    assert template.headers["content-type"].startswith("text/csv")
    assert "attachment" in template.headers["content-disposition"]
    assert template.content.startswith(b"\xef\xbb\xbfposte;2025-01;")

    token = await csrf_token(client, shop.url("previsionnel"))
    content = "\ufeffposte;2025-01;2025-02\r\nchiffre_affaires;10 000,50;11000\r\ncharges_externes;1 500;\r\n"
    imported = await client.post(f"{base}/import{query}", data={"_csrf_token": token},
                                 files={"fichier": ("budget.csv", io.BytesIO(content.encode()), "text/csv")},
                                 follow_redirects=False)  # fmt: skip
    assert imported.status_code == 303, imported.text
    grid = {"chiffre_affaires": {dt.date(2025, 1, 1): 1_000_050, dt.date(2025, 2, 1): 1_100_000},
            "charges_externes": {dt.date(2025, 1, 1): 150_000}}  # fmt: skip
    assert await _grid(db_session, shop) == grid

    exported = await client.get(f"{base}/export.csv{query}")
    assert exported.status_code == 200
    assert exported.content.decode("utf-8-sig") == budget_csv.write(grid, MONTHS_2025)
    again = await client.post(f"{base}/import{query}", data={"_csrf_token": token},
                              files={"fichier": ("export.csv", io.BytesIO(exported.content), "text/csv")},
                              follow_redirects=False)  # fmt: skip
    assert again.status_code == 303
    assert await _grid(db_session, shop) == grid

    broken = "poste;2025-01;2025-13\nchiffre_affaires;dix\nloyer;5\n"
    refused = await client.post(f"{base}/import{query}", data={"_csrf_token": token},
                                files={"fichier": ("budget.csv", io.BytesIO(broken.encode()), "text/csv")})  # fmt: skip
    assert refused.status_code == 422
    text = text_of(refused)
    assert "Ligne 1 : « 2025-13 » n'est pas un mois de l'exercice" in text
    assert "Ligne 2 (2025-01) : Valeur invalide" in text
    assert "Ligne 3 : Poste inconnu « loyer »" in text
    assert await _grid(db_session, shop) == grid
    missing = await client.post(f"{base}/import{query}", data={"_csrf_token": token})
    assert missing.status_code == 422
    assert "Choisissez le fichier CSV" in text_of(missing)

    # The template, imported as is, is an empty budget.
    emptied = await client.post(f"{base}/import{query}", data={"_csrf_token": token},
                                files={"fichier": ("modele.csv", io.BytesIO(template.content), "text/csv")},
                                follow_redirects=False)  # fmt: skip
    assert emptied.status_code == 303
    count = await db_session.scalar(select(func.count()).select_from(BudgetLine))
    assert count == 0


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
async def test_who_may_read_and_change_the_budget(
    client: Client, db_session: AsyncSession, shop: Shop, who: str, expected: tuple[int, int]
) -> None:
    read, write = expected
    user = await person(db_session, who, shop.dossier)
    await as_user(client, user)
    base = f"/entreprises/{shop.dossier.id}/tableau-de-bord/previsionnel"
    query = f"?exercice={shop.current.id}"
    for path in ("", "/modele.csv", "/export.csv"):
        assert (await client.get(base + path + query)).status_code == read, path
    token = await csrf_token(client, "/compte")
    cell = field_name("chiffre_affaires", dt.date(2025, 1, 1))
    saved = await client.post(base + query, data={"_csrf_token": token, cell: "1000"}, follow_redirects=False)
    assert saved.status_code == write
    prefill_form = {"_csrf_token": token, "taux": "5", "confirmer": "1"}
    prefilled = await client.post(f"{base}/pre-remplir{query}", data=prefill_form, follow_redirects=False)
    assert prefilled.status_code == write
    csv_file = {"fichier": ("b.csv", io.BytesIO(b"poste;2025-01\nchiffre_affaires;1\n"), "text/csv")}
    imported = await client.post(f"{base}/import{query}", data={"_csrf_token": token}, files=csv_file,
                                 follow_redirects=False)  # fmt: skip
    assert imported.status_code == write
    stored = await _grid(db_session, shop)
    assert bool(stored) is (write == 303)


async def test_a_confidential_dossiers_objectives_and_budget_answer_404_to_whoever_is_not_on_its_list(
    client: Client, db_session: AsyncSession, shop: Shop
) -> None:
    """The ungranted partner holds KPI_PLAN firm-wide: only the confidentiality rule stands in the way."""
    granted = Principal.build(user_id=shop.partner.id, email=shop.partner.email, name=shop.partner.name,
                              locale="fr", roles=shop.partner.firm_roles)  # fmt: skip
    await DossierService(session=db_session).set_confidentiality(granted, shop.dossier, confidential=True, user_ids=[])
    await BudgetService(db_session).replace(shop.dossier.id, shop.current, {"chiffre_affaires": {MONTHS_2025[0]: 1}})
    ungranted = await person(db_session, "partner", shop.dossier)
    base = f"/entreprises/{shop.dossier.id}/tableau-de-bord"
    query = f"?exercice={shop.current.id}"
    pages = ("/objectifs", "/previsionnel", "/previsionnel/modele.csv", "/previsionnel/export.csv")
    actions = {"/objectifs": {"chiffre_affaires": "1"}, "/previsionnel": {"chiffre_affaires.2025-01": "2"},
               "/previsionnel/pre-remplir": {"taux": "5", "confirmer": "1"}, "/previsionnel/import": {}}  # fmt: skip
    await as_user(client, ungranted)
    token = await csrf_token(client, "/compte")
    for path in pages:
        response = await client.get(base + path + query)
        assert response.status_code == 404, path
        assert "Épicerie" not in text_of(response)
    for path, data in actions.items():
        assert (await client.post(base + path + query, data={"_csrf_token": token, **data})).status_code == 404, path
    assert await _grid(db_session, shop) == {"chiffre_affaires": {MONTHS_2025[0]: 1}}
    assert await ObjectiveService(db_session).targets(shop.dossier.id, dt.date(2025, 12, 31)) == {}

    await as_user(client, shop.partner)
    for path in pages:
        assert (await client.get(base + path + query)).status_code == 200, path


async def test_without_an_imported_year_or_its_n_minus_1(client: Client, db_session: AsyncSession, shop: Shop) -> None:
    await as_user(client, shop.partner)
    bare = await make_dossier(db_session, name="Dossier Sans Écritures")
    for page in ("objectifs", "previsionnel"):
        response = await client.get(f"/entreprises/{bare.id}/tableau-de-bord/{page}")
        assert response.status_code == 200
        assert "Aucun exercice importé pour ce dossier" in text_of(response)
    for path in ("modele.csv", "export.csv"):
        assert (await client.get(f"/entreprises/{bare.id}/tableau-de-bord/previsionnel/{path}")).status_code == 404
    assert await ObjectiveService(db_session).revenue_progress([]) == {}
    assert await ObjectiveService(db_session).revenue_progress([bare.id]) == {}

    # 2024 is the first year imported: nothing to pre-fill from, said beside the rate; nothing saved.
    first = shop.url("previsionnel", shop.previous)
    page = await client.get(first)
    assert "Aucun exercice précédent n'est importé" in text_of(page)
    token = await csrf_token(client, first)
    base = f"/entreprises/{shop.dossier.id}/tableau-de-bord/previsionnel"
    refused = await client.post(f"{base}/pre-remplir?exercice={shop.previous.id}", data={"_csrf_token": token,
                                                                                          "taux": "5"})  # fmt: skip
    assert refused.status_code == 422
    assert "Aucun exercice précédent n'est importé" in text_of(refused)
    assert await BudgetService(db_session).grid(shop.dossier.id, dt.date(2024, 12, 31)) == {}
