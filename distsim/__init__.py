"""distsim: a discrete-event simulator of distributed deep-learning training.

How many messages, how many bytes, how long, and how much memory does one
training step cost under a given strategy and hardware? See README.md and docs/.
"""

from distsim.api import Outcome, load, loads, run, strategies
from distsim.errors import DistsimError, InputError, ScenarioError, SimulationError

__version__ = "0.1.0"
__all__ = ["DistsimError", "InputError", "Outcome", "ScenarioError", "SimulationError", "load", "loads", "run", "strategies"]
