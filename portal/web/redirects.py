"""Where the portal may send a browser back to."""

from __future__ import annotations


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: never an absolute or protocol-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
