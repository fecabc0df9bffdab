"""Closed forms of the collective library: for each (op, algorithm), the messages, their sizes, the bytes,
the traffic between every pair of ranks, and the alpha-beta time.

Derived from the papers each algorithm cites (see docs/collectives.md), never from
``distsim.collectives`` or ``distsim.strategies``: the reconciliation then checks
the library's traces against an independent derivation. Notation: n ranks at
positions 0..n-1 of the group, p elements of s bytes (the buffer as NCCL counts it:
an all-gather's whole result, an all-to-all's send buffer), c_j the chunk sizes
when p is cut into n (the first p mod n one larger), alpha and beta the latency and
bandwidth between two ranks.

Times are exact on a non-blocking switch when the chunks are equal; where two
messages meet at a rank's port in a way the algorithm's own schedule does not
foresee (the two trees of a double binary tree, a folded butterfly, some server
counts), the formula is the contention-free critical path and the trace explains
the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from distsim.analysis.closed_forms import Expectation, Formula, Inputs
from distsim.analysis.collective_shapes import (
    binary_tree_children,
    mirrored,
    parts,
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
    """What an algorithm sends, as the paper says: message count, sizes, and traffic per pair (positions)."""

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


def _pattern(messages, messages_text, total_text, source) -> Pattern:
    return Pattern(messages, messages_text, Counter(), Counter(), total_text, 0.0, "", source)


# -- rings --------------------------------------------------------------------------------------

def _ring_pass(pat: Pattern, chunks: list[int], s: int, direction: int, skip: int, order) -> None:
    """One pass round a ring (n-1 steps): position i sends every chunk but chunk i + skip*direction... to i+direction."""
    n = len(order)
    for i in range(n):
        for j, c in enumerate(chunks):
            if j != (i + skip * direction) % n:
                pat.add(order[i], order[(i + direction) % n], c * s)


def ring_all_reduce(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    c = parts(p, n)
    pat = _pattern(2 * n * (n - 1), "2n(n-1)", "2(n-1) p s", PATARASUK)
    positions = list(range(n))
    _ring_pass(pat, c, s, 1, 0, positions)  # reduce-scatter: rank i keeps chunk i
    _ring_pass(pat, c, s, 1, 1, positions)  # all-gather: rank i never sends chunk i+1
    pat.seconds = 2 * (n - 1) * (alpha + max(c) * s / beta)
    pat.seconds_text = "2(n-1)(alpha + ceil(p/n) s/beta)"
    return pat


def ring_half(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    """Reduce-scatter (each rank keeps its own chunk) or all-gather (each starts with its own block)."""
    n, p, s = len(call.group), call.params, call.bytes_per_param
    pat = _pattern(n * (n - 1), "n(n-1)", "(n-1) p s", PATARASUK)
    _ring_pass(pat, parts(p, n), s, 1, 0 if call.op == "reduce_scatter" else 1, list(range(n)))
    pat.seconds = (n - 1) * (alpha + max(parts(p, n)) * s / beta)
    pat.seconds_text = "(n-1)(alpha + p s/(n beta))"
    return pat


def ring_chain(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    """Broadcast or reduce pipelined down a chain of n-1 hops in n pieces: a proportionate flow shop."""
    n, p, s = len(call.group), call.params, call.bytes_per_param
    root = _root_position(call)
    first = root if call.op == "broadcast" else root + 1
    pat = _pattern(n * (n - 1), "n(n-1)", "(n-1) p s", f"{PATARASUK}; NCCL src/device/broadcast.h")
    pieces = parts(p, n)
    for h in range(n - 1):
        for piece in pieces:
            pat.add((first + h) % n, (first + h + 1) % n, piece * s)
    # Each hop adds alpha; n pieces through n-1 hops: sum of the pieces + (n-2) x the largest (Johnson's flow shop).
    pat.seconds = (n - 1) * alpha + (p + (n - 2) * max(pieces)) * s / beta
    pat.seconds_text = "(n-1) alpha + (2n-2) p s/(n beta)"
    return pat


def multi_ring(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    """c rings, ring k on sub-chunk k of every chunk, even rings rightwards, odd rings leftwards."""
    n, p, s, ch = len(call.group), call.params, call.bytes_per_param, call.channels
    sub = [parts(c, ch) for c in parts(p, n)]  # sub[j][k]
    passes = {"all_reduce": (0, 1), "reduce_scatter": (0,), "all_gather": (1,)}[call.op]
    count = len(passes) * n * (n - 1) * ch
    text = {1: "c n(n-1)", 2: "2c n(n-1)"}[len(passes)]
    pat = _pattern(count, text, f"{len(passes)}(n-1) p s", NCCL_CHANNELS)
    for k in range(ch):
        direction = 1 if k % 2 == 0 else -1
        for skip in passes:
            _ring_pass(pat, [sub[j][k] for j in range(n)], s, direction, skip, list(range(n)))
    step = alpha + sum(max(sub[j][k] for j in range(n)) for k in range(ch)) * s / beta
    pat.seconds = len(passes) * (n - 1) * step
    pat.seconds_text = f"{len(passes) if len(passes) > 1 else ''}(n-1)(alpha + p s/(n beta)) (the c messages of a step share a port)"
    return pat


# -- trees --------------------------------------------------------------------------------------

def _root_position(call: CollectiveCall) -> int:
    return 0 if call.root is None else call.group.index(call.root)


def tree(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    root = _root_position(call) if call.op != "all_reduce" else 0
    shape = mirrored(binary_tree_children(n), lambda v: (v + root) % n)
    t = p * s / beta
    ways = {"reduce": ("up",), "broadcast": ("down",), "all_reduce": ("up", "down")}[call.op]
    twice = "2" if len(ways) == 2 else ""
    pat = _pattern(len(ways) * (n - 1), f"{twice}(n-1)", f"{twice}(n-1) p s", NCCL_TREES)
    for parent, child in tree_edges(shape):
        for way in ways:
            pat.add(*((child, parent) if way == "up" else (parent, child)), p * s)
    reduced = tree_reduce_done(shape, t, alpha) if "up" in ways else 0.0
    pat.seconds = tree_broadcast_done(shape, t, alpha, reduced) if "down" in ways else reduced
    pat.seconds_text = _tree_text(ways)
    return pat


def _tree_text(ways) -> str:
    one = "L alpha + (2L-1) p s/beta for n = 2^L"
    return f"2 x ({one})" if len(ways) == 2 else one + "; other n: the tree's critical path, children served in turn"


def double_binary_tree(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    a = binary_tree_children(n)
    b = mirrored(a, (lambda v: n - 1 - v) if n % 2 == 0 else (lambda v: (v + 1) % n))
    halves = parts(p, 2)
    pat = _pattern(4 * (n - 1), "4(n-1)", "2(n-1) p s", SANDERS)
    times = []
    for shape, half in zip((a, b), halves):
        for parent, child in tree_edges(shape):
            pat.add(child, parent, half * s)
            pat.add(parent, child, half * s)
        t = half * s / beta
        times.append(tree_broadcast_done(shape, t, alpha, tree_reduce_done(shape, t, alpha)))
    pat.seconds = max(times)
    pat.seconds_text = "2 x (L alpha + (2L-1) p s/(2 beta)) for n = 2^L: each tree on its own"
    return pat


# -- butterflies (recursive doubling, halving-doubling) -----------------------------------------

def _fold(n: int):
    """(power of two below n, r = n - that, active index -> position)."""
    size = 1 << (n.bit_length() - 1)
    extra = n - size
    return size, extra, (lambda a: 2 * a + 1 if a < extra else a + extra)


def _folded(call: CollectiveCall, alpha: float, beta: float, rounds_of, text: str, source: str,
            messages: int, messages_text: str, total_text: str) -> Pattern:
    """A butterfly over the 2^L active ranks, with Thakur's fold and unfold for the other r ranks."""
    n, p, s = len(call.group), call.params, call.bytes_per_param
    size, extra, at = _fold(n)
    pat = _pattern(messages, messages_text, total_text, source)
    whole = p * s / beta
    fold = [(2 * j, 2 * j + 1, whole) for j in range(extra)]
    rounds = [[(at(a), at(b), nbytes) for a, b, nbytes in r] for r in rounds_of(size)]
    for j in range(extra):
        pat.add(2 * j, 2 * j + 1, p * s)
        pat.add(2 * j + 1, 2 * j, p * s)
    for r in rounds:
        for src, dst, nbytes in r:
            pat.add(src, dst, nbytes)
    timed = [[(src, dst, nbytes / beta) for src, dst, nbytes in r] for r in rounds]
    unfold = [(2 * j + 1, 2 * j, whole) for j in range(extra)]
    pat.seconds = max(rounds_done([0.0] * n, [fold] + timed + [unfold], alpha))
    pat.seconds_text = text + (" + 2(alpha + p s/beta) to fold and unfold" if extra else "")
    return pat


def recursive_doubling(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    size, extra, _ = _fold(n)
    rounds_count = size.bit_length() - 1
    if call.op == "all_gather":  # power-of-two groups: round k sends the 2^k blocks held so far
        block = p // n * s
        rounds = [[(a, a ^ (1 << k), block << k) for a in range(n)] for k in range(rounds_count)]
        return _folded(call, alpha, beta, lambda _size: rounds, "log2(n) alpha + (n-1) p s/(n beta)", THAKUR,
                       n * rounds_count, "n log2 n", "(n-1) p s")
    rounds = [[(a, a ^ (1 << k), p * s) for a in range(size)] for k in range(rounds_count)]
    return _folded(call, alpha, beta, lambda _size: rounds, "log2(n') (alpha + p s/beta), n' = 2^floor(log2 n)",
                   THAKUR, 2 * extra + size * rounds_count, "2r + n' log2 n'", "(2r + n' log2 n') p s")


def _halving_rounds(chunks: list[int], s: int, size: int) -> list[list[tuple[int, int, int]]]:
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


def _doubling_rounds(chunks: list[int], s: int, size: int) -> list[list[tuple[int, int, int]]]:
    """Recursive doubling of owned ranges: at distance d, a sends the d chunks of its aligned range."""
    rounds, distance = [], 1
    while distance < size:
        rounds.append([(a, a ^ distance, sum(chunks[(a & ~(distance - 1)) + j] for j in range(distance)) * s)
                       for a in range(size)])
        distance *= 2
    return rounds


def halving_doubling(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    size, extra, _ = _fold(n)
    steps = size.bit_length() - 1
    chunks = parts(p, size)
    if call.op == "reduce_scatter":  # power-of-two groups only
        return _folded(call, alpha, beta, lambda k: _halving_rounds(chunks, s, k),
                       "log2(n) alpha + (n-1) p s/(n beta)", RABENSEIFNER, n * steps, "n log2 n", "(n-1) p s")
    both = lambda k: _halving_rounds(chunks, s, k) + _doubling_rounds(chunks, s, k)  # noqa: E731
    return _folded(call, alpha, beta, both, "2 log2(n') alpha + 2 (n'-1) p s/(n' beta), n' = 2^floor(log2 n)",
                   RABENSEIFNER, 2 * extra + 2 * size * steps, "2r + 2 n' log2 n'",
                   "2r p s + 2(n'-1) p s")


# -- all-to-all ---------------------------------------------------------------------------------

def bruck(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    """Round k: to rank i + 2^k (all-to-all) or from rank i + 2^k (all-gather)."""
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
    pat = _pattern(n * len(distances), "n ceil(log2 n)", total, BRUCK)
    for r in rounds:
        for src, dst, nbytes in r:
            pat.add(src, dst, nbytes)
    pat.seconds = max(rounds_done([0.0] * n, [[(a, b, m / beta) for a, b, m in r] for r in rounds], alpha))
    pat.seconds_text = text
    return pat


def pairwise(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    n, p, s = len(call.group), call.params, call.bytes_per_param
    block = p // n * s
    pat = _pattern(n * (n - 1), "n(n-1)", "(n-1) p s", THAKUR)
    for i in range(n):
        for k in range(1, n):
            pat.add(i, (i + k) % n, block)
    pat.seconds = (n - 1) * (alpha + block / beta)
    pat.seconds_text = "(n-1)(alpha + p s/(n beta))"
    return pat


# -- two levels, and servers --------------------------------------------------------------------

def _boxes(call: CollectiveCall) -> list[list[int]]:
    """The group's positions node by node (nodes in the order the group reaches them)."""
    node_of = {rank: k for k, box in enumerate(call.nodes or ()) for rank in box}
    found: dict[int, list[int]] = {}
    for position, rank in enumerate(call.group):
        found.setdefault(node_of.get(rank, -1 - rank), []).append(position)
    return list(found.values())


def hierarchical(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    """G ranks on each of N nodes: ring reduce-scatter of G chunks in each node, ring all-reduce of each
    chunk over the N ranks holding it (one per node), ring all-gather in each node."""
    p, s = call.params, call.bytes_per_param
    boxes = _boxes(call)
    nodes, g = len(boxes), len(boxes[0])
    chunks = parts(p, g)
    messages = 2 * nodes * g * (g - 1) + 2 * g * nodes * (nodes - 1)
    pat = _pattern(messages, "2N G(G-1) + 2G N(N-1)", "2(G-1) N p s + 2(N-1) p s", JIA)
    for box in boxes:
        _ring_pass(pat, chunks, s, 1, 0, box)
        _ring_pass(pat, chunks, s, 1, 1, box)
    inner = [parts(c, nodes) for c in chunks]
    for j in range(g):
        rail = [box[j] for box in boxes]
        _ring_pass(pat, inner[j], s, 1, 0, rail)
        _ring_pass(pat, inner[j], s, 1, 1, rail)
    intra = 2 * (g - 1) * (alpha + max(chunks) * s / beta)
    inter = 2 * (nodes - 1) * (alpha + max(max(c) for c in inner) * s / beta)
    pat.seconds = intra + inter
    pat.seconds_text = "2(G-1)(alpha + p s/(G beta)) + 2(N-1)(alpha + p s/(G N beta))"
    return pat


def parameter_server(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    """Server j at position floor(j n / k) owns shard j: n-1 pushes in, n-1 results out, per server."""
    n, p, s, k = len(call.group), call.params, call.bytes_per_param, call.servers
    shards = parts(p, k)
    where = [j * n // k for j in range(k)]
    pat = _pattern(2 * k * (n - 1), "2k(n-1)", "2(n-1) p s", LI)
    for j, server in enumerate(where):
        for i in range(n):
            if i != server:
                pat.add(i, server, shards[j] * s)
                pat.add(server, i, shards[j] * s)
    # A server's port takes n-1 pushes in and sends n-1 results out, back to back.
    pat.seconds = 2 * alpha + 2 * (n - 1) * max(shards) * s / beta
    pat.seconds_text = "2 alpha + 2(n-1) p s/(k beta) (exact for k <= n/2 and k = n; else servers wait on pushes)"
    return pat


FORMS: dict[tuple[str, str], Callable[[CollectiveCall, float, float], Pattern]] = {
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


def pattern(call: CollectiveCall, alpha: float, beta: float) -> Pattern:
    """The derived pattern with positions already turned into the group's ranks."""
    if len(call.group) == 1:
        return Pattern(0, "0", Counter(), Counter(), "0", 0.0, "0 (one rank)", "")
    pat = FORMS[(call.op, call.algorithm)](call, alpha, beta)
    pat.traffic = Counter({(call.group[a], call.group[b]): v for (a, b), v in pat.traffic.items()})
    return pat


def expectation(x: Inputs) -> Expectation | None:
    """The closed forms of ``x.collective`` (None when the scenario names no collective)."""
    call = x.collective
    if call is None:
        return None
    pat = pattern(call, x.latency, x.bandwidth)
    head = f"{call.op} by {call.algorithm}"
    return Expectation(
        messages=Formula(pat.messages, pat.messages_text, pat.source),
        message_bytes=Formula(dict(pat.sizes), f"{head}: the size of each message the algorithm sends", pat.source),
        total_bytes=Formula(sum(b * c for b, c in pat.sizes.items()), pat.total_text, pat.source),
        makespan=Formula(pat.seconds, pat.seconds_text, f"{pat.source}; Hockney 1994 (alpha-beta)"),
        traffic=Formula(dict(pat.traffic), f"{head}: bytes from each rank to each other", pat.source),
    )
