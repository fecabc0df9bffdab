"""``python -m distsim`` is the ``distsim`` command."""

from distsim.cli.main import main

main()
