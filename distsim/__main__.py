"""``python -m distsim`` is the ``distsim`` command."""

from distsim.cli.main import main

if __name__ == "__main__":  # not when a spawned worker process (Dask, multiprocessing) re-imports it
    main()
