"""Sessions for responses that outlive the request's own session (streamed exports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession


def reader_sessions(request: Request[Any, Any, Any]) -> Callable[[], AsyncSession]:
    """The app's session maker: a streamed body is sent after the request's session is closed."""
    maker: Callable[[], AsyncSession] = request.app.state[request.app.state.session_maker_key]
    return maker
