"""Message counts and sizes come out of the simulated traces and match the exam's table.

The expected values are written here from the textbook (exam.md), independently of
both the strategies and distsim.analysis.
"""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import run_one

S = 4  # fp32
WORKERS = range(2, 17)
PARAMS = [48, 1001, 7]  # divisible by many n; a prime-ish size; fewer params than workers


def sizes(outcome) -> Counter:
    return Counter(outcome.trace.messages["nbytes"].tolist())


@pytest.mark.parametrize("n", WORKERS)
@pytest.mark.parametrize("p", PARAMS)
def test_all_to_all_sends_n_n_minus_1_messages_of_p(n, p):
    outcome = run_one("all_to_all", n, p)
    assert outcome.result.verified
    assert sizes(outcome) == Counter({p * S: n * (n - 1)})


@pytest.mark.parametrize("n", WORKERS)
@pytest.mark.parametrize("p", PARAMS)
def test_parameter_server_sends_2n_messages_of_p(n, p):
    outcome = run_one("parameter_server", n, p)
    assert outcome.result.verified
    assert sizes(outcome) == Counter({p * S: 2 * n})
    ranks = outcome.trace.ranks
    m = outcome.trace.messages
    to_server = sum(ranks[d] == "ps" for d in m["dst"].tolist())
    assert to_server == n  # n pushes in, n pulls out


@pytest.mark.parametrize("n", WORKERS)
@pytest.mark.parametrize("p", PARAMS)
def test_ring_sends_2n_n_minus_1_chunks_of_p_over_n(n, p):
    outcome = run_one("ring_allreduce", n, p)
    assert outcome.result.verified
    got = sizes(outcome)
    assert sum(got.values()) == 2 * n * (n - 1)
    assert sum(size * count for size, count in got.items()) == 2 * (n - 1) * p * S
    # chunk sizes differ by at most one element
    elements = sorted(size // S for size in got)
    assert elements[-1] - elements[0] <= 1
    if p % n == 0:
        assert got == Counter({p // n * S: 2 * n * (n - 1)})


def test_parameter_server_on_a_worker_sends_2_n_minus_1():
    outcome = run_one("parameter_server", 6, 100, extra="server: 2")
    assert outcome.result.verified
    assert sizes(outcome) == Counter({100 * S: 2 * 5})
    assert outcome.reconciliation.ok


@pytest.mark.parametrize("dtype, width", [("fp16", 2), ("bf16", 2), ("fp64", 8), ("int8", 1)])
def test_message_size_is_params_times_bytes_per_param(dtype, width):
    outcome = run_one("all_to_all", 3, 1000, dtype=dtype)
    assert set(sizes(outcome)) == {1000 * width}


@pytest.mark.parametrize("kind", ["all_to_all", "parameter_server", "ring_allreduce"])
def test_every_count_check_reconciles(kind):
    outcome = run_one(kind, 8, 1_000_000)
    checks = {c.name: c for c in outcome.reconciliation.checks}
    for name in ("messages", "message sizes", "total bytes"):
        assert checks[name].ok, checks[name]
