"""The text and HTML views of a BenchmarkResult: its settings, then a row per method and metric.

The HTML view only adds to the text one: everything escaped, the text embedded as a fallback.
"""

from __future__ import annotations

import html
from typing import Any


def header(result: Any) -> list[str]:
    """The title line and the settings line."""
    n_seeds = result.data.sizes["seed"]
    family = "all pairs" if result.data.attrs.get("pairs", "all") == "all" \
        else "each method vs the reference"
    ci = result.data.attrs.get("bootstrap", "none")
    ci = "t-interval" if ci == "none" else f"{ci} bootstrap"
    level = round(100 * (1 - result.alpha), 6)
    return [
        f"BenchmarkResult: {len(result.methods)} methods x {n_seeds} seeds, "
        f"{len(result.metrics)} metrics",
        f"test={result.test}, Holm over {family}, alpha={result.alpha:g}; {level:g}% CI "
        f"({ci}); reference={result.reference!r}",
    ]


def rows(result: Any) -> list[list[str]]:
    """The summary as cells of text, the column names first."""
    level = round(100 * (1 - result.alpha), 6)
    cells = [["method", "metric", "mean", f"{level:g}% CI", "vs ref"]]
    for r in result.summary().itertuples(index=False):
        cells.append([r.method, r.metric, f"{r.mean:.4g}",
                      f"[{r.ci_low:.4g}, {r.ci_high:.4g}]", r.significant_vs_ref])
    return cells


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
