"""``portal fec check`` and ``portal fec import``, run as operators and scripts run them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from portal.clients.models import Dossier
from portal.db.engine import make_engine, make_session_maker
from portal.demo import fictional_siren
from portal.ledger.models import FiscalYear, VersionState
from tests.samples import FEC_SAMPLES
from tests.test_cli import portal, scratch  # noqa: F401 - the scratch database fixture

DATA = FEC_SAMPLES
SAMPLE = DATA / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
BAKERY = fictional_siren("81234567")  # Boulangerie Martin, in the demo


async def _years(url: str, siren: str) -> list[tuple[str, str, int]]:
    engine = make_engine(url)
    try:
        async with make_session_maker(engine)() as session:
            rows = await session.execute(
                select(FiscalYear.state, FiscalYear.end_date, FiscalYear.line_count)
                .join(Dossier, Dossier.id == FiscalYear.dossier_id)
                .where(Dossier.siren == siren)
            )
            return [(state.value, end.isoformat(), lines) for state, end, lines in rows]
    finally:
        await engine.dispose()


def test_check_prints_the_report_and_fails_on_errors(scratch: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    good = portal(scratch, "fec", "check", str(SAMPLE))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "5\u202f422 lignes, 2\u202f033 écritures" in good.stdout.replace("\xa0", "\u202f")
    assert "FEC accepté : 0 erreur, " in good.stdout
    lines = SAMPLE.read_bytes().split(b"\n")
    fields = lines[9].split(b"\t")
    fields[3] = b"20221345"  # no 45th of the 13th month
    lines[9] = b"\t".join(fields)
    broken = tmp_path / SAMPLE.name
    broken.write_bytes(b"\n".join(lines))
    bad = portal(scratch, "fec", "check", str(broken))
    assert bad.returncode == 1
    assert "Ligne 10" in bad.stdout
    assert "FEC refusé : 1 erreur, " in bad.stdout


def test_import_goes_the_uploads_way_and_replaces_the_same_year(scratch: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    assert portal(scratch, "db", "upgrade").returncode == 0
    assert portal(scratch, "demo", "seed").returncode == 0
    url = scratch["PORTAL_DATABASE_URL"]
    for _twice in range(2):
        imported = portal(scratch, "fec", "import", "--siren", BAKERY, str(SAMPLE))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert "Analyse des fichiers" in imported.stdout
        assert "Exercice importé dans le dossier Boulangerie Martin : 5\u202f422 lignes." in imported.stdout
    assert asyncio.run(_years(url, BAKERY)) == [(VersionState.ACTIVE.value, "2022-08-31", 5_422)]

    broken = tmp_path / SAMPLE.name
    broken.write_bytes(SAMPLE.read_bytes().replace(b"\t", b";", 40))
    refused = portal(scratch, "fec", "import", "--siren", BAKERY, str(broken))
    assert refused.returncode == 1
    assert "rien n'a été importé" in refused.stderr
    assert asyncio.run(_years(url, BAKERY)) == [(VersionState.ACTIVE.value, "2022-08-31", 5_422)]
    unknown = portal(scratch, "fec", "import", "--siren", fictional_siren("11112222"), str(SAMPLE))
    assert unknown.returncode != 0
    assert "Aucun dossier n'a le SIREN" in unknown.stderr
