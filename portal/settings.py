"""Settings, read once from the environment.

Every setting has a default that makes the embedded mode work on a fresh machine:
a SQLite file, a stub broker served by an in-process worker, and emails written to a
local outbox. Production sets ``PORTAL_DATABASE_URL`` to PostgreSQL,
``PORTAL_BROKER_URL`` to Redis or RabbitMQ and ``PORTAL_SMTP_URL`` to its mail server.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# The firm's clock: schedules run and dates display in French time.
FIRM_TIMEZONE = ZoneInfo("Europe/Paris")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _env_bool(name: str, *, default: bool) -> bool:
    return _env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def _load_secret_key(var_dir: Path) -> str:
    """Return ``PORTAL_SECRET_KEY``, or a key generated once into ``var/``."""
    explicit = os.environ.get("PORTAL_SECRET_KEY", "").strip()
    if explicit:
        return explicit
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key


def _load_encryption_keys(var_dir: Path) -> tuple[str, ...]:
    """``PORTAL_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first), or one generated once into ``var/``."""
    explicit = [key.strip() for key in os.environ.get("PORTAL_ENCRYPTION_KEYS", "").split(",") if key.strip()]
    if explicit:
        return tuple(explicit)
    path = var_dir / "encryption_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key)
    return (path.read_text(encoding="ascii").strip(),)


PENNYLANE_OAUTH_URL = "https://app.pennylane.com/oauth"
PENNYLANE_API_URL = "https://app.pennylane.com/api/external/v2"
SANDBOX_CLIENT_ID = "portail-cabinet-sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret-not-for-production"  # noqa: S105 - the local sandbox's own, public by design
# POS and e-commerce sources go through one unified API (orders, payments, closures…) and its OAuth.
COMMERCE_API_URL = "https://api.chift.eu"
COMMERCE_OAUTH_URL = "https://api.chift.eu/oauth"

# How many heartbeat intervals, at least, a run may go without a beat before it is taken as dead.
DEAD_AFTER_HEARTBEATS = 3

OUTBOX = "outbox"
"""``PORTAL_SMTP_URL`` of the embedded mode: emails are files in ``var/mail``, nothing is sent."""


@dataclass(frozen=True)
class Settings:
    """Everything the portal reads from its environment.

    Email (``portal.mail``): ``smtp_url`` (``PORTAL_SMTP_URL``) is where messages go:
    ``smtp://[user:password@]host[:port]`` (plain, ``?starttls=1`` to upgrade),
    ``smtps://…`` (implicit TLS), ``file:///a/directory`` (a local outbox of ``.eml``
    files), or ``outbox`` (the default: the local outbox ``var/mail``). ``mail_from``
    (``PORTAL_MAIL_FROM``) is the sender. ``dev_mail_page`` (``PORTAL_DEV_MAIL_PAGE``)
    serves ``/dev/courriels``, where administrators read the local outbox; it defaults to
    on with a local outbox (embedded mode, ``make run``) and off with a real server. Set
    to 1 with a real server (a development mail sandbox), messages are sent *and* copied
    to ``var/mail`` for the page.
    """

    var_dir: Path
    database_url: str
    broker_url: str
    secret_key: str
    base_url: str
    port: int
    debug: bool = False
    broker_namespace: str = "dramatiq"  # Redis key prefix (PORTAL_BROKER_NAMESPACE): one per test worker
    # Sign-in throttling: this many failures within the window lock the pair (email, address).
    login_max_failures: int = 5
    login_window_seconds: int = 900
    session_max_age_seconds: int = 8 * 3600
    # Jobs: first retry delay and how long a message may stay unacknowledged before redelivery.
    job_min_backoff_ms: int = 2_000
    job_max_backoff_ms: int = 300_000
    job_max_retries: int = 5
    outbox_redeliver_after_seconds: int = 300
    # A running run's worker writes its heartbeat this often; a run whose heartbeat is older than
    # ``job_dead_after_seconds`` is taken as dead (its worker was killed) and is sent again.
    job_heartbeat_seconds: float = 10.0
    job_dead_after_seconds: float = 45.0
    scheduler_tick_seconds: float = 15.0
    embedded_worker_threads: int = 2
    smtp_url: str = OUTBOX
    mail_from: str = "Portail Cabinet <portail@localhost>"
    dev_mail_page: bool = False
    # Expense-note receipts: the largest file accepted, in bytes (PORTAL_RECEIPT_MAX_BYTES).
    receipt_max_bytes: int = 10 * 1024 * 1024
    # A form without a file (urlencoded): the largest body accepted, in bytes (PORTAL_FORM_MAX_BYTES).
    form_max_bytes: int = 2 * 1024 * 1024
    # Source connections (portal.integrations). ``sandbox`` serves the local stand-in of the outside
    # services under /sandbox (make run, tests; never in production); the client's URLs point at it
    # unless set explicitly.
    sandbox: bool = False
    pennylane_oauth_url: str = PENNYLANE_OAUTH_URL
    pennylane_api_url: str = PENNYLANE_API_URL
    pennylane_client_id: str = ""
    pennylane_client_secret: str = ""
    # A FEC export is polled this often until ready, for at most this long.
    pennylane_poll_seconds: float = 2.0
    pennylane_export_timeout_seconds: float = 600.0
    # POS and e-commerce sources (portal.integrations.commerce): the unified API and its OAuth.
    commerce_api_url: str = COMMERCE_API_URL
    commerce_oauth_url: str = COMMERCE_OAUTH_URL
    commerce_client_id: str = ""
    commerce_client_secret: str = ""
    # Secrets at rest (tokens of source connections): Fernet keys, the first encrypts, all decrypt.
    encryption_keys: tuple[str, ...] = ()
    # The largest FEC file accepted, in bytes (PORTAL_FEC_MAX_BYTES).
    fec_max_bytes: int = 500 * 1024 * 1024
    templates_dir: Path = field(default=ROOT / "templates")
    static_dir: Path = field(default=ROOT / "static")

    def __post_init__(self) -> None:
        if self.job_heartbeat_seconds <= 0:
            msg = f"PORTAL_JOB_HEARTBEAT_SECONDS doit être positif (reçu : {self.job_heartbeat_seconds})"
            raise ValueError(msg)
        if self.job_dead_after_seconds < DEAD_AFTER_HEARTBEATS * self.job_heartbeat_seconds:
            # A live worker that misses a beat or two (a slow database) must never be taken for dead.
            msg = (
                f"PORTAL_JOB_DEAD_AFTER_SECONDS ({self.job_dead_after_seconds}) doit valoir au moins "
                f"{DEAD_AFTER_HEARTBEATS} fois PORTAL_JOB_HEARTBEAT_SECONDS ({self.job_heartbeat_seconds})"
            )
            raise ValueError(msg)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def receipts_dir(self) -> Path:
        """Where expense-note receipts are stored, under server-chosen names."""
        return self.var_dir / "receipts"

    @property
    def imports_dir(self) -> Path:
        """Where uploaded and downloaded FEC files wait for their import job."""
        return self.var_dir / "imports"

    @property
    def broker_is_embedded(self) -> bool:
        return self.broker_url == "stub"

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` whenever the portal is served over HTTPS."""
        return self.base_url.startswith("https://")

    @property
    def mail_outbox_dir(self) -> Path | None:
        """The local outbox when emails are written there instead of sent, else None."""
        if self.smtp_url == OUTBOX:
            return self.var_dir / "mail"
        if self.smtp_url.startswith("file://"):
            return Path(self.smtp_url.removeprefix("file://"))
        return None

    @property
    def mail_page_dir(self) -> Path | None:
        """Where ``/dev/courriels`` reads messages: None when the page is off."""
        if not self.dev_mail_page:
            return None
        return self.mail_outbox_dir or self.var_dir / "mail"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load_settings() -> Settings:
    """Build settings from the environment (no cache: tests and commands call this)."""
    var_dir = Path(_env("PORTAL_VAR_DIR", str(ROOT / "var"))).resolve()
    port = _env_int("PORTAL_PORT", 8000)
    smtp_url = _env("PORTAL_SMTP_URL", OUTBOX)
    local_outbox = smtp_url == OUTBOX or smtp_url.startswith("file://")
    base_url = _env("PORTAL_BASE_URL", f"http://127.0.0.1:{port}").rstrip("/")
    sandbox = _env_bool("PORTAL_SANDBOX", default=False)
    sandbox_url = f"{base_url}/sandbox/pennylane"
    commerce_sandbox_url = f"{base_url}/sandbox/commerce"
    return Settings(
        var_dir=var_dir,
        database_url=_env("PORTAL_DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / 'portal.sqlite3'}"),
        broker_url=_env("PORTAL_BROKER_URL", "stub"),
        broker_namespace=_env("PORTAL_BROKER_NAMESPACE", "dramatiq"),
        secret_key=_load_secret_key(var_dir),
        base_url=base_url,
        port=port,
        debug=_env_bool("PORTAL_DEBUG", default=False),
        login_max_failures=_env_int("PORTAL_LOGIN_MAX_FAILURES", 5),
        login_window_seconds=_env_int("PORTAL_LOGIN_WINDOW_SECONDS", 900),
        session_max_age_seconds=_env_int("PORTAL_SESSION_MAX_AGE_SECONDS", 8 * 3600),
        job_min_backoff_ms=_env_int("PORTAL_JOB_MIN_BACKOFF_MS", 2_000),
        job_max_backoff_ms=_env_int("PORTAL_JOB_MAX_BACKOFF_MS", 300_000),
        job_max_retries=_env_int("PORTAL_JOB_MAX_RETRIES", 5),
        outbox_redeliver_after_seconds=_env_int("PORTAL_OUTBOX_REDELIVER_AFTER_SECONDS", 300),
        job_heartbeat_seconds=float(_env("PORTAL_JOB_HEARTBEAT_SECONDS", "10")),
        job_dead_after_seconds=float(_env("PORTAL_JOB_DEAD_AFTER_SECONDS", "45")),
        scheduler_tick_seconds=float(_env("PORTAL_SCHEDULER_TICK_SECONDS", "15")),
        embedded_worker_threads=_env_int("PORTAL_EMBEDDED_WORKER_THREADS", 2),
        receipt_max_bytes=_env_int("PORTAL_RECEIPT_MAX_BYTES", 10 * 1024 * 1024),
        form_max_bytes=_env_int("PORTAL_FORM_MAX_BYTES", 2 * 1024 * 1024),
        smtp_url=smtp_url,
        mail_from=_env("PORTAL_MAIL_FROM", "Portail Cabinet <portail@localhost>"),
        dev_mail_page=_env_bool("PORTAL_DEV_MAIL_PAGE", default=local_outbox),
        sandbox=sandbox,
        pennylane_oauth_url=_env(
            "PORTAL_PENNYLANE_OAUTH_URL", f"{sandbox_url}/oauth" if sandbox else PENNYLANE_OAUTH_URL
        ).rstrip("/"),
        pennylane_api_url=_env(
            "PORTAL_PENNYLANE_API_URL", f"{sandbox_url}/api/external/v2" if sandbox else PENNYLANE_API_URL
        ).rstrip("/"),
        pennylane_client_id=_env("PORTAL_PENNYLANE_CLIENT_ID", SANDBOX_CLIENT_ID if sandbox else ""),
        pennylane_client_secret=_env("PORTAL_PENNYLANE_CLIENT_SECRET", SANDBOX_CLIENT_SECRET if sandbox else ""),
        pennylane_poll_seconds=float(_env("PORTAL_PENNYLANE_POLL_SECONDS", "2")),
        pennylane_export_timeout_seconds=float(_env("PORTAL_PENNYLANE_EXPORT_TIMEOUT_SECONDS", "600")),
        commerce_api_url=_env(
            "PORTAL_COMMERCE_API_URL", f"{commerce_sandbox_url}/api" if sandbox else COMMERCE_API_URL
        ).rstrip("/"),
        commerce_oauth_url=_env(
            "PORTAL_COMMERCE_OAUTH_URL", f"{commerce_sandbox_url}/oauth" if sandbox else COMMERCE_OAUTH_URL
        ).rstrip("/"),
        commerce_client_id=_env("PORTAL_COMMERCE_CLIENT_ID", SANDBOX_CLIENT_ID if sandbox else ""),
        commerce_client_secret=_env("PORTAL_COMMERCE_CLIENT_SECRET", SANDBOX_CLIENT_SECRET if sandbox else ""),
        encryption_keys=_load_encryption_keys(var_dir),
        fec_max_bytes=_env_int("PORTAL_FEC_MAX_BYTES", 500 * 1024 * 1024),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings."""
    return load_settings()
