"""Paramètres › Alertes du tableau de bord: the thresholds of Accueil's KPI alerts, kept on the firm."""

from __future__ import annotations

import html

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from tests.accounts.test_second_factor import post
from tests.browsing import sign_in
from tests.factories.firm import PASSWORD, make_firm, make_user

Client = httpx.AsyncClient
PATH = "/parametres/alertes-tableau-de-bord"


async def test_a_partner_sets_the_thresholds_refused_in_french_when_wrong(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await make_firm(db_session)
    await make_user(db_session, roles=(FirmRole.PARTNER,), email="claire@cabinet-test.fr")
    await sign_in(client, "claire@cabinet-test.fr", PASSWORD)
    page = html.unescape((await client.get("/parametres")).text)
    assert "Alertes du tableau de bord" in page
    assert 'name="baisse_ca"' in page
    assert 'value="20"' in page
    assert 'value="60"' in page
    assert firm.alert_negative_cash is True

    refused = await post(client, PATH, {"baisse_ca": "vingt", "dso": "0", "tresorerie": "1"}, page="/parametres")
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "La baisse du chiffre d'affaires doit être un pourcentage entier entre 1 et 100." in text
    assert "Le délai clients doit être un nombre de jours entre 1 et 365." in text
    assert 'value="vingt"' in text  # what was typed stays
    wrongs = [{"baisse_ca": "101", "dso": "45"}, {"baisse_ca": "15", "dso": "366"}, {"baisse_ca": "-5", "dso": "45"}]
    for wrong in [*wrongs, {"baisse_ca": "15,5", "dso": "45"}]:
        assert (await post(client, PATH, wrong, page="/parametres")).status_code == 422, wrong
    await db_session.refresh(firm)
    assert (firm.alert_revenue_drop_percent, firm.alert_dso_days, firm.alert_negative_cash) == (20, 60, True)

    saved = await post(client, PATH, {"baisse_ca": " 15 ", "dso": "45"}, page="/parametres")
    assert saved.status_code == 303
    assert saved.headers["location"] == "/parametres#alertes-tableau-de-bord"
    await db_session.refresh(firm)
    assert (firm.alert_revenue_drop_percent, firm.alert_dso_days, firm.alert_negative_cash) == (15, 45, False)
    changes = (await db_session.execute(select(AuditEvent).where(AuditEvent.action == "firm.update"))).scalars().all()
    assert any("alert_dso_days" in (event.after or {}) for event in changes)
    page = html.unescape((await client.get("/parametres")).text)
    assert "Les alertes du tableau de bord sont enregistrées." in page
    assert 'value="15"' in page


async def test_a_collaborator_may_not_change_them(client: Client, db_session: AsyncSession) -> None:
    await make_firm(db_session)
    await make_user(db_session, email="julie@cabinet-test.fr")
    await sign_in(client, "julie@cabinet-test.fr", PASSWORD)
    response = await post(client, PATH, {"baisse_ca": "10", "dso": "30"}, page="/")
    assert response.status_code == 403


async def test_an_admin_reads_and_changes_them(client: Client, db_session: AsyncSession) -> None:
    firm = await make_firm(db_session)
    await make_user(db_session, roles=(FirmRole.ADMIN,), email="marc@cabinet-test.fr")
    await sign_in(client, "marc@cabinet-test.fr", PASSWORD)
    saved = await post(client, PATH, {"baisse_ca": "30", "dso": "90", "tresorerie": "1"}, page="/parametres")
    assert saved.status_code == 303
    await db_session.refresh(firm)
    assert (firm.alert_revenue_drop_percent, firm.alert_dso_days, firm.alert_negative_cash) == (30, 90, True)
