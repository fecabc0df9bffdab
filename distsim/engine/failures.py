"""Cables that fail during a run: the fabric routes round them, or the run stops and says where.

At the failure's time the cable's two links leave the topology and every channel between
two ranks is given its new route (``Topology.route`` finds one round the failure, as a
subnet manager would). Messages sent from then on take it; messages already on their way
finish on the route they were sent on (in-flight traffic is not lost or retried: not
modelled). A pair left with no route gets a *cut* channel: the first message either rank
tries to send on it stops the run (``LinkFailureError``, exit 3) naming the cable, the time
and the ranks. Changed routes go into ``trace.reroutes`` so the analyzer and the link
timelines know which route each message took.
"""

from __future__ import annotations

from dataclasses import dataclass

from distsim.engine.events import Decided
from distsim.engine.messaging import Channel, schedule_at
from distsim.errors import LinkFailureError


@dataclass(frozen=True)
class Cut:
    """The path of a channel that a failure cut: sending on it is the error."""

    cable: str
    at: float

    def error(self, world, src: int, dst: int) -> LinkFailureError:
        error = LinkFailureError(
            f"cable {self.cable} failed at t={self.at:.9g} s and {world.ranks[src]} can no longer reach "
            f"{world.ranks[dst]}: the topology has no other route between them (at t={world.env.now:.9g} s "
            f"{world.ranks[src]} sends to {world.ranks[dst]})"
        )
        error.cable = self.cable
        return error


def schedule_failure(world, at: float, u: str, v: str) -> None:
    event = Decided(world.env, (u, v))
    event.callbacks.append(lambda event: fail(world, *event._value))
    schedule_at(world.env, at, event)


def fail(world, u: str, v: str) -> None:
    """The cable u-v fails now: new routes for every channel, cut channels where there is none."""
    if not world.running():  # every rank has finished: the failure comes after the run
        return
    now = world.env.now
    world.topology.fail(u, v)
    cut = Cut(f"{u}-{v}", now)
    world.cuts.append(cut)
    changed: set[tuple[int, int]] = set()
    for context in world.contexts:
        for dst, channel in list(context.outgoing.items()):
            if channel.is_local:
                continue
            a, b = world.placement[context.rank], world.placement[dst]
            route = world.topology.route(a, b)
            if route is None:
                replacement = channel.with_path(cut, on_network=False)
            else:
                replacement = channel.with_path(world.network.path(route), on_network=True)
                if (a, b) not in changed and route.links != _current(world.trace, a, b):
                    world.trace.reroutes.append((now, a, b, route.links))
                    changed.add((a, b))
            context.outgoing[dst] = replacement
            world.contexts[dst].incoming[context.rank] = replacement


def _current(trace, a: int, b: int) -> tuple[int, ...]:
    """The route pair (a, b) takes now: its latest reroute, else its first route."""
    for _, x, y, links in reversed(trace.reroutes):
        if (x, y) == (a, b):
            return links
    return trace.routes.get((a, b), ())


__all__ = ["Channel", "Cut", "fail", "schedule_failure"]
