"""Figures that stay readable at scale and say one thing per panel (issue 10, item 9).

Timelines past AGGREGATE_RANKS ranks become per-phase bands per rank group and a heat map of
link busy fraction over time, both computed from the trace; link rows and bars are in tier order
(uplinks, downlinks, trunks) and natural name order (w2 before w10); the trade-off plot draws the
memory limit and lists what does not fit; a failed point is marked only on the panel whose check
failed; memory is in binary units everywhere, traffic in decimal units.
"""

from __future__ import annotations

import numpy as np
import pytest

import distsim
from conftest import run_one
from distsim.fmt import fmt_memory
from distsim.report import timeline
from distsim.report.linkorder import link_tiers, natural_key
from distsim.report.plots import links_figure, scaling_figure, timeline_figure

N = 40  # workers: past the aggregation threshold, still quick


@pytest.fixture(scope="module")
def big_ring():
    return run_one("ring_allreduce", N, 4_000_000, verify=False).trace


def _axes(fig, label):
    (ax,) = [ax for ax in fig.axes if ax.get_label() == label]
    return ax


def test_natural_order_puts_w2_before_w10():
    names = ["w10->switch", "w2->switch", "w1->switch", "ps->switch"]
    assert sorted(names, key=natural_key) == ["ps->switch", "w1->switch", "w2->switch", "w10->switch"]


def test_links_are_grouped_by_tier_from_their_endpoints():
    text = """\
cluster:
  workers: 4
  network:
    topology: graph
    bandwidth: 100 Gbit/s
    latency: 5 us
    switches: [s0, s1]
    edges: [[0, s0], [1, s0], [2, s1], [3, s1], [s0, s1]]
model: {params: 400}
strategy: {kind: ring_allreduce}
"""
    (outcome,) = distsim.run(*distsim.loads(text, "two.yaml"))
    trace = outcome.trace
    tiers = link_tiers(trace, range(len(trace.links)))
    names = {tier: [trace.links[i].name for i in ids] for tier, ids in tiers}
    assert list(names) == ["uplinks", "downlinks", "trunks"]
    assert names["uplinks"] == ["w0->s0", "w1->s0", "w2->s1", "w3->s1"]
    assert names["downlinks"] == ["s0->w0", "s0->w1", "s1->w2", "s1->w3"]
    assert names["trunks"] == ["s0->s1", "s1->s0"]


def test_a_ring_topology_has_direct_links_in_natural_order():
    trace = run_one("ring_allreduce", 12, 1200, topology="ring").trace
    ((tier, ids),) = link_tiers(trace, np.flatnonzero(trace.link_bytes() > 0))
    names = [trace.links[i].name for i in ids]
    assert tier == "direct" and names[:3] == ["w0->w1", "w1->w2", "w2->w3"] and names.index("w2->w3") < names.index("w10->w11")


def test_small_timelines_list_link_rows_by_tier_in_natural_order():
    trace = run_one("ring_allreduce", 12, 1200).trace
    fig = timeline_figure([("ring", trace)])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    links = [label for label in labels if "->" in label]
    ups = [label for label in links if label.endswith("->switch")]
    assert ups == sorted(ups, key=natural_key) and links.index(ups[-1]) < links.index("switch->w0")


def test_past_the_threshold_a_timeline_is_phase_bands_per_rank_group_and_a_link_heat_map(big_ring):
    fig = timeline_figure([("ring", big_ring)])
    width, height = fig.get_size_inches()
    assert height <= 12 and width <= 12  # bounded, whatever the rank count
    bands, heat = _axes(fig, "ring: ranks"), _axes(fig, "ring: links")
    groups = [t.get_text() for t in bands.get_yticklabels()]
    assert len(groups) <= timeline.RANK_GROUPS and groups[0] == "w0–w2" and groups[-1].endswith(f"w{N - 1}")
    (image,) = heat.images
    busy = np.asarray(image.get_array())
    used = np.flatnonzero(big_ring.link_bytes() > 0)
    assert busy.shape == (len(used), timeline.HEAT_BINS) and 0 <= busy.min() and busy.max() <= 1 + 1e-9
    # each row, summed over the bins, is that link's busy time from the trace
    end = bands.get_xlim()[1] * timeline.time_unit(big_ring.makespan)[0]
    seconds = busy.sum(axis=1) * end / timeline.HEAT_BINS
    order = [i for _, ids in link_tiers(big_ring, used) for i in ids]
    assert np.allclose(seconds, big_ring.link_busy_time()[order], rtol=1e-6)


def test_phase_bands_are_the_fraction_of_each_groups_ranks_busy_in_each_phase(big_ring):
    groups = timeline.rank_groups(big_ring.ranks)
    edges = np.linspace(0.0, big_ring.makespan, 51)
    bands = timeline.phase_bands(big_ring, groups, edges)  # (group, phase, bin)
    assert bands.shape == (len(groups), len(big_ring.phases) + len(big_ring.op_kinds), 50)
    m = big_ring.messages
    per_message = m["nbytes"] / big_ring.links[0].bandwidth  # one hop's rate on a uniform switch
    for g, members in enumerate(groups):
        mine = np.isin(m["src"], members)
        for phase in range(len(big_ring.phases)):
            seconds = per_message[mine & (m["phase"] == phase)].sum()
            assert bands[g, phase].sum() * (edges[1] - edges[0]) * len(members) == pytest.approx(seconds, rel=1e-9)
    assert bands.max() <= 1 + 1e-9


def test_links_figure_bars_are_in_tier_then_natural_order():
    trace = run_one("ring_allreduce", 12, 1200).trace
    fig = links_figure([("ring", trace)])
    names = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    ups = [n for n in names if n.endswith("->switch")]
    downs = [n for n in names if n.startswith("switch->")]
    assert names == ups + downs and ups == sorted(ups, key=natural_key) and downs == sorted(downs, key=natural_key)
    tiers = [t.get_text() for t in fig.axes[1].texts]
    assert "uplinks" in tiers and "downlinks" in tiers


# -- the trade-off plot --------------------------------------------------------------------------------------


def test_the_trade_off_plot_draws_the_memory_limit_and_lists_what_does_not_fit():
    from distsim.remat.tradeoff import sweep_parameters
    from distsim.report.tradeoff import tradeoff_figure

    text = ("cluster: {workers: 1, gpu: {memory: 6 MiB}}\nmodel: {layers: 8, layer: {fwd_time: 1 ms, bwd_time: 2 ms, "
            "activation: 1 MiB}}\nstrategy: {kind: store_all}\n")
    scenario, _ = distsim.loads(text, "chain.yaml")
    points = sweep_parameters(scenario)
    fig = tradeoff_figure(points, "chain", memory=scenario.cluster.gpu.memory)
    ax = fig.axes[0]
    assert "MiB" in ax.get_xlabel()
    (limit,) = [line for line in ax.get_lines() if line.get_label().startswith("device memory")]
    assert limit.get_label() == "device memory (6 MiB)" and set(limit.get_xdata()) == {6.0}
    listing = "\n".join(t.get_text() for t in ax.texts if "do not fit" in t.get_text())
    assert "store_all (9 MiB)" in listing  # L + 1 = 9 activations of 1 MiB
    missing = {p.label for p in points if not p.fits}
    assert missing and all(label.split(" ")[0] in listing for label in missing)


# -- scaling: a failure is marked where it happened -----------------------------------------------------------


def test_a_failed_check_is_marked_only_on_its_own_panel(tmp_path):
    from distsim.sweep import run_sweep
    from distsim.sweep.executors import run_serial

    path = tmp_path / "grid.yaml"
    path.write_text("cluster:\n  workers: 4\n  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}\n"
                    "model: {params: 800}\nstrategy: {kind: ring_allreduce}\nsweep: {cluster.workers: [2, 4, 8]}\n")
    rows = run_sweep(path, run_tasks=run_serial).rows
    assert all(row["ok"] == "true" for row in rows)
    late = dict(rows[1], makespan_s=repr(float(rows[1]["makespan_s"]) * 3), makespan_status="FAIL", ok="false")
    extra = dict(rows[2], messages=str(int(rows[2]["messages"]) + 1), counts_ok="false", ok="false")
    fig = scaling_figure([rows[0], late, extra])
    crosses = [sum(len(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "x") for ax in fig.axes]
    assert crosses == [1, 0, 1]  # messages: the n = 8 point; bytes: none; makespan: the n = 4 point


# -- units --------------------------------------------------------------------------------------------------------


def test_memory_is_binary_and_given_back_as_written():
    assert fmt_memory(80 * 2**30) == "80 GiB" and fmt_memory(128 * 2**20) == "128 MiB" and fmt_memory(512) == "512 B"
    (outcome,) = distsim.run(*distsim.loads(
        "cluster: {workers: 1, gpu: {memory: 80 GiB}}\nmodel: {layers: 4, layer: {fwd_time: 1 ms, activation: 128 MiB}}\n"
        "strategy: {kind: store_all}\n", "chain.yaml"))
    from distsim.report.remat import remat_describe, remat_text

    assert "(80 GiB of memory)" in remat_describe(outcome.result.scenario, "chain.yaml")
    assert "peak activations 640 MiB" in remat_text(outcome)
