"""``python -m portal`` runs the ``portal`` command."""

from portal.cli import main

main()
