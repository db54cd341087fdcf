"""Local stand-ins of the outside services the portal connects to, served under ``/sandbox``.

On in ``make run`` and tests (``settings.sandbox``), off in production.
"""

from portal.sandbox.app import create_sandbox_app, sandbox_router

__all__ = ["create_sandbox_app", "sandbox_router"]
