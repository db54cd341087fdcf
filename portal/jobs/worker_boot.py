"""Module the ``dramatiq`` command loads in each worker process: configures the broker and every actor."""

from __future__ import annotations

from portal.jobs.runtime import configure
from portal.settings import get_settings

runtime = configure(get_settings())
broker = runtime.broker
