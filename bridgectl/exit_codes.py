"""Exit statuses of every `python -m bridgectl` command, so scripts can tell them apart."""

EXIT_OK = 0  # done
EXIT_FAILED = 1  # something failed; the message says what to do
EXIT_USAGE = 2  # wrong arguments, settings or inputs
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT, as shells report it); what was done is printed
