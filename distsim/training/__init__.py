"""The training-step kind: one data-parallel training step on a cluster (issue 9, docs/training.md).

``buckets.py`` cuts the gradients into buckets (PyTorch DDP's scheme), ``memory.py``
says what each rank holds under each ZeRO stage, ``run.py`` builds the world and runs
the step (the run-kind table's hooks), ``verify.py`` proves on a small numpy network
that every rank ends with the big-batch result. The rank program itself is the
``data_parallel`` strategy (``strategies/data_parallel.py``); the closed forms it is
checked against are ``analysis/training.py``, which imports none of this.
"""
