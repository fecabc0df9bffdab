"""Numbers for people: 1.25 GB, 3.2 ms, 2,095,104. A leaf module: the analyzer and the reports both use it."""

from __future__ import annotations


def fmt_count(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return f"{int(value):,}"


def fmt_bytes(value: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.4g} {unit}"
    return f"{value:.4g} B"


def fmt_memory(value: float) -> str:
    """Memory (device capacity, activations, peaks) in binary units, as scenarios give it: 80 GiB, 128 MiB.

    Traffic (message sizes, bytes on links) stays in decimal units (:func:`fmt_bytes`), as bandwidths
    are given (100 Gbit/s = 12.5 GB/s): one unit per quantity across text, plots and reports.
    """
    size, unit = memory_unit(value)
    return f"{value / size:.4g} {unit}"


def memory_unit(value: float) -> tuple[float, str]:
    """The binary unit memory of this size is shown in (an axis of memory up to ``value`` too)."""
    for unit, size in (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if abs(value) >= size:
            return size, unit
    return 1.0, "B"


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(seconds) >= size:
            return f"{seconds / size:.6g} {unit}"
    return f"{seconds:.3g} s"
