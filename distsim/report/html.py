"""One self-contained HTML file per run or sweep: the scenario, the reconciliation, the why, the plots.

Self-contained means it opens anywhere, offline, forever: styles are inline,
figures are PNGs embedded as ``data:`` URIs, and a Content-Security-Policy lets
the page load nothing from anywhere (only ``data:`` images and the one inline
script, pinned by its hash). That script records in the page itself whether every
image decoded and how many tables there are (``<body data-images-decoded=...>``),
so a headless browser can check that the report renders (tests/test_report_html.py).

The report is built from outcomes and sweep rows handed in by the caller; this
module never runs a simulation. No timestamps: the same inputs give the same file.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
from dataclasses import dataclass
from html import escape

from distsim.analysis.links import link_loads
from distsim.errors import InputError
from distsim.fmt import fmt_bytes, fmt_count, fmt_memory, fmt_time
from distsim.report import plots
from distsim.report.remat import does_not_fit
from distsim.report.sources import derivation, link, source_text
from distsim.report.swept import swept_facts

LINK_ROWS = 10  # busiest links listed per run
SWEEP_ROWS = 500  # rows of a sweep shown in the table (the CSV has them all)

RENDER_CHECK = """\
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
  var body = document.body;
  body.setAttribute("data-images", String(images.length));
  body.setAttribute("data-images-decoded", String(decoded.length));
  body.setAttribute("data-tables", String(document.querySelectorAll("table").length));
  body.setAttribute("data-rendered", "yes");
});
"""

STYLE = """\
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #111; background: #fff;
       max-width: 1200px; margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #333; padding-bottom: 0.15em; margin-top: 2em; }
h3 { margin-bottom: 0.4em; }
.meta { color: #555; margin-top: 0; }
pre { background: #f5f5f5; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #eee; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ok { color: #006d2c; font-weight: bold; } .explained { color: #08519c; font-weight: bold; } .FAIL, .error { color: #b30000; font-weight: bold; }
.source { color: #555; font-size: 0.85em; }
table.checks td:nth-child(5) { min-width: 14em; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.9em; margin-top: 0.3em; }
ul.notes li { margin-bottom: 0.3em; }
nav ul { columns: 2; }
@media print { body { max-width: none; margin: 0; } h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""


@dataclass(frozen=True)
class Figure:
    title: str
    caption: str
    png: bytes


def run_report(name: str, scenario_text: str, outcomes, extra: tuple[Figure, ...] = ()) -> str:
    """The report of one scenario's run: a section per strategy (outcomes from ``distsim.run``),
    then ``extra`` figures (such as the rematerialization trade-off, which the caller computes)."""
    sections = [_section("scenario", "Scenario", f"<p>From <code>{escape(name)}</code>, as written:</p>{_pre(scenario_text)}")]
    if len(outcomes) > 1:
        sections.append(_section("summary", "Summary", _runs_table(outcomes)))
    for outcome in outcomes:
        sections.append(_section(f"run-{outcome.result.kind}", outcome.result.kind, _run_body(outcome)))
    for index, figure in enumerate(extra):
        sections.append(_section(f"figure-{index}", figure.title, _figure(figure)))
    return _page(f"distsim report: {name}", sections)


def sweep_report(name: str, rows: list[dict], swept: list[str], scenario_text: str = "") -> str:
    """The report of a sweep: the scaling figure, every point's verdict, the failures."""
    sections = [_section("swept", "What was swept", _swept_body(rows, swept))]
    if scenario_text:
        sections.append(_section("scenario", "Scenario", f"<p>From <code>{escape(name)}</code>, as written:</p>{_pre(scenario_text)}"))
    sections.append(_section("summary", "Summary", _sweep_summary(rows)))
    try:
        figure = Figure("Scaling", "Messages, bytes and makespan against the number of workers n: simulated points (markers) "
                        "on the closed-form curves (lines, computed from the formulas for every n, not fitted to the points); "
                        "dashed: the exact model that includes the link bottleneck.",
                        plots.png_bytes(plots.scaling_figure(rows, title=name)))
        body = _figure(figure)
    except InputError as exc:
        body = f"<p>No scaling figure: {escape(str(exc))}.</p>"
    sections.append(_section("scaling", "Scaling", body))
    sections.append(_section("points", "Every point", _sweep_table(rows, swept)))
    return _page(f"distsim sweep report: {name}", sections)


# -- one run ------------------------------------------------------------------------------------------


def _run_body(outcome) -> str:
    if outcome.failure is not None:
        return _did_not_fit_body(outcome)
    result, rec, trace = outcome.result, outcome.reconciliation, outcome.trace
    verdict = "every check holds" if rec.ok else "a check failed"
    parts = [f"<p><strong>{escape(verdict)}</strong>. {_facts(outcome)}</p>"]
    if rec.checks:
        parts.append("<h3>Expected vs simulated</h3>"
                     + _checks_table(rec.checks, result.kind, memory=outcome.family == "rematerialization"))
    notes = list(rec.notes)
    loads = link_loads(trace) if len(trace.messages) else []
    if loads:
        notes.append(plots.bottleneck_sentence(loads).replace("\n", " ") + ".")
    if notes:
        parts.append("<h3>Why</h3><ul class=\"notes\">" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    if loads:
        parts.append("<h3>Busiest links</h3>" + _links_table(loads[:LINK_ROWS], len(loads)))
    runs = [(result.kind, trace)]
    figures = [Figure("Timeline", _timeline_caption(trace), plots.png_bytes(plots.timeline_figure(runs)))]
    if len(trace.messages):
        figures.append(Figure("Links", "Left: fraction of each moment the busiest links spent transmitting. "
                              "Right: bytes carried per link; the bottleneck in vermillion.", plots.png_bytes(plots.links_figure(runs))))
    parts += [_figure(f) for f in figures]
    return "\n".join(parts)


def _runs_table(outcomes) -> str:
    """One row per strategy: whether it fits and its checks hold, and what it cost."""
    head = "<tr><th>strategy</th><th>verdict</th><th>time</th><th>peak memory</th><th>messages</th></tr>"
    rows = []
    for outcome in outcomes:
        sim, meta = outcome.reconciliation.simulated, outcome.trace.meta
        if outcome.failure is not None:
            verdict, status = "does not fit", "error"
            peak = f"{fmt_memory(meta['peak_needed_bytes'])} needed" if "peak_needed_bytes" in meta else "-"
            time, messages = "-", "-"
        else:
            verdict, status = ("every check holds", "ok") if outcome.ok else ("a check failed", "FAIL")
            time = fmt_time(sim.get("backward_time_s", sim.get("makespan_s")))
            peak = fmt_memory(sim.get("peak_activation_bytes", max(outcome.result.memory_peak.values(), default=0)))
            messages = fmt_count(sim["messages"]) if "messages" in sim else "-"
        rows.append(f"<tr><td><a href=\"#run-{escape(outcome.result.kind)}\">{escape(outcome.result.kind)}</a></td>"
                    f"<td class=\"{status}\">{verdict}</td><td class=\"num\">{time}</td><td class=\"num\">{peak}</td>"
                    f"<td class=\"num\">{messages}</td></tr>")
    note = ("<p class=\"source\">time: the backward pass of a rematerialization schedule, the makespan of a gradient "
            "exchange; peak memory: activations, or the largest rank's device memory.</p>")
    return f"<table class=\"runs\"><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _did_not_fit_body(outcome) -> str:
    """A strategy that ran out of memory: where and why, and its timeline until then (memory in use)."""
    trace, meta = outcome.trace, outcome.trace.meta
    why = does_not_fit(meta) if outcome.family == "rematerialization" else "does not fit"
    parts = [f"<p><strong class=\"error\">{escape(why)}.</strong> "
             f"{escape(str(outcome.failure))}.</p>"]
    if meta.get("schedule"):
        parts.append(f"<p>Plan: {escape(meta['schedule'])}.</p>")
    if len(trace.ops) or len(trace.messages):
        runs = [(f"{outcome.result.kind} (until it ran out of memory)", trace)]
        parts.append(_figure(Figure("Timeline until out of memory", "The ops that ran before the allocation that "
                                    "did not fit.", plots.png_bytes(plots.timeline_figure(runs)))))
    return "\n".join(parts)


def _timeline_caption(trace) -> str:
    if len(trace.ranks) > plots.AGGREGATE_RANKS:
        return (f"{len(trace.ranks)} ranks, too many for a row each: above, groups of ranks, each row the fraction "
                "of the group's ranks busy in each phase (colour) over time; below, every link's busy fraction over "
                "time (a heat map, white idle, dark blue busy), links by tier (uplinks, downlinks, trunks).")
    return ("One row per rank (transfers it sent above, compute and memory ops below) and per link (by tier); "
            "colour: the phase of each message.")


def _facts(outcome) -> str:
    sim = outcome.reconciliation.simulated
    facts = []
    if "messages" in sim:
        facts.append(f"{fmt_count(sim['messages'])} messages, {fmt_bytes(sim['total_bytes'])} in total")
    if sim.get("makespan_s") is not None:
        facts.append(f"makespan {fmt_time(sim['makespan_s'])}")
    facts.append("payloads verified (every rank ends with the exact result)" if outcome.result.verified else "sizes only (no payload check)")
    return escape("; ".join(facts)) + "."


def _checks_table(checks, kind: str = "", memory: bool = False) -> str:
    """``memory``: the sizes checked are memory (binary units), not traffic (decimal units). Each source
    links to its derivation in docs/derivations.md (relative to the repository's root)."""
    rows = []
    for c in checks:
        rows.append(
            f"<tr><td>{escape(c.name)}</td><td class=\"num\">{escape(_show(c.name, c.expected, memory))}</td>"
            f"<td class=\"num\">{escape(_show(c.name, c.simulated, memory))}</td><td class=\"{escape(c.status)}\">{escape(c.status)}</td>"
            f"<td><code>{escape(c.formula)}</code></td><td class=\"source\">{_source(kind, c)}</td></tr>"
        )
    head = "<tr><th>check</th><th>expected</th><th>simulated</th><th>status</th><th>formula</th><th>source</th></tr>"
    return f"<table class=\"checks\"><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _source(kind: str, check) -> str:
    """The check's source, and a link to where docs/derivations.md derives it."""
    text = escape(source_text(check.source))
    anchor = derivation(kind, check.name)
    if anchor is None:
        return text
    return f"{text}<br>derivation: <a href=\"{escape(link(anchor))}\">{escape(link(anchor))}</a>"


def _links_table(loads, total: int) -> str:
    head = "<tr><th>link</th><th>bytes</th><th>busy</th><th>of the makespan</th><th>waits it caused</th></tr>"
    rows = "".join(
        f"<tr><td>{escape(l.name)}</td><td class=\"num\">{fmt_bytes(l.bytes)}</td><td class=\"num\">{fmt_time(l.busy_s)}</td>"
        f"<td class=\"num\">{100 * l.utilization:.0f}%</td><td class=\"num\">{fmt_time(l.wait_caused_s)}</td></tr>"
        for l in loads
    )
    more = f"<p class=\"source\">The {len(loads)} busiest of {total} links.</p>" if total > len(loads) else ""
    return f"<table class=\"links\"><thead>{head}</thead><tbody>{rows}</tbody></table>{more}"


def _show(name: str, value, memory: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{fmt_count(n)} x {fmt_bytes(float(size))}" for size, n in sorted(value.items(), reverse=True)) or "none"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if "makespan" in name or name.endswith("_s") or "time" in name:
        return fmt_time(value)
    if "bytes" in name:
        return fmt_memory(value) if memory else fmt_bytes(value)
    return fmt_count(value)


# -- a sweep ----------------------------------------------------------------------------------------------


def _swept_body(rows: list[dict], swept: list[str]) -> str:
    """The cluster, the model and the strategies of the sweep's points: what varied, what stayed."""
    facts = swept_facts(rows, swept)
    items = [("Cluster", facts["cluster"]), ("Model", facts["model"]), ("Strategies", facts["strategies"]),
             ("Swept keys", facts["swept"])]
    return "<ul class=\"notes\">" + "".join(f"<li><strong>{title}:</strong> {escape('; '.join(values))}</li>"
                                           for title, values in items if values) + "</ul>"


def _count(number: int, what: str, status: str) -> str:
    """'3 failed' in the status's colour, or plain when there are none: zero failures are not alarming."""
    text = f"{number} {what}"
    return f"<span class=\"{status}\">{text}</span>" if number else text


def _sweep_summary(rows: list[dict]) -> str:
    ok = sum(r["ok"] == "true" for r in rows)
    errors = [r for r in rows if r["error"]]
    failed = [r for r in rows if r["ok"] != "true" and not r["error"]]
    text = (f"<p>{len(rows)} points: {_count(ok, 'ok', 'ok')}, {_count(len(failed), 'failed', 'FAIL')}, "
            f"{_count(len(errors), 'could not finish', 'error')}.</p>")
    if errors or failed:
        items = "".join(f"<li><code>{escape(r['point_key'])}</code> {escape(r['strategy'])}: "
                        f"{escape(r['error'] or 'checks failed (makespan ' + (r['makespan_status'] or '-') + ')')}</li>"
                        for r in (errors + failed)[:50])
        text += f"<ul class=\"notes\">{items}</ul>"
    return text


SWEEP_COLUMNS = (("strategy", "strategy"), ("workers", "n"), ("messages", "messages"),
                 ("expected_messages", "expected messages"), ("total_bytes", "bytes"), ("makespan_s", "makespan"),
                 ("expected_makespan_s", "contention-free makespan"), ("expected_makespan_model_s", "bottleneck model"),
                 ("makespan_status", "makespan check"), ("ok", "ok"))


def _sweep_table(rows: list[dict], swept: list[str]) -> str:
    columns = [(c, c) for c in swept if c not in ("strategy.kind", "cluster.workers")] + list(SWEEP_COLUMNS)
    columns = list({label: (column, label) for column, label in columns}.values())  # each name once
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    body = "".join("<tr>" + "".join(_sweep_cell(column, row.get(column, "")) for column, _ in columns) + "</tr>"
                   for row in rows[:SWEEP_ROWS])
    more = f"<p class=\"source\">The first {SWEEP_ROWS} of {len(rows)} points; the CSV has them all.</p>" if len(rows) > SWEEP_ROWS else ""
    return f"<table class=\"points\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _sweep_cell(column: str, text: str) -> str:
    if not text:
        return "<td>-</td>"
    if column.endswith("_s"):
        return f"<td class=\"num\">{fmt_time(float(text))}</td>"
    if column == "total_bytes":
        return f"<td class=\"num\">{fmt_bytes(float(text))}</td>"
    if column in ("messages", "expected_messages", "workers"):
        return f"<td class=\"num\">{fmt_count(int(text))}</td>"
    if column in ("ok", "makespan_status"):
        status = {"true": "ok", "false": "FAIL"}.get(text, text)
        return f"<td class=\"{escape(status)}\">{escape(status)}</td>"
    return f"<td>{escape(text)}</td>"


# -- the page ------------------------------------------------------------------------------------------------


def _section(anchor: str, title: str, body: str) -> tuple[str, str, str]:
    return anchor, title, body


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (f"<figure><img src=\"data:image/png;base64,{data}\" alt=\"{escape(figure.title)}\">"
            f"<figcaption><strong>{escape(figure.title)}.</strong> {escape(figure.caption)}</figcaption></figure>")


def _pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def _version() -> str:
    """distsim's version, read from the installed metadata (the report layer does not import the package root)."""
    try:
        return importlib.metadata.version("distsim")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _page(title: str, sections: list[tuple[str, str, str]]) -> str:
    digest = base64.b64encode(hashlib.sha256(RENDER_CHECK.encode()).digest()).decode()
    policy = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    toc = "".join(f"<li><a href=\"#{escape(a)}\">{escape(t)}</a></li>" for a, t, _ in sections)
    body = "\n".join(f"<section id=\"{escape(a)}\"><h2>{escape(t)}</h2>\n{b}\n</section>" for a, t, b in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1><p class=\"meta\">distsim {escape(_version())}: simulated counts and times, "
        "each checked against its closed form.</p></header>\n"
        f"<nav><ul>{toc}</ul></nav>\n{body}\n<script>{RENDER_CHECK}</script>\n</body>\n</html>\n"
    )
