"""The network models on routes of two and more hops, against figures worked out here by hand.

Each case is one that the first engine got wrong (issue 7): a fast trunk held for a
slow message's whole time, idle links reserved for messages not there yet, a slow
access link blamed on the server's link, graph closed forms taking the default
bandwidth. The expected values below are computed from the cables, not from distsim.
"""

from __future__ import annotations

import numpy as np
import pytest

import distsim
from distsim.errors import ScenarioError

GBIT = 1e9 / 8
MODELS = ("cut_through", "store_and_forward", "flow")
PIPELINED = ("cut_through", "flow")


def run(text: str, name: str = "<case>"):
    (outcome,) = distsim.run(*distsim.loads(text, name))
    return outcome


def statuses(outcome) -> dict[str, str]:
    return {c.name: c.status for c in outcome.reconciliation.checks}


def held_up_by(outcome) -> str:
    """The sentence of the explanation that names the links which delayed messages."""
    return next(note for note in outcome.reconciliation.notes if "held up by" in note)


def two_switches(kind: str, model: str, *, trunk: str, latency: str = "0 s", params: int = 25_000_000,
                 placement=((0, 2), (1, 3)), extra: str = "") -> str:
    """Workers split over two switches s0 and s1 joined by one trunk cable; 100 Gbit/s access cables."""
    edges = [f"[{w}, s{side}]" for side, workers in enumerate(placement) for w in workers]
    workers = sum(len(side) for side in placement)
    return (
        f"cluster:\n  workers: {workers}\n"
        f"  network: {{topology: graph, model: {model}, bandwidth: 100 Gbit/s, latency: {latency}, switches: [s0, s1],\n"
        f"    edges: [{', '.join(edges)}, {{nodes: [s0, s1], bandwidth: {trunk}}}]}}\n"
        f"model: {{params: {params}}}\nstrategy: {{kind: {kind}{extra}}}\nrun: {{verify_payload: false}}\n"
    )


# -- a fast trunk is busy for its own time, not the route's -----------------------------------

@pytest.mark.parametrize("model", PIPELINED)
def test_a_ring_across_a_slow_trunk_takes_the_trunks_load(model):
    # w0, w2 on s0 and w1, w3 on s1: every ring edge crosses the trunk, two chunks each way per
    # step. A 100 Gbit/s trunk carries 12 chunks of 25 MB each way: 12 x 2 ms, the link-load bound.
    outcome = run(two_switches("ring_allreduce", model, trunk="100 Gbit/s"))
    chunk_time = 25e6 / (100 * GBIT)
    assert outcome.trace.makespan == pytest.approx(12 * chunk_time, rel=1e-9)
    check = {c.name: c for c in outcome.reconciliation.checks}["makespan (link-load bound)"]
    assert check.status == "ok" and "s0->s1" in check.formula
    assert "s0->s1" in held_up_by(outcome) or "s1->s0" in held_up_by(outcome)


def test_a_ten_terabit_trunk_is_not_a_bottleneck_for_flows():
    # As flows, the two 100 Gbit/s messages share a 10 Tbit/s trunk without slowing down:
    # six steps of alpha + 25 MB / 100 Gbit/s each (route latency 3 x 1 us), SimGrid's figure.
    outcome = run(two_switches("ring_allreduce", "flow", trunk="10 Tbit/s", latency="1 us"))
    step = 3e-6 + 25e6 / (100 * GBIT)
    assert outcome.trace.makespan == pytest.approx(6 * step, rel=1e-9)
    assert statuses(outcome)["makespan (contention-free alpha-beta)"] == "ok"


def test_a_ten_terabit_trunk_is_busy_one_percent_and_delays_whole_messages_by_its_own_time():
    # Message by message, a chunk that finds the other on the trunk waits for it to cross:
    # 25 MB / 10 Tbit/s = 20 us, at most once per step. The trunk is busy 1% of the time, not 100%.
    outcome = run(two_switches("ring_allreduce", "cut_through", trunk="10 Tbit/s"))
    step, crossing = 25e6 / (100 * GBIT), 25e6 / (10_000 * GBIT)
    assert 6 * step < outcome.trace.makespan <= 6 * (step + crossing) * (1 + 1e-12)
    busy = dict(zip((link.name for link in outcome.trace.links), outcome.trace.link_busy_time()))
    assert busy["s0->s1"] == pytest.approx(12 * 25e6 / (10_000 * GBIT), rel=1e-12)
    assert busy["s0->s1"] / outcome.trace.makespan < 0.02
    assert statuses(outcome)["makespan (contention-free alpha-beta)"] == "explained"
    assert "s0->s1" in held_up_by(outcome) or "s1->s0" in held_up_by(outcome)


# -- no link is reserved for a message that is not there yet ------------------------------------

@pytest.mark.parametrize("model", PIPELINED)
def test_all_to_all_on_a_physical_ring_meets_the_link_load_bound(model):
    # n = 5 on a ring of cables: every cable direction carries 3 of the 20 messages (one direct,
    # two crossing it on a two-hop route). 3 x 8 ms plus one hop's latency: the link-load bound.
    text = (
        f"cluster:\n  workers: 5\n  network: {{topology: ring, model: {model}, bandwidth: 100 Gbit/s, latency: 5 us}}\n"
        "model: {params: 25000000}\nstrategy: {kind: all_to_all}\nrun: {verify_payload: false}\n"
    )
    outcome = run(text)
    assert outcome.trace.makespan == pytest.approx(3 * 8e-3 + 5e-6, rel=1e-9)
    assert statuses(outcome)["makespan (link-load bound)"] == "ok"


# -- a slow access link is the sender's own, not the server's -----------------------------------

@pytest.mark.parametrize("model", PIPELINED)
@pytest.mark.parametrize("n", [4, 8])
def test_a_slow_access_link_on_one_worker_does_not_slow_the_server_link(model, n):
    # w0's cable is 25 Gbit/s: its push and pull take 4 T, the others T (T = 100 MB / 100 Gbit/s).
    # Pushes end when the server's link has carried n T and w0's push is in: max(n, 4) T + alpha;
    # pulls the same again. The link-load bound of the two phases is exactly that.
    edges = ", ".join(["{nodes: [0, sw], bandwidth: 25 Gbit/s}"] + [f"[{w}, sw]" for w in range(1, n)] + ["[ps, sw]"])
    text = (
        f"cluster:\n  workers: {n}\n  network: {{topology: graph, model: {model}, bandwidth: 100 Gbit/s, latency: 1 us,\n"
        f"    switches: [sw], edges: [{edges}]}}\n"
        "model: {params: 25000000}\nstrategy: {kind: parameter_server}\nrun: {verify_payload: false}\n"
    )
    outcome = run(text)
    t, alpha = 1e8 / (100 * GBIT), 2e-6
    assert outcome.trace.makespan == pytest.approx(2 * (max(n, 4) * t + alpha), rel=1e-9)
    assert statuses(outcome)["makespan (link-load bound)"] == "ok"
    if n == 8:  # the pushes queue for the server's downlink, the pulls for its uplink
        assert "sw->ps" in held_up_by(outcome) and "ps->sw" in held_up_by(outcome)
        assert "0->sw" not in held_up_by(outcome)


# -- graphs: closed forms over the links of each route ------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_a_ring_over_fast_graph_links_passes_its_own_closed_form(model):
    # Every cable is 10x the network's default bandwidth: the closed form must use the cables.
    edges = ", ".join(f"{{nodes: [{w}, sw], bandwidth: 1 Tbit/s}}" for w in range(4))
    text = (
        f"cluster:\n  workers: 4\n  network: {{topology: graph, model: {model}, bandwidth: 100 Gbit/s, latency: 2 us,\n"
        f"    switches: [sw], edges: [{edges}]}}\n"
        "model: {params: 1000000}\nstrategy: {kind: ring_allreduce}\nrun: {verify_payload: false}\n"
    )
    outcome = run(text)
    chunk = 1e6 / 4 * 4
    hop = 4e-6 + (2 * chunk / (1000 * GBIT) if model == "store_and_forward" else chunk / (1000 * GBIT))
    assert outcome.trace.makespan == pytest.approx(6 * hop, rel=1e-9)
    assert outcome.reconciliation.ok
    assert statuses(outcome)["makespan (contention-free alpha-beta)"] == "ok"


def test_all_to_all_on_a_graph_gets_a_makespan_check():
    outcome = run(two_switches("all_to_all", "cut_through", trunk="100 Gbit/s", params=1000))
    assert "makespan (link-load bound)" in statuses(outcome)


def test_a_message_held_up_on_a_slow_middle_cable_blames_that_cable():
    # w0 and w1 both send to w2 over a 25 Gbit/s trunk; the second waits for the first there.
    text = two_switches("parameter_server", "cut_through", trunk="25 Gbit/s", placement=((0, 1), (2,)), extra=", server: 2")
    outcome = run(text)
    assert "s0->s1" in held_up_by(outcome)
    assert "w0->s0" not in held_up_by(outcome) and "w1->s0" not in held_up_by(outcome)


# -- the flow model shares links max-min fairly --------------------------------------------------

def test_incast_as_flows_shares_the_receivers_link_equally():
    # Three workers push to a dedicated server at once: each gets a third of its 100 Gbit/s
    # downlink, so all three pushes end together at alpha + 3 T.
    text = (
        "cluster:\n  workers: 3\n  network: {topology: switch, model: flow, bandwidth: 100 Gbit/s, latency: 4 us}\n"
        "model: {params: 25000000}\nstrategy: {kind: parameter_server}\nrun: {verify_payload: false}\n"
    )
    outcome = run(text)
    pushes = outcome.trace.messages["t_arrive"][outcome.trace.messages["dst"] == 3]
    assert pushes.tolist() == pytest.approx([4e-6 + 3 * 8e-3] * 3, rel=1e-12)
    assert outcome.reconciliation.ok


def test_all_to_all_on_two_switches_as_flows():
    # w0, w1 on s0 and w2, w3 on s1; equal 100 Gbit/s cables, no latency. The trunk carries 4 of the
    # 12 flows each way: 25 Gbit/s each (the tightest share); the two local flows per switch get
    # the 50 Gbit/s their ports have left and end at 2 T; the trunk flows stay at 25 Gbit/s
    # (the trunk is still full) and end at 4 T: the link-load bound of the trunk.
    outcome = run(two_switches("all_to_all", "flow", trunk="100 Gbit/s", placement=((0, 1), (2, 3))))
    m = outcome.trace.messages
    t = 1e8 / (100 * GBIT)
    local = (m["src"] // 2) == (m["dst"] // 2)
    assert m["t_arrive"][local].tolist() == pytest.approx([2 * t] * 4, rel=1e-12)
    assert m["t_arrive"][~local].tolist() == pytest.approx([4 * t] * 8, rel=1e-12)
    assert statuses(outcome)["makespan (link-load bound)"] == "ok"


def test_flows_through_a_slow_cable_share_it():
    # w0 and w1 send to w2 across a 25 Gbit/s trunk: 12.5 Gbit/s each, both done at 2 x 4 T.
    text = two_switches("parameter_server", "flow", trunk="25 Gbit/s", placement=((0, 1), (2,)), extra=", server: 2")
    outcome = run(text)
    m = outcome.trace.messages
    t = 1e8 / (100 * GBIT)
    pushes = m["t_arrive"][m["dst"] == 3]
    assert pushes.tolist() == pytest.approx([8 * t, 8 * t], rel=1e-12)
    assert "s0->s1" in held_up_by(outcome)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_reconciles_the_exam_scenario(model):
    text = open("scenarios/exam_distributed.yaml").read().replace("topology: switch", f"topology: switch, model: {model}")
    for outcome in distsim.run(*distsim.loads(text, "exam_distributed.yaml")):
        assert outcome.reconciliation.ok, (model, outcome.result.kind, outcome.reconciliation.notes)


# -- graph names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("w40", "there is no worker w40 (workers are w0..w3)"),
    ("W3", "unknown node 'W3' (did you mean 'w3'?)"),
    ("s2", "unknown node 's2': declare switches in cluster.network.switches (declared: s0, s1)"),
    ("ps", "'ps' is the parameter server's node"),
])
def test_a_name_in_edges_must_be_a_worker_the_server_or_a_declared_switch(name, message):
    text = two_switches("ring_allreduce", "cut_through", trunk="100 Gbit/s").replace("[3, s1]", f"[{name}, s1]")
    with pytest.raises(ScenarioError) as error:
        distsim.loads(text, "g.yaml")
    line = str(error.value).splitlines()[0]
    assert line.startswith("g.yaml:4:") and "cluster.network.edges.3.0" in line and message in line


# -- what the link timelines draw -----------------------------------------------------------------

def test_link_spans_follow_each_links_own_occupancy_and_never_overlap_on_a_link():
    from distsim.report.occupancy import hop_spans

    # Eight pushes queue for the server's downlink; each crosses it for 8 ms, one after another.
    text = (
        "cluster:\n  workers: 8\n  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 2 us}\n"
        "model: {params: 25000000}\nstrategy: {kind: parameter_server}\nrun: {verify_payload: false}\n"
    )
    trace = run(text).trace
    message, link, start, end = hop_spans(trace)
    names = [l.name for l in trace.links]
    assert end - start == pytest.approx(np.full(len(start), 8e-3), rel=1e-12)
    for wanted in ("switch->ps", "ps->switch"):
        on = np.array([names[i] == wanted for i in link])
        order = np.argsort(start[on])
        assert np.all(start[on][order][1:] >= end[on][order][:-1] * (1 - 1e-12))  # FIFO: one at a time
        assert end[on].max() - start[on].min() == pytest.approx(8 * 8e-3, rel=1e-9)  # busy back to back


def test_a_fast_trunk_is_drawn_busy_for_its_own_short_time():
    from distsim.report.occupancy import hop_spans

    trace = run(two_switches("ring_allreduce", "cut_through", trunk="10 Tbit/s")).trace
    message, link, start, end = hop_spans(trace)
    trunk = np.array([trace.links[i].name in ("s0->s1", "s1->s0") for i in link])
    assert end[trunk] - start[trunk] == pytest.approx(np.full(trunk.sum(), 25e6 / (10_000 * GBIT)), rel=1e-9)
