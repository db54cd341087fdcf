"""The packages of ``portal`` form layers: each imports only from layers below it, and no cycle.

The graph is built from every import in the source (module level, inside functions, under
``TYPE_CHECKING``): a package is the first name under ``portal`` (``portal.clients``), and
``portal/app.py``, ``cli.py``, ``demo.py``, ``domain.py`` (what a domain's plugin declares),
``domains.py`` (the list of them), ``worker.py`` and ``__main__.py`` are nodes of their own.
Bottom to top:

    settings, i18n → db → auth → domain → audit → web, mail → jobs → the domains
        → app, cli, demo, domains, sandbox, worker

Domains may import each other, in one direction only (billing → clients, never back).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import portal

pytestmark = pytest.mark.once  # see pyproject.toml: the embedded run checks it

PORTAL = Path(portal.__file__).resolve().parent

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"settings", "i18n"}),
    frozenset({"db"}),
    frozenset({"auth"}),
    frozenset({"domain"}),
    frozenset({"audit"}),
    frozenset({"web", "mail"}),
    frozenset({"jobs"}),
    frozenset(
        {
            "accounts",
            "clients",
            "firm",
            "billing",
            "expenses",
            "ledger",
            "integrations",
            "sso",
            "dashboard",
            "home",
            "notifications",
        }
    ),
    frozenset({"app", "cli", "demo", "domains", "sandbox", "worker", "__main__"}),
)
"""A package imports only from its own layer and the layers below it (a new package needs a place here)."""

ONLY: dict[str, frozenset[str]] = {
    # The permission model sits under every domain: it asks the database, and speaks French.
    "auth": frozenset({"db", "i18n"}),
    # Shared web helpers: the permission model, the database, the language and the settings, nothing more.
    "web": frozenset({"auth", "db", "i18n", "settings"}),
}
"""Packages held to a narrower list than their layer allows."""

PENDING: frozenset[tuple[str, str]] = frozenset()
"""Imports known to break the layers, each to be removed: (importing module, imported module).

Printed while not empty; every pair must still exist, so the list can only shrink.
"""


def module_name(path: Path) -> str:
    parts = path.relative_to(PORTAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PORTAL.parent / relative).with_suffix(".py").is_file() or (PORTAL.parent / relative).is_dir()


def imports_of(path: Path) -> Iterator[tuple[str, int]]:
    """Every ``portal`` module ``path`` imports, anywhere in it, with the line."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield (submodule if is_module(submodule) else source), node.lineno


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "portal" and len(parts) > 1 else None


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importing module, imported module) → where, for every import between two packages of ``portal``."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PORTAL.rglob("*.py")):
        importer = module_name(path)
        for imported, line in imports_of(path):
            target = package_of(imported)
            where = f"{path.relative_to(PORTAL.parent)}:{line}"
            if target is not None and target != package_of(importer):
                found = edges.setdefault((importer, imported), [])
                if where not in found:
                    found.append(where)
    return edges


def package_graph(edges: dict[tuple[str, str], list[str]]) -> dict[str, dict[str, list[str]]]:
    graph: dict[str, dict[str, list[str]]] = {}
    for (importer, imported), where in edges.items():
        if (importer, imported) in PENDING:
            continue
        source, target = package_of(importer), package_of(imported)
        assert source is not None
        assert target is not None
        graph.setdefault(source, {}).setdefault(target, []).extend(where)
    return graph


def reachable(graph: dict[str, dict[str, list[str]]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), {}):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Each group of packages that reach each other, then one cycle through it."""
    reach = {node: reachable(graph, node) for node in graph}
    groups = {
        frozenset({node} | {other for other in reach[node] if node in reach.get(other, set())})
        for node in graph
        if node in reach[node]
    }
    return [[*sorted(group), "—", *_cycle_in(graph, set(group))] for group in sorted(groups, key=sorted)]


def _cycle_in(graph: dict[str, dict[str, list[str]]], component: set[str]) -> list[str]:
    """A path from the component's first package back to it, within the component (breadth first)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph.get(node, {})):
            if target == start:
                return [*paths[node], start]
            if target in component and target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(component)


def layer_of(package: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if package in layer:
            return rank
    raise AssertionError(f"portal.{package} has no layer: give it one in LAYERS")


def test_pending_imports_still_exist() -> None:
    edges = import_edges()
    if PENDING:
        print(f"\n{len(PENDING)} imports still break the layers (PENDING):")  # noqa: T201 - shown while it lasts
        for importer, imported in sorted(PENDING):
            print(f"  {importer} → {imported}")  # noqa: T201
    gone = sorted(pair for pair in PENDING if pair not in edges)
    assert not gone, f"no longer imported, remove from PENDING: {gone}"


def test_no_package_cycle() -> None:
    graph = package_graph(import_edges())
    found = cycles(graph)
    report = []
    for found_cycle in found:
        members, cycle = found_cycle[: found_cycle.index("—")], found_cycle[found_cycle.index("—") + 1 :]
        steps = "".join(f"\n    {a} → {b}: {', '.join(graph[a][b])}" for a, b in itertools.pairwise(cycle))
        report.append(f"{', '.join(members)} reach each other, e.g. {' → '.join(cycle)}{steps}")
    assert not found, "import cycles between packages:\n  " + "\n  ".join(report)


def test_every_package_imports_only_from_below() -> None:
    graph = package_graph(import_edges())
    wrong = []
    for source, targets in sorted(graph.items()):
        for target, where in sorted(targets.items()):
            allowed = target in ONLY[source] if source in ONLY else layer_of(target) <= layer_of(source)
            if not allowed:
                wrong.append(f"portal.{source} → portal.{target}: {', '.join(where)}")
    assert not wrong, "imports from a layer above:\n  " + "\n  ".join(wrong)


def test_every_package_has_a_layer() -> None:
    packages = {package_of(module_name(path)) for path in PORTAL.rglob("*.py")} - {None}
    placed = set().union(*LAYERS)
    assert packages <= placed, f"give these a layer: {sorted(packages - placed)}"  # type: ignore[operator]
