"""The presets against published nccl-tests figures (docs/validation.md), from simulated runs.

Every figure here is a simulated ring all-reduce's makespan turned into nccl-tests'
bus bandwidth (algorithm bandwidth S/T times 2(n-1)/n), never a formula. Run this
file as a script to print the table in docs/validation.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import distsim

# nccl issue 1455 and references.md: 8 x H100 SXM, NVLink, ring all-reduce at 2-4 GB.
H100_BUS_BANDWIDTH = (365e9, 370e9)
# nccl-tests issue 123: DGX-A100, one channel, small all-reduce: 10 us on 2 GPUs, 33.7 us on 8.
A100_SMALL = {2: 10e-6, 8: 33.7e-6}


def all_reduce(preset: str, nbytes: int, nodes: int = 1, gpus: int | None = None) -> tuple[int, float]:
    """(GPUs, simulated makespan) of a ring all-reduce of an fp32 buffer of ``nbytes`` on ``preset``."""
    per_node = f"  gpus_per_node: {gpus}\n" if gpus else ""
    text = (f"cluster:\n  preset: {preset}\n  nodes: {nodes}\n{per_node}"
            f"model: {{params: {nbytes // 4}, dtype: fp32}}\nstrategy: {{kind: ring_allreduce}}\n")
    scenario, where = distsim.loads(text)
    (outcome,) = distsim.run(scenario, where)
    assert outcome.ok
    return scenario.cluster.workers, outcome.trace.makespan


def bus_bandwidth(nbytes: int, n: int, seconds: float) -> float:
    """nccl-tests' busbw of an all-reduce (doc/PERFORMANCE.md): S/T x 2(n-1)/n."""
    return nbytes / seconds * 2 * (n - 1) / n


@pytest.mark.parametrize("nbytes", [2**31, 2**32])
def test_dgx_h100_ring_bus_bandwidth_is_within_10_percent_of_nccl_tests(nbytes):
    n, seconds = all_reduce("dgx-h100", nbytes)
    simulated = bus_bandwidth(nbytes, n, seconds)
    low, high = H100_BUS_BANDWIDTH
    assert 0.9 * high <= simulated <= 1.1 * low, simulated
    assert simulated == pytest.approx(360e9, rel=0.001)  # 450 GB/s x 0.8, less 14 latencies: docs/validation.md


def test_small_all_reduces_follow_2_n_minus_1_per_step_latencies():
    times = {gpus: all_reduce("hgx-a100", 8 * gpus, gpus=gpus)[1] for gpus in (2, 4, 8)}
    for gpus, seconds in times.items():
        assert seconds == pytest.approx(2 * (gpus - 1) * 2.4e-6, rel=0.001)
    assert times[8] == pytest.approx(A100_SMALL[8], rel=0.1)  # the point the preset's latency is calibrated on
    assert times[2] < 0.5 * A100_SMALL[2]  # NCCL's fixed launch cost is not modelled (docs/validation.md)


def test_the_tables_in_docs_validation_md_are_these_runs():
    written = (Path(__file__).resolve().parent.parent / "docs" / "validation.md").read_text()
    missing = [row for row in table().splitlines() if row.startswith("| ") and row not in written]
    assert not missing, "docs/validation.md is stale; print the tables with: python tests/test_validation.py"


def table() -> str:
    """The markdown rows of docs/validation.md's tables."""
    rows = ["| size | simulated time | simulated bus bandwidth |", "| ---: | ---: | ---: |"]
    for nbytes in (2**10, 2**20, 2**25, 2**28, 2**31, 2**32):
        n, seconds = all_reduce("dgx-h100", nbytes)
        rows.append(f"| {nbytes:,} B | {seconds * 1e6:,.2f} us | {bus_bandwidth(nbytes, n, seconds) / 1e9:.1f} GB/s |")
    rows += ["", "| GPUs (hgx-a100) | simulated | nccl-tests |", "| ---: | ---: | ---: |"]
    for gpus in (2, 4, 8):
        published = f"{A100_SMALL[gpus] * 1e6:.1f} us" if gpus in A100_SMALL else ""
        rows.append(f"| {gpus} | {all_reduce('hgx-a100', 8 * gpus, gpus=gpus)[1] * 1e6:.1f} us | {published} |")
    rows += ["", "| nodes of dgx-h100 | GPUs | simulated bus bandwidth, 2 GiB |", "| ---: | ---: | ---: |"]
    for nodes in (1, 2, 4):
        n, seconds = all_reduce("dgx-h100", 2**31, nodes=nodes)
        rows.append(f"| {nodes} | {n} | {bus_bandwidth(2**31, n, seconds) / 1e9:.1f} GB/s |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
