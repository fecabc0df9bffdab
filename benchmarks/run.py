"""Run distsim's benchmark suites and print them (same as `distsim bench`).

    python benchmarks/run.py                 # ring all-reduce, n = 64, 256, 1024, 3 repetitions
    python benchmarks/run.py --sizes 64,256 --repeat 5 --json

Each measurement runs in its own process; distsim and its baseline alternate; the
figures that matter are the ratios, measured in the same run (see README.md here).
"""

from distsim.cli.main import main

if __name__ == "__main__":
    import sys

    main(["bench", *sys.argv[1:]])
