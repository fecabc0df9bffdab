"""Hardware: topologies, routes and the pure cost functions of the model."""

from distsim.hardware.cost import compute_time, tier_time, transfer_time
from distsim.hardware.topology import Route, Topology, build_topology

__all__ = ["Route", "Topology", "build_topology", "compute_time", "tier_time", "transfer_time"]
