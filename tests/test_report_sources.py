"""The HTML report says what was swept, names its columns once, colours only real failures, and points
every formula's source at its derivation in the repository (issue 10, item 11)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

import distsim
from distsim.report.html import run_report, sweep_report
from distsim.report.sources import REMAT, SECTIONS, derivation
from distsim.sweep import run_sweep
from distsim.sweep.executors import run_serial
from test_report_html import SCENARIO

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "docs" / "derivations.md"


def anchors() -> set[str]:
    """GitHub's anchors for the headings of docs/derivations.md."""
    headings = re.findall(r"^#+ (.+)$", DERIVATIONS.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


COMM = SCENARIO.replace("{kind: ring_allreduce}", "{kind: ring_allreduce, reduce_compute: true}")
CHAIN = """\
cluster: {workers: 1, gpu: {memory: 80 GiB}, memory: {load_latency: 10 ns}, disk: {load_latency: 50 ns}}
model: {layers: 6, layer: {fwd_time: 1 us, bwd_time: 2 us, activation: 1 MiB}}
strategy:
  - {kind: store_all}
  - {kind: checkpoint_every_k, k: 2}
  - {kind: segment_recompute, k: 2}
  - {kind: checkpoint_sequential, segments: 2}
  - {kind: disk_offload}
  - {kind: optimal, slots: 2}
"""


@pytest.fixture(scope="module")
def outcomes():
    return distsim.run(*distsim.loads(COMM, "comm.yaml")) + distsim.run(*distsim.loads(CHAIN, "chain.yaml"))


def test_every_check_of_every_builtin_strategy_has_a_derivation_that_exists(outcomes):
    known = anchors()
    for outcome in outcomes:
        for check in outcome.reconciliation.checks:
            anchor = derivation(outcome.result.kind, check.name)
            assert anchor in known, (outcome.result.kind, check.name, anchor)
    assert {derivation(k, "messages") for k in SECTIONS} <= known and {derivation(k, "fwd ops (recomputation)") for k in REMAT} <= known


def test_the_derivations_cite_the_exam_and_the_papers():
    text = DERIVATIONS.read_text()
    for source in ("Hockney", "Thakur", "Patarasuk", "Chan", "Li et al.", "Griewank", "Chen", "checkpoint_sequential"):
        assert source in text
    assert "20 fwd ops" in text and "2n(n−1)" in text  # quoted from the exam, which is not in the repository


def test_the_run_report_links_each_source_to_its_derivation_and_not_to_a_missing_file(outcomes, monkeypatch):
    from distsim.report import plots

    for figure in ("timeline_figure", "links_figure"):  # the figures are not what this test is about: skip drawing
        monkeypatch.setattr(plots, figure, lambda runs: None)
    monkeypatch.setattr(plots, "png_bytes", lambda fig: b"")
    text = run_report("both.yaml", COMM + CHAIN, outcomes)
    links = re.findall(r'href="(docs/derivations\.md#[^"]+)"', text)
    assert len(links) == sum(len(o.reconciliation.checks) for o in outcomes)
    assert {link.split("#")[1] for link in links} <= anchors()
    assert "exam.md" not in text.replace("docs/derivations.md", "") and "the exam, problem 1" in text


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory):
    text = SCENARIO.split("strategy:")[0] + "strategy: {kind: ring_allreduce}\nsweep:\n  cluster.workers: [2, 4]\n" \
        "  strategy.kind: [ring_allreduce, parameter_server]\n"
    scenario, where = distsim.loads(text, "grid.yaml")
    rows = run_sweep((scenario, where), run_tasks=run_serial).rows
    return sweep_report("grid.csv", rows, list(scenario.sweep)), rows


def test_the_sweep_report_states_the_cluster_model_and_strategies_swept(sweep_page):
    page, _ = sweep_page
    section = unescape(re.sub(r"<[^>]+>", " ", page.split('<section id="swept">')[1].split("</section>")[0]))
    section = " ".join(section.split())
    assert "workers 2, 4 (swept)" in section
    assert "topology switch" in section and "bandwidth 100 Gbit/s" in section and "latency 5 us" in section
    assert "parameters 10,000 (4 bytes each)" in section
    assert "Strategies: ring_allreduce, parameter_server (swept)" in section


def test_the_sweep_tables_column_names_are_unique(sweep_page):
    page, _ = sweep_page
    table = page.split('<table class="points">')[1].split("</thead>")[0]
    names = [unescape(n) for n in re.findall(r"<th>(.*?)</th>", table)]
    assert len(names) == len(set(names)) > 5


def test_zero_failures_are_not_painted_red(sweep_page):
    page, rows = sweep_page
    assert all(row["ok"] == "true" for row in rows)
    summary = page.split('<section id="summary">')[1].split("</section>")[0]
    assert "0 failed" in summary and "0 could not finish" in summary
    assert not re.search(r'class="(FAIL|error)"[^>]*>0 ', summary)


def test_failures_are_still_red(sweep_page):
    _, rows = sweep_page
    broken = [dict(rows[0], ok="false", makespan_status="FAIL"), dict(rows[1], ok="false", error="deadlock at t=0 s")] + rows[2:]
    page = sweep_report("grid.csv", broken, ["cluster.workers", "strategy.kind"])
    summary = page.split('<section id="summary">')[1].split("</section>")[0]
    assert '<span class="FAIL">1 failed</span>' in summary and '<span class="error">1 could not finish</span>' in summary
