"""Markdown tables from results files, for the README: ``python -m ebmm.bench.report results/binary.json``
(or an image benchmark's JSON)."""

from __future__ import annotations

import sys
from typing import Any

from ebmm.bench.plots import LABELS
from ebmm.checkpoint import load_json


def binary_markdown(result: dict[str, Any]) -> str:
    """The measured error bits of every model beside the paper's rows, as a Markdown table."""
    rows = result["results"]
    counts = list(next(iter(rows.values())).keys())
    lines = ["| model | memory floats | " + " | ".join(f"N = {n}" for n in counts) + " |",
             "|---|---|" + "---|" * len(counts)]
    for name, row in rows.items():
        sizes = sorted({int(row[n]["memory_floats"]) for n in counts})
        floats = f"{sizes[0]:,}" if len(sizes) == 1 else f"{sizes[0]:,}–{sizes[-1]:,}"
        cells = " | ".join(f"{row[n]['mean']:.2f}" for n in counts)
        lines.append(f"| {LABELS.get(name, name)} | {floats} | {cells} |")
        paper = result.get("paper", {}).get(name)
        if paper:
            ref = " | ".join(f"{paper[n]:g}" if n in paper else "–" for n in counts)
            lines.append(f"| ↳ paper | 8,256 | {ref} |")
    return "\n".join(lines)


def images_markdown(result: dict[str, Any]) -> str:
    """One row per model of an image benchmark (test split, the train split beside each checkpoint),
    sorted by memory, with the paper's EBMM conv value at the nearest memory size (within 15 %) beside
    the EBMM rows."""
    rows = result["results"]
    count = list(next(iter(rows.values())).keys())[-1]
    train = result.get("train_split") or {}
    paper = {int(k): v for k, v in (result.get("paper_ebmm_conv") or {}).items()}
    lines = ["| model | memory floats | test split [5th, 95th pct] | train split | paper EBMM conv |",
             "|---|---|---|---|---|"]
    checkpoints = result.get("checkpoints", {})
    learned = result.get("learned") or {}
    order = sorted(rows, key=lambda n: (n not in checkpoints and n not in learned and n != "query",
                                        rows[n][count]["memory_floats"], n not in checkpoints))
    for name in order:
        cell = rows[name][count]
        floats = int(cell["memory_floats"])
        nearest = min(paper, key=lambda f: abs(f - floats)) if paper and floats else None
        near = nearest is not None and abs(nearest - floats) <= 0.15 * floats and name not in learned
        ref = f"{paper[nearest]:g} @ {nearest:,}" if near and nearest is not None else "–"
        label = LABELS.get(name, f"EBMM `{name}`" if name in checkpoints else name)
        if name in learned:
            label = LABELS.get(learned[name]["memory"], learned[name]["memory"])
        if name.endswith(" (no write)"):
            label = f"EBMM `{name[:-len(' (no write)')]}`, nothing written (θ̄)"
        train_cell = f"{train[name][count]['mean']:.2f}" if name in train else "–"
        lines.append(f"| {label} | {floats:,} | {cell['mean']:.2f} [{cell['p5']:.1f}, {cell['p95']:.1f}] | "
                     f"{train_cell} | {ref} |")
    return "\n".join(lines)


def rate_markdown(result: dict[str, Any]) -> str:
    """Distortion at each memory size of an image benchmark with learned baselines: one row per model
    (the EBMM checkpoints form one row), one column per memory budget (a learned run named
    ``family@budget`` sits under its budget), the lowest error of each column in bold."""
    rows = result["results"]
    count = list(next(iter(rows.values())).keys())[-1]
    table: dict[str, dict[int, float]] = {}
    for name in result.get("checkpoints", {}):
        table.setdefault(LABELS["ebmm"], {})[int(rows[name][count]["memory_floats"])] = rows[name][count]["mean"]
    for name, info in (result.get("learned") or {}).items():
        budget = int(name.rsplit("@", 1)[1]) if "@" in name else int(rows[name][count]["memory_floats"])
        table.setdefault(LABELS.get(info["memory"], info["memory"]), {})[budget] = rows[name][count]["mean"]
    sizes = sorted({size for row in table.values() for size in row})
    best = {size: min(row[size] for row in table.values() if size in row) for size in sizes}
    lines = ["| model | " + " | ".join(f"{size:,} floats" for size in sizes) + " |", "|---|" + "---|" * len(sizes)]
    for label, row in table.items():
        cells = [("–" if size not in row else f"**{row[size]:.2f}**" if row[size] == best[size] else f"{row[size]:.2f}")
                 for size in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    query = rows.get("query", {}).get(count)
    if query:
        lines.append("| corrupted query (no memory) | " + " | ".join(f"{query['mean']:.2f}" for _ in sizes) + " |")
    return "\n".join(lines)


SPEED_COLUMNS = {
    "write": "write", "read": "read", "write_compiled": "write, compiled", "read_compiled": "read, compiled",
    "meta_step": "meta-step", "meta_step_first_order": "first order", "meta_step_truncated_1": "truncated k=1",
    "meta_step_checkpointed": "checkpointed", "meta_step_channels_last": "channels-last", "naive_step": "naive step",
}


def speed_markdown(result: dict[str, Any]) -> str:
    """Two tables of a ``bench speed`` results file: median ms per phase, and peak memory per phase."""
    phases = [p for p in SPEED_COLUMNS if any(p in entry["timings"] for entry in result["configs"])]
    header = "| config | " + " | ".join(SPEED_COLUMNS[p] for p in phases) + " |"
    rule = "|---|" + "---|" * len(phases)
    tables = []
    for key, fmt in (("median_ms", "{:,.0f}"), ("peak_memory_mib", "{:,.0f}")):
        lines = [header, rule]
        for entry in result["configs"]:
            cells = [fmt.format(entry["timings"][p][key]) if p in entry["timings"] else "–" for p in phases]
            lines.append(f"| {entry['name']} | " + " | ".join(cells) + " |")
        tables.append("\n".join(lines))
    return "\n\nPeak memory (MiB):\n\n".join(tables)


def markdown(result: dict[str, Any]) -> str:
    """The README table for a results file of ``bench binary``, ``bench images`` or ``bench speed``."""
    if result.get("benchmark") == "speed":
        return speed_markdown(result)
    if result.get("benchmark") == "images":
        table = images_markdown(result)
        return f"{rate_markdown(result)}\n\n{table}" if result.get("learned") else table
    return binary_markdown(result)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ebmm.bench.report RESULTS.json", file=sys.stderr)
        return 2
    print(markdown(load_json(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
