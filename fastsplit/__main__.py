"""``python -m fastsplit``: the same as the ``fastsplit`` command."""

from fastsplit.cli import main

main()
