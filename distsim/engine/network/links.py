"""Message-level network models: every link a FIFO server, a message crossing its route hop by hop.

Rules (docs/model.md, "cut_through" and "store_and_forward"):

* A message of b bytes occupies each link of its route for b / (that link's
  bandwidth): a fast link is busy for a short time even when the route's slowest
  link makes the message slow, and is free for other messages the rest of the time.
* Each link serves messages in the order they become **ready** at it (FIFO); a link
  is never held for a message that is not there yet.
* **cut_through** (the default): the head of a message goes on to the next hop as
  soon as it has crossed a link (ready at the next link at ``start + latency``); its
  tail can never overtake itself, so the last byte leaves hop k+1 no earlier than
  it arrived over hop k. On a free route this is Hockney's alpha-beta:
  ``alpha + b / (slowest beta)``.
* **store_and_forward**: a node forwards a message only once all of it has arrived
  (ready at the next link at ``end + latency``): ``sum over hops of (b / beta + alpha)``.
* Latency is propagation: it occupies no link.

Deciding in readiness order without one event per hop. A message is sent at
``now`` and its first hop is decided at once (the first link's messages are ready in
send order). A later hop k can be decided immediately only if no message that is
not yet decided could become ready at that link earlier. Every such message still
has to cross a link into the link's source node first, so none can be ready there
before ``now + lookahead``, where a link's lookahead is the smallest latency of the
links into its source node (0 when a rank lives at that node and can send on the link
directly) — the *lookahead* of conservative parallel simulation (Chandy & Misra
1979). So hop k is decided at ``ready - lookahead``: immediately when that moment has
come, otherwise on an event then. On a switch every downlink has the uplinks'
latency as lookahead, and a message that finds its port free is decided, both hops,
when it is sent: no event at all.
"""

from __future__ import annotations

from distsim.engine.network.base import Network
from distsim.hardware.topology import Route

CUT_THROUGH, STORE_AND_FORWARD = "cut_through", "store_and_forward"


class LinkNetwork(Network):
    """Links as FIFO servers of whole messages (cut-through or store-and-forward)."""

    def __init__(self, world, mode: str = CUT_THROUGH):
        super().__init__(world)
        self.name = mode
        self.store_and_forward = mode == STORE_AND_FORWARD
        links = self.topology.links
        self.free = [0.0] * len(links)  # per directed link: when its last decided message leaves it
        self.lookahead = _lookaheads(self.topology)
        self.transmit = self._transmitter()
        self._record_hop = world.trace.hops.append

    def path(self, route: Route) -> tuple:
        """``(links, bandwidths, latencies, lookaheads, fast hops, slowest bandwidth, total latency)``.

        ``fast hops`` is the number of hops (1 or 2; 3 for two hops of equal bandwidth) when
        the route can take the fast path: every hop after the first can be decided in the
        same instant as the first whenever the first starts at once (each hop's latency
        reaches the next link's lookahead) — true of every route on a switch; 0 otherwise.
        """
        ids = route.links
        links = self.topology.links
        bandwidths = tuple(links[i].bandwidth for i in ids)
        latencies = tuple(links[i].latency for i in ids)
        looks = tuple(self.lookahead[i] for i in ids)
        fast = not self.store_and_forward and all(latencies[k - 1] <= looks[k] for k in range(1, len(ids)))
        hops = len(ids) if fast and len(ids) <= 2 else 0  # the fast path takes routes of one or two hops
        if hops == 2 and bandwidths[0] == bandwidths[1]:
            hops = 3  # two hops at one rate (a switch): one division serves both
        return ids, bandwidths, latencies, looks, hops, route.bandwidth, route.latency

    def _transmitter(self):
        free = self.free
        walk = self._walk
        extend, pack = self._extend, self._pack
        calendar = self.calendar
        due = calendar.due

        def transmit(src, dst, nbytes, code, step, now, path, event):
            # The common case, a free port on a route of one or two hops that can be decided now
            # (every route on a switch), as straight-line code with ``deliver`` inlined: it runs
            # once per message, and each Python call saved is ~5% of a run.
            links, bandwidths, latencies, _, hops, slowest, latency = path
            first = links[0]
            if hops and free[first] <= now:
                if hops == 3:  # a switch: uplink and downlink at one rate
                    second = links[1]
                    head = now + latencies[0]
                    if free[second] <= head:
                        duration = nbytes / slowest
                        free[first] = end = now + duration
                        free[second] = head + duration
                        hops = 0
                elif hops == 2:
                    second = links[1]
                    head = now + latencies[0]
                    if free[second] <= head:
                        free[first] = now + nbytes / bandwidths[0]
                        free[second] = head + nbytes / bandwidths[1]
                        end = now + nbytes / slowest
                        hops = 0
                else:
                    free[first] = end = now + nbytes / slowest
                    hops = 0
                if not hops:  # decided: exactly alpha-beta from now
                    arrive = end + latency
                    extend(pack(src, dst, nbytes, code, step, now, now, arrive, -1))
                    bucket = due.get(arrive)
                    if bucket is None:
                        calendar.at(arrive, event)
                    else:
                        bucket.append(event)
                    return
            walk([src, dst, nbytes, code, step, now, path, event, 0, now, -1.0, now, -1, 0.0, False, []], now)

        return transmit

    def _resume(self, event) -> None:
        self._walk(event._value, self.env._now)

    def _walk(self, m: list, now: float) -> None:
        """Decide the hops of message ``m`` from its next one on, as far as can be decided at ``now``.

        ``m`` is ``[src, dst, nbytes, phase, step, t_send, path, event, hop, ready,
        tail_in, t_start, blocked_by, longest_wait, waited_after_first, hop starts]``.
        """
        src, dst, nbytes, code, step, t_send, path, event, hop, ready, tail_in, t_start, blocked, worst, late, starts = m
        links, bandwidths, latencies, looks, _, slowest, latency = path
        free = self.free
        while hop < len(links):
            due = ready - looks[hop]  # (the same expression decides and schedules: no rounding loop)
            if due > now:  # a message not yet decided might be ready there earlier
                m[8:15] = hop, ready, tail_in, t_start, blocked, worst, late
                self.later(due, self._resume, m)
                return
            link = links[hop]
            start = free[link]
            if start > ready:
                if start - ready > worst:
                    worst, blocked = start - ready, link
                late = late or hop > 0
            else:
                start = ready
            end = start + nbytes / bandwidths[hop]
            free[link] = end
            starts.append(start)
            if hop == 0:
                t_start = start
            tail = end if end > tail_in else tail_in  # the last byte cannot leave before it arrived
            ready = (end if self.store_and_forward else start) + latencies[hop]
            tail_in = tail + latencies[hop]
            hop += 1
        if late or self.store_and_forward:
            arrive = tail_in
        else:  # no hop after the first waited: exactly alpha-beta from the start
            arrive = (t_start + nbytes / slowest) + latency
        if blocked >= 0:  # it waited somewhere: keep when it crossed each link (for the link timelines)
            message = len(self.world.trace.messages)
            for k, start in enumerate(starts):
                self._record_hop(message, k, start)
        self.deliver(src, dst, nbytes, code, step, t_send, t_start, arrive, blocked, event)


def _lookaheads(topology) -> list[float]:
    """Per directed link: 0 if a rank can send on it directly, else the least latency into its source."""
    endpoints = set(topology.endpoints)
    into: dict[str, float] = {}
    for link in topology.links:
        into[link.dst] = min(into.get(link.dst, float("inf")), link.latency)
    return [0.0 if link.src in endpoints else into.get(link.src, 0.0) for link in topology.links]
