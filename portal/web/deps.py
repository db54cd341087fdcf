"""Dependencies every controller may ask for."""

from __future__ import annotations

from typing import Any

from litestar import Request

from portal.settings import Settings


def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
