"""Plots: what each figure draws comes from the trace (or the closed forms), files are valid and atomic."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.colors import to_rgba

from conftest import run_one
from distsim.analysis.closed_forms import expectation
from distsim.analysis.links import LinkLoad, link_loads
from distsim.cli.main import cli
from distsim.errors import InputError
from distsim.report import timeline
from distsim.report.occupancy import busy_per_bin, link_spans, message_routes
from distsim.report.plots import bottleneck_sentence, links_figure, save, scaling_figure, timeline_figure
from distsim.report.scaling import curves, groups, inputs_of
from distsim.report.style import PHASE_COLOURS
from distsim.sweep import run_sweep
from distsim.sweep.executors import run_serial
from distsim.trace.export import write_csvs
from distsim.trace.load import TraceFormatError, load_trace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- reading a --trace-out directory back ------------------------------------------------------------


@pytest.mark.parametrize("kind, extra", [("ring_allreduce", "reduce_compute: true"), ("parameter_server", "server: 0"),
                                          ("all_to_all", ""), ("parameter_server", "reduce_compute: true")])
def test_a_trace_directory_reads_back_exactly(tmp_path, kind, extra):
    trace = run_one(kind, 5, 1003, extra=extra).trace
    write_csvs(trace, tmp_path)
    back = load_trace(tmp_path)
    for table in ("messages", "ops"):
        mine, theirs = getattr(trace, table).columns(), getattr(back, table).columns()
        assert {k: v.tolist() for k, v in mine.items()} == {k: v.tolist() for k, v in theirs.items()}
    assert (back.ranks, back.placement, back.nodes, back.links) == (trace.ranks, trace.placement, trace.nodes, trace.links)
    assert (back.routes, back.makespan, back.phases, back.op_kinds) == (trace.routes, trace.makespan, trace.phases, trace.op_kinds)


def test_a_directory_without_a_trace_is_a_clear_error(tmp_path):
    (tmp_path / "messages.csv").write_text("id\n")
    with pytest.raises(TraceFormatError, match="missing ops.csv, links.csv, layout.json"):
        load_trace(tmp_path)


# -- occupancy ---------------------------------------------------------------------------------------------


intervals = st.lists(st.tuples(st.floats(0, 10), st.floats(0, 5)), max_size=30)


@given(spans=intervals, cuts=st.lists(st.floats(0, 16), min_size=2, max_size=12, unique=True))
def test_busy_per_bin_matches_clipping_each_interval(spans, cuts):
    start = np.array([s for s, _ in spans])
    end = np.array([s + d for s, d in spans])
    edges = np.sort(np.array(cuts))
    expected = [sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in zip(start, end)) for lo, hi in zip(edges[:-1], edges[1:])]
    assert np.allclose(busy_per_bin(start, end, edges), expected, atol=1e-9)


@pytest.mark.parametrize("kind, topology", [("ring_allreduce", "switch"), ("all_to_all", "ring"), ("parameter_server", "switch")])
def test_link_spans_add_up_to_each_links_busy_time(kind, topology):
    trace = run_one(kind, 5, 997, topology=topology).trace
    spans = link_spans(trace, np.arange(len(trace.links)))
    busy = np.bincount(spans.row, weights=spans.end - spans.start, minlength=len(trace.links))
    assert np.allclose(busy, trace.link_busy_time(), rtol=1e-12)
    routes, _ = message_routes(trace)
    assert len(spans) == int((routes >= 0).sum())


# -- the timeline --------------------------------------------------------------------------------------


def _collections(fig):
    return [c for ax in fig.axes for c in ax.collections]


def test_timeline_draws_every_transfer_and_op_in_its_phase_colour():
    trace = run_one("ring_allreduce", 4, 400, extra="reduce_compute: true").trace
    fig = timeline_figure([("ring", trace)])
    drawn = {tuple(c.get_facecolor()[0]): len(c.get_paths()) for c in _collections(fig)}
    m = trace.messages
    hops = 2  # a switch: up and down
    for phase in ("reduce_scatter", "all_gather"):
        count = int((m["phase"] == trace.phases.index(phase)).sum())
        assert drawn[to_rgba(PHASE_COLOURS[phase])] == count * (1 + hops)  # the sender's row and each link
    assert sum(drawn.values()) == len(m) * (1 + hops) + len(trace.ops)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[:4] == ["w0", "w1", "w2", "w3"] and "w0->switch" in labels
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["reduce-scatter", "all-gather", "reduce"]


def test_large_timelines_are_aggregated_into_time_bins(monkeypatch):
    monkeypatch.setattr(timeline, "BAR_LIMIT", 50)
    monkeypatch.setattr(timeline, "BINS", 100)
    trace = run_one("ring_allreduce", 6, 6_000_000, verify=False).trace  # transfers (320 us) dwarf latency (5 us)
    fig = timeline_figure([("ring", trace)])
    (image,) = fig.axes[0].images
    pixels = image.get_array()
    assert pixels.shape == (2 * (6 + 12), 100, 3)
    # reduce-scatter fills the first half of the run, all-gather the second: look at a link row
    link_row = 2 * 6
    assert np.allclose(pixels[link_row, 10], to_rgba(PHASE_COLOURS["reduce_scatter"])[:3], atol=0.2)
    assert np.allclose(pixels[link_row, 90], to_rgba(PHASE_COLOURS["all_gather"])[:3], atol=0.2)
    assert "aggregated into 100 time bins" in fig.axes[0].get_title(loc="left")


# -- links ------------------------------------------------------------------------------------------------------


def test_links_figure_names_the_bottleneck_from_the_trace():
    trace = run_one("parameter_server", 6, 2000).trace
    fig = links_figure([("ps", trace)])
    title = fig.axes[0].get_title(loc="left")
    assert "2 links tie as the bottleneck" in title and "ps->switch" in title  # n p in, n p out
    names = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    widths = dict(zip(names, [round(b.get_width()) for b in fig.axes[1].patches]))
    assert widths["ps->switch"] == widths["switch->ps"] == 6 * 2000 * 4  # n p in, n p out
    assert names[0] == "ps->switch" and link_loads(trace)[0].name in ("ps->switch", "switch->ps")


def test_the_title_is_the_bottleneck_sentence_of_the_trace():
    trace = run_one("parameter_server", 4, 2000, topology="ring").trace
    title = links_figure([("ps", trace)]).axes[0].get_title(loc="left")
    assert title == "ps: link utilization\n" + bottleneck_sentence(link_loads(trace))


def test_bottleneck_sentence_names_one_link_or_the_tie():
    one = [LinkLoad("ps->switch", 8e9, 2.0, 1.0, 0.5), LinkLoad("w0->switch", 1e9, 0.5, 0.25, 0.0)]
    assert bottleneck_sentence(one) == "bottleneck: ps->switch,\nbusy 100% of the makespan, carried 8 GB"
    tie = [LinkLoad("a", 1e9, 1.0, 0.5, 0.0), LinkLoad("b", 1e9, 1.0, 0.5, 0.0), LinkLoad("c", 1e6, 0.1, 0.05, 0.0)]
    assert bottleneck_sentence(tie).startswith("2 links tie as the bottleneck (e.g. a)")
    assert bottleneck_sentence([]) == "no message crossed the network"


# -- scaling ------------------------------------------------------------------------------------------------------


SWEEP = """\
cluster:
  workers: 4
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1e4, dtype: fp32}
strategy: {kind: ring_allreduce}
sweep:
  cluster.workers: [2, 4, 8]
  strategy.kind: [ring_allreduce, parameter_server, all_to_all]
"""


@pytest.fixture(scope="module")
def sweep_rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "grid.yaml"
    path.write_text(SWEEP)
    return run_sweep(path, run_tasks=run_serial).rows


def test_scaling_curves_come_from_the_closed_forms_not_the_points(sweep_rows):
    ns = np.arange(2, 9)
    for row in sweep_rows[:3]:
        values = curves(row, ns)
        exp = [expectation(inputs_of(row, n)) for n in ns]
        assert values["messages"].tolist() == [e.messages.value for e in exp]
        assert values["total_bytes"].tolist() == [e.total_bytes.value for e in exp]
    # doctor the simulated points: the curves do not move
    fig = scaling_figure(sweep_rows)
    doctored = [{**row, "messages": "1"} for row in sweep_rows]
    fig2 = scaling_figure(doctored)
    lines = lambda f: [l.get_ydata().tolist() for l in f.axes[0].lines if l.get_linestyle() == "-"]  # noqa: E731
    assert lines(fig) == lines(fig2)
    ring = [l for l in fig.axes[0].lines if l.get_label() == "ring_allreduce"][0]
    n = ring.get_xdata()
    assert ring.get_ydata().tolist() == (2 * n * (n - 1)).tolist()


def test_simulated_points_are_the_csv_values(sweep_rows):
    fig = scaling_figure(sweep_rows)
    markers = [l for l in fig.axes[0].lines if l.get_linestyle() == "None" and len(l.get_xdata())]
    plotted = sorted((int(x), int(y)) for l in markers for x, y in zip(l.get_xdata(), l.get_ydata()))
    assert plotted == sorted((int(r["workers"]), int(r["messages"])) for r in sweep_rows)


def test_parameter_server_makespan_shows_the_bottleneck_model(sweep_rows):
    fig = scaling_figure(sweep_rows)
    dashed = [l for l in fig.axes[2].lines if l.get_linestyle() == "--" and len(l.get_xdata())]
    assert len(dashed) == 1  # only the parameter server has an extra model on a switch
    ps = [r for r in sweep_rows if r["strategy"] == "parameter_server"]
    for row in ps:  # the simulated makespan lies on the dashed curve
        n = int(row["workers"])
        at = dashed[0].get_ydata()[list(dashed[0].get_xdata()).index(n)]
        assert at == pytest.approx(float(row["makespan_s"]), rel=1e-9)


def test_a_collective_swept_from_one_node_to_several_is_one_line(tmp_path):
    """One node records a switch, several a two-tier fabric: the collective's points still form one line."""
    path = tmp_path / "nodes.yaml"
    path.write_text("cluster: {preset: dgx-h100, nodes: 1}\nmodel: {params: 1e4, dtype: bf16}\n"
                    "strategy: {kind: collective, op: all_reduce, algorithm: ring}\nrun: {verify_payload: false}\n"
                    "sweep:\n  cluster.nodes: [1, 2, 4]\n")
    rows = run_sweep(path, run_tasks=run_serial).rows
    assert len({r["topology"] for r in rows}) == 2
    (line,) = groups(rows).values()
    assert sorted(int(r["workers"]) for r in line) == [8, 16, 32]
    markers = [l for l in scaling_figure(rows).axes[0].lines if len(l.get_xdata())]
    assert [l.get_label() for l in markers] == ["collective-all_reduce-ring"]


def test_scaling_needs_more_than_one_n(sweep_rows):
    with pytest.raises(InputError, match="needs a sweep over cluster.workers"):
        scaling_figure([r for r in sweep_rows if r["workers"] == "4"])


# -- files -----------------------------------------------------------------------------------------------------------


def test_png_and_svg_files_are_valid_deterministic_and_atomic(tmp_path):
    trace = run_one("all_to_all", 3, 100).trace
    save(timeline_figure([("a2a", trace)]), tmp_path / "t.png")
    save(timeline_figure([("a2a", trace)]), tmp_path / "t.svg")
    save(timeline_figure([("a2a", trace)]), tmp_path / "u.svg")
    assert (tmp_path / "t.png").read_bytes().startswith(PNG_MAGIC)
    root = ET.parse(tmp_path / "t.svg").getroot()
    assert root.tag.endswith("svg")
    assert "a2a: 6 messages" in (tmp_path / "t.svg").read_text()  # text stays text in SVG
    assert (tmp_path / "t.svg").read_bytes() == (tmp_path / "u.svg").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.png", "t.svg", "u.svg"]


def test_a_figure_that_fails_to_save_leaves_no_file(tmp_path, monkeypatch):
    trace = run_one("all_to_all", 3, 100).trace
    fig = timeline_figure([("a2a", trace)])
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        save(fig, tmp_path / "t.png")
    assert list(tmp_path.iterdir()) == []


# -- the command ----------------------------------------------------------------------------------------------------


def _scenario(tmp_path):
    path = tmp_path / "ps.yaml"
    path.write_text(SWEEP.split("sweep:")[0].replace("ring_allreduce", "parameter_server"))
    return path


@pytest.mark.parametrize("kind", ["timeline", "links"])
def test_cli_plots_a_scenario_and_its_trace_directory(tmp_path, kind):
    runner = CliRunner()
    scenario = _scenario(tmp_path)
    result = runner.invoke(cli, ["plot", str(scenario), "--kind", kind, "-o", str(tmp_path / "a.png")])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["run", str(scenario), "--trace-out", str(tmp_path / "trace")]).exit_code == 0
    result = runner.invoke(cli, ["plot", str(tmp_path / "trace"), "--kind", kind, "-o", str(tmp_path / "b.svg")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.png").read_bytes().startswith(PNG_MAGIC)


def test_cli_plots_scaling_from_a_csv_or_a_sweep_scenario(tmp_path):
    runner = CliRunner()
    grid = tmp_path / "grid.yaml"
    grid.write_text(SWEEP)
    assert runner.invoke(cli, ["sweep", str(grid), "-o", str(tmp_path / "r.csv"), "-j", "1"]).exit_code == 0
    for source in (tmp_path / "r.csv", grid):
        result = runner.invoke(cli, ["plot", str(source), "--kind", "scaling", "-o", str(tmp_path / "s.png")])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, message", [
    (["{csv}", "--kind", "timeline", "-o", "{out}.png"], "--kind timeline needs a scenario file or a --trace-out directory"),
    (["{yaml}", "--kind", "links", "-o", "{out}.pdf"], "name the file .png or .svg"),
    (["{missing}", "--kind", "links", "-o", "{out}.png"], "no such file or directory"),
    (["{notcsv}", "--kind", "scaling", "-o", "{out}.png"], "not a distsim sweep CSV"),
])
def test_cli_plot_errors_exit_2_and_write_nothing(tmp_path, args, message):
    (tmp_path / "r.csv").write_text("point_key\n")
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    names = {"csv": tmp_path / "r.csv", "yaml": _scenario(tmp_path), "missing": tmp_path / "nope.yaml",
             "notcsv": tmp_path / "notes.csv", "out": tmp_path / "figure"}
    result = CliRunner().invoke(cli, ["plot"] + [a.format(**names) for a in args], standalone_mode=False)
    assert isinstance(result.exception, InputError) and message in str(result.exception)
    assert not list(tmp_path.glob("figure*"))


def test_tradeoff_without_the_feature_says_what_it_needs(tmp_path):
    from distsim.report.plots import has_tradeoff

    if has_tradeoff():
        pytest.skip("the rematerialization trade-off plot exists; its own tests cover it")
    result = CliRunner().invoke(cli, ["plot", str(_scenario(tmp_path)), "--kind", "tradeoff", "-o", str(tmp_path / "t.png")],
                                standalone_mode=False)
    assert "needs the rematerialization feature (issue 3" in str(result.exception)


def test_csv_row_inputs_round_trip(sweep_rows, tmp_path):
    path = tmp_path / "r.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(sweep_rows[0]))
        writer.writeheader()
        writer.writerows(sweep_rows)
    from distsim.report.scaling import read_sweep_csv

    assert read_sweep_csv(path) == sweep_rows


def test_tradeoff_draws_the_rematerialization_plot_of_a_layer_chain(tmp_path):
    from distsim.report.plots import has_tradeoff

    if not has_tradeoff():
        pytest.skip("the rematerialization feature (issue 3) is not in this tree")
    scenario = tmp_path / "chain.yaml"
    scenario.write_text("cluster: {workers: 1, gpu: {memory: 80 GiB}}\nmodel: {layers: 6, layer: {fwd_time: 1 ms, bwd_time: 2 ms, "
                        "activation: 1 MiB}}\nstrategy: {kind: store_all}\n")
    result = CliRunner().invoke(cli, ["plot", str(scenario), "--kind", "tradeoff", "-o", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t.png").read_bytes().startswith(PNG_MAGIC)
    result = CliRunner().invoke(cli, ["plot", str(_scenario(tmp_path)), "--kind", "tradeoff", "-o", str(tmp_path / "u.png")],
                                standalone_mode=False)
    assert "needs a layer chain" in str(result.exception) and not (tmp_path / "u.png").exists()


def test_ops_without_messages_fill_the_rank_row_in_their_own_styles():
    from distsim.report.style import op_style

    import distsim

    text = ("cluster: {workers: 1, gpu: {memory: 80 GiB}}\nmodel: {layers: 4, layer: {fwd_time: 1 ms, bwd_time: 2 ms, "
            "activation: 1 MiB}}\nstrategy: {kind: store_all}\n")
    try:
        (outcome,) = distsim.run(*distsim.loads(text, "chain.yaml"))
    except distsim.ScenarioError:
        pytest.skip("the rematerialization feature (issue 3) is not in this tree")
    trace = outcome.trace
    fig = timeline_figure([("chain", trace)])
    boxes = [path.vertices for c in _collections(fig) for path in c.get_paths()]
    assert len(boxes) == len(trace.ops) and not len(trace.messages)
    assert all(box[:, 1].min() == -0.4 and box[:, 1].max() == 0.4 for box in boxes)
    assert op_style("fwd")[0] != op_style("bwd")[0]
    assert op_style("loadmem")[1] and op_style("storedisk")[1] and op_style("fwd")[1] is None
