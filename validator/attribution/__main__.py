"""``python -m validator.attribution``: the attribution CLI (``validator/attribution/cli.py``)."""

import sys

from validator.attribution.cli import main

sys.exit(main())
