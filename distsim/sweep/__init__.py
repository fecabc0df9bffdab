"""Sweeps: a grid over scenario fields, run point by point on local cores or a Dask cluster.

``grid`` expands a scenario's ``sweep:`` block into points (each a complete,
re-validated single-strategy scenario with a stable key); ``executors`` runs
points in parallel; ``table`` turns outcomes into one tidy CSV row per point and
reads back a previous CSV so that finished points are not run again; ``runner``
ties them together. Results never depend on the executor or the number of jobs:
each point is a pure function of its scenario text, and rows are written in grid
order.
"""

from distsim.sweep.grid import Point, expand
from distsim.sweep.runner import SweepResult, run_sweep

__all__ = ["Point", "SweepResult", "expand", "run_sweep"]
