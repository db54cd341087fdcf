"""Driving the portal over HTTP as a person would: read the form, post it back."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from litestar import Litestar

CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: httpx.AsyncClient, path: str = "/connexion") -> str:
    page = await client.get(path)
    match = CSRF_FIELD.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> Any:
    token = await csrf_token(client)
    return await client.post(
        "/connexion",
        data={"email": email, "password": password, "_csrf_token": token},
        follow_redirects=False,
    )


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """Start and stop ``app`` through the ASGI lifespan protocol, as uvicorn does.

    The lifespan runs in a task of its own, so its start and its end happen in the same
    task even when a test fixture's set-up and tear-down do not.
    """
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(started.get("message", "start-up failed"))
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


@asynccontextmanager
async def serve_in_process(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan, called in this event loop (as uvicorn would), through httpx."""
    async with running(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            yield client


@asynccontextmanager
async def loopback_listener() -> AsyncIterator[tuple[socket.socket, str]]:
    """A socket listening on a loopback port the system picks, and its base URL.

    Bound before the server starts (and before an app that must know its own URL is built):
    no window in which another test process could take the port.
    """
    with socket.socket() as listener:
        # Small answers on a kept-alive connection would otherwise wait for Nagle's timer (tens of ms each).
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        yield listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


@asynccontextmanager
async def serving(app: Any, listener: socket.socket, **options: Any) -> AsyncIterator[None]:
    """``app`` served by uvicorn on ``listener`` in this event loop, lifespan included, until the block ends.

    ``options`` go to ``uvicorn.Config`` (``log_level="info"`` for its access log).
    """
    server = uvicorn.Server(uvicorn.Config(app, **{"log_level": "warning", "lifespan": "on", **options}))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task
