"""One look for every figure: colours that survive grey-scale printing and colour blindness, and saving.

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"),
chosen so that the phases of a collective stay distinguishable for colour-blind
readers; memory operations are hatched as well, so a black-and-white print still
separates them from compute. Matplotlib runs on the Agg backend: no display is
ever needed, and output is the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from distsim.errors import InputError  # noqa: E402
from distsim.fileio import atomic_path  # noqa: E402

PHASE_COLOURS = {
    "reduce_scatter": "#0072B2",  # blue
    "all_gather": "#E69F00",  # orange
    "push": "#009E73",  # bluish green
    "pull": "#D55E00",  # vermillion
    "exchange": "#CC79A7",  # reddish purple
}
SPARE_COLOURS = ["#56B4E9", "#F0E442", "#000000", "#999999"]
# Ops on a rank's own device: compute in greys (forward light, backward dark), memory traffic in
# browns with a hatch, so that they stay apart from the phase colours and in grey-scale print.
OP_STYLES = {
    "fwd": ("#BDBDBD", None), "forward": ("#BDBDBD", None), "recompute": ("#969696", None),
    "bwd": ("#525252", None), "backward": ("#525252", None), "reduce": ("#7F7F7F", None),
}
MEMORY_STYLES = (  # (name prefix, colour, hatch)
    ("load", "#8C510A", "////"), ("fetch", "#8C510A", "////"), ("swap_in", "#8C510A", "////"), ("read", "#8C510A", "////"),
    ("store", "#BF812D", "\\\\"), ("offload", "#BF812D", "\\\\"), ("swap_out", "#BF812D", "\\\\"),
    ("write", "#BF812D", "\\\\"), ("free", "#DFC27D", ".."), ("evict", "#DFC27D", ".."),
)
SPARE_OP_COLOURS = ("#737373", "#A6A6A6", "#404040", "#D9D9D9")
BOTTLENECK_COLOUR = "#D55E00"
OTHER_COLOUR = "#9DB9D3"
FORMATS = (".png", ".svg")

RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text in SVG: searchable, and small
    "svg.hashsalt": "distsim",  # deterministic ids: the same run gives the same SVG
}


def phase_colour(name: str, index: int) -> str:
    return PHASE_COLOURS.get(name, SPARE_COLOURS[index % len(SPARE_COLOURS)])


def op_style(name: str, index: int = 0) -> tuple[str, str | None]:
    """(colour, hatch) of an op kind: compute plain grey, memory traffic hatched brown."""
    if name in OP_STYLES:
        return OP_STYLES[name]
    for prefix, colour, hatch in MEMORY_STYLES:
        if name.startswith(prefix):
            return colour, hatch
    return SPARE_OP_COLOURS[index % len(SPARE_OP_COLOURS)], None


def styled(draw):
    """Run a figure-building function under the house style (text objects read it when created)."""
    import functools

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper


def figure(width: float, height: float, **subplots):
    return plt.subplots(figsize=(width, height), **subplots)


def time_unit(seconds: float) -> tuple[float, str]:
    """A scale and unit name for a time axis that ends near ``seconds``."""
    for unit, size in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= size:
            return size, unit
    return 1e-9, "ns"


def check_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: cannot tell the image format; name the file .png or .svg")
    return suffix


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG or SVG (by suffix), atomically, and close it."""
    suffix = check_format(path)
    try:
        with plt.rc_context(RC), atomic_path(path) as tmp:
            metadata = {"Software": None} if suffix == ".png" else {"Date": None, "Creator": None}
            fig.savefig(tmp, format=suffix[1:], bbox_inches="tight", metadata=metadata)
    finally:
        plt.close(fig)
    return Path(path)


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (for embedding), closed afterwards."""
    import io

    buffer = io.BytesIO()
    try:
        with plt.rc_context(RC):
            fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    finally:
        plt.close(fig)
    return buffer.getvalue()
