"""Closed forms of the collective library: for each (op, algorithm), the messages, their sizes, the bytes,
the traffic between every pair of ranks, and the alpha-beta time.

Derived from the papers each algorithm cites (see docs/collectives.md), never from
``distsim.collectives`` or ``distsim.strategies``: the reconciliation then checks
the library's traces against an independent derivation. Notation: n ranks at
positions 0..n-1 of the group, p elements of s bytes (the buffer as NCCL counts it:
an all-gather's whole result, an all-to-all's send buffer), c_j the chunk sizes
when p is cut into n (the first p mod n one larger), alpha and beta the latency and
bandwidth between two ranks (of the pair's route, when the platform is known).

Times are the critical path of each algorithm's steps over the routes between its
ranks: exact on a non-blocking switch; where two messages meet at a rank's port in
a way the algorithm's own schedule does not foresee (the two trees of a double
binary tree, a folded butterfly), the formula is a lower bound and the trace
explains the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from distsim.analysis.closed_forms import Expectation, Formula, Inputs, pair_time
from distsim.analysis.closed_forms import chunk_sizes as parts
from distsim.analysis.platform import FLOW
from distsim.analysis.collective_shapes import (
    Round,
    binary_tree_children,
    chain_done,
    into_ports,
    mirrored,
    rounds_done,
    tree_broadcast_done,
    tree_edges,
    tree_reduce_done,
)

PATARASUK = "Patarasuk & Yuan 2009 (ring)"
NCCL_TREES = "NCCL src/graph/trees.cc (binary tree)"
SANDERS = "Sanders, Speck & Traff 2009 (two trees); NCCL src/graph/trees.cc"
THAKUR = "Thakur, Rabenseifner & Gropp 2005"
RABENSEIFNER = "Rabenseifner 2004; Thakur, Rabenseifner & Gropp 2005"
BRUCK = "Bruck et al. 1997"
JIA = "Jia et al. 2018 (hierarchical all-reduce)"
LI = "Li et al. 2014 (parameter server); Jiang et al. 2020 (BytePS)"
NCCL_CHANNELS = "NCCL channels (src/graph/rings.cc)"


@dataclass(frozen=True)
class CollectiveCall:
    """One collective as a scenario asks for it: what the closed forms may know."""

    op: str
    algorithm: str
    group: tuple[int, ...]
    params: int  # p, elements
    bytes_per_param: int
    root: int | None = None  # a rank of the group (broadcast, reduce); None: the group's first
    channels: int = 2
    servers: int = 1
    nodes: tuple[tuple[int, ...], ...] | None = None  # ranks per node (hierarchical)


@dataclass
class Pattern:
    """What an algorithm sends, as the paper says: message count, sizes, traffic per pair (positions), time."""

    messages: int
    messages_text: str
    sizes: Counter  # bytes -> number of messages
    traffic: Counter  # (from position, to position) -> bytes
    total_text: str
    seconds: float
    seconds_text: str
    source: str

    def add(self, src: int, dst: int, nbytes: int, count: int = 1) -> None:
        self.sizes[nbytes] += count
        self.traffic[(src, dst)] += nbytes * count

    def add_rounds(self, rounds: list[Round]) -> None:
        for messages in rounds:
            for src, dst, nbytes in messages:
                self.add(src, dst, nbytes)


def message_count(call: CollectiveCall) -> tuple[int, str]:
    """How many messages one call of ``call.algorithm`` sends, and the formula: each form below starts from
    this count, and it is cheap enough to size a run before it is built (``training/estimate.py``)."""
    n, op, name = len(call.group), call.op, call.algorithm
    size, extra, _ = _fold(n)
    steps = size.bit_length() - 1
    if name == "ring":
        return (2 * n * (n - 1), "2n(n-1)") if op == "all_reduce" else (n * (n - 1), "n(n-1)")
    if name == "multi_ring":
        twice = op == "all_reduce"
        return (2 if twice else 1) * n * (n - 1) * call.channels, "2c n(n-1)" if twice else "c n(n-1)"
    if name == "tree":
        return ((2 * (n - 1), "2(n-1)") if op == "all_reduce" else (n - 1, "(n-1)"))
    if name == "double_binary_tree":
        return 4 * (n - 1), "4(n-1)"
    if name == "recursive_doubling":
        return (n * steps, "n log2 n") if op == "all_gather" else (2 * extra + size * steps, "2r + n' log2 n'")
    if name == "halving_doubling":
        return (n * steps, "n log2 n") if op == "reduce_scatter" else (2 * extra + 2 * size * steps, "2r + 2 n' log2 n'")
    if name == "bruck":
        return n * (n - 1).bit_length(), "n ceil(log2 n)"
    if name == "pairwise":
        return n * (n - 1), "n(n-1)"
    if name == "hierarchical":
        boxes = _boxes(call)
        nodes, g = len(boxes), len(boxes[0])
        return 2 * nodes * g * (g - 1) + 2 * g * nodes * (nodes - 1), "2N G(G-1) + 2G N(N-1)"
    if name == "parameter_server":
        return 2 * call.servers * (n - 1), "2k(n-1)"
    raise KeyError(name)


def _pattern(messages, messages_text, total_text, source) -> Pattern:
    return Pattern(messages, messages_text, Counter(), Counter(), total_text, 0.0, "", source)


@dataclass(frozen=True)
class PairWire:
    """Message costs between positions of the group, from the ranks' routes (``pair_time``)."""

    x: Inputs
    group: tuple[int, ...]

    def hold(self, src: int, dst: int, nbytes: float) -> float:
        """How long a message holds its sender's port: its bytes over the first link's own bandwidth
        (docs/model.md). Flows share a port instead of queueing at it: no hold, so the time stays a lower bound."""
        if self.x.network == FLOW:
            return 0.0
        route = self._route(src, dst)
        beta = self.x.platform.links[route[0]].bandwidth if route else self.x.bandwidth
        return nbytes / beta

    def reach(self, src: int, dst: int, nbytes: float) -> float:
        return pair_time(self.x, self.group[src], self.group[dst], nbytes)

    def port_out(self, src: int, dst: int) -> object:
        """The link a message leaves by (without a platform: the rank's one port, as on a switch)."""
        route = self._route(src, dst)
        return ("link", route[0]) if route else ("rank", src)

    def port_in(self, src: int, dst: int) -> object:
        route = self._route(src, dst)
        return ("link", route[-1]) if route else ("rank", dst, "in")

    def last_hop(self, src: int, dst: int, nbytes: float) -> tuple[float, float]:
        """Without a platform every message is one hop into the receiver's one port."""
        route = self._route(src, dst)
        if not route:
            return 0.0, self.hold(src, dst, nbytes)
        link = self.x.platform.links[route[-1]]
        hold = nbytes / link.bandwidth if self.x.network != FLOW else 0.0
        return self.reach(src, dst, nbytes) - hold - link.latency, hold

    def _route(self, src: int, dst: int) -> tuple:
        return self.x.platform.route(self.group[src], self.group[dst]) if self.x.platform is not None else ()


def _timed(pat: Pattern, rounds: list[Round], wire, ready: list[float] | None = None) -> Pattern:
    """Count the rounds' messages and time them (the critical path of the rounds)."""
    pat.add_rounds(rounds)
    pat.seconds = max(rounds_done(ready or [0.0] * len(wire.group), rounds, wire))
    return pat


# -- rings --------------------------------------------------------------------------------------

def ring_rounds(chunks: list[float], order: list[int], direction: int, keeps: int) -> list[Round]:
    """One pass round a ring of ``order`` (n-1 steps): at step t position i sends chunk i - d(t + 1 - keeps) to i + d.

    keeps = 0, reduce-scatter: position i never sends chunk i (it ends holding it).
    keeps = 1, all-gather: position i starts with chunk i and never sends chunk i + d.
    """
    n = len(order)
    return [[(order[i], order[(i + direction) % n], chunks[(i - direction * (t + 1 - keeps)) % n]) for i in range(n)]
            for t in range(n - 1)]


def ring_all_reduce(call: CollectiveCall, wire) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    chunks, order = [c * s for c in parts(p, n)], list(range(n))
    pat = _pattern(*message_count(call), "2(n-1) p s", PATARASUK)
    pat.seconds_text = "2(n-1)(alpha + ceil(p/n) s/beta)"
    return _timed(pat, ring_rounds(chunks, order, 1, 0) + ring_rounds(chunks, order, 1, 1), wire)


def ring_half(call: CollectiveCall, wire) -> Pattern:
    """Reduce-scatter (each rank keeps its own chunk) or all-gather (each starts with its own block)."""
    n, p, s = len(call.group), call.params, call.bytes_per_param
    chunks = [c * s for c in parts(p, n)]
    pat = _pattern(*message_count(call), "(n-1) p s", PATARASUK)
    pat.seconds_text = "(n-1)(alpha + p s/(n beta))"
    return _timed(pat, ring_rounds(chunks, list(range(n)), 1, 0 if call.op == "reduce_scatter" else 1), wire)


def ring_chain(call: CollectiveCall, wire) -> Pattern:
    """Broadcast or reduce pipelined down a chain of n-1 hops in n pieces: a proportionate flow shop."""
    n, p, s = len(call.group), call.params, call.bytes_per_param
    root = _root_position(call)
    first = root if call.op == "broadcast" else root + 1
    hops = [(first + h) % n for h in range(n)]
    pieces = [c * s for c in parts(p, n)]
    pat = _pattern(*message_count(call), "(n-1) p s", f"{PATARASUK}; NCCL src/device/broadcast.h")
    for a, b in zip(hops, hops[1:]):
        for piece in pieces:
            pat.add(a, b, piece)
    pat.seconds = chain_done(hops, pieces, wire)
    pat.seconds_text = "(n-1) alpha + (2n-2) p s/(n beta): n pieces through n-1 hops"
    return pat


def multi_ring(call: CollectiveCall, wire) -> Pattern:
    """c rings, ring k on sub-chunk k of every chunk, even rings rightwards, odd rings leftwards; in each
    step a rank sends its c messages one after another."""
    n, p, s, ch = len(call.group), call.params, call.bytes_per_param, call.channels
    sub = [[piece * s for piece in parts(c, ch)] for c in parts(p, n)]  # sub[j][k]
    passes = {"all_reduce": (0, 1), "reduce_scatter": (0,), "all_gather": (1,)}[call.op]
    pat = _pattern(*message_count(call), f"{len(passes)}(n-1) p s", NCCL_CHANNELS)
    rounds = []
    for keeps in passes:
        lanes = [ring_rounds([sub[j][k] for j in range(n)], list(range(n)), 1 if k % 2 == 0 else -1, keeps)
                 for k in range(ch)]
        rounds += [[m for lane in lanes for m in lane[t]] for t in range(n - 1)]
    pat.seconds_text = ("2" if len(passes) == 2 else "") + "(n-1)(alpha + p s/(n beta)): a step's c messages share a port"
    return _timed(pat, rounds, wire)


# -- trees --------------------------------------------------------------------------------------

def _root_position(call: CollectiveCall) -> int:
    return 0 if call.root is None else call.group.index(call.root)


def tree(call: CollectiveCall, wire) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    root = _root_position(call) if call.op != "all_reduce" else 0
    shape = mirrored(binary_tree_children(n), lambda v: (v + root) % n)
    ways = {"reduce": ("up",), "broadcast": ("down",), "all_reduce": ("up", "down")}[call.op]
    twice = "2" if len(ways) == 2 else ""
    pat = _pattern(*message_count(call), f"{twice}(n-1) p s", NCCL_TREES)
    for parent, child in tree_edges(shape):
        for way in ways:
            pat.add(*((child, parent) if way == "up" else (parent, child)), p * s)
    reduced = tree_reduce_done(shape, p * s, wire) if "up" in ways else 0.0
    pat.seconds = tree_broadcast_done(shape, p * s, wire, reduced) if "down" in ways else reduced
    one = "L alpha + (2L-1) p s/beta for n = 2^L"
    pat.seconds_text = f"2 x ({one})" if twice else one + "; other n: the tree's critical path, children served in turn"
    return pat


def double_binary_tree(call: CollectiveCall, wire) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    a = binary_tree_children(n)
    b = mirrored(a, (lambda v: n - 1 - v) if n % 2 == 0 else (lambda v: (v + 1) % n))
    pat = _pattern(*message_count(call), "2(n-1) p s", SANDERS)
    times = []
    for shape, half in zip((a, b), parts(p, 2)):
        for parent, child in tree_edges(shape):
            pat.add(child, parent, half * s)
            pat.add(parent, child, half * s)
        times.append(tree_broadcast_done(shape, half * s, wire, tree_reduce_done(shape, half * s, wire)))
    pat.seconds = max(times)
    pat.seconds_text = "2 x (L alpha + (2L-1) p s/(2 beta)) for n = 2^L: each tree on its own"
    return pat


# -- butterflies (recursive doubling, halving-doubling) -----------------------------------------

def _fold(n: int):
    """(power of two below n, r = n - that, active index -> position)."""
    size = 1 << (n.bit_length() - 1)
    extra = n - size
    return size, extra, (lambda a: 2 * a + 1 if a < extra else a + extra)


def _folded(call: CollectiveCall, wire, active_rounds: list[Round], pat: Pattern, text: str) -> Pattern:
    """A butterfly over the 2^L active ranks, with Thakur's fold before and unfold after for the other r ranks."""
    n, whole = len(call.group), call.params * call.bytes_per_param
    _, extra, at = _fold(n)
    fold = [[(2 * j, 2 * j + 1, whole) for j in range(extra)]]
    unfold = [[(2 * j + 1, 2 * j, whole) for j in range(extra)]]
    rounds = [[(at(a), at(b), nbytes) for a, b, nbytes in r] for r in active_rounds]
    pat.seconds_text = text + (" + 2(alpha + p s/beta) to fold and unfold" if extra else "")
    return _timed(pat, (fold if extra else []) + rounds + (unfold if extra else []), wire)


def recursive_doubling(call: CollectiveCall, wire) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    size, extra, _ = _fold(n)
    steps = size.bit_length() - 1
    if call.op == "all_gather":  # power-of-two groups: round k sends the 2^k blocks held so far
        block = p // n * s
        rounds = [[(a, a ^ (1 << k), block << k) for a in range(n)] for k in range(steps)]
        pat = _pattern(*message_count(call), "(n-1) p s", THAKUR)
        return _folded(call, wire, rounds, pat, "log2(n) alpha + (n-1) p s/(n beta)")
    rounds = [[(a, a ^ (1 << k), p * s) for a in range(size)] for k in range(steps)]
    pat = _pattern(*message_count(call), "(2r + n' log2 n') p s", THAKUR)
    return _folded(call, wire, rounds, pat, "log2(n') (alpha + p s/beta), n' = 2^floor(log2 n)")


def _halving_rounds(chunks: list[int], s: int, size: int) -> list[Round]:
    """Recursive halving over ``size`` active ranks: at distance d, a gives away the half of its range without chunk a."""
    rounds, distance = [], size // 2
    while distance:
        messages = []
        for a in range(size):
            lo = a & ~(2 * distance - 1)
            give = range(lo, lo + distance) if a & distance else range(lo + distance, lo + 2 * distance)
            messages.append((a, a ^ distance, sum(chunks[j] for j in give) * s))
        rounds.append(messages)
        distance //= 2
    return rounds


def _doubling_rounds(chunks: list[int], s: int, size: int) -> list[Round]:
    """Recursive doubling of owned ranges: at distance d, a sends the d chunks of its aligned range."""
    rounds, distance = [], 1
    while distance < size:
        rounds.append([(a, a ^ distance, sum(chunks[(a & ~(distance - 1)) + j] for j in range(distance)) * s)
                       for a in range(size)])
        distance *= 2
    return rounds


def halving_doubling(call: CollectiveCall, wire) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    size, _, _ = _fold(n)
    chunks = parts(p, size)
    if call.op == "reduce_scatter":  # power-of-two groups only
        pat = _pattern(*message_count(call), "(n-1) p s", RABENSEIFNER)
        return _folded(call, wire, _halving_rounds(chunks, s, size), pat, "log2(n) alpha + (n-1) p s/(n beta)")
    pat = _pattern(*message_count(call), "2r p s + 2(n'-1) p s", RABENSEIFNER)
    rounds = _halving_rounds(chunks, s, size) + _doubling_rounds(chunks, s, size)
    return _folded(call, wire, rounds, pat, "2 log2(n') alpha + 2 (n'-1) p s/(n' beta), n' = 2^floor(log2 n)")


# -- all-to-all ---------------------------------------------------------------------------------

def bruck(call: CollectiveCall, wire) -> Pattern:
    """Round k: to rank i + 2^k (all-to-all) or to rank i - 2^k (all-gather)."""
    n, p, s = len(call.group), call.params, call.bytes_per_param
    block = p // n * s
    distances = [1 << k for k in range((n - 1).bit_length())]
    if call.op == "all_to_all":
        counts = [sum(1 for q in range(n) if q & d) for d in distances]  # blocks whose offset has bit k
        rounds = [[(i, (i + d) % n, c * block) for i in range(n)] for d, c in zip(distances, counts)]
        text, total = "ceil(log2 n) alpha + sum_k |{q < n: bit k of q}| p s/(n beta)", "sum_k |{q < n: bit k of q}| p s"
    else:
        counts = [min(d, n - d) for d in distances]
        rounds = [[(i, (i - d) % n, c * block) for i in range(n)] for d, c in zip(distances, counts)]
        text, total = "ceil(log2 n) alpha + (n-1) p s/(n beta)", "(n-1) p s"
    pat = _pattern(*message_count(call), total, BRUCK)
    pat.seconds_text = text
    return _timed(pat, rounds, wire)


def pairwise(call: CollectiveCall, wire) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    block = p // n * s
    pat = _pattern(*message_count(call), "(n-1) p s", THAKUR)
    pat.seconds_text = "(n-1)(alpha + p s/(n beta))"
    return _timed(pat, [[(i, (i + k) % n, block) for i in range(n)] for k in range(1, n)], wire)


# -- two levels, and servers --------------------------------------------------------------------

def _boxes(call: CollectiveCall) -> list[list[int]]:
    """The group's positions node by node (nodes in the order the group reaches them)."""
    node_of = {rank: k for k, box in enumerate(call.nodes or ()) for rank in box}
    found: dict[int, list[int]] = {}
    for position, rank in enumerate(call.group):
        found.setdefault(node_of.get(rank, -1 - rank), []).append(position)
    return list(found.values())


def _side_by_side(passes: list[list[Round]]) -> list[Round]:
    """Rings that run at once on disjoint ranks (one per node, one per rail), step by step."""
    return [[m for ring in passes for m in ring[t]] for t in range(len(passes[0]))] if passes else []


def hierarchical(call: CollectiveCall, wire) -> Pattern:
    """G ranks on each of N nodes: ring reduce-scatter of G chunks in each node, ring all-reduce of each
    chunk over the N ranks holding it (one per node), ring all-gather in each node."""
    p, s = call.params, call.bytes_per_param
    boxes = _boxes(call)
    nodes, g = len(boxes), len(boxes[0])
    chunks = parts(p, g)
    pat = _pattern(*message_count(call), "2(G-1) N p s + 2(N-1) p s", JIA)
    intra = [c * s for c in chunks]
    inner = [[c * s for c in parts(chunk, nodes)] for chunk in chunks]
    rails = [[box[j] for box in boxes] for j in range(g)]
    rounds = (_side_by_side([ring_rounds(intra, box, 1, 0) for box in boxes])
              + _side_by_side([ring_rounds(inner[j], rails[j], 1, 0) for j in range(g)])
              + _side_by_side([ring_rounds(inner[j], rails[j], 1, 1) for j in range(g)])
              + _side_by_side([ring_rounds(intra, box, 1, 1) for box in boxes]))
    pat.seconds_text = "2(G-1)(alpha_intra + p s/(G beta_intra)) + 2(N-1)(alpha_inter + p s/(G N beta_inter))"
    return _timed(pat, rounds, wire)


def parameter_server(call: CollectiveCall, wire) -> Pattern:
    """Server j at position floor(j n / k) owns shard j. Every rank pushes its shards, next server first,
    one after another; a server takes the n-1 pushes in one by one, then sends the sum to the n-1 others,
    rank after itself first."""
    n, p, s, k = len(call.group), call.params, call.bytes_per_param, call.servers
    where = [j * n // k for j in range(k)]
    shards = [c * s for c in parts(p, k)]
    pat = _pattern(*message_count(call), "2(n-1) p s", LI)
    pushes = []
    for i in range(n):
        ahead = sorted((j for j in range(k) if where[j] != i), key=lambda j: (where[j] - i - 1) % n)
        pushes += _back_to_back(0.0, [(i, where[j], shards[j]) for j in ahead], wire)
    pulls = []
    for j, server in enumerate(where):
        pushed = into_ports([m for m in pushes if m[2] == server], wire)
        pulls += _back_to_back(pushed, [(server, (server + d) % n, shards[j]) for d in range(1, n)], wire)
    for start, src, dst, nbytes in pushes + pulls:
        pat.add(src, dst, nbytes)
    pat.seconds = max(into_ports([m for m in pulls if m[2] == i], wire) for i in range(n))
    pat.seconds_text = "2 alpha + 2(n-1) p s/(k beta)"
    return pat


def _back_to_back(start: float, messages, wire) -> list[tuple[float, int, int, float]]:
    """(start, src, dst, bytes) of one rank's messages sent together: each port passes them in turn."""
    free: dict[object, float] = {}
    timed = []
    for src, dst, nbytes in messages:
        port = wire.port_out(src, dst)
        begin = free.get(port, start)
        free[port] = begin + wire.hold(src, dst, nbytes)
        timed.append((begin, src, dst, nbytes))
    return timed


FORMS: dict[tuple[str, str], Callable[[CollectiveCall, PairWire], Pattern]] = {
    ("all_reduce", "ring"): ring_all_reduce,
    ("all_reduce", "multi_ring"): multi_ring,
    ("all_reduce", "tree"): tree,
    ("all_reduce", "double_binary_tree"): double_binary_tree,
    ("all_reduce", "halving_doubling"): halving_doubling,
    ("all_reduce", "recursive_doubling"): recursive_doubling,
    ("all_reduce", "hierarchical"): hierarchical,
    ("all_reduce", "parameter_server"): parameter_server,
    ("reduce_scatter", "ring"): ring_half,
    ("reduce_scatter", "multi_ring"): multi_ring,
    ("reduce_scatter", "halving_doubling"): halving_doubling,
    ("all_gather", "ring"): ring_half,
    ("all_gather", "multi_ring"): multi_ring,
    ("all_gather", "recursive_doubling"): recursive_doubling,
    ("all_gather", "bruck"): bruck,
    ("broadcast", "ring"): ring_chain,
    ("broadcast", "tree"): tree,
    ("reduce", "ring"): ring_chain,
    ("reduce", "tree"): tree,
    ("all_to_all", "bruck"): bruck,
    ("all_to_all", "pairwise"): pairwise,
}


def pattern(call: CollectiveCall, x: Inputs) -> Pattern:
    """The derived pattern, timed on ``x``'s network, with positions turned into the group's ranks."""
    if len(call.group) == 1:
        return Pattern(0, "0", Counter(), Counter(), "0", 0.0, "0 (one rank)", "")
    pat = FORMS[(call.op, call.algorithm)](call, PairWire(x, call.group))
    pat.traffic = Counter({(call.group[a], call.group[b]): v for (a, b), v in pat.traffic.items()})
    return pat


def expectation(x: Inputs) -> Expectation | None:
    """The closed forms of ``x.collective`` (None when the scenario names no collective)."""
    call = x.collective
    if call is None:
        return None
    pat = pattern(call, x)
    head = f"{call.op} by {call.algorithm}"
    return Expectation(
        messages=Formula(pat.messages, pat.messages_text, pat.source),
        message_bytes=Formula(dict(pat.sizes), f"{head}: the size of each message the algorithm sends", pat.source),
        total_bytes=Formula(sum(b * c for b, c in pat.sizes.items()), pat.total_text, pat.source),
        makespan=Formula(pat.seconds, pat.seconds_text, f"{pat.source}; Hockney 1994 (alpha-beta)"),
        traffic=Formula(dict(pat.traffic), f"{head}: bytes from each rank to each other", pat.source),
    )
