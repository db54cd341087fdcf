"""The domains switch themselves on through their plugins: not on import, once per process."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from advanced_alchemy.base import orm_registry
from sqlalchemy.ext.asyncio import AsyncSession

from portal import domains
from portal.app import create_app
from portal.auth import policy
from portal.jobs import registry
from portal.jobs.context import JobContext
from portal.jobs.registry import job
from portal.settings import Settings

PORTAL = Path(__file__).resolve().parent.parent / "portal"


def _switched_on() -> tuple[Any, ...]:
    restrictions = {model: list(rules) for model, rules in policy._restrictions.items()}
    return restrictions, registry.jobs(), registry.schedules()


def test_installing_again_and_building_more_applications_changes_nothing(settings: Settings) -> None:
    domains.install()
    before = _switched_on()
    routes = []
    for _ in range(2):
        domains.install()
        app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
        routes.append(sorted(route.path for route in app.routes))
    assert _switched_on() == before
    assert routes[0] == routes[1]


def test_importing_the_portal_switches_nothing_on() -> None:
    """Every module imported, no application built: no restriction, job, schedule or listener yet."""
    script = """
from sqlalchemy import event
from sqlalchemy.orm import Session

import portal.app, portal.cli, portal.domains
from portal.audit import recorder
from portal.auth import policy
from portal.jobs import registry

assert not policy._restrictions and not registry.jobs() and not registry.schedules()
assert not event.contains(Session, "before_flush", recorder._before_flush)
portal.domains.install()
assert policy._restrictions and registry.jobs() and registry.schedules()
assert event.contains(Session, "before_flush", recorder._before_flush)
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_every_model_module_is_named_by_its_plugin() -> None:
    """Alembic sees the tables of the modules the plugins name: none may be missing."""
    mapped = {mapper.class_.__module__ for mapper in orm_registry.mappers}
    assert mapped == {module.__name__ for domain in domains.DOMAINS for module in domain.models}


def _defined_job_names() -> set[str]:
    """The name of every ``@job("…")`` in the portal's source."""
    names = set()
    for path in PORTAL.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "job":
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    return names


def test_every_job_of_the_portal_is_registered_by_a_plugin() -> None:
    domains.install()
    registered = {handle.name for handle in registry.jobs() if handle.function.__module__.startswith("portal.")}
    assert registered == _defined_job_names()


async def test_a_job_no_plugin_registered_cannot_be_requested(db_session: AsyncSession) -> None:
    @job("tests.never_registered", title="Travail inconnu")
    async def never_registered(_ctx: JobContext) -> None:
        return None

    with pytest.raises(LookupError, match=r"tests\.never_registered"):
        await never_registered.enqueue(db_session)
