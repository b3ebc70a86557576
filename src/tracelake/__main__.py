"""``python -m tracelake`` is the CLI."""

from tracelake.cli import main

main()
