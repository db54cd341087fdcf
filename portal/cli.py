"""The ``portal`` command: what operators, scripts and tests run."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from portal.settings import Settings, get_settings

T = TypeVar("T")


def counted(value: int, singular: str, plural: str) -> str:
    """A count in the command's French, agreed by the catalogue's plural rules: « 1 ligne », « 11 982 lignes »."""
    from babel.numbers import format_decimal

    from portal.i18n import ngettext

    return ngettext(singular, plural, value) % {"num": format_decimal(value, locale="fr_FR")}


def _run(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coroutine_factory()

    return asyncio.run(runner())


async def _with_session(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from portal import domains
    from portal.db.engine import make_engine, make_session_maker

    domains.install()
    engine = make_engine(settings.database_url)
    try:
        async with make_session_maker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


@click.group()
def main() -> None:
    """Portail Cabinet."""


# --- database -------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from portal.db import migrate

    migrate.upgrade(get_settings().database_url, revision)
    click.echo(f"Base de données à jour ({revision}).")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from portal.db import migrate

    migrate.downgrade(get_settings().database_url, revision)


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (against an up-to-date database)."""
    from portal.db import migrate

    migrate.revision(get_settings().database_url, message)


# --- people ---------------------------------------------------------------------------


@main.group()
def user() -> None:
    """People who sign in."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice(["partner", "admin", "collaborator"]),
    help="Repeat for several roles.",
)
def user_create(email: str, name: str, roles: tuple[str, ...]) -> None:
    """Create a person. The password comes from PORTAL_PASSWORD, or is asked for."""
    from portal.auth.roles import FirmRole
    from portal.firm.services import UserError, UserService

    password = os.environ.get("PORTAL_PASSWORD") or click.prompt(
        "Mot de passe", hide_input=True, confirmation_prompt=True
    )

    async def create(session: Any) -> str:
        created = await UserService(session=session).create_user(
            email=email, name=name, roles=[FirmRole(role) for role in roles], password=password
        )
        return str(created.email)

    try:
        created_email = _run(lambda: _with_session(get_settings(), create))
    except UserError as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(f"Utilisateur créé : {created_email}")


# --- FEC ------------------------------------------------------------------------------


@main.group()
def fec() -> None:
    """FEC files (Fichier des Écritures Comptables)."""


@fec.command("check")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", "filename", default=None, help="The file's name to check, if not FILE's own.")
def fec_check(path: str, filename: str | None) -> None:
    """Check FILE as a FEC (the DGFiP tester's rules, every entry balanced); exit 1 if it would be refused."""
    from pathlib import Path

    from babel.numbers import format_currency

    from portal.ledger import fec as ledger_fec

    report = ledger_fec.check(Path(path), filename=filename)

    def euros(cents: int) -> str:
        return format_currency(cents / 100, "EUR", locale="fr_FR")

    if report.column_count:
        separator = "tabulation" if report.separator == "\t" else f"« {report.separator} »"
        layout = "montant et sens" if report.layout == "amount_direction" else "débit et crédit"
        columns = counted(report.column_count, "%(num)s colonne", "%(num)s colonnes")
        click.echo(f"Fichier : {report.encoding}, {separator}, {columns} ({report.variant}, {layout}).")
        figures = (
            counted(report.line_count, "%(num)s ligne", "%(num)s lignes"),
            counted(report.entry_count, "%(num)s écriture", "%(num)s écritures"),
            counted(report.journal_count, "%(num)s journal", "%(num)s journaux"),
            counted(report.account_count, "%(num)s compte", "%(num)s comptes"),
        )
        click.echo(f"{', '.join(figures)} ; débit {euros(report.debit_total)}, crédit {euros(report.credit_total)}.")
        if report.first_date and report.last_date:
            click.echo(f"Écritures du {report.first_date:%d/%m/%Y} au {report.last_date:%d/%m/%Y}.")
    for issue in report.issues:
        label = "Erreur" if issue.severity is ledger_fec.Severity.ERROR else "Alerte"
        click.echo(f"  {label} : {issue.text()}")
    shown = len(report.issues)
    if report.error_count + report.warning_count > shown:
        others = counted(
            report.error_count + report.warning_count - shown, "… et %(num)s autre.", "… et %(num)s autres."
        )
        click.echo(f"  {others}")
    verdict = "FEC accepté" if report.ok else "FEC refusé"
    errors = counted(report.error_count, "%(num)s erreur", "%(num)s erreurs")
    click.echo(f"{verdict} : {errors}, {counted(report.warning_count, '%(num)s alerte', '%(num)s alertes')}.")
    if not report.ok:
        sys.exit(1)


@fec.command("import")
@click.option("--siren", required=True, help="The dossier's SIREN (or a SIRET of it).")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
def fec_import(siren: str, path: str) -> None:
    """Import FILE into the dossier of SIREN, as an upload would (the same checks, all or nothing)."""
    from pathlib import Path

    from portal.ledger.commands import CommandError, find_dossier, import_path

    settings = get_settings()
    shown: dict[str, Any] = {"percent": -1, "step": None}

    async def progress(done: int, total: int | None, step: str) -> None:
        from portal.i18n import gettext

        percent = round(100 * done / total) if total else 0
        if percent // 10 != shown["percent"] // 10 or step != shown.get("step"):
            of_lines = counted(total, "%(num)s ligne", "%(num)s lignes") if total else "?"
            click.echo(f"  {gettext(step)} : {done} / {of_lines} ({percent} %)")
            shown.update(percent=percent, step=step)

    async def work() -> tuple[str, int, int, str | None, str | None]:
        from portal import domains
        from portal.db.engine import make_engine, make_session_maker

        domains.install()
        engine = make_engine(settings.database_url)
        try:
            sessions = make_session_maker(engine)
            dossier = await find_dossier(sessions, siren)
            imported = await import_path(settings, sessions, dossier, Path(path), progress=progress)
            report = imported.record.report or {}
            return (imported.outcome.status.value, int(report.get("error_count", 0)),
                    int(report.get("line_count", 0)), dossier.name, imported.record.error)  # fmt: skip
        finally:
            await engine.dispose()

    try:
        status, errors, lines, name, error = _run(work)
    except CommandError as refused:
        raise click.ClickException(str(refused)) from refused
    if status == "succeeded":
        click.echo(f"Exercice importé dans le dossier {name} : {counted(lines, '%(num)s ligne', '%(num)s lignes')}.")
        return
    if status == "failed":
        click.echo(f"L'import a échoué ({error}) : rien n'a été importé.", err=True)
        sys.exit(1)
    how_many = counted(errors, "%(num)s erreur", "%(num)s erreurs")
    click.echo(f"Import refusé ({how_many}) : rien n'a été importé. Détail : portal fec check {path}", err=True)
    sys.exit(1)


# --- demo -----------------------------------------------------------------------------


# --- figures --------------------------------------------------------------------------


@main.command("kpi")
@click.option("--siren", required=True, help="The dossier's SIREN (or a SIRET of it).")
@click.option("--exercice", "closing", default=None, metavar="AAAA-MM-JJ", help="Closing date (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Figures.to_json(): amounts as strings, rates in %.")
def kpi(siren: str, closing: str | None, as_json: bool) -> None:
    """Print the figures of the dossier's fiscal year closing on --exercice (the latest by default)."""
    from portal.dashboard import commands
    from portal.ledger.commands import CommandError

    async def work() -> commands.YearReport:
        from portal import domains
        from portal.db.engine import make_engine, make_session_maker

        domains.install()
        engine = make_engine(get_settings().database_url)
        try:
            return await commands.year_report(make_session_maker(engine), siren, commands.parse_closing(closing))
        finally:
            await engine.dispose()

    try:
        report = _run(work)
    except CommandError as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(commands.as_json(report) if as_json else commands.as_table(report))


@main.group()
def demo() -> None:
    """Demo data."""


def _seed_demo(settings: Settings) -> None:
    from portal import demo as demo_module

    async def seed(session: Any) -> demo_module.DemoLogin | None:
        return await demo_module.seed(session, settings)

    created = _run(lambda: _with_session(settings, seed))
    login = created or demo_module.demo_login(settings)
    if created:
        click.echo("Données de démonstration créées.")
    if _run(lambda: demo_module.seed_ledger(settings)):
        click.echo(
            f"Exercices {', '.join(map(str, demo_module.LEDGER_YEARS))} de {demo_module.LEDGER_DOSSIER} importés "
            "(FEC de démonstration), avec un objectif, un prévisionnel et un rapport PDF."
        )
    if login:
        click.echo(f"Connexion de démonstration : {login.email} / {login.password}")
        others = ", ".join(f"{email} ({roles[0].label.lower()})" for email, _name, roles in demo_module.PEOPLE[1:])
        click.echo(f"  même mot de passe pour : {others}")


@demo.command("seed")
def demo_seed() -> None:
    """Create the demo firm, dossiers and people (once)."""
    _seed_demo(get_settings())


# --- processes ------------------------------------------------------------------------


def demo_environment() -> None:
    """What the demo switches on unless told otherwise: the local sandboxes, so "Connecter Pennylane" is
    clicked through offline, and the development mail page, where the invitations sent can be read."""
    for name in ("PORTAL_SANDBOX", "PORTAL_DEV_MAIL_PAGE"):
        if not os.environ.get(name, "").strip():
            os.environ[name] = "1"
    get_settings.cache_clear()


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: PORTAL_PORT, else 8000.")
@click.option("--demo/--no-demo", "with_demo", default=False, help="Seed demo data on first start.")
@click.option("--reload", is_flag=True, help="Reload on code changes (development).")
def run(host: str, port: int | None, with_demo: bool, reload: bool) -> None:
    """Serve the portal (with the embedded worker unless PORTAL_BROKER_URL names a broker)."""
    import uvicorn

    from portal.db import migrate

    if with_demo:
        demo_environment()
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    if with_demo:
        _seed_demo(settings)
    port = port or settings.port
    click.echo(f"Portail Cabinet : http://{host}:{port}")
    # The portal reads X-Forwarded-For itself, from PORTAL_TRUSTED_PROXIES only (portal.web.context):
    # uvicorn's own reading would believe anyone on this host.
    uvicorn.run("portal.app:create_app", factory=True, host=host, port=port, reload=reload, proxy_headers=False)


@main.command("worker", context_settings={"ignore_unknown_options": True})
@click.option("--processes", type=int, default=None, help="Worker processes (default: CPU count).")
@click.option("--threads", type=int, default=4, show_default=True, help="Threads per process.")
@click.argument("dramatiq_args", nargs=-1, type=click.UNPROCESSED)
def worker(processes: int | None, threads: int, dramatiq_args: tuple[str, ...]) -> None:
    """Run dramatiq workers for every job (production: with PORTAL_BROKER_URL set)."""
    settings = get_settings()
    if settings.broker_is_embedded:
        raise click.ClickException(
            "PORTAL_BROKER_URL n'est pas défini : en mode intégré, le portail exécute les travaux lui-même."
        )
    arguments = ["dramatiq", "portal.worker", "--threads", str(threads)]
    if processes:
        arguments += ["--processes", str(processes)]
    arguments += list(dramatiq_args)
    os.execvp(sys.executable, [sys.executable, "-m", *arguments])  # noqa: S606 - replaces this process by design


@main.command("scheduler")
def scheduler() -> None:
    """Enqueue periodic jobs and relay the outbox, forever. Several may run at once safely."""
    from portal import domains
    from portal.jobs.runtime import configure
    from portal.jobs.scheduler import BackgroundLoop

    settings = get_settings()

    async def forever() -> None:
        domains.install()
        loop = BackgroundLoop(configure(settings), schedules=True)
        loop.start()
        click.echo("Planificateur démarré.")
        try:
            await asyncio.Event().wait()
        finally:
            await loop.stop()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        click.echo("Planificateur arrêté.")


@main.group()
def outbox() -> None:
    """The job outbox."""


@outbox.command("relay")
def outbox_relay() -> None:
    """Send pending outbox messages to the broker once."""
    from portal import domains
    from portal.jobs.runtime import configure
    from portal.jobs.scheduler import BackgroundLoop

    async def once() -> int:
        domains.install()
        loop = BackgroundLoop(configure(get_settings()), schedules=False)
        try:
            return await loop.run_once()
        finally:
            await loop.runtime.sessions.dispose_current()

    click.echo(counted(_run(once), "%(num)s message envoyé.", "%(num)s messages envoyés."))
