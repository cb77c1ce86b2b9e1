"""``python -m reconciler`` runs the CLI."""

from reconciler.cli import run

run()
