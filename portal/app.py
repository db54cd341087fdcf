"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import dramatiq
from advanced_alchemy.config import AsyncSessionConfig
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Middleware
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.flow import enrolment_first
from portal.accounts.sessions import (
    SIGN_IN_PATH,
    build_session_auth,
    build_session_store,
    csrf_binding,
    is_signed_in,
    session_cookie_name,
)
from portal.audit.context import Actor, set_actor
from portal.auth.guards import PUBLIC
from portal.db import migrate
from portal.db.engine import make_web_engine, read_only_requests, releases_request_session
from portal.domains import DOMAINS
from portal.jobs import runtime
from portal.jobs.scheduler import BackgroundLoop
from portal.mail.controllers import DevMailController
from portal.notifications import pages as notification_pages
from portal.settings import Settings, get_settings, private_folder
from portal.web import context, errors, navigation
from portal.web.controllers import WebController
from portal.web.csrf import session_bound_csrf
from portal.web.deps import provide_settings
from portal.web.forms import FormDecoding, form_size_limit
from portal.web.headers import security_headers
from portal.web.redaction import install_log_redaction
from portal.web.templating import configure as configure_templates
from portal.web.timing import ServerTimingMiddleware

log = logging.getLogger(__name__)

__all__ = ["create_app"]


async def before_request(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """After authentication, before every handler: the request's context, and who acts in the audit log.

    Someone the firm's rule obliges to enrol a second factor now is sent to enrolment instead; a page's menu
    counts are read here, before its template is drawn.
    """
    await context.before_request(request)
    principal = context.current_principal()
    set_actor(
        Actor(
            user_id=principal.user_id if principal else None,
            label=principal.email if principal else "anonyme",
            request_id=context.current_request_id(),
            ip_address=context.client_address(request),
        )
    )
    elsewhere = enrolment_first(request)
    navigation.clear_menu_counts()
    if (
        elsewhere is None
        and principal is not None
        and navigation.wants_menu_counts(request.method, request.url.path, request.headers)
    ):
        # The menu's counts, on the request's own session (a second connection per page could starve the pool).
        alchemy: SQLAlchemyAsyncConfig = request.app.state.alchemy
        await navigation.load_menu_counts(alchemy.provide_session(request.app.state, request.scope), principal)
    return elsewhere


def configure_page_templates(engine: JinjaTemplateEngine) -> None:
    """The shared template set-up, and the bell's count (``templates/notifications/_bell.html``)."""
    configure_templates(engine)
    engine.engine.globals["unread_notifications"] = notification_pages.unread_notifications


def with_the_bell(alchemy: SQLAlchemyAsyncConfig) -> Callable[[Request[Any, Any, Any]], Any]:
    """``before_request``, then the unread count of the top bar's bell for the page about to be drawn."""

    async def before(request: Request[Any, Any, Any]) -> Response[Any] | None:
        response = await before_request(request)
        principal = context.current_principal()
        if response is None and principal is not None and notification_pages.draws_a_page(request):
            await notification_pages.load(principal, alchemy.provide_session(request.app.state, request.scope))
        return response

    return before


def outermost_first(*outermost: Middleware) -> Callable[[AppConfig], AppConfig]:
    """``on_app_init`` hook, after the session authentication's: it puts its middleware first, but
    the request's database session must be closed outside it whatever happens, the timing must
    include it, and the read-only flag must be set before it opens the request's database session
    (else a GET would begin with SQLite's write lock)."""

    def reorder(app_config: AppConfig) -> AppConfig:
        rest = [middleware for middleware in app_config.middleware if middleware not in outermost]
        app_config.middleware = [*outermost, *rest]
        return app_config

    return reorder


def create_app(
    settings: Settings | None = None,
    *,
    session_maker: Callable[[], AsyncSession] | None = None,
    background: bool = True,
    embedded_worker: bool | None = None,
    migrate_on_start: bool | None = None,
) -> Litestar:
    """Build the portal.

    ``background`` starts the outbox relay (and, with the embedded broker, the scheduler);
    ``embedded_worker`` runs dramatiq workers in this process (default: with the embedded
    broker only). Tests pass a ``session_maker`` bound to a transaction they roll back.
    """
    settings = settings or get_settings()
    private_folder(settings.var_dir)
    # Links that let their holder in (invitations, password resets…) never reach the access log with their token.
    install_log_redaction()
    engine = make_web_engine(settings.database_url)
    session_store, session_store_engine = build_session_store(settings)
    alchemy = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_maker=session_maker,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit_include_redirects",
        session_dependency_key="db_session",
        create_all=False,
    )
    if embedded_worker is None:
        embedded_worker = settings.broker_is_embedded
    if migrate_on_start is None:
        migrate_on_start = settings.is_sqlite
    template_config = TemplateConfig(
        directory=settings.templates_dir, engine=JinjaTemplateEngine, engine_callback=configure_page_templates
    )
    secure = settings.secure_cookies
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="__Host-csrftoken" if secure else "csrftoken",
        cookie_secure=secure,
        cookie_httponly=True,
        cookie_samesite="lax",
    )
    outermost = (releases_request_session(alchemy.session_scope_key), ServerTimingMiddleware, read_only_requests)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if migrate_on_start:
            await anyio.to_thread.run_sync(migrate.upgrade, settings.database_url)
        jobs = runtime.configure(settings)
        worker: dramatiq.Worker | None = None
        loop: BackgroundLoop | None = None
        if embedded_worker:
            worker = dramatiq.Worker(jobs.broker, worker_threads=settings.embedded_worker_threads)
            worker.start()
        if background:
            loop = BackgroundLoop(jobs, schedules=settings.broker_is_embedded)
            loop.start(redeliver_everything=settings.broker_is_embedded)
        app.state.jobs = jobs
        try:
            yield
        finally:
            if loop is not None:
                await loop.stop()
            if worker is not None:
                await anyio.to_thread.run_sync(worker.stop)
            await engine.dispose()
            if session_store_engine is not None:
                await session_store_engine.dispose()

    return Litestar(
        # The pages of no domain; each domain adds its own and switches its listeners, restrictions and jobs on.
        route_handlers=[
            WebController,
            # The local outbox, readable in the browser in development only (else: 404).
            *([DevMailController] if settings.mail_page_dir is not None else []),
            create_static_files_router(
                path="/static", directories=[settings.static_dir], opt=PUBLIC, include_in_schema=False
            ),
        ],
        plugins=[
            HTMXPlugin(),
            SQLAlchemyPlugin(config=alchemy),
            FlashPlugin(config=FlashConfig(template_config=template_config)),
            FormDecoding(),
            *DOMAINS,
        ],
        on_app_init=[build_session_auth(settings, alchemy).on_app_init, outermost_first(*outermost)],
        # Before CSRF reads the body for its token: a huge urlencoded form is refused unread. CSRF on every
        # state-changing request, its token bound to the session (inside the session middleware, which
        # SessionAuth puts first).
        middleware=[
            *outermost,
            form_size_limit(settings.form_max_bytes),
            session_bound_csrf(csrf, csrf_binding(settings)),
        ],
        # Any other body too; the routers that receive files (receipts, FEC) raise it for theirs.
        request_max_body_size=settings.form_max_bytes,
        stores={"sessions": session_store},
        template_config=template_config,
        dependencies={"settings": Provide(provide_settings, sync_to_thread=False)},
        before_request=with_the_bell(alchemy),
        after_request=context.after_request,
        # Every response, error pages and Litestar's own 404/405 included: see portal.web.headers.
        before_send=[
            security_headers(
                https=secure,
                session_cookie=session_cookie_name(settings),
                private_paths=[SIGN_IN_PATH],
                is_signed_in=is_signed_in,
            )
        ],
        exception_handlers=errors.EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=None,
        debug=settings.debug,
        state=State(
            {"settings": settings, "session_maker_key": alchemy.session_maker_app_state_key, "alchemy": alchemy}
        ),
    )
