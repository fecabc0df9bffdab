"""Tensor rematerialization: schedules of fwd/bwd/store/load/free ops for one worker's backprop.

Only the schedule data model is imported here, so that strategies can build
schedules without pulling in the executors. The rest is imported by path:
``distsim.remat.chain`` (the layer chain a scenario describes),
``distsim.remat.numpy_exec`` (real gradients), ``distsim.remat.simpy_exec``
(time and memory), ``distsim.remat.run`` (the runner hooks), and
``distsim.remat.tradeoff`` (sweeps for the memory/time trade-off).
"""

from distsim.remat.schedule import BWD, DISK, FWD, LOAD, MEM, STORE, Builder, Op, Residency, Schedule, ScheduleError, peak_bytes

__all__ = ["BWD", "DISK", "FWD", "LOAD", "MEM", "STORE", "Builder", "Op", "Residency", "Schedule", "ScheduleError",
           "peak_bytes"]
