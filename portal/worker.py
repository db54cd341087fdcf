"""Module the ``dramatiq`` command loads in each worker process: every domain on, the broker and every actor."""

from __future__ import annotations

from portal import domains
from portal.jobs.runtime import configure
from portal.settings import get_settings

domains.install()
runtime = configure(get_settings())
broker = runtime.broker
