"""`python -m setup_cli.worker`: the worker (see cli.py)."""

import sys

from setup_cli.worker.cli import main

sys.exit(main())
