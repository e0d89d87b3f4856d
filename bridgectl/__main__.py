"""`python -m bridgectl`: see bridgectl/cli.py for the commands."""

import sys

from bridgectl.exit_codes import EXIT_INTERRUPTED

try:
    from bridgectl.cli import main
except KeyboardInterrupt:  # Ctrl-C while the Azure SDKs are still loading: nothing was done yet
    sys.exit(EXIT_INTERRUPTED)

sys.exit(main())
