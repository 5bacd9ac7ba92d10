"""The text and HTML views of a BenchmarkResult: its settings, then a row per method and metric.

The HTML view only adds to the text one: everything escaped, the text embedded as a fallback.
"""

from __future__ import annotations

import html
from typing import Any

from mushin_nb.stats.bounded import METHOD as BOUNDED_METHOD


def header(result: Any) -> list[str]:
    """The title line and the settings line."""
    n_seeds = result.data.sizes["seed"]
    family = "all pairs" if result.data.attrs.get("pairs", "all") == "all" \
        else "each method vs the reference"
    ci = result.data.attrs.get("bootstrap", "none")
    bounded = sorted(result.bounds) if ci == "none" else []
    ci = "t-interval" if ci == "none" else f"{ci} bootstrap"
    if bounded:
        ci += f"; {BOUNDED_METHOD} for bounded {', '.join(bounded)}"
    level = round(100 * (1 - result.alpha), 6)
    settings = (f"test={result.test}, Holm over {family}, alpha={result.alpha:g}; {level:g}% CI "
                f"({ci}); reference={result.reference!r}")
    if result.margin is not None:
        settings += f"; margin={result.margin:g} (TOST): vs ref is the verdict"
    return [
        f"BenchmarkResult: {len(result.methods)} methods x {n_seeds} seeds, "
        f"{len(result.metrics)} metrics",
        settings + note(result),
    ]


def note(result: Any) -> str:
    """A note when non-significant comparisons had too few seeds to detect their difference."""
    from mushin_nb.compare._plan import underpowered

    key = (id(result.comparisons), len(result.comparisons))
    cached = getattr(result, "_underpowered", None)
    if cached is None or cached[0] != key:
        cached = (key, underpowered(result))
        result._underpowered = cached
    count = cached[1]
    if not count:
        return ""
    what = "the margin" if result.margin is not None else "their difference"
    return (f"; underpowered: {count} non-significant comparison(s) detect {what} with < 80% "
            "power, see .plan()")


def rows(result: Any) -> list[list[str]]:
    """The summary as cells of text, the column names first."""
    level = round(100 * (1 - result.alpha), 6)
    cells = [["method", "metric", "mean", f"{level:g}% CI", "vs ref"]]
    verdict = verdicts_vs_ref(result)
    for r in result._summary.itertuples(index=False):
        cells.append([r.method, r.metric, f"{r.mean:.4g}",
                      f"[{r.ci_low:.4g}, {r.ci_high:.4g}]",
                      verdict.get((r.method, r.metric), r.significant_vs_ref)])
    return cells


def verdicts_vs_ref(result: Any) -> dict[tuple[str, str], str]:
    """``(method, metric) -> verdict against the reference`` when a margin is set."""
    comp = result.comparisons
    if "verdict" not in comp:
        return {}
    flip = {"better": "worse", "worse": "better"}
    out = {}
    ref = result.reference
    for r in comp.itertuples(index=False):
        if r.method_b == ref:
            out[(r.method_a, r.metric)] = r.verdict
        elif r.method_a == ref:
            out[(r.method_b, r.metric)] = flip.get(r.verdict, r.verdict)
    return out


def text(result: Any) -> str:
    """The header, then the summary in aligned columns."""
    cells = rows(result)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in cells]
    return "\n".join(header(result) + lines)


def html_page(result: Any) -> str:
    """The same header and table in HTML, with ``repr(result)`` embedded as a fallback."""
    esc = html.escape
    cells = rows(result)
    head = "".join(f"<th>{esc(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                   for row in cells[1:])
    title, settings = (esc(line) for line in header(result))
    return (
        "<div class='mushin-benchmark'>"
        f"<pre class='mushin-text-repr-fallback' style='display:none'>{esc(repr(result))}"
        "</pre>"
        f"<p><strong>{title}</strong><br>{settings}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
