"""The columnar trace: typed rows in, numpy columns out, exact round trips to CSV."""

from __future__ import annotations

import csv

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from conftest import run_one
from distsim.trace.export import write_csvs
from distsim.trace.table import Table


@given(rows=st.lists(st.tuples(st.integers(-2**31, 2**31 - 1), st.floats(allow_nan=False), st.integers(-2**63, 2**63 - 1)), max_size=50))
def test_table_columns_hold_exactly_what_was_appended(rows):
    table = Table((("a", "i"), ("b", "d"), ("c", "q")))
    for row in rows:
        table.append(*row)
    assert len(table) == len(rows)
    assert table["a"].tolist() == [r[0] for r in rows]
    assert table["b"].tolist() == [r[1] for r in rows]
    assert table["c"].tolist() == [r[2] for r in rows]
    assert table["a"].dtype == np.int32 and table["b"].dtype == np.float64


def test_columns_grow_after_being_read():
    table = Table((("a", "i"),))
    table.append(1)
    assert table["a"].tolist() == [1]
    table.append(2)
    assert table["a"].tolist() == [1, 2]


def test_csv_round_trips_times_exactly(tmp_path):
    outcome = run_one("ring_allreduce", 3, 30)
    write_csvs(outcome.trace, tmp_path)
    with open(tmp_path / "messages.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["t_arrive"]) for r in rows] == outcome.trace.messages["t_arrive"].tolist()
    assert {r["phase"] for r in rows} == {"reduce_scatter", "all_gather"}


def test_link_loads_add_up():
    outcome = run_one("parameter_server", 4, 1000)
    trace = outcome.trace
    per_link = trace.link_bytes()
    # every message crosses two links on a switch (up, down)
    assert per_link.sum() == 2 * trace.messages["nbytes"].sum()
    server_down = [l.id for l in trace.links if l.name == "switch->ps"][0]
    assert per_link[server_down] == 4 * 1000 * 4
