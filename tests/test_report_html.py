"""The HTML report: self-contained, complete, and it renders in a real (headless) browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

import distsim
from distsim.cli.main import cli
from distsim.errors import InputError
from distsim.report.html import run_report, sweep_report
from distsim.report.sources import source_text
from distsim.sweep import run_sweep
from distsim.sweep.executors import run_serial

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")

SCENARIO = """\
# three exchanges on four workers
cluster:
  workers: 4
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1e4, dtype: fp32}
strategy:
  - {kind: all_to_all}
  - {kind: parameter_server}
  - {kind: ring_allreduce}
"""
SWEEP = SCENARIO.split("strategy:")[0] + """\
strategy: {kind: ring_allreduce}
sweep:
  cluster.workers: [2, 4, 8]
  strategy.kind: [ring_allreduce, parameter_server, all_to_all]
"""


class Page(HTMLParser):
    """What a page contains: tags counted, body attributes, every src and href."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: dict[str, int] = {}
        self.body: dict[str, str] = {}
        self.links: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        self.links += [attrs[a] for a in ("src", "href") if attrs.get(a)]


def needs_chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have headless Chromium: .ci/run installs the Debian packages chromium and chromium-driver")
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)")


def rendered(path, tmp_path) -> Page:
    """The DOM after Chromium loaded the page and its inline check ran (no network: file:// only)."""
    needs_chromium()
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=10000",
         "--dump-dom", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return Page(result.stdout)


@pytest.fixture(scope="module")
def run_page(tmp_path_factory):
    outcomes = distsim.run(*distsim.loads(SCENARIO, "three.yaml"))
    path = tmp_path_factory.mktemp("report") / "run.html"
    path.write_text(run_report("three.yaml", SCENARIO, outcomes))
    return path, outcomes


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory):
    scenario, where = distsim.loads(SWEEP, "grid.yaml")
    rows = run_sweep((scenario, where), run_tasks=run_serial).rows
    path = tmp_path_factory.mktemp("report") / "sweep.html"
    path.write_text(sweep_report("grid.yaml", rows, list(scenario.sweep), SWEEP))
    return path, rows


# -- in a browser ------------------------------------------------------------------------------------------


def test_a_run_report_renders_with_its_images_and_tables(run_page, tmp_path):
    path, outcomes = run_page
    page = rendered(path, tmp_path)
    assert page.body.get("data-rendered") == "yes", "the inline check did not run (blocked by the page's CSP?)"
    images = 2 * len(outcomes)  # a timeline and a links figure per strategy
    assert page.body["data-images"] == page.body["data-images-decoded"] == str(images)
    assert page.body["data-tables"] == str(1 + 2 * len(outcomes))  # the summary; checks and busiest links per strategy


def test_a_sweep_report_renders_with_its_scaling_figure_and_table(sweep_page, tmp_path):
    path, _ = sweep_page
    page = rendered(path, tmp_path)
    assert page.body.get("data-rendered") == "yes"
    assert page.body["data-images"] == page.body["data-images-decoded"] == "1"
    assert page.body["data-tables"] == "1"


def test_the_browser_check_does_see_a_broken_image(run_page, tmp_path):
    """A negative control: the render check is able to fail."""
    path, _ = run_page
    broken = tmp_path / "broken.html"
    text = path.read_text()
    start = text.index("data:image/png;base64,") + len("data:image/png;base64,")
    broken.write_text(text[:start] + "AAAA" + text[start + 4:])  # corrupt the first PNG's signature
    page = rendered(broken, tmp_path)
    assert int(page.body["data-images-decoded"]) == int(page.body["data-images"]) - 1


# -- the document itself ---------------------------------------------------------------------------------------


def test_the_report_fetches_nothing(run_page):
    text = run_page[0].read_text()
    page = Page(text)
    # images are data: URIs; links go within the page, or to the derivations in the repository (followed, never fetched)
    assert all(link.startswith(("data:image/png;base64,", "#", "docs/derivations.md#")) for link in page.links)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert policy.startswith("default-src 'none'; img-src data:;")
    assert "http://" not in text and "https://" not in text


def test_the_report_has_the_scenario_and_every_checks_formula_and_source(run_page):
    path, outcomes = run_page
    text = path.read_text()
    assert "# three exchanges on four workers" in text and "{kind: parameter_server}" in text
    from html import escape

    for outcome in outcomes:
        assert f'<section id="run-{outcome.result.kind}">' in text
        for check in outcome.reconciliation.checks:
            assert f"<code>{escape(check.formula)}</code>" in text
            assert escape(source_text(check.source)) in text
        for note in outcome.reconciliation.notes:  # the parameter server's bottleneck explanation
            assert escape(note) in text
    assert "ps-&gt;switch" in text and "explained" in text


def test_the_same_run_gives_the_same_report(run_page):
    path, outcomes = run_page
    assert run_report("three.yaml", SCENARIO, outcomes) == path.read_text()


def test_the_sweep_report_lists_every_point(sweep_page):
    path, rows = sweep_page
    page = Page(path.read_text())
    assert page.tags["tr"] == 1 + len(rows)


# -- the command ----------------------------------------------------------------------------------------------


def test_cli_report_of_a_scenario_a_sweep_scenario_and_a_csv(tmp_path):
    runner = CliRunner()
    scenario, grid = tmp_path / "three.yaml", tmp_path / "grid.yaml"
    scenario.write_text(SCENARIO)
    grid.write_text(SWEEP)
    result = runner.invoke(cli, ["report", str(scenario), "-o", str(tmp_path / "a.html")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["report", str(grid), "-o", str(tmp_path / "b.html")])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["sweep", str(grid), "-o", str(tmp_path / "r.csv"), "-j", "1"]).exit_code == 0
    result = runner.invoke(cli, ["report", str(tmp_path / "r.csv"), "-o", str(tmp_path / "c.html")])
    assert result.exit_code == 0, result.output
    # the swept scenario and its CSV give the same points table
    table = lambda name: re.search(r'<table class="points">.*?</table>', (tmp_path / name).read_text(), re.S).group(0)  # noqa: E731
    assert table("b.html") == table("c.html")


def test_cli_report_of_a_trace_directory_says_what_to_give_instead(tmp_path):
    (tmp_path / "trace").mkdir()
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "trace"), "-o", str(tmp_path / "r.html")], standalone_mode=False)
    assert isinstance(result.exception, InputError) and "give the scenario file instead" in str(result.exception)
    assert not (tmp_path / "r.html").exists()


def test_cli_report_of_a_bad_scenario_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.replace("workers: 4", "workers: -4"))
    result = CliRunner().invoke(cli, ["report", str(bad), "-o", str(tmp_path / "r.html")], standalone_mode=False)
    assert getattr(result.exception, "exit_code", None) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_a_rematerialization_report_has_timelines_and_the_trade_off(tmp_path):
    from distsim.report.plots import has_tradeoff

    chain = tmp_path / "chain.yaml"
    chain.write_text("cluster: {workers: 1, gpu: {memory: 80 GiB}}\nmodel: {layers: 6, layer: {fwd_time: 1 ms, "
                     "bwd_time: 2 ms, activation: 1 MiB}}\nstrategy:\n  - {kind: store_all}\n  - {kind: checkpoint_every_k, k: 2}\n")
    if not has_tradeoff():
        pytest.skip("the rematerialization feature (issue 3) is not in this tree")
    result = CliRunner().invoke(cli, ["report", str(chain), "-o", str(tmp_path / "chain.html")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "chain.html").read_text()
    assert "<h2>Memory vs time</h2>" in text
    page = rendered(tmp_path / "chain.html", tmp_path)
    assert page.body["data-images"] == page.body["data-images-decoded"] == "3"  # two timelines, one trade-off
    assert page.body["data-tables"] == "3"  # the summary and a check table per schedule
