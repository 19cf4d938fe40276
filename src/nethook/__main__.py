"""``python -m nethook`` runs the command line."""

import sys

from nethook.cli import main

sys.exit(main())
