"""distsim: a discrete-event simulator of distributed deep-learning training.

How many messages, how many bytes, how long, and how much memory does one
training step cost under a given strategy and hardware? See README.md and docs/.
"""

from distsim.api import Outcome, available_strategies, load, loads, run
from distsim.errors import DistsimError, InputError, ScenarioError, SimulationError

__version__ = "0.1.0"
# No name here may be a subpackage's (``strategies`` was once a function here, and then
# ``import distsim.strategies.registry`` failed): the package attribute would hide it.
__all__ = ["DistsimError", "InputError", "Outcome", "ScenarioError", "SimulationError", "available_strategies", "load",
           "loads", "run"]
