"""`python -m setup_cli.local up --demo`: local mode (see cli.py)."""

from setup_cli.local.cli import app

app()
