"""The ``portal`` command, run as operators and scripts run it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stdnum.fr import siren as siren_module

from portal import cli
from portal.accounts.models import User
from portal.accounts.passwords import verify_password
from portal.clients.models import Dossier
from portal.db.engine import make_engine, make_session_maker
from portal.firm.models import Firm
from portal.settings import Settings, get_settings
from tests import database


@pytest.fixture
def scratch(settings: Settings, tmp_path: Path) -> dict[str, str]:
    url = database.scratch_url(settings.database_url, "cli")
    return {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_VAR_DIR": str(tmp_path)}


def portal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def _users(url: str) -> list[User]:
    engine = make_engine(url)
    try:
        async with make_session_maker(engine)() as session:
            return list((await session.execute(select(User).order_by(User.email))).scalars())
    finally:
        await engine.dispose()


async def _sirens(url: str) -> list[str | None]:
    engine = make_engine(url)
    try:
        async with make_session_maker(engine)() as session:
            return list((await session.execute(select(Dossier.siren))).scalars())
    finally:
        await engine.dispose()


async def _count(url: str, model: type) -> int:
    engine = make_engine(url)
    try:
        async with make_session_maker(engine)() as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
    finally:
        await engine.dispose()


def test_db_upgrade_then_user_create(scratch: dict[str, str]) -> None:
    upgraded = portal(scratch, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    env = {**scratch, "PORTAL_PASSWORD": "un-mot-de-passe-solide"}
    created = portal(env, "user", "create", "--email", "Lea@Cabinet.fr", "--name", "Léa Martin", "--role", "admin")
    assert created.returncode == 0, created.stderr
    assert "Utilisateur créé : lea@cabinet.fr" in created.stdout
    [user] = asyncio.run(_users(scratch["PORTAL_DATABASE_URL"]))
    assert user.name == "Léa Martin"
    assert verify_password(user.password_hash, "un-mot-de-passe-solide")
    again = portal(env, "user", "create", "--email", "lea@cabinet.fr", "--name", "Léa", "--role", "partner")
    assert again.returncode != 0
    assert "Un utilisateur existe déjà avec l'adresse lea@cabinet.fr" in again.stderr


def test_user_create_refuses_a_short_password(scratch: dict[str, str]) -> None:
    assert portal(scratch, "db", "upgrade").returncode == 0
    env = {**scratch, "PORTAL_PASSWORD": "court"}
    refused = portal(env, "user", "create", "--email", "a@b.fr", "--name", "A", "--role", "collaborator")
    assert refused.returncode != 0
    assert "au moins 12 caractères" in refused.stderr
    assert asyncio.run(_users(scratch["PORTAL_DATABASE_URL"])) == []


def test_demo_seed_is_idempotent_and_prints_the_sign_in(scratch: dict[str, str]) -> None:
    assert portal(scratch, "db", "upgrade").returncode == 0
    first = portal(scratch, "demo", "seed")
    assert first.returncode == 0, first.stderr
    assert "Connexion de démonstration : associe@cabinet-durand.fr / demo-" in first.stdout
    second = portal(scratch, "demo", "seed")
    assert second.returncode == 0
    assert "Données de démonstration créées." not in second.stdout
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]
    url = scratch["PORTAL_DATABASE_URL"]
    assert asyncio.run(_count(url, Firm)) == 1
    sirens = asyncio.run(_sirens(url))
    assert len(sirens) == 9
    assert sirens.count(None) == 2  # the two look-alike associations, for the duplicate review
    assert all(siren_module.is_valid(siren) for siren in sirens if siren is not None)
    users = asyncio.run(_users(url))
    roles = sorted(role.role.value for user in users for role in user.roles)
    assert roles == ["admin", "collaborator", "collaborator", "partner"]


def test_only_the_demo_turns_the_development_mail_page_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """``portal run --demo`` (``make run``) serves /dev/courriels and the sandboxes; a setting given wins."""
    monkeypatch.delenv("PORTAL_DEV_MAIL_PAGE", raising=False)
    monkeypatch.delenv("PORTAL_SANDBOX", raising=False)
    get_settings.cache_clear()
    assert get_settings().dev_mail_page is False
    cli.demo_environment()
    assert (get_settings().dev_mail_page, get_settings().sandbox) == (True, True)
    monkeypatch.setenv("PORTAL_DEV_MAIL_PAGE", "0")
    cli.demo_environment()
    assert get_settings().dev_mail_page is False
    get_settings.cache_clear()
