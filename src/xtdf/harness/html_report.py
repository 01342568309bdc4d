"""The run as one self-contained HTML file: the grids, each cell's tests, what changed.

Rendered from ``templates/report.html.j2`` with Jinja2 and autoescaping on, since test ids,
skip reasons and SDK output are arbitrary text. Everything (CSS, the few lines of script,
the SVG charts) is inline: the file opens from disk, on a machine without network, and can
be attached to an issue as it is.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from xtdf.harness import grid

TEMPLATES = Path(__file__).with_name("templates")
#: one colour per timed activity of an SDK process; verbs not listed take the spare ones
VERB_ORDER = ("encrypt", "decrypt", "supports")
PALETTE = ("#3b7dd8", "#2e9e6a", "#b8860b", "#8e5ac8", "#c0504d", "#4bacc6")


@dataclass
class CellView:
    """A grid cell as the template shows it; ``id`` links it to its list of tests."""

    id: str
    cell: grid.Cell

    @property
    def tooltip(self) -> str:
        c = self.cell.counts
        parts = [f"{c[o]} {o}" for o in grid.OUTCOMES if c[o]]
        text = f"{self.cell.key.title}: " + ", ".join(parts)
        if self.cell.changed:
            text += f" (changed; was {self.cell.text_before()})"
        return text


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["seconds"] = lambda v: f"{v:.2f}" if v is not None else ""
    return env


def bar_chart(
    rows: list[tuple[str, dict[str, float]]], series: list[str], unit: str = "s"
) -> dict[str, Any]:
    """Geometry of a horizontal stacked bar chart, one bar per row, for the template."""
    label_w, bar_w, row_h, top = 190, 420, 22, 24
    most = max((sum(v.values()) for _, v in rows), default=0.0) or 1.0
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    bars = []
    for i, (label, values) in enumerate(rows):
        y = top + i * row_h
        x = float(label_w)
        segments = []
        for s in series:
            v = values.get(s, 0.0)
            if v <= 0:
                continue
            w = v / most * bar_w
            title = f"{label} {s}: {v:.2f} {unit}".strip()
            segments.append({"x": round(x, 1), "w": round(max(w, 0.5), 1), "colour": colours[s]})
            segments[-1]["title"] = title
            x += w
        total = sum(values.values())
        bars.append({"label": label, "y": y, "segments": segments, "end": round(x + 4, 1)})
        bars[-1]["total"] = f"{total:.1f} {unit}".strip() if unit else f"{total:.0f}"
    legend = [
        {"x": label_w + i * 110, "name": s, "colour": colours[s]} for i, s in enumerate(series)
    ]
    return {
        "width": label_w + bar_w + 80,
        "height": top + len(rows) * row_h + 6,
        "label_w": label_w,
        "bars": bars,
        "legend": legend,
        "row_h": row_h,
    }


def sdk_timing(data: dict[str, Any]) -> dict[str, Any] | None:
    """Seconds spent in each SDK's ``cli.sh``, by verb, summed over workers."""
    seconds: dict[str, float] = data.get("time", {}).get("seconds", {})
    per_sdk: dict[str, Counter[str]] = {}
    for activity, value in seconds.items():
        kind, _, rest = activity.partition(":")
        verb, _, sdk = rest.partition(":")
        if kind == "sdk" and sdk:
            per_sdk.setdefault(sdk, Counter())[verb] += value
    if not per_sdk:
        return None
    verbs = sorted(
        {v for c in per_sdk.values() for v in c},
        key=lambda v: (VERB_ORDER.index(v) if v in VERB_ORDER else len(VERB_ORDER), v),
    )
    rows = [(sdk, dict(per_sdk[sdk])) for sdk in sorted(per_sdk, key=grid.sdk_order)]
    return bar_chart(rows, verbs)


def cache_chart(data: dict[str, Any]) -> dict[str, Any] | None:
    workers: dict[str, dict[str, Any]] = data.get("cache", {}).get("workers", {})
    if not any(w.get("keys") or w.get("hits") or w.get("misses") for w in workers.values()):
        return None
    rows = [
        (name, {k: float(w.get(k, 0)) for k in ("hits", "misses", "waits")})
        for name, w in sorted(workers.items())
    ]
    return bar_chart(rows, ["hits", "misses", "waits"], unit="")


def context(matrix: grid.Matrix, data: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, computed here so the template only lays it out."""
    views: dict[grid.CellKey, CellView] = {}
    for i, cell in enumerate(matrix.cells, 1):
        views[cell.key] = CellView(f"cell-{i}", cell)
    platforms = []
    for platform in matrix.platforms:
        grids = []
        for g in (g for g in matrix.grids if g.platform == platform):
            rows = []
            for r in g.rows:
                row = [views[c.key] if (c := g.cell(r, col)) else None for col in g.cols]
                rows.append({**_sdk_label(r), "cells": row})
            cols = [_sdk_label(c) for c in g.cols]
            grids.append({"title": g.title, "cols": cols, "rows": rows})
        platforms.append({"name": platform, "grids": grids})
    results = [t for c in matrix.cells for t in c.tests] + matrix.others
    totals = Counter(t.outcome for t in results)
    cache = data.get("cache", {})
    return {
        "meta": meta,
        "data": data,
        "legend": grid.LEGEND,
        "outcomes": grid.OUTCOMES,
        "marks": grid.MARKS,
        "totals": totals,
        "total": len(results),
        "duration": sum(t.duration for t in results),
        "compared": matrix.compared,
        "changed": [views[c.key] for c in matrix.changed_cells],
        "changed_others": [t for t in matrix.others if t.changed],
        "platforms": platforms,
        "details": list(views.values()),
        "others": sorted(matrix.others, key=lambda t: (t.outcome == "passed", t.nodeid)),
        "others_counts": Counter(t.outcome for t in matrix.others),
        "cache_total": cache.get("total", {}),
        "cache_workers": sorted(cache.get("workers", {}).items()),
        "cache_chart": cache_chart(data),
        "timing_chart": sdk_timing(data),
        "time": data.get("time", {}),
    }


def _sdk_label(sdk: str | None) -> dict[str, Any]:
    name, _, version = (sdk or "").partition("@")
    return {"sdk": sdk, "name": name, "version": version}


def render(matrix: grid.Matrix, data: dict[str, Any], meta: dict[str, Any]) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(**context(matrix, data, meta))


def write(path: Path, matrix: grid.Matrix, data: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write atomically, so a browser reloading the file never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(matrix, data, meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)  # no half-written report left beside the path
        raise
