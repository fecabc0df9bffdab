"""A typed, append-only table that ends up as numpy columns.

Why this shape: a 4,096-worker ring all-reduce records 33.5 million messages. One
Python object per record would cost ~100 bytes or more each and dominate the run;
one ``array.append`` per column costs ~60 ns x columns. Instead a row is packed by
one C call (``struct.pack``) into a small ``bytearray``; every so often (``flush``,
which the engine calls between instants) the packed rows move into per-column numpy
chunks and the buffer is emptied. :meth:`Table.columns` joins each column's chunks
into one contiguous array, freeing the chunks as it goes, so a trace never needs
room for two copies of itself: 33.5 million 50-byte rows stay at 1.7 GB.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

# struct code -> numpy dtype, little-endian and unpadded so both agree byte for byte.
_NUMPY = {"b": "i1", "h": "<i2", "i": "<i4", "q": "<i8", "d": "<f8"}
FLUSH_ROWS = 1 << 16  # rows packed before they move into column chunks (~3 MB)


class Columns(dict):
    """The columns by name; the index column (0, 1, 2, ...) is made when asked for, not kept."""

    def __init__(self, columns: dict, index: str | None, length: int):
        super().__init__(columns)
        self.index, self.length = index, length

    def __missing__(self, name: str) -> np.ndarray:
        if name == self.index:
            return np.arange(self.length, dtype=np.int64)
        raise KeyError(name)


class Table:
    """Rows of fixed typed fields; ``append(*values)`` records, ``columns()`` reads."""

    def __init__(self, fields: Sequence[tuple[str, str]], index: str | None = None):
        self.fields = tuple(fields)
        self.index = index  # name of a column numbering the rows 0, 1, 2, ... (derived, not stored)
        self._struct = struct.Struct("<" + "".join(code for _, code in self.fields))
        self.dtype = np.dtype([(name, _NUMPY[code]) for name, code in self.fields])
        self._rows = bytearray()  # packed rows not yet in the chunks
        self._flush_at = FLUSH_ROWS * self._struct.size
        self._chunks: dict[str, list[np.ndarray]] = {name: [] for name, _ in self.fields}
        self._chunked = 0  # rows already in the chunks
        self._columns: dict[str, np.ndarray] = {}
        self._columns_len = -1

    def append(self, *values) -> None:
        self._rows += self._struct.pack(*values)

    def sink(self):
        """``(extend, pack)`` for hot loops: ``extend(pack(*row))`` records one row in two C calls."""
        return self._rows.extend, self._struct.pack

    def maybe_flush(self) -> None:
        """Move the packed rows into the column chunks once there are enough of them (cheap to call often)."""
        if len(self._rows) >= self._flush_at:
            self.flush()

    def flush(self) -> None:
        count = len(self._rows) // self._struct.size
        if not count:
            return
        packed = np.frombuffer(self._rows, dtype=self.dtype, count=count)
        for name, _ in self.fields:
            self._chunks[name].append(packed[name].copy())
        del packed  # release the buffer export so the bytearray may shrink and grow again
        self._rows.clear()  # the same object: sinks handed out keep working
        self._chunked += count

    def __len__(self) -> int:
        return self._chunked + len(self._rows) // self._struct.size

    def columns(self) -> dict[str, np.ndarray]:
        """Every field as its own contiguous numpy array (joined once, then cached)."""
        if self._columns_len != len(self):
            self.flush()
            self._columns = Columns({name: self._join(name) for name, _ in self.fields}, self.index, len(self))
            self._columns_len = len(self)
        return self._columns

    def _join(self, name: str) -> np.ndarray:
        """One array from a column's chunks, each chunk freed as soon as it is copied."""
        parts = self._chunks[name]
        if len(parts) != 1:
            column = np.empty(self._chunked, dtype=self.dtype[name])
            at = 0
            while parts:
                part = parts.pop(0)
                column[at:at + len(part)] = part
                at += len(part)
                del part
            parts.append(column)
        return parts[0]

    def slices(self, names: Sequence[str], rows: int = 1 << 20):
        """The named columns ``rows`` at a time, as dicts of arrays, without joining the whole columns:
        aggregations over a 33-million-row trace never hold more than a slice of temporaries."""
        self.flush()
        if self._columns_len == len(self):  # already joined: views
            for start in range(0, len(self), rows):
                yield {name: self._columns[name][start:start + rows] for name in names}
            return
        group: list[int] = []
        count = 0
        sizes = [len(part) for part in self._chunks[self.fields[0][0]]]
        for index, size in enumerate(sizes):
            group.append(index)
            count += size
            if count >= rows or index == len(sizes) - 1:
                yield {name: np.concatenate([self._chunks[name][i] for i in group]) if len(group) > 1
                       else self._chunks[name][group[0]] for name in names}
                group, count = [], 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns()[name]

    @property
    def nbytes(self) -> int:
        return len(self) * self._struct.size
