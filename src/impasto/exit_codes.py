"""The command line's exit codes: 2 for bad input (one line on stderr says what), 1 when the work
failed, 130 when it was cancelled (Ctrl-C)."""

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_CANCELLED = 130
