"""Rematerialization through the command line: the exam's numbers, errors, OOM, trade-off, determinism."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import distsim
from distsim.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
ISSUE_TEXT = """\
# The exam's rematerialization: 10 layers, every 5th activation kept.
cluster:
  workers: 1
  gpu: {flops: 312 TFLOPS, memory: 80 GiB}
  memory: {load_latency: 10 ns}
  disk: {load_latency: 50 ns}
model:
  layers: 10
  layer: {fwd_time: 20 ns, bwd_time: 0 ns, activation: 4 MiB}
strategy: {kind: checkpoint_every_k, k: 5}
run: {seed: 0}
"""
ERROR_LINE = re.compile(r"^distsim: error: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>[\w.]+): (?P<message>.+)$")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``distsim ARGS`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_exam_scenario_is_the_issue_text_exactly():
    """The bundled file holds the issue's text (a schema comment may precede it), and the text alone is accepted."""
    assert (ROOT / "scenarios" / "exam_remat.yaml").read_text().endswith(ISSUE_TEXT)
    disk = ISSUE_TEXT.replace("strategy: {kind: checkpoint_every_k, k: 5}", "strategy: {kind: disk_offload}")
    assert (ROOT / "scenarios" / "exam_remat_disk.yaml").read_text().endswith(disk.split("\n", 1)[1])
    (outcome,) = distsim.run(*distsim.loads(ISSUE_TEXT))
    assert outcome.ok and outcome.reconciliation.simulated["fwd_ops"] == 20


def test_the_exam_numbers_come_out_of_the_cli():
    result = subprocess.run([sys.executable, "-m", "distsim", "run", "scenarios/exam_remat.yaml", "--json"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    for key in ("schedule", "layers", "fwd_ops", "forward_pass_ops", "bwd_ops", "loadmem_ops", "loaddisk_ops",
                "backward_time_s", "peak_activation_bytes", "expected", "checks", "ok"):
        assert key in body
    assert (body["schedule"], body["layers"], body["fwd_ops"], body["loadmem_ops"]) == ("checkpoint_every_k", 10, 20, 10)
    assert body["forward_pass_ops"] == 10 and body["bwd_ops"] == 10 and body["loaddisk_ops"] == 0
    assert body["backward_time_s"] == pytest.approx(500e-9, rel=1e-12)
    assert body["break_even_loaddisk_s"] == pytest.approx(50e-9, rel=1e-12)
    assert body["peak_activation_bytes"] == 4 * 4 * 2**20  # a_0, a_5, a_9 and a_10 at the forward step of layer 10
    assert body["gradients_verified"] and body["ok"] and all(c["ok"] for c in body["checks"])


def test_the_disk_alternative_takes_the_same_time_with_ten_loaddisk_ops(capsys):
    code, out, _ = cli(capsys, "run", str(ROOT / "scenarios" / "exam_remat_disk.yaml"), "--json")
    body = json.loads(out)
    assert code == 0 and body["ok"]
    assert (body["schedule"], body["loaddisk_ops"], body["fwd_ops"], body["loadmem_ops"]) == ("disk_offload", 10, 0, 0)
    assert body["backward_time_s"] == pytest.approx(500e-9, rel=1e-12)


def test_the_text_report_shows_the_four_exam_numbers(capsys):
    code, out, _ = cli(capsys, "run", str(ROOT / "scenarios" / "exam_remat.yaml"))
    assert code == 0
    assert "backward pass 500 ns: 20 fwd (recomputation), 10 bwd, 10 loadmem" in out
    assert "break-even loaddisk: 50 ns" in out


def test_the_input_load_option_adds_the_input_load_where_it_is_not_at_hand(capsys, tmp_path):
    text = ISSUE_TEXT.replace("{kind: checkpoint_every_k, k: 5}", "{kind: checkpoint_every_k, k: 1, input_load: true}")
    code, out, _ = cli(capsys, "run", write(tmp_path, text), "--json")
    body = json.loads(out)
    assert code == 0 and body["loadmem_ops"] == 11 and body["input_load"] is True


BAD = {
    "k larger than L": ("{kind: checkpoint_every_k, k: 11}", "strategy.k", "k = 11 is larger than the number of layers L = 10"),
    "k below 1": ("{kind: checkpoint_every_k, k: 0}", "strategy.k", "greater than or equal to 1"),
    "segments larger than L": ("{kind: checkpoint_sequential, segments: 40}", "strategy.segments", "larger than the number of layers"),
    "budget too small": ("{kind: optimal, budget: 8 MiB}", "strategy.budget", "the least any schedule needs, 12,582,912 bytes"),
    "negative time": ("{kind: store_all}", "model.layer.fwd_time", "greater than or equal to 0"),
    "negative size": ("{kind: store_all}", "model.layer.activation", "greater than 0"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_one_located_line_and_exit_2(capsys, tmp_path, case):
    strategy, path, message = BAD[case]
    text = ISSUE_TEXT.replace("{kind: checkpoint_every_k, k: 5}", strategy)
    if case == "negative time":
        text = text.replace("fwd_time: 20 ns", "fwd_time: -20 ns")
    if case == "negative size":
        text = text.replace("activation: 4 MiB", "activation: -4 MiB")
    file = write(tmp_path, text)
    code, out, err = cli(capsys, "run", file)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    found = ERROR_LINE.match(lines[0])
    assert found and found["file"] == file and found["path"] == path and message in found["message"], lines[0]
    assert "Traceback" not in err


def test_a_missing_layer_chain_is_named(capsys, tmp_path):
    file = write(tmp_path, "cluster: {workers: 1}\nmodel: {params: 10}\nstrategy: {kind: store_all}\n")
    code, _, err = cli(capsys, "run", file)
    assert code == 2 and "model: missing required key 'layers'" in err and "missing required key 'layer'" in err


def test_per_layer_sizes_are_accepted_and_reconciled(capsys, tmp_path):
    text = ("cluster: {workers: 1, memory: {load_latency: 1 us}}\nmodel:\n  per_layer:\n"
            + "".join(f"    - {{fwd_time: {i} us, bwd_time: 1 us, activation: {i} MiB}}\n" for i in range(1, 8))
            + "strategy:\n  - {kind: checkpoint_every_k, k: 3}\n  - {kind: segment_recompute, k: 2}\n  - {kind: optimal, slots: 3}\n")
    code, out, err = cli(capsys, "run", write(tmp_path, text), "--json")
    assert code == 0, err
    runs = json.loads(out)["runs"]
    assert [r["layers"] for r in runs] == [7, 7, 7] and all(r["gradients_verified"] for r in runs)
    every_k = runs[0]
    # Layer j is rerun for each layer above it in its segment: 1,2 (j=1: twice, j=2: once), 4,5, 7.
    assert every_k["backward_time_s"] == pytest.approx((2 * 1 + 2 + 2 * 4 + 5 + 7) * 1e-6 + 7e-6 + 7e-6, rel=1e-9)


def test_per_layer_and_layer_together_are_rejected(capsys, tmp_path):
    text = ISSUE_TEXT.replace("  layers: 10\n", "  per_layer: [{fwd_time: 1 us, activation: 1 MiB}]\n")
    code, _, err = cli(capsys, "run", write(tmp_path, text))
    assert code == 2 and "model.per_layer: give either 'layer'" in err


def test_out_of_memory_is_a_report_and_exit_3(capsys, tmp_path):
    text = ISSUE_TEXT.replace("memory: 80 GiB", "memory: 20 MiB").replace("{kind: checkpoint_every_k, k: 5}", "{kind: store_all}")
    code, out, err = cli(capsys, "run", write(tmp_path, text))
    assert code == 3 and "store_all: does not fit: needs 44 MiB of activations at its peak, the device has 20 MiB" in out
    assert len(err.strip().splitlines()) == 1 and "store_all does not fit: out of memory on w0" in err and "fwd 5 (op 13, forward pass)" in err
    assert "4,194,304 bytes" in err and "20,971,520 of 20,971,520 bytes already in use" in err


def test_the_same_scenario_gives_the_same_trace_bit_for_bit():
    runs = [distsim.run(ROOT / "scenarios" / "remat_24.yaml") for _ in range(2)]
    for first, second in zip(*runs):
        assert first.trace.ops.nbytes and bytes(first.trace.ops._rows) == bytes(second.trace.ops._rows)
        assert first.trace.meta == second.trace.meta


def test_tradeoff_prints_the_frontier_and_draws_it(capsys, tmp_path):
    scenario = ISSUE_TEXT.replace("layers: 10", "layers: 8")
    png, svg = tmp_path / "t.png", tmp_path / "t.svg"
    code, out, err = cli(capsys, "tradeoff", write(tmp_path, scenario), "-o", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frontier = [line for line in out.splitlines() if line.rstrip().endswith("*")]
    assert any(line.startswith("disk_offload") for line in frontier)  # nothing is smaller (3 activations) and faster
    assert any(line.startswith("optimal slots = 8 ") for line in frontier)  # nothing is faster: no rerun, 7 loads
    code, out, _ = cli(capsys, "tradeoff", write(tmp_path, scenario), "--sweep", "budget", "-o", str(svg))
    assert code == 0 and svg.read_text().lstrip().startswith("<?xml")


def test_tradeoff_rejects_an_unknown_image_format(capsys, tmp_path):
    code, _, err = cli(capsys, "tradeoff", str(ROOT / "scenarios" / "exam_remat.yaml"), "-o", str(tmp_path / "t.jpg"))
    assert code == 2 and "name the file .png or .svg" in err and not (tmp_path / "t.jpg").exists()


def test_the_sweep_has_a_point_per_setting_and_its_extremes_on_the_frontier():
    from distsim.remat.tradeoff import sweep_parameters

    scenario, _ = distsim.loads(ISSUE_TEXT.replace("layers: 10", "layers: 6"))
    points = sweep_parameters(scenario)
    assert len(points) == 2 + 6 + 6 + 6 + 7  # store_all, disk_offload, k, k, segments 1..6, slots 1..7
    fastest = min(p.backward_s for p in points)
    smallest = min(p.peak_bytes for p in points)
    assert any(p.pareto and p.backward_s == fastest for p in points)
    assert any(p.pareto and p.peak_bytes == smallest for p in points)
    for p in points:
        beaten = any(q.peak_bytes <= p.peak_bytes and q.backward_s < p.backward_s for q in points)
        assert not (p.pareto and beaten)


def test_the_pareto_frontier_is_what_nothing_beats():
    from distsim.remat.tradeoff import Point, mark_pareto

    points = mark_pareto([Point("a", "", None, 10, 5.0), Point("b", "", None, 20, 5.0), Point("c", "", None, 20, 1.0),
                          Point("d", "", None, 5, None), Point("e", "", None, 30, 0.5)])
    assert [p.schedule for p in points if p.pareto] == ["a", "c", "e"]


def test_the_remat_benchmark_measures_and_tabulates(monkeypatch):
    from distsim.bench import remat, remat_child

    def in_this_process(module, kind, size):  # the suite's child processes, run here for speed
        assert module == "distsim.bench.remat_child"
        runs = {"plan_optimal": remat_child.plan, "bare": remat_child.bare}
        return runs.get(kind, lambda layers: remat_child.simulate(kind, layers))(size) | {"peak_bytes": 1}

    monkeypatch.setattr(remat, "in_child", in_this_process)
    rows = remat.remat_suite(repeat=1, layers=40)
    assert [r["kind"] for r in rows] == list(remat.SCHEDULES) + ["plan_optimal"]
    assert all(r["ops"] > 0 and r["wall_s"] > 0 for r in rows)
    assert all(r["bare_wall_s"] > 0 for r in rows if r["kind"] != "plan_optimal")
    table = remat.remat_table(rows)
    assert "optimal: planning only (30 slots)" in table and "checkpoint_every_k" in table
