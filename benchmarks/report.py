"""The PDF report of a dossier: how long one takes to print, from the ledger to the file (target 3 s).

A dossier with two fiscal years imported from FEC files (the tests' hand-made sample: N and N-1),
then ``dashboard.render_report`` run in this process, as a worker runs it: the figures read from
the ledger, the charts drawn, WeasyPrint laying out the pages, the file written. The first report
of a process also loads the fonts; the figure is the median of the next ones.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.environment import bench_settings, empty_database
from portal import domains
from portal.auth.policy import Principal
from portal.auth.roles import FirmRole
from portal.dashboard import tasks
from portal.dashboard.reports import ReportService, report_files
from portal.db.engine import make_engine, make_session_maker
from portal.firm.models import Firm
from portal.firm.services import UserService
from portal.jobs import runtime
from portal.jobs.context import JobContext
from portal.ledger.commands import import_path
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.dashboard.sample_ledger import CURRENT, PREVIOUS
from tests.factories.clients import make_dossier

TARGET_SECONDS = 3.0
REPORTS = 5
SIREN = "552008443"


async def main(settings: Settings, folder: Path) -> float:
    domains.install()
    jobs = runtime.configure(settings)
    engine = make_engine(settings.database_url)
    try:
        maker = make_session_maker(engine)
        await empty_database(engine)
        async with maker() as session, session.begin():
            session.add(Firm(name="Cabinet du banc d'essai"))
            dossier = await make_dossier(session, name="Boulangerie du Banc d'Essai", siren=SIREN)
            partner = await UserService(session=session).create_user(
                email="associe@banc-essai.fr", name="Associé du banc d'essai", roles=[FirmRole.PARTNER]
            )
        for sample in (PREVIOUS, CURRENT):
            await import_path(settings, maker, dossier, sample.write(folder, SIREN))
        who = Principal.build(user_id=partner.id, email=partner.email, name=partner.name, locale="fr",
                              roles=frozenset({FirmRole.PARTNER}))  # fmt: skip
        samples = []
        for _ in range(REPORTS + 1):
            async with maker() as session, session.begin():
                service = ReportService(session)
                [year, *_] = await LedgerService(session).fiscal_years(who, dossier.id)
                asked, errors = await service.check(
                    who, dossier, fiscal_year=str(year.id), title="Rapport de gestion", comment="Banc d'essai.",
                    recipients=[],
                )  # fmt: skip
                assert asked is not None, errors
                report = await service.request(who, dossier, asked)
            context = JobContext(
                run_id=uuid.uuid4(), sessions=jobs.sessions, created_by_id=partner.id, settings=settings
            )
            started = time.perf_counter()
            await tasks.render_report(context, report_id=str(report.id))
            samples.append(time.perf_counter() - started)
        size = sum(path.stat().st_size for path in report_files(settings).root.rglob("*.pdf")) // (REPORTS + 1)
        print(f"  first report of the process (fonts loaded): {samples[0]:.2f} s; each PDF about {size // 1024} KB")
        return statistics.median(samples[1:])
    finally:
        await engine.dispose()
        await jobs.sessions.dispose_current()


def run(settings: Settings | None = None) -> None:
    """On ``settings``' database (emptied first: it may follow another benchmark), or on a fresh one."""
    settings = settings or bench_settings()
    print(f"report (a fiscal year and its N-1, {'SQLite' if settings.is_sqlite else 'PostgreSQL'})")
    with tempfile.TemporaryDirectory(prefix="portal-bench-report-") as folder:
        seconds = asyncio.run(main(settings, Path(folder)))
    verdict = "met" if seconds < TARGET_SECONDS else "MISSED"
    print(f"report PDF: {seconds:.2f} s (target {TARGET_SECONDS:.0f} s: {verdict}; median of {REPORTS})")
