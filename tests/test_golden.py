"""Golden count files: every bundled scenario is guarded; --expect, --update-golden and verify work as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import bundled_outcomes, scenario_yaml
from distsim.cli.main import main
from distsim.errors import InputError
from distsim.golden import FORMAT, compare, golden_path, golden_record, golden_values, read_golden, write_golden
from distsim.report.summary import outcome_dict

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))


# --- the project's own regression test: every bundled scenario has a golden file, and matches it ---

@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bundled_scenario_matches_its_golden_file(path):
    golden = golden_path(path)
    assert golden.exists(), (
        f"{path.name} has no golden file; after checking its output, write one with:\n"
        f"  distsim run scenarios/{path.name} --expect scenarios/golden/{golden.name} --update-golden")
    runs = [outcome_dict(outcome) for outcome in bundled_outcomes(path)]
    assert compare(read_golden(golden), runs) == []
    assert all(run["ok"] for run in runs)


def test_every_golden_file_has_its_scenario():
    orphans = [p.name for p in (SCENARIO_DIR / "golden").glob("*.json") if not (SCENARIO_DIR / f"{p.stem}.yaml").exists()]
    assert not orphans, f"golden files without a scenario (renamed or deleted?): {orphans}"


def test_golden_files_guard_the_counts_that_matter():
    record = read_golden(SCENARIO_DIR / "golden" / "exam_distributed.json")
    by_name = {run["strategy"]: run for run in record["runs"]}
    assert by_name["all_to_all"]["messages"] == 56 and by_name["parameter_server"]["messages"] == 16
    assert by_name["ring_allreduce"]["messages"] == 112 and by_name["ring_allreduce"]["message_bytes"] == {"500000": 112}


# --- what a golden file holds ---

COMMUNICATION = {"strategy": "ring_allreduce", "family": "communication", "workers": 4, "topology": "switch",
                 "messages": 24, "message_bytes": {"400": 24}, "total_bytes": 9600, "makespan_s": 0.001,
                 "expected": {"messages": 24}, "checks": [{"name": "messages"}], "explanation": ["x"],
                 "payload_verified": True, "memory_peak_bytes": {"w0": 800}, "wall_time_s": 0.25, "ok": True}
REMAT = {"schedule": "checkpoint_every_k", "family": "rematerialization", "layers": 10, "params": {"k": 5},
         "plan": "every 5", "fwd_ops": 20, "loadmem_ops": 10, "backward_time_s": 5e-7, "expected": {"fwd_ops": 20},
         "gradients_verified": True, "wall_time_s": 0.01, "ok": True}


def test_golden_values_keep_identity_numbers_and_number_mappings_of_any_family():
    assert golden_values(COMMUNICATION) == {
        "strategy": "ring_allreduce", "family": "communication", "workers": 4, "messages": 24,
        "message_bytes": {"400": 24}, "total_bytes": 9600, "makespan_s": 0.001, "memory_peak_bytes": {"w0": 800}}
    assert golden_values(REMAT) == {"schedule": "checkpoint_every_k", "family": "rematerialization", "layers": 10,
                                    "params": {"k": 5}, "fwd_ops": 20, "loadmem_ops": 10, "backward_time_s": 5e-7}


def record_of(*runs: dict) -> dict:
    return json.loads(json.dumps(golden_record(list(runs), "s.yaml")))  # as read back from disk


def test_an_identical_run_has_no_difference():
    assert compare(record_of(COMMUNICATION, REMAT), [COMMUNICATION, REMAT]) == []


def test_integers_must_match_exactly_and_floats_within_the_tolerance():
    golden = record_of(COMMUNICATION)
    assert compare(golden, [{**COMMUNICATION, "total_bytes": 9601}]) == ["ring_allreduce: total_bytes: golden 9600, now 9601 (+1)"]
    nudged = {**COMMUNICATION, "makespan_s": 0.001 * (1 + 1e-12)}
    assert compare(golden, [nudged]) == []
    (line,) = compare(golden, [{**COMMUNICATION, "makespan_s": 0.0011}])
    assert line.startswith("ring_allreduce: makespan_s: golden 0.001, now 0.0011 (relative difference 9.1e-02 > 1e-09)")
    assert compare(golden, [{**COMMUNICATION, "makespan_s": 0.0011}], rel_tol=0.1) == []


def test_size_histograms_are_compared_size_by_size():
    golden = record_of(COMMUNICATION)
    changed = {**COMMUNICATION, "message_bytes": {"400": 20, "1000": 4}}
    assert compare(golden, [changed]) == ["ring_allreduce: message_bytes[400]: golden 24, now 20 (-4)",
                                          "ring_allreduce: message_bytes[1000]: golden absent, now 4"]


def test_missing_values_runs_and_other_strategies_are_reported():
    golden = record_of(COMMUNICATION, REMAT)
    without = {k: v for k, v in COMMUNICATION.items() if k != "messages"}
    assert compare(golden, [without, REMAT]) == ["runs[0] ring_allreduce: messages: golden 24, now absent"]
    assert compare(golden, [COMMUNICATION]) == ["runs: golden has 2, this run has 1"]
    other = {**COMMUNICATION, "strategy": "all_to_all"}
    assert compare(golden, [other, REMAT]) == ["runs[0] ring_allreduce: golden is ring_allreduce, this run is all_to_all"]


def test_values_added_to_the_summary_later_are_not_compared():
    assert compare(record_of(COMMUNICATION), [{**COMMUNICATION, "new_metric": 5}]) == []


def test_golden_files_are_written_atomically(tmp_path, monkeypatch):
    target = tmp_path / "golden" / "s.json"
    write_golden(target, record_of(COMMUNICATION))
    before = target.read_text()
    assert read_golden(target)["format"] == FORMAT

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("distsim.fileio.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_golden(target, record_of(REMAT))
    assert target.read_text() == before and [p.name for p in target.parent.iterdir()] == ["s.json"]


@pytest.mark.parametrize("text, words", [("{", "invalid JSON"), ("[]", "not a golden file"),
                                         ('{"format": "other", "runs": []}', "not a golden file"),
                                         (b"\xff\xfe", "invalid JSON")])
def test_bad_golden_files_are_bad_input(tmp_path, text, words):
    path = tmp_path / "g.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError, match=words):
        read_golden(path)


def test_golden_path_convention():
    assert golden_path("scenarios/ring.yaml") == Path("scenarios/golden/ring.json")


# --- the commands ---

def distsim_main(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def small(tmp_path: Path, name: str = "s.yaml", kind: str = "ring_allreduce") -> Path:
    path = tmp_path / name
    path.write_text(scenario_yaml(kind, 4, 400))
    return path


def test_run_update_then_expect(tmp_path, capsys):
    scenario, golden = small(tmp_path), tmp_path / "golden" / "s.json"
    code, _, err = distsim_main(capsys, "run", str(scenario), "--expect", str(golden), "--update-golden")
    assert code == 0 and f"wrote golden file {golden}" in err
    assert read_golden(golden)["runs"][0]["messages"] == 24
    code, out, err = distsim_main(capsys, "run", str(scenario), "--json", "--expect", str(golden))
    assert code == 0 and json.loads(out)["messages"] == 24 and err == ""


def test_run_expect_fails_with_a_readable_diff_and_keeps_json_clean(tmp_path, capsys):
    scenario, golden = small(tmp_path), tmp_path / "g.json"
    distsim_main(capsys, "run", str(scenario), "--expect", str(golden), "--update-golden")
    record = read_golden(golden)
    record["runs"][0] |= {"messages": 30, "makespan_s": record["runs"][0]["makespan_s"] * 1.5}
    write_golden(golden, record)
    code, out, err = distsim_main(capsys, "run", str(scenario), "--json", "--expect", str(golden))
    assert code == 1
    json.loads(out)  # stdout is still one JSON object
    lines = err.splitlines()
    assert lines[0] == f"distsim: differs from golden file {golden} (2 differences):"
    assert lines[1] == "  ring_allreduce: messages: golden 30, now 24 (-6)"
    assert lines[2].startswith("  ring_allreduce: makespan_s: golden ") and "(relative difference 3.3e-01 > 1e-09)" in lines[2]
    assert lines[-1] == f"  (if the change is intended: distsim run {scenario} --expect {golden} --update-golden)"


@pytest.mark.parametrize("args, words", [(["--update-golden"], "--update-golden needs --expect"),
                                         (["--expect", "NOPE.json"], "cannot read golden file")])
def test_run_golden_option_errors_are_bad_input(tmp_path, capsys, args, words):
    out_dir = tmp_path / "trace"
    code, out, err = distsim_main(capsys, "run", str(small(tmp_path)), "--trace-out", str(out_dir),
                                  *[a.replace("NOPE", str(tmp_path / "nope")) for a in args])
    assert code == 2 and words in err and out == "" and not out_dir.exists()


def test_verify_summarizes_every_kind_of_outcome(tmp_path, capsys):
    for name in ("a_ok", "b_fail", "c_none", "d_bad"):
        small(tmp_path, f"{name}.yaml")
    (tmp_path / "d_bad.yaml").write_text("cluster: {workers: 0}\n")
    code, _, _ = distsim_main(capsys, "verify", str(tmp_path), "--update-golden")
    assert code == 2  # d_bad is bad input; the others' golden files are written
    (tmp_path / "golden" / "c_none.json").unlink()
    broken = read_golden(tmp_path / "golden" / "b_fail.json")
    broken["runs"][0]["total_bytes"] += 1
    write_golden(tmp_path / "golden" / "b_fail.json", broken)
    write_golden(tmp_path / "golden" / "d_bad.json", broken)
    write_golden(tmp_path / "golden" / "e_orphan.json", broken)
    code, out, _ = distsim_main(capsys, "verify", str(tmp_path))
    lines = out.splitlines()
    assert code == 2
    assert lines[0] == f"ok        {tmp_path / 'a_ok.yaml'}"
    assert lines[1] == f"FAIL      {tmp_path / 'b_fail.yaml'}"
    assert lines[2] == "          ring_allreduce: total_bytes: golden 9601, now 9600 (-1)"
    assert lines[3] == f"no golden {tmp_path / 'c_none.yaml'}"
    assert any(line.startswith(f"ERROR     {tmp_path / 'd_bad.yaml'}") for line in lines)
    assert any("golden file without a scenario" in line and "e_orphan" in line for line in lines)
    assert lines[-1] == "1 ok, 2 failed, 1 errors, 1 without a golden file"


def test_verify_exit_codes(tmp_path, capsys):
    small(tmp_path, "a.yaml")
    code, _, err = distsim_main(capsys, "verify", str(tmp_path))
    assert code == 1 and "nothing verified" in err
    distsim_main(capsys, "verify", str(tmp_path), "--update-golden")
    assert distsim_main(capsys, "verify", str(tmp_path))[0] == 0
    assert distsim_main(capsys, "verify", str(tmp_path / "missing"))[0] == 2
    assert distsim_main(capsys, "verify", str(tmp_path / "golden"))[0] == 2  # no scenarios there
