"""``python -m glassnet.cli``: the ``glassnet`` command without its console script."""

from glassnet.cli import main

main()
