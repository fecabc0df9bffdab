"""One data-parallel training step: every stage, schedule and overlap against the closed forms, payloads
against one big-batch step, and the moves the issue names (overlap off, bucket size, a straggler)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import distsim
from distsim.analysis.step_forms import bucket_forms
from distsim.cli.main import main
from distsim.errors import OutOfMemoryError, ScenarioError, VerificationError
from distsim.strategies.data_parallel import RankStep
from distsim.training.buckets import plan_buckets

# A small GPT whose compute and communication are of one order, so overlap matters.
MODEL = "{kind: transformer, layers: 4, hidden: 256, heads: 4, seq: 128, vocab: 1000, batch: 2, dtype: bf16}"


def step_yaml(workers: int = 4, run: str = "{seed: 0}", gpu: str = "{flops: 10 TFLOPS, memory: 16 GiB}",
              model: str = MODEL, **strategy) -> str:
    fields = ", ".join(f"{k}: {v}" for k, v in {"kind": "data_parallel", **strategy}.items())
    return (f"cluster:\n  workers: {workers}\n  gpu: {gpu}\n"
            f"  network: {{topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}}\n"
            f"model: {model}\nstrategy: {{{fields}}}\nrun: {run}\n")


def step(**options) -> distsim.Outcome:
    (outcome,) = distsim.run(*distsim.loads(step_yaml(**options)))
    return outcome


def check(outcome, name: str):
    return {c.name: c for c in outcome.reconciliation.checks}[name]


KCK = "{kind: checkpoint_every_k, k: 2}"


@pytest.mark.parametrize("zero", [0, 1, 2, 3])
@pytest.mark.parametrize("overlap", ["true", "false"])
@pytest.mark.parametrize("remat", ["null", KCK])
def test_every_stage_schedule_and_overlap_meets_its_closed_forms_and_the_big_batch_result(zero, overlap, remat):
    outcome = step(zero=zero, overlap=overlap, remat=remat, bucket="2 MB")
    assert outcome.result.verified, "payloads were not checked"
    assert outcome.ok, [c for c in outcome.reconciliation.checks if not c.ok]
    names = {c.name: c.status for c in outcome.reconciliation.checks}
    assert names["step time"] == "ok" and names["exposed communication"] == "ok"  # exact, not a bound
    assert names["peak activations bytes per rank"] == "ok" and names["peak optimizer bytes per rank"] == "ok"


def test_overlap_off_costs_exactly_what_the_backward_pass_hid():
    on, off = step(bucket="1 MB"), step(bucket="1 MB", overlap="false")
    sim_on, sim_off = on.reconciliation.simulated, off.reconciliation.simulated
    exp_on, exp_off = on.reconciliation.expected, off.reconciliation.expected
    # Without overlap the step is compute + communication, to rounding, on every rank ...
    for compute, comm, end in zip(sim_off["compute_s"], sim_off["comm_s"], sim_off["end_s"]):
        assert end == pytest.approx(compute + comm, rel=1e-12)
    # ... and the closed forms predict both steps, so the move too.
    assert sim_on["step_s"] == pytest.approx(exp_on["step_s"], rel=1e-9)
    assert sim_off["step_s"] == pytest.approx(exp_off["step_s"], rel=1e-9)
    hidden = max(sim_on["overlap_s"])
    assert hidden > 0.2 * sim_on["step_s"]  # a case where overlap matters
    assert sim_off["step_s"] - sim_on["step_s"] == pytest.approx(hidden, rel=1e-9)


def test_the_bucket_size_moves_the_step_as_the_closed_forms_say():
    small, large = step(bucket="256 kB"), step(bucket="4 MB")
    params = small.result.scenario.model.params
    for outcome, size in ((small, 256e3), (large, 4e6)):
        assert outcome.trace.meta["buckets"] == -(-params // int(size // 2))  # ceil(P / C), bf16
        assert check(outcome, "step time").ok and check(outcome, "exposed communication").ok
    steps = [o.reconciliation.simulated["step_s"] for o in (small, large)]
    expected = [o.reconciliation.expected["step_s"] for o in (small, large)]
    assert steps[1] - steps[0] == pytest.approx(expected[1] - expected[0], rel=1e-9)
    assert steps[1] != steps[0]


def test_a_straggler_slows_the_step_as_the_closed_forms_bound_it():
    even, slow = step(bucket="1 MB"), step(bucket="1 MB", run="{seed: 0, stragglers: {w2: 1.2}}")
    sim, exp = slow.reconciliation.simulated, slow.reconciliation.expected
    base = even.reconciliation.simulated
    assert sim["compute_s"][2] == pytest.approx(1.2 * base["compute_s"][2], rel=1e-9)  # only w2 is slower
    assert sim["compute_s"][0] == pytest.approx(base["compute_s"][0], rel=1e-12)
    bound = check(slow, "step time (straggler)")
    assert bound.ok and bound.status in ("bound", "explained")
    assert sim["step_s"] >= sim["compute_s"][2]  # everyone waits for w2
    # The model (each bucket's collective once w2 has filled it) predicts the move to within the waits it explains.
    assert sim["step_s"] == pytest.approx(exp["step_s"], rel=0.01)
    extra = 0.2 * base["compute_s"][2]
    assert 0.5 * extra < sim["step_s"] - base["step_s"] < 1.1 * extra


def test_jitter_keeps_counts_and_identities_and_is_deterministic():
    run = "{seed: 3, jitter: {distribution: lognormal, sigma: 0.1}}"
    a, b = step(run=run), step(run=run)
    assert a.ok and "step time" not in {c.name for c in a.reconciliation.checks}
    assert np.array_equal(a.trace.ops["t_end"], b.trace.ops["t_end"])
    assert np.array_equal(a.trace.messages["t_arrive"], b.trace.messages["t_arrive"])


def test_a_wrong_gradient_exchange_fails_the_payload_check(monkeypatch):
    original = RankStep.fill

    def first_rank_only(self, bucket):  # every rank sends rank 0's gradients: the mean is wrong
        self.filled[bucket.index] = self.job.bucket_tensor(0, bucket)
        if self.q.overlap:
            self.reduce(bucket)

    monkeypatch.setattr(RankStep, "fill", first_rank_only)
    with pytest.raises(VerificationError, match="big-batch step"):
        step(zero=0)
    monkeypatch.setattr(RankStep, "fill", original)
    assert step(zero=0).result.verified


def test_memory_by_category_follows_zero():
    n = 4
    got = {z: step(zero=z).reconciliation.simulated["memory"]["max_by_category"][0] for z in (0, 1, 2, 3)}
    assert got[1]["optimizer"] * n == pytest.approx(got[0]["optimizer"], rel=1e-3)  # sharded (up to padding)
    assert got[2]["gradients"] * n == pytest.approx(got[1]["gradients"], rel=1e-3)
    assert got[3]["weights"] * n == pytest.approx(got[2]["weights"], rel=1e-3)
    assert got[0]["optimizer"] == 6 * got[0]["weights"]  # bf16 Adam: 12 bytes against 2
    assert got[2]["buffers"] > 0 and got[0]["buffers"] == 0  # stage 2 holds a bucket's full gradient until reduced


def test_out_of_memory_names_the_rank_and_the_breakdown():
    with pytest.raises(OutOfMemoryError) as caught:
        step(gpu="{flops: 10 TFLOPS, memory: 20 MiB}")
    assert caught.value.rank == "w0" and caught.value.by_category["weights"] > 0


@pytest.mark.parametrize("strategy, path, words", [
    ({"remat": "{kind: checkpoint_every_k, k: 0}"}, ("strategy", "remat", "k"), "greater than or equal to 1"),
    ({"remat": "{kind: checkpint_every_k}"}, ("strategy", "remat", "kind"), "unknown schedule"),
    ({"remat": "{kind: ring_allreduce}"}, ("strategy", "remat", "kind"), "not a rematerialization schedule"),
    ({"remat": "{kind: checkpoint_every_k, k: 9}"}, ("strategy", "remat", "k"), "larger than the number of layers"),
    ({"zero": 1, "algorithm": "tree"}, ("strategy", "algorithm"), "does not implement reduce_scatter"),
    ({"zero": 1, "algorithm": "halving_doubling"}, ("strategy", "algorithm"), "all_gather"),
])
def test_bad_step_parameters_are_located(strategy, path, words):
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(step_yaml(**strategy))
    problems = caught.value.problems
    assert any(p.path == path and words in p.message for p in problems), problems


def test_a_model_without_layers_is_refused_at_model():
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(step_yaml(model="{params: 1000}"))
    assert any(p.path == ("model",) and "layers" in p.message for p in caught.value.problems)


@pytest.mark.parametrize("params, capacity, multiple", [
    ([5, 7, 3], 4, 1), ([10, 1, 10], 3, 2), ([100], 7, 4), ([3, 3, 3, 3], 100, 3), ([1, 0, 2], 1, 1),
])
def test_buckets_cut_the_reversed_gradients_and_the_analyzer_agrees(params, capacity, multiple):
    buckets = plan_buckets(params, capacity, multiple)
    seen = {(layer, e): 0 for layer, p in enumerate(params) for e in range(p)}
    order = []
    for bucket in buckets:
        assert bucket.elements == sum(p.size for p in bucket.pieces) and bucket.padded % multiple == 0
        for piece in bucket.pieces:
            for e in range(piece.start, piece.stop):
                seen[(piece.layer, e)] += 1
            order.append(piece.layer)
    assert set(seen.values()) == {1}  # every gradient element in exactly one bucket
    assert order == sorted(order, reverse=True)  # last layer first
    assert all(b.elements == capacity for b in buckets[:-1])
    forms = bucket_forms(params, capacity, 1 if multiple > 1 else 0, multiple)  # the analyzer's own derivation
    assert [(f.elements, f.after) for f in forms] == [(b.elements, b.ready_after) for b in buckets]


def test_the_command_prints_the_breakdown_json_and_a_report(tmp_path, capsys):
    path = tmp_path / "step.yaml"
    path.write_text(step_yaml(zero=1, bucket="1 MB"))
    for args in (["run", str(path)], ["run", str(path), "--json"], ["report", str(path), "-o", str(tmp_path / "r.html")]):
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 0, capsys.readouterr()
        out = capsys.readouterr().out
        if args[-1] == "--json":
            run = json.loads(out)
            assert run["family"] == "training" and run["ok"] and run["payload_verified"]
            assert run["step_time_s"] == pytest.approx(run["compute_s"] + run["exposed_communication_s"], rel=1e-12)
            assert set(run["memory_peak_by_category"]) == {"weights", "gradients", "optimizer", "activations", "buffers"}
            assert len(run["per_rank"]["exposed_s"]) == 4
        elif args[0] == "run":
            assert "exposed" in out and "MFU" in out and "peak weights bytes per rank" in out
    assert "compute" in (tmp_path / "r.html").read_text()


def test_a_layer_list_runs_a_step_under_every_stage(tmp_path, capsys):
    model = ("{dtype: bf16, per_layer: [{fwd_flops: 1e9, activation: 1 MiB, params: 100000}, "
             "{fwd_flops: 1e9, activation: 1 MiB, params: 0}, {fwd_flops: 2e9, activation: 2 MiB, params: 50000}]}")
    for zero in (0, 1, 2, 3):
        path = tmp_path / f"z{zero}.yaml"
        path.write_text(step_yaml(model=model, zero=zero))
        with pytest.raises(SystemExit) as exited:
            main(["run", str(path)])
        out = capsys.readouterr().out
        assert exited.value.code == 0 and "a model of 3 layers, 150,000 parameters" in out, out


def test_every_problem_of_a_step_is_reported_at_once():
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(step_yaml(zero=2, algorithm="tree", remat="{kind: checkpoint_every_k, k: 9}"))
    assert {p.path for p in caught.value.problems} == {("strategy", "algorithm"), ("strategy", "remat", "k")}
