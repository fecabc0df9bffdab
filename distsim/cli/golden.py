"""Golden count files from the command line: ``run --expect`` / ``--update-golden`` and ``distsim verify DIR``.

A golden file is what a scenario's runs produced once (see :mod:`distsim.golden`);
comparing with it turns any scenario into a regression test. Differences are
printed on stderr, one line each, so that ``run --json`` stays valid JSON.
"""

from __future__ import annotations

from pathlib import Path

import click

from distsim import api
from distsim.errors import DistsimError, InputError
from distsim.fileio import check_output
from distsim.golden import DEFAULT_REL_TOL, compare, golden_path, golden_record, read_golden, write_golden
from distsim.report.summary import outcome_dict

EXIT_OK, EXIT_CHECK_FAILED = 0, 1

rel_tol_option = click.option(
    "--rel-tol", type=click.FloatRange(0, 1), default=DEFAULT_REL_TOL, show_default=True, metavar="TOL",
    help="Relative tolerance for floats (times); integers (counts, bytes) must match exactly.")


def expectation(golden: Path | None, update: bool) -> dict | None:
    """The golden record to compare with, read before running so that a bad file fails fast (None: nothing
    to compare, or the file is to be written)."""
    if update and golden is None:
        raise click.UsageError("--update-golden needs --expect GOLDEN.json (the file to write)")
    if golden is not None and update:
        check_output(golden)
    return None if golden is None or update else read_golden(golden)


def check_expectation(outcomes, scenario: Path, golden: Path, record: dict | None, rel_tol: float) -> bool:
    """Compare the run with ``record`` read from ``golden`` (None: write ``golden`` from this run);
    print the differences on stderr; True if there are none."""
    runs = [outcome_dict(outcome) for outcome in outcomes]
    if record is None:
        write_golden(golden, golden_record(runs, scenario.name))
        click.echo(f"distsim: wrote golden file {golden}", err=True)
        return True
    diff = compare(record, runs, rel_tol)
    for line in _diff_report(golden, diff, scenario):
        click.echo(line, err=True)
    return not diff


def _diff_report(golden: Path, diff: list[str], scenario: Path) -> list[str]:
    if not diff:
        return []
    head = f"distsim: differs from golden file {golden} ({len(diff)} difference{'s' if len(diff) != 1 else ''}):"
    hint = f"  (if the change is intended: distsim run {scenario} --expect {golden} --update-golden)"
    return [head, *(f"  {line}" for line in diff), hint]


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--update-golden", is_flag=True,
              help="Write the golden file of every scenario in DIRECTORY from this run (creating missing ones).")
@rel_tol_option
def verify(directory: Path, update_golden: bool, rel_tol: float) -> int:
    """Run every scenario in DIRECTORY that has a golden file and compare its counts, sizes and times.

    The golden file of DIRECTORY/NAME.yaml is DIRECTORY/golden/NAME.json. Prints one
    line per scenario (ok, FAIL with the differences, ERROR, or no golden file)
    and a summary. Exit code 0 when every golden file matches and every check
    holds; 1 when one does not, when a golden file has no scenario, or when no
    scenario has a golden file (nothing was verified); 2 or 3 when a scenario is
    bad input or cannot finish.
    """
    if not directory.is_dir():
        raise InputError(f"{directory}: not a folder")
    scenarios = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not scenarios:
        raise InputError(f"{directory}: no scenario files (*.yaml) in this folder")
    tally = {"ok": 0, "failed": 0, "errors": 0, "without a golden file": 0}
    worst_error = 0
    for path in scenarios:
        status, lines, code = _verify_one(path, update_golden, rel_tol)
        tally[status] += 1
        worst_error = max(worst_error, code)
        click.echo(f"{_STATUS_WORDS[status]:<10}{path}")
        for line in lines:
            click.echo(f"          {line}")
    orphans = _orphans(directory, scenarios)
    for orphan in orphans:
        click.echo(f"{'FAIL':<10}{orphan}: golden file without a scenario {directory / (orphan.stem + '.yaml')}")
    tally["failed"] += len(orphans)
    click.echo(", ".join(f"{n} {what}" for what, n in tally.items() if n or what in ("ok", "failed")))
    if tally["ok"] + tally["failed"] + tally["errors"] == 0:
        click.echo(f"distsim: nothing verified: no scenario in {directory} has a golden file", err=True)
        return EXIT_CHECK_FAILED
    if worst_error:
        return worst_error
    return EXIT_CHECK_FAILED if tally["failed"] else EXIT_OK


_STATUS_WORDS = {"ok": "ok", "failed": "FAIL", "errors": "ERROR", "without a golden file": "no golden"}


def _verify_one(path: Path, update: bool, rel_tol: float) -> tuple[str, list[str], int]:
    """(status, detail lines, exit code of an error or 0) for one scenario."""
    golden = golden_path(path)
    if not update and not golden.exists():
        return "without a golden file", [f"write one: distsim run {path} --expect {golden} --update-golden"], 0
    try:
        outcomes = api.run(path)
        runs = [outcome_dict(outcome) for outcome in outcomes]
        if update:
            write_golden(golden, golden_record(runs, path.name))
            diff = []
        else:
            diff = compare(read_golden(golden), runs, rel_tol)
    except DistsimError as exc:
        return "errors", [f"distsim: error: {line}" for line in str(exc).splitlines()], exc.exit_code
    failed_checks = [f"{o.spec.kind}: check failed: {c.name}" for o in outcomes for c in o.reconciliation.checks if not c.ok]
    if diff or failed_checks:
        return "failed", diff + failed_checks, 0
    return "ok", [f"wrote {golden}"] if update else [], 0


def _orphans(directory: Path, scenarios: list[Path]) -> list[Path]:
    folder = directory / "golden"
    if not folder.is_dir():
        return []
    names = {p.stem for p in scenarios}
    return sorted(p for p in folder.glob("*.json") if p.stem not in names)
