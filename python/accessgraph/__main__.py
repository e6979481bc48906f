"""``python -m accessgraph``: the command line (see :mod:`accessgraph.cli`)."""

from accessgraph.cli import main

raise SystemExit(main())
