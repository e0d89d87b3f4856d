"""`python -m bridgectl`: see bridgectl/cli.py for the commands."""

import sys

from bridgectl.cli import main

sys.exit(main())
