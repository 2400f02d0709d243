"""Markdown tables from results files, for the README: ``python -m ebmm.bench.report results/binary.json``."""

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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ebmm.bench.report RESULTS.json", file=sys.stderr)
        return 2
    print(binary_markdown(load_json(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
