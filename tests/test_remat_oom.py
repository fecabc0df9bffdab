"""Several rematerialization schedules, some of which do not fit: every schedule is reported, the ones
that do not fit are marked (out of memory, with the rank, the op and the time), and the report still
renders (issue 10, item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import distsim
from distsim.cli.main import cli, main
from distsim.errors import OutOfMemoryError

ROOT = Path(__file__).resolve().parent.parent
# remat_24 on a 1 GiB device (8 activations of 128 MiB): store_all (25 at its peak), segment_recompute
# (9: segments of 5) and checkpoint_sequential (10: 4 segments) do not fit; the other three (at most 7) do.
TIGHT = (ROOT / "scenarios" / "remat_24.yaml").read_text().replace("memory: 80 GiB", "memory: 1 GiB")
DO_NOT_FIT = {"store_all", "segment_recompute", "checkpoint_sequential"}
PEAKS = {"store_all": 25, "segment_recompute": 9, "checkpoint_sequential": 10}  # activations needed at the peak
SCHEDULES = ["store_all", "checkpoint_every_k", "segment_recompute", "checkpoint_sequential", "disk_offload", "optimal"]


@pytest.fixture
def tight(tmp_path) -> Path:
    path = tmp_path / "tight.yaml"
    path.write_text(TIGHT)
    return path


def test_the_api_reports_every_schedule_and_marks_those_that_do_not_fit(tight):
    outcomes = distsim.run(tight, keep_going=True)
    assert [o.spec.kind for o in outcomes] == SCHEDULES
    for outcome in outcomes:
        fits = outcome.spec.kind not in DO_NOT_FIT
        assert (outcome.failure is None) == fits and outcome.ok == fits
        if not fits:
            assert isinstance(outcome.failure, OutOfMemoryError)
            assert "out of memory on w0 at t=" in str(outcome.failure) and " pass): " in str(outcome.failure)
            meta = outcome.trace.meta
            assert meta["memory_bytes"] == 2**30
            assert meta["peak_needed_bytes"] == PEAKS[outcome.spec.kind] * 2**27
            # the trace holds what happened until then: memory never above the device's
            assert 0 < len(outcome.trace.ops) and outcome.trace.ops["memory_in_use"].max() <= 2**30


def test_without_keep_going_the_first_that_does_not_fit_stops_the_run(tight):
    with pytest.raises(OutOfMemoryError, match="out of memory on w0"):
        distsim.run(tight)


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def test_the_command_prints_every_schedule_then_exits_3_naming_those_that_do_not_fit(tight, capsys):
    code, out, err = _cli(capsys, "run", str(tight))
    assert code == 3 and "Traceback" not in err
    for name in SCHEDULES:
        assert f"\n{name}: " in out, name
    summary = out.split("summary (from the simulated traces)")[1]
    rows = {line.split()[0]: line for line in summary.splitlines() if line.split()[:1] and line.split()[0] in SCHEDULES}
    assert set(rows) == set(SCHEDULES)
    for name in SCHEDULES:
        assert ("does not fit" in rows[name]) == (name in DO_NOT_FIT), rows[name]
    lines = err.strip().splitlines()
    assert len(lines) == len(DO_NOT_FIT) and all(line.startswith("distsim: error: ") for line in lines)
    for line, name in zip(lines, [s for s in SCHEDULES if s in DO_NOT_FIT]):
        assert f"{name} does not fit: out of memory on w0 at t=" in line and "(op " in line, line


def test_the_json_has_every_schedule_with_the_ones_that_do_not_fit_marked(tight, capsys):
    code, out, err = _cli(capsys, "run", str(tight), "--json")
    assert code == 3
    body = json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    runs = {run["schedule"]: run for run in body["runs"]}
    assert list(runs) == SCHEDULES and body["ok"] is False
    for name, run in runs.items():
        assert run["fits"] == (name not in DO_NOT_FIT) and run["ok"] == (name not in DO_NOT_FIT)
    store_all = runs["store_all"]
    assert store_all["out_of_memory"].startswith("out of memory on w0 at t=")
    assert store_all["peak_needed_bytes"] == 25 * 2**27 and store_all["memory_bytes"] == 2**30


def test_a_single_schedule_that_does_not_fit_is_still_exit_3_with_the_report_line(tmp_path, capsys):
    path = tmp_path / "one.yaml"
    path.write_text(TIGHT.split("strategy:")[0] + "strategy: {kind: store_all}\n")
    code, out, err = _cli(capsys, "run", str(path))
    assert code == 3 and "store_all: does not fit" in out
    assert err.startswith("distsim: error: store_all does not fit: out of memory on w0 at t=") and "(op " in err


def test_the_report_still_renders_with_every_schedule(tight, tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tight), "-o", str(tmp_path / "r.html")], standalone_mode=False)
    assert result.exception is None and result.return_value == 3, result.output
    text = (tmp_path / "r.html").read_text()
    for name in SCHEDULES:
        assert f'<section id="run-{name}">' in text
    summary = text.split('<table class="runs">')[1].split("</table>")[0]
    for name in SCHEDULES:
        row = summary.split(f'href="#run-{name}"')[1].split("</tr>")[0]
        assert ("does not fit" in row) == (name in DO_NOT_FIT), row
    assert text.count("out of memory on w0 at t=") == len(DO_NOT_FIT)
    from test_report_html import CHROMIUM, rendered

    if CHROMIUM:
        page = rendered(tmp_path / "r.html", tmp_path)
        assert page.body["data-images"] == page.body["data-images-decoded"] != "0"
