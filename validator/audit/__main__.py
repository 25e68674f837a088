"""``python -m validator.audit``: the audit CLI (``validator/audit/cli.py``)."""

import sys

from validator.audit.cli import main

sys.exit(main())
