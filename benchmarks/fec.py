"""FEC reading at scale: a 1,000,000-line file, parsed bare, then checked by ``portal.ledger.fec``.

The file is generated the way accounting software writes one (TAB, CRLF, 18 columns,
``AAAAMMJJ`` dates, decimal commas), with balanced entries of 2 to 6 lines over a year
of purchases, sales, bank, cash, payroll and miscellaneous journals, French labels,
lettered third-party lines and a few foreign-currency ones. Figures:

* the bare parse by a fast CSV reader, every column as a string (pyarrow, polars): the
  floor any reader of the same bytes starts from;
* the same parse handing each line to Python as a tuple, which the importer needs;
* ``check()``: our reader with every validation, and its ratio to the bare parse;
* the peak memory (RSS) of ``check()``, alone in a child process.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from portal.ledger import fec
from portal.settings import Settings

LINES = 1_000_000
TARGET_RATIO = 4.0  # full import within 4x the bare parse (the ticket's target)
TARGET_RSS_MB = 500
SEED = 20241231
HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\t"
    "PieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise"
)
JOURNALS = {
    "AC": "Achats", "VE": "Ventes", "BQ1": "Banque BNP Paribas", "BQ2": "Crédit Agricole", "CA": "Caisse",
    "OD": "Opérations diverses", "PA": "Paie",
}  # fmt: skip
SUPPLIERS = (
    "Boulangerie Martin", "Garage Dubois", "Électricité Générale Thomas", "Imprimerie Robert", "Métro Cash",
    "Orange Business", "EDF Entreprises", "Café des Halles", "Menuiserie Lefèvre", "Transports Girard",
    "Fromagerie Mercier", "Quincaillerie Bonnet", "Pâtisserie François", "Société Générale Crédit-bail",
)  # fmt: skip
CUSTOMERS = (
    "Hôtel du Lac", "Brasserie de la Gare", "Mairie de Lyon", "Crêperie Le Goff", "Auberge du Moulin",
    "Clinique vétérinaire Roux", "Auto-école Perrin", "Camping des Vignes", "Pharmacie du Centre",
    "Traiteur Morel", "Cave Saint-Étienne", "Domaine Etchegaray",
)  # fmt: skip
EXPENSES = (
    ("601000", "Achats stockés - matières premières"), ("606100", "Fournitures non stockables (eau, énergie)"),
    ("606400", "Fournitures administratives"), ("613200", "Locations immobilières"),
    ("615500", "Entretien et réparations sur biens mobiliers"), ("616000", "Primes d'assurances"),
    ("622600", "Honoraires"), ("625100", "Voyages et déplacements"), ("626000", "Frais postaux et télécommunications"),
)  # fmt: skip
SALES = (("706000", "Prestations de services"), ("707000", "Ventes de marchandises"), ("708500", "Ports et frais"))
MISCELLANEOUS = ("Dotation aux amortissements", "Régularisation charges constatées d'avance", "Écart de règlement",
                 "Frais bancaires trimestre")  # fmt: skip


def _amount(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def _date(day: dt.date) -> str:
    return f"{day:%Y%m%d}"


def _entries(lines: int, rng: random.Random, year: int = 2024) -> Iterator[list[list[str]]]:
    """Balanced entries in date order over calendar ``year``, exactly ``lines`` lines in all (``lines`` >= 2)."""
    start = dt.date(year, 1, 1)
    days = (dt.date(year, 12, 31) - start).days
    numbers = dict.fromkeys(JOURNALS, 0)
    written = 0
    while written < lines:
        left = lines - written
        day = start + dt.timedelta(days=min(days, written * (days + 1) // lines))
        journal = "OD" if left < 8 else rng.choices(list(JOURNALS), weights=(30, 30, 12, 8, 5, 10, 5))[0]
        numbers[journal] += 1
        entry = _Entry(rng, journal, f"{journal}{numbers[journal]:06d}", day, lettering=_letters(written))
        # The last few lines: entries of 2 (and one of 3) lines, so that the count is exact.
        lines_of = _closing_lines(entry, 3 if left in {3, 5, 7} else 2) if left < 8 else _lines(entry, rng)
        if rng.random() < 0.02:  # an invoice in dollars: the currency columns are filled
            for fields in lines_of:
                fields[16], fields[17] = _amount(rng.randrange(100, 900_000)), "USD"
        written += len(lines_of)
        yield lines_of


class _Entry:
    """What the lines of one entry share; ``line()`` writes one of them."""

    def __init__(self, rng: random.Random, journal: str, number: str, day: dt.date, *, lettering: str) -> None:
        self.journal = journal
        self.common = [journal, JOURNALS[journal], number, _date(day)]
        self.day = day
        self.piece = f"F{day:%y%m}-{rng.randrange(1, 99_999):05d}"
        self.validated = _date(day + dt.timedelta(days=rng.randrange(0, 20)))
        lettered = rng.random() < 0.6
        self.lettering = lettering if lettered else ""
        self.lettered_on = _date(day + dt.timedelta(days=rng.randrange(1, 60))) if lettered else ""

    def line(
        self, account: tuple[str, str], text: str, debit: int, credit: int, aux: tuple[str, str] = ("", "")
    ) -> list[str]:
        lettering, lettered_on = (self.lettering, self.lettered_on) if aux[0] else ("", "")
        return [*self.common, *account, *aux, self.piece, self.common[3], text, _amount(debit), _amount(credit),
                lettering, lettered_on, self.validated, "", ""]  # fmt: skip


def _lines(entry: _Entry, rng: random.Random) -> list[list[str]]:
    journal = entry.journal
    if journal in {"AC", "VE"}:
        parts = [rng.randrange(100, 2_500_000) for _ in range(rng.randrange(1, 5))]
        vat = sum(parts) // 5
        total = sum(parts) + vat
        if journal == "AC":
            name = rng.choice(SUPPLIERS)
            text = f"Facture {name} {entry.piece}"
            lines = [entry.line(rng.choice(EXPENSES), text, part, 0) for part in parts]
            lines.append(entry.line(("445660", "TVA déductible sur autres biens et services"), text, vat, 0))
            lines.append(entry.line(("401000", "Fournisseurs"), text, 0, total, _supplier(name)))
            return lines
        name = rng.choice(CUSTOMERS)
        text = f"Facture {entry.piece} {name}"
        lines = [entry.line(("411000", "Clients"), text, total, 0, _customer(name))]
        lines += [entry.line(rng.choice(SALES), text, 0, part) for part in parts]
        lines.append(entry.line(("445710", "TVA collectée"), text, 0, vat))
        return lines
    if journal in {"BQ1", "BQ2", "CA"}:
        bank = ({"BQ1": "512100", "BQ2": "512200", "CA": "530000"}[journal], JOURNALS[journal])
        amount = rng.randrange(500, 3_000_000)
        if rng.random() < 0.5:
            name = rng.choice(SUPPLIERS)
            text = f"Règlement {name}"
            return [entry.line(("401000", "Fournisseurs"), text, amount, 0, _supplier(name)),
                    entry.line(bank, text, 0, amount)]  # fmt: skip
        name = rng.choice(CUSTOMERS)
        text = f"Encaissement {name}"
        return [entry.line(bank, text, amount, 0), entry.line(("411000", "Clients"), text, 0, amount, _customer(name))]
    if journal == "PA":
        gross = rng.randrange(150_000, 600_000)
        employee, employer = gross * 22 // 100, gross * 42 // 100
        text = f"Salaires {entry.day:%m/%Y}"
        return [entry.line(("641100", "Salaires, appointements"), text, gross, 0),
                entry.line(("645100", "Cotisations à l'URSSAF"), text, employer, 0),
                entry.line(("421000", "Personnel - rémunérations dues"), text, 0, gross - employee),
                entry.line(("431000", "Sécurité sociale"), text, 0, employee + employer)]  # fmt: skip
    return _closing_lines(entry, 2, rng.randrange(1_000, 900_000), rng.choice(MISCELLANEOUS))


def _closing_lines(
    entry: _Entry, count: int, amount: int = 12_345, text: str = "Dotation aux amortissements"
) -> list[list[str]]:
    """A depreciation entry: ``count`` - 1 debit lines and their credit."""
    lines = [entry.line(("681120", "Dotations aux amortissements des immobilisations corporelles"), text, amount, 0)
             for _ in range(count - 1)]  # fmt: skip
    lines.append(
        entry.line(("281830", "Amortissements du matériel de bureau et informatique"), text, 0, amount * (count - 1))
    )
    return lines


def _supplier(name: str) -> tuple[str, str]:
    return f"F{SUPPLIERS.index(name):04d}", name


def _customer(name: str) -> tuple[str, str]:
    return f"C{CUSTOMERS.index(name):04d}", name


def _letters(number: int) -> str:
    text = ""
    while True:
        number, rest = divmod(number, 26)
        text = chr(ord("A") + rest) + text
        if not number:
            return text


def generate(path: Path, lines: int = LINES, *, seed: int = SEED, year: int = 2024) -> Path:
    """Write a realistic FEC of ``lines`` data lines (plus the header) over calendar ``year`` to ``path``.

    Every entry balances; the file is UTF-8, so that the bare parsers read it as it is.
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        for entry in _entries(lines, rng, year):
            out.write("".join("\t".join(fields) + "\r\n" for fields in entry))
    return path


# A child process runs each measured read on its own, so that its peak memory is its own: the
# child runs the read in a grandchild and reports RUSAGE_CHILDREN, the grandchild's peak.
_PEAK = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
_CHECK = "import sys; from pathlib import Path; from portal.ledger import fec; fec.check(Path(sys.argv[1]))"
_PYARROW = (
    "import sys, pyarrow as pa, pyarrow.csv as csv; names = open(sys.argv[1], encoding='utf-8').readline()"
    ".rstrip().split('\\t'); csv.read_csv(sys.argv[1], parse_options=csv.ParseOptions(delimiter='\\t', "
    "quote_char=False), convert_options=csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())))"
)


def peak_rss_mb(program: str, path: Path) -> float:
    """The peak resident memory of ``program`` run on ``path`` in a process of its own, in MB."""
    probe = subprocess.run(  # noqa: S603 - this interpreter, running our own probe
        [sys.executable, "-c", _PEAK, program, str(path)], capture_output=True, text=True, check=True, timeout=900
    )
    return int(probe.stdout.split()[-1]) / 1024  # ru_maxrss is in kilobytes on Linux


def _best(work: Callable[[], object], times: int) -> tuple[float, float]:
    """(best wall time, CPU time of that run) over ``times`` runs, in seconds."""
    runs = []
    for _ in range(times):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs)


def bare_parse_pyarrow(path: Path) -> int:
    import pyarrow as pa  # noqa: PLC0415 - bench-only dependencies, imported when measured
    from pyarrow import csv  # noqa: PLC0415

    names = path.open(encoding="utf-8").readline().rstrip("\r\n").split("\t")
    table = csv.read_csv(
        path,
        parse_options=csv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    return int(table.num_rows)


def bare_parse_polars(path: Path) -> int:
    import polars as pl  # noqa: PLC0415

    return int(pl.read_csv(path, separator="\t", quote_char=None, infer_schema=False).height)


def pyarrow_tuples(path: Path) -> int:
    """The bare parse, then every line as a Python tuple: what an importer would need from it."""
    import pyarrow as pa  # noqa: PLC0415
    from pyarrow import csv  # noqa: PLC0415

    names = path.open(encoding="utf-8").readline().rstrip("\r\n").split("\t")
    table = csv.read_csv(
        path,
        parse_options=csv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    count = 0
    for batch in table.to_batches(20_000):
        count += len(list(zip(*(column.to_pylist() for column in batch.columns), strict=True)))
    return count


def full_import(settings: Settings, path: Path) -> tuple[float, float, int]:
    """(seconds, CPU seconds, lines) of importing ``path`` into a fresh dossier of the bench database,
    the way ``portal fec import`` does: read, check, COPY/executemany, derive, activate."""
    import asyncio  # noqa: PLC0415 - only when the import is measured

    from portal import domains  # noqa: PLC0415 - every model known
    from portal.clients.models import Dossier  # noqa: PLC0415
    from portal.db.engine import make_engine, make_session_maker  # noqa: PLC0415
    from portal.ledger.commands import import_path  # noqa: PLC0415
    from portal.ledger.models import ImportStatus  # noqa: PLC0415

    async def work() -> tuple[float, float, int]:
        domains.install()
        engine = make_engine(settings.database_url)
        try:
            sessions = make_session_maker(engine)
            async with sessions() as session, session.begin():
                dossier = Dossier(name="Société du banc d'essai", siren=f"{path.name[:9]}")
                session.add(dossier)
            wall, cpu = time.perf_counter(), time.process_time()
            imported = await import_path(settings, sessions, dossier, path)
            elapsed = (time.perf_counter() - wall, time.process_time() - cpu)
            assert imported.outcome.status is ImportStatus.SUCCEEDED, imported.record.report
            return elapsed[0], elapsed[1], int((imported.record.report or {}).get("line_count", 0))
        finally:
            await engine.dispose()

    return asyncio.run(work())


def import_peak_rss_mb(settings: Settings, path: Path) -> float:
    """Peak RSS of ``portal fec import`` of ``path`` (into the dossier full_import made), alone in a process."""
    env = {**os.environ, "PORTAL_DATABASE_URL": settings.database_url, "PORTAL_VAR_DIR": str(settings.var_dir)}
    program = (
        "import resource, subprocess, sys; subprocess.run([sys.executable, '-m', 'portal', 'fec', 'import', "
        "'--siren', sys.argv[1], sys.argv[2]], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    probe = subprocess.run(  # noqa: S603 - this interpreter, running our own probe
        [sys.executable, "-c", program, path.name[:9], str(path)],
        capture_output=True, text=True, check=True, timeout=1800, env=env,
    )  # fmt: skip
    return int(probe.stdout.split()[-1]) / 1024


def run(settings: Settings | None = None, lines: int = LINES) -> None:
    """Generate the file in a temporary folder (not measured), then time and weigh the reads and the import."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-fec-"))
    try:
        path = folder / "552008443FEC20241231.txt"
        started = time.perf_counter()
        generate(path, lines)
        size_mb = path.stat().st_size / 1_048_576
        print(
            f"fec ({lines} lines, 18 columns, {size_mb:.0f} MB, TAB, CRLF, UTF-8; {os.cpu_count()} CPUs, "
            f"load average {load}; generated in {time.perf_counter() - started:.1f} s, not measured)"
        )
        bare_parse_pyarrow(path)  # the file in the page cache for every reader alike
        arrow, arrow_cpu = _best(lambda: bare_parse_pyarrow(path), 3)
        polars, polars_cpu = _best(lambda: bare_parse_polars(path), 3)
        bare = min(arrow, polars)
        print(
            f"  bare parse, every column a string (best of 3): pyarrow {arrow:.2f} s (CPU {arrow_cpu:.2f} s), "
            f"polars {polars:.2f} s (CPU {polars_cpu:.2f} s)"
        )
        tuples, _cpu = _best(lambda: pyarrow_tuples(path), 1)
        print(f"  pyarrow parse, then each line as a Python tuple of its strings (nothing converted): {tuples:.2f} s")
        report = fec.check(path)
        checked, checked_cpu = _best(lambda: fec.check(path), 3)
        outcome = "ok" if report.ok else f"{report.error_count} errors"
        print(
            f"  check() (read, every rule, every entry's balance; best of 3): {checked:.2f} s "
            f"(CPU {checked_cpu:.2f} s), {lines / checked:,.0f} lines/s -> {report.line_count} lines, "
            f"{report.entry_count} entries, {outcome}"
        )
        ratio = checked / bare
        cpu_ratio = checked_cpu / min(arrow_cpu, polars_cpu)  # less sensitive to a busy machine than wall times
        print(f"  ratio check() / fastest bare parse: {ratio:.1f}x wall, {cpu_ratio:.1f}x CPU")
        rss = peak_rss_mb(_CHECK, path)
        print(
            f"  peak RSS, alone in a child process: check() {rss:.0f} MB, "
            f"pyarrow bare parse {peak_rss_mb(_PYARROW, path):.0f} MB"
        )
        if settings is None:
            return
        dialect = settings.database_url.split("+", 1)[0].split(":", 1)[0]
        imported, imported_cpu, count = full_import(settings, path)
        ratio = imported / bare
        print(
            f"  full import into {dialect} (read, check, load, journals/accounts/entries, activate): {imported:.2f} s "
            f"(CPU of this process {imported_cpu:.2f} s), {count / imported:,.0f} lines/s; "
            f"ratio to the bare parse {ratio:.1f}x [target {TARGET_RATIO:.0f}x: "
            f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}]"
        )
        rss = import_peak_rss_mb(settings, path)
        print(
            f"  peak RSS of `portal fec import` of the same file (replacing that fiscal year), alone in a process: "
            f"{rss:.0f} MB [target {TARGET_RSS_MB} MB: {'met' if rss < TARGET_RSS_MB else 'MISSED'}]"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks.environment import bench_settings

    run(bench_settings(), lines=int(sys.argv[1]) if len(sys.argv) > 1 else LINES)
