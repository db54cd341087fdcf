"""Settings, read once from the environment.

Every setting has a default that makes the embedded mode work on a fresh machine:
a SQLite file, a stub broker served by an in-process worker, and emails written to a
local outbox. Production sets ``PORTAL_DATABASE_URL`` to PostgreSQL,
``PORTAL_BROKER_URL`` to Redis or RabbitMQ and ``PORTAL_SMTP_URL`` to its mail server.

Each setting is declared once, as a field of ``Settings`` (``setting(default, doc=…)``): its
type, its default (or how it derives from the settings above it) and its variable,
``PORTAL_`` and the field's name in capitals. ``load_settings`` reads them all from that list.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# The firm's clock: schedules run and dates display in French time.
FIRM_TIMEZONE = ZoneInfo("Europe/Paris")


def private_folder(path: Path) -> Path:
    """``path`` as a folder only its owner may enter (700), created if need be: the portal's local data
    (database, sessions, keys) is nobody else's to read."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _generated_secret_key(var_dir: Path) -> str:
    """A key generated once into ``var/``."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    private_folder(var_dir)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key


def _keys(value: str) -> tuple[str, ...] | None:
    """Comma-separated keys, newest first (none: unset)."""
    return tuple(key.strip() for key in value.split(",") if key.strip()) or None


def _generated_encryption_key(var_dir: Path) -> tuple[str, ...]:
    """One Fernet key generated once into ``var/``."""
    path = var_dir / "encryption_key"
    if not path.exists():
        private_folder(var_dir)
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key)
    return (path.read_text(encoding="ascii").strip(),)


def _networks(value: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (``10.0.0.5, 172.16.0.0/12, ::1``), each checked."""
    found = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            message = f"PORTAL_TRUSTED_PROXIES : « {item} » n'est ni une adresse IP ni un réseau"
            raise ValueError(message) from None
    return tuple(found)


PENNYLANE_OAUTH_URL = "https://app.pennylane.com/oauth"
PENNYLANE_API_URL = "https://app.pennylane.com/api/external/v2"
SANDBOX_CLIENT_ID = "portail-cabinet-sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret-not-for-production"  # noqa: S105 - the local sandbox's own, public by design
# POS and e-commerce sources go through one unified API (orders, payments, closures…) and its OAuth.
COMMERCE_API_URL = "https://api.chift.eu"
COMMERCE_OAUTH_URL = "https://api.chift.eu/oauth"
# Single sign-on (OpenID Connect): Google's issuer is the same for every application.
GOOGLE_ISSUER = "https://accounts.google.com"

# How many heartbeat intervals, at least, a run may go without a beat before it is taken as dead.
DEAD_AFTER_HEARTBEATS = 3

OUTBOX = "outbox"
"""``PORTAL_SMTP_URL`` of the embedded mode: emails are files in ``var/mail``, nothing is sent."""


Derived = Callable[[Mapping[str, Any]], Any]


def setting(
    default: Any = MISSING,
    *,
    doc: str,
    derive: Derived | None = None,
    parse: Callable[[str], Any] | None = None,
    env: bool = True,
) -> Any:
    """One setting, declared once: its default, read from ``PORTAL_<NAME>`` unless ``env`` is false.

    ``derive`` computes the default from the settings declared above it (None: ``default``);
    ``parse`` reads the variable's text (by default, from the field's type).
    """
    metadata = {"doc": doc, "derive": derive, "parse": parse, "env": env}
    return field(default=default, metadata=metadata)


def _sandbox_url(path: str) -> Derived:
    """The local sandbox's address under the portal's own, when ``PORTAL_SANDBOX=1``."""
    return lambda values: f"{values['base_url']}/sandbox/{path}" if values["sandbox"] else None


def _sandbox_client(value: str) -> Derived:
    return lambda values: value if values["sandbox"] else None


def _bool(value: str) -> bool:
    return value.lower() in {"1", "true", "yes", "on"}


def _url(value: str) -> str:
    return value.rstrip("/")


PARSERS: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float, "bool": _bool}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the portal reads from its environment: one field per setting, its variable ``PORTAL_<NAME>``.

    Email (``portal.mail``): ``smtp_url`` (``PORTAL_SMTP_URL``) is where messages go:
    ``smtp://[user:password@]host[:port]`` (plain, ``?starttls=1`` to upgrade),
    ``smtps://…`` (implicit TLS), ``file:///a/directory`` (a local outbox of ``.eml``
    files), or ``outbox`` (the default: the local outbox ``var/mail``). ``mail_from``
    (``PORTAL_MAIL_FROM``) is the sender. ``dev_mail_page`` (``PORTAL_DEV_MAIL_PAGE``)
    serves ``/dev/courriels``, where administrators read the local outbox (links carrying a
    token masked); it is off unless set, and ``portal run --demo`` (``make run``) sets it.
    Set to 1 with a real server (a development mail sandbox), messages are sent *and*
    copied to ``var/mail`` for the page.
    """

    var_dir: Path = setting(ROOT / "var", doc="local data", parse=lambda value: Path(value).resolve())
    database_url: str = setting(
        doc="the database", derive=lambda values: f"sqlite+aiosqlite:///{values['var_dir'] / 'portal.sqlite3'}"
    )
    broker_url: str = setting("stub", doc="the job broker (``stub``: embedded)")
    broker_namespace: str = setting("dramatiq", doc="Redis key prefix: one per test worker")
    secret_key: str = setting(doc="signs CSRF tokens", derive=lambda values: _generated_secret_key(values["var_dir"]))
    port: int = setting(8000, doc="port of ``portal run``")
    base_url: str = setting(doc="public URL", derive=lambda values: f"http://127.0.0.1:{values['port']}", parse=_url)
    debug: bool = setting(default=False, doc="Litestar debug mode")
    # The reverse proxies in front of the portal: only a request coming from one of them may say, in
    # X-Forwarded-For, whom it comes from (throttling, the audit log). None by default: no one.
    trusted_proxies: tuple[str, ...] = setting(
        (), doc="addresses or networks whose X-Forwarded-For is believed", parse=_networks
    )
    login_max_failures: int = setting(5, doc="sign-in throttling: this many failures within the window lock the pair")
    login_window_seconds: int = setting(900, doc="sign-in throttling window")
    session_max_age_seconds: int = setting(8 * 3600, doc="session lifetime without activity (idle timeout)")
    session_absolute_seconds: int = setting(12 * 3600, doc="session lifetime since sign-in, whatever its activity")
    password_reset_seconds: int = setting(3600, doc="a password reset link serves this long")
    job_min_backoff_ms: int = setting(2_000, doc="first retry delay of a failing job")
    job_max_backoff_ms: int = setting(300_000, doc="longest retry delay")
    job_max_retries: int = setting(5, doc="retries before a job is marked failed")
    outbox_redeliver_after_seconds: int = setting(300, doc="a message unacknowledged this long is sent again")
    # A running run's worker writes its heartbeat this often; a run whose heartbeat is older than
    # ``job_dead_after_seconds`` is taken as dead (its worker was killed) and is sent again.
    job_heartbeat_seconds: float = setting(10.0, doc="how often a running run's worker beats")
    job_dead_after_seconds: float = setting(45.0, doc="a running run without heartbeat this long is dead")
    scheduler_tick_seconds: float = setting(15.0, doc="how often the scheduler and the outbox relay wake up")
    embedded_worker_threads: int = setting(2, doc="worker threads in embedded mode")
    smtp_url: str = setting(OUTBOX, doc="where emails go")
    mail_from: str = setting("Portail Cabinet <portail@localhost>", doc="sender of the portal's emails")
    dev_mail_page: bool = setting(default=False, doc="serve /dev/courriels (``portal run --demo`` turns it on)")
    receipt_max_bytes: int = setting(10 * 1024 * 1024, doc="largest expense-note receipt accepted, in bytes")
    form_max_bytes: int = setting(2 * 1024 * 1024, doc="largest form without a file (urlencoded), in bytes")
    # Source connections (portal.integrations). ``sandbox`` serves the local stand-in of the outside
    # services under /sandbox (make run, tests; never in production); the client's URLs point at it
    # unless set explicitly.
    sandbox: bool = setting(default=False, doc="serve the local sandboxes and point the clients at them")
    pennylane_oauth_url: str = setting(
        PENNYLANE_OAUTH_URL, doc="Pennylane's OAuth", derive=_sandbox_url("pennylane/oauth"), parse=_url
    )
    pennylane_api_url: str = setting(
        PENNYLANE_API_URL, doc="Pennylane's API", derive=_sandbox_url("pennylane/api/external/v2"), parse=_url
    )
    pennylane_client_id: str = setting("", doc="the portal's OAuth client", derive=_sandbox_client(SANDBOX_CLIENT_ID))
    pennylane_client_secret: str = setting("", doc="its secret", derive=_sandbox_client(SANDBOX_CLIENT_SECRET))
    pennylane_poll_seconds: float = setting(2.0, doc="a FEC export is polled this often until ready")
    pennylane_export_timeout_seconds: float = setting(600.0, doc="for at most this long")
    # POS and e-commerce sources (portal.integrations.commerce): the unified API and its OAuth.
    commerce_api_url: str = setting(
        COMMERCE_API_URL, doc="the unified POS / e-commerce API", derive=_sandbox_url("commerce/api"), parse=_url
    )
    commerce_oauth_url: str = setting(
        COMMERCE_OAUTH_URL, doc="its OAuth", derive=_sandbox_url("commerce/oauth"), parse=_url
    )
    commerce_client_id: str = setting("", doc="the portal's OAuth client", derive=_sandbox_client(SANDBOX_CLIENT_ID))
    commerce_client_secret: str = setting("", doc="its secret", derive=_sandbox_client(SANDBOX_CLIENT_SECRET))
    # Single sign-on (portal.sso): OpenID providers, each on when its issuer, client id and secret are set.
    # Microsoft Entra ID (the firm's tenant), Google, and one other provider named by ``oidc_label``;
    # the other one is the local OpenID sandbox's with ``PORTAL_SANDBOX=1``.
    oidc_microsoft_issuer: str = setting("", doc="Microsoft's issuer: https://login.microsoftonline.com/<tenant>/v2.0",
                                         parse=_url)  # fmt: skip
    oidc_microsoft_client_id: str = setting("", doc="the portal's application at Microsoft")
    oidc_microsoft_client_secret: str = setting("", doc="its secret")
    oidc_google_issuer: str = setting(GOOGLE_ISSUER, doc="Google's issuer", parse=_url)
    oidc_google_client_id: str = setting("", doc="the portal's OAuth client at Google")
    oidc_google_client_secret: str = setting("", doc="its secret")
    oidc_issuer: str = setting("", doc="another OpenID provider's issuer", derive=_sandbox_url("oidc"), parse=_url)
    oidc_client_id: str = setting("", doc="the portal's client there", derive=_sandbox_client(SANDBOX_CLIENT_ID))
    oidc_client_secret: str = setting("", doc="its secret", derive=_sandbox_client(SANDBOX_CLIENT_SECRET))
    oidc_label: str = setting("", doc="its name on the sign-in button (« Se connecter avec … »)")
    # Secrets at rest (tokens of source connections): Fernet keys, the first encrypts, all decrypt.
    encryption_keys: tuple[str, ...] = setting(
        (), doc="Fernet keys, newest first", derive=lambda values: _generated_encryption_key(values["var_dir"]),
        parse=_keys,
    )  # fmt: skip
    fec_max_bytes: int = setting(500 * 1024 * 1024, doc="largest FEC file accepted, in bytes")
    templates_dir: Path = setting(ROOT / "templates", doc="the Jinja templates", env=False)
    static_dir: Path = setting(ROOT / "static", doc="CSS, scripts, images", env=False)

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
    """Build settings from the environment (no cache: tests and commands call this).

    Each field in declaration order: its variable when set (not blank), else its derived
    default, else its declared default.
    """
    values: dict[str, Any] = {}
    for item in fields(Settings):
        value = None
        raw = os.environ.get(f"PORTAL_{item.name.upper()}", "").strip() if item.metadata["env"] else ""
        if raw:
            parse = item.metadata["parse"] or PARSERS[str(item.type)]
            value = parse(raw)
        if value is None and item.metadata["derive"] is not None:
            value = item.metadata["derive"](values)
        values[item.name] = item.default if value is None else value
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings."""
    return load_settings()
