"""The flow-level network model: concurrent messages share links max-min fairly.

Rules (docs/model.md, "flow"), those of SimGrid's CM02 model with unit latency and
bandwidth factors, no cross-traffic and no TCP window bound:

* A message sent at t first spends its route's latency in flight, using no
  bandwidth; from ``t + latency`` it is a *flow* of b bytes over every link of its
  route at once, and arrives when its last byte has gone through.
* Active flows share each link's bandwidth max-min fairly: rates are those of
  progressive filling (Bertsekas & Gallager, Data Networks, 6.5.2): raise every rate
  together; when a link is full, the flows through it keep their rate; go on with
  the others. A flow alone on its route runs at its slowest link's bandwidth, so a
  contention-free message takes alpha + b / beta as in the other models.
* Rates are recomputed whenever a flow starts or ends, once per instant, and only
  for the flows that share a link, directly or through others, with one that
  changed; every affected flow's finish is rescheduled.

There is no FIFO: n messages leaving one port at once share it and finish together,
where a message-level model sends them one after the other.
"""

from __future__ import annotations

from heapq import heappop, heappush

from simpy.events import Event

from distsim.engine.events import Decided
from distsim.engine.network.base import Network
from distsim.hardware.topology import Route

SETTLE = 2  # heap priority after SimPy's NORMAL (1): runs once everything due at the instant has run
PRECISION = 1e-12  # relative: flows finishing this close to an instant finish at it


class Flow:
    __slots__ = ("id", "src", "dst", "nbytes", "code", "step", "t_send", "event", "links", "bound",
                 "remaining", "rate", "since", "version", "bottleneck", "lost")

    def __init__(self, fid, src, dst, nbytes, code, step, t_send, event, links, bound):
        self.id, self.src, self.dst, self.nbytes, self.code, self.step = fid, src, dst, nbytes, code, step
        self.t_send, self.event, self.links, self.bound = t_send, event, links, bound
        self.remaining = float(nbytes)
        self.rate = 0.0
        self.since = 0.0  # when ``remaining`` was last brought up to date
        self.version = 0  # finish events of older versions are stale
        self.bottleneck = -1  # the link that fixed the current rate when it is below ``bound``
        self.lost: dict[int, float] | None = None  # seconds lost to sharing, by bottleneck link


class FlowNetwork(Network):
    name = "flow"

    def __init__(self, world):
        super().__init__(world)
        links = self.topology.links
        self.capacity = [link.bandwidth for link in links]
        self.flows_on: list[dict[int, Flow]] = [{} for _ in links]  # insertion-ordered: deterministic
        self.dirty: dict[int, None] = {}  # links whose set of flows changed this instant
        self.settle_due = False
        self.finishes: list[tuple[float, int, int, Flow]] = []  # (finish, flow id, version, flow)
        self.timer_at = float("inf")
        self.next_id = 0

    def path(self, route: Route) -> tuple:
        return route.links, route.bandwidth, route.latency

    def transmit(self, src, dst, nbytes, code, step, now, path, event: Event) -> None:
        links, slowest, latency = path
        flow = Flow(self.next_id, src, dst, nbytes, code, step, now, event, links, slowest)
        self.next_id += 1
        if latency > 0:
            self.later(now + latency, self._start, flow)
        else:
            self._start_flow(flow, now)

    # -- flows starting and ending --------------------------------------------
    def _start(self, event) -> None:
        self._start_flow(event._value, self.env._now)

    def _start_flow(self, flow: Flow, now: float) -> None:
        flow.since = now
        if flow.nbytes == 0:
            self._finish(flow, now)
            return
        for link in flow.links:
            self.flows_on[link][flow.id] = flow
            self.dirty[link] = None
        self._settle_later()

    def _finish(self, flow: Flow, now: float) -> None:
        self._account(flow, now)
        flow.version = -1  # done: its pending finish entries are stale
        for link in flow.links:
            if self.flows_on[link].pop(flow.id, None) is not None:
                self.dirty[link] = None
        blocked = max(flow.lost, key=lambda link: (flow.lost[link], -link)) if flow.lost else -1
        self.deliver(flow.src, flow.dst, flow.nbytes, flow.code, flow.step, flow.t_send, flow.t_send, now, blocked, flow.event)

    def _on_timer(self, event) -> None:
        now = self.env._now
        self.timer_at = float("inf")
        horizon = now + PRECISION * max(now, 1e-9)
        heap = self.finishes
        while heap and heap[0][0] <= horizon:
            _, _, version, flow = heappop(heap)
            if version == flow.version:
                self._finish(flow, now)
        if self.dirty:
            self._settle_later()
        self._arm()

    # -- rates ----------------------------------------------------------------
    def _settle_later(self) -> None:
        """Recompute rates once, after everything else due at this instant (flows starting, ending)."""
        if not self.settle_due:
            self.settle_due = True
            event = Decided(self.env, None)
            event.callbacks.append(self._settle)
            heappush(self.env._queue, (self.env._now, SETTLE, next(self.env._eid), event))

    def _settle(self, _event) -> None:
        self.settle_due = False
        now = self.env._now
        flows = self._affected()
        self.dirty = {}
        if not flows:
            return
        for flow in flows:
            self._account(flow, now)
        for flow, (rate, bottleneck) in zip(flows, max_min_rates(flows, self.capacity)):
            flow.bottleneck = bottleneck if rate < flow.bound else -1
            if rate != flow.rate:
                flow.rate = rate
                flow.version += 1
                heappush(self.finishes, (now + flow.remaining / rate, flow.id, flow.version, flow))
        self._arm()

    def _affected(self) -> list[Flow]:
        """Active flows connected to a dirty link through shared links, in id order."""
        seen_links, found = set(self.dirty), {}
        stack = list(self.dirty)
        while stack:
            for flow in self.flows_on[stack.pop()].values():
                if flow.id not in found:
                    found[flow.id] = flow
                    for link in flow.links:
                        if link not in seen_links:
                            seen_links.add(link)
                            stack.append(link)
        return [found[i] for i in sorted(found)]

    def _account(self, flow: Flow, now: float) -> None:
        """Bring ``remaining`` up to ``now`` at the current rate; charge time lost to sharing."""
        elapsed = now - flow.since
        if elapsed > 0 and flow.rate > 0:
            flow.remaining -= flow.rate * elapsed
            if flow.bottleneck >= 0:
                lost = flow.lost if flow.lost is not None else {}
                lost[flow.bottleneck] = lost.get(flow.bottleneck, 0.0) + elapsed * (1 - flow.rate / flow.bound)
                flow.lost = lost
        flow.since = now

    def _arm(self) -> None:
        """Make sure a timer fires at the earliest finish still valid."""
        heap = self.finishes
        while heap and heap[0][2] != heap[0][3].version:
            heappop(heap)
        if heap and heap[0][0] < self.timer_at:
            self.timer_at = heap[0][0]
            event = Decided(self.env, None)
            event.callbacks.append(self._on_timer)
            heappush(self.env._queue, (self.timer_at, 1, next(self.env._eid), event))


def max_min_rates(flows: list[Flow], capacity: list[float]) -> list[tuple[float, int]]:
    """Progressive filling: (rate, the link that fixed it) for each flow, in order.

    Repeatedly take the link whose remaining capacity divided among its unfixed flows
    is smallest (ties: lowest link id); those flows get that share; subtract it from
    every link they cross. Each round fixes at least one link, so it ends.
    """
    left: dict[int, float] = {}
    members: dict[int, list[int]] = {}
    for index, flow in enumerate(flows):
        for link in flow.links:
            if link not in left:
                left[link], members[link] = capacity[link], []
            members[link].append(index)
    unfixed = {link: len(idx) for link, idx in members.items()}
    result: list[tuple[float, int] | None] = [None] * len(flows)
    heap = [(left[link] / count, link) for link, count in unfixed.items()]
    heap.sort()
    while heap:
        share, link = heappop(heap)
        count = unfixed[link]
        if count == 0 or share != left[link] / count:
            continue  # stale entry
        touched = set()
        for index in members[link]:
            if result[index] is None:
                result[index] = (share, link)
                for other in flows[index].links:
                    left[other] = max(left[other] - share, 0.0)
                    unfixed[other] -= 1
                    touched.add(other)
        for other in sorted(touched):
            if unfixed[other] > 0:
                heappush(heap, (left[other] / unfixed[other], other))
    return result  # type: ignore[return-value]
