"""The analyzer: closed forms (cited, independent of the strategies) and their reconciliation with traces.

Imports only ``distsim.trace``; never ``distsim.strategies`` or the engine.
"""

from distsim.analysis.closed_forms import Expectation, Formula, Inputs, expectation
from distsim.analysis.reconcile import Check, Reconciliation, reconcile, simulated_counts

__all__ = ["Check", "Expectation", "Formula", "Inputs", "Reconciliation", "expectation", "reconcile", "simulated_counts"]
