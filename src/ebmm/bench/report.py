"""Markdown tables from the library's results files, for the README and docs/:

    python -m ebmm.bench.report results/binary.json            # bench binary, images, speed
    python -m ebmm.bench.report results/speed.json --analysis  # the speed analysis (docs/speed.md)
    python -m ebmm.bench.report results/images/omniglot.json --specificity  # right / unrelated / nothing, bits
    python -m ebmm.bench.report results/strings/NAME_bits.json --specificity --count 64  # at N = 64 (default: the last N)
    python -m ebmm.bench.report results/images/omniglot.json --curves  # one row per family, one column per size

Every such table in README.md and docs/ sits under an HTML comment that names these arguments,
``<!-- report: results/binary.json -->``; tests/test_readme.py checks that the table under each
marker is what ``render`` prints for them. The studies' tables (fast writing, training efficiency)
come from ``python -m experiments.report ARGS`` in the repository's ``experiments/`` folder, which
the installed package does not hold; their markers name that module first,
``<!-- report: experiments ARGS -->``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ebmm.bench.plots import LABELS, model_family
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
        near = nearest is not None and abs(nearest - floats) <= 0.15 * floats and name in checkpoints
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


def _add_row(rows: list[list[Any]], name: str, label: str, values: list[str]) -> None:
    """Append ``[reference, label, values]`` to ``rows``, unless ``name`` is a same-codec reference
    (``codec_nn[...]``, ``hopfield_codec[...]``) equal in every cell to the same reference over an
    earlier codec: that row's label then gains `` = label`` (a refined and an unrefined checkpoint
    share their codec, so their references are one row)."""
    reference = name.split("[")[0] if name.startswith(("codec_nn[", "hopfield_codec[")) else None
    twin = next((row for row in rows if reference and row[0] == reference and row[2] == values), None)
    if twin is not None:
        twin[1] += f" = {label}"
    else:
        rows.append([reference, label, values])


def specificity_markdown(result: dict[str, Any], count: str | None = None) -> str:
    """The controls of an image or string benchmark run with specificity (and quantised reads): per
    model, the error after the right write, after an unrelated write, with nothing written, their
    ratio, and the error with the written state stored in 8 and 4 bits, each with its memory in bits.
    ``count``: the memory load N shown (default: the largest in the file). A reference row equal in
    every cell to the same reference over an earlier checkpoint's codec is merged into that row
    (``codec_nn[a] = codec_nn[b]``), as in ``curves_markdown``."""
    rows = result["results"]
    counts = list(next(iter(rows.values())).keys())
    if count is not None and count not in counts:
        raise ValueError(f"--count {count}: the file has N = {', '.join(counts)}")
    count = counts[-1] if count is None else count
    checkpoints = result.get("checkpoints", {})
    depths = sorted({d for row in rows.values() for d in row[count].get("quantized", {})}, key=int, reverse=True)
    head = ["model", "memory floats", "memory bits", "right", "unrelated", "nothing", "right ÷ unrelated",
            *[f"{d}-bit state (bits)" for d in depths]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows_out: list[list[Any]] = []  # [reference or None, label, cells]
    for name, row in rows.items():
        cell = row[count]
        if "unrelated" not in cell or name == "query" or name.endswith(" (no write)"):
            continue
        label = LABELS.get(name, f"EBMM `{name}`" if name in checkpoints else name)
        nothing = f"{cell['nothing']:.2f}" if "nothing" in cell else "–"
        ratio = f"{cell['right_over_unrelated']:.2f}" if "right_over_unrelated" in cell else "–"
        quantized = [f"{cell['quantized'][d]['mean']:.2f} ({cell['quantized'][d]['memory_bits']:,})"
                     if d in cell.get("quantized", {}) else "–" for d in depths]
        values = [f"{int(cell['memory_floats']):,}", f"{int(cell['memory_bits']):,}", f"{cell['mean']:.2f}",
                  f"{cell['unrelated']:.2f}", nothing, ratio, *quantized]
        _add_row(rows_out, name, label, values)
    lines += ["| " + " | ".join([label, *values]) + " |" for _, label, values in rows_out]
    return "\n".join(lines)


def curves_markdown(result: dict[str, Any]) -> str:
    """An image benchmark's distortion curves: one row per family of sizes (the checkpoints of one
    family, ``codec_nn`` at its sizes, ``codec_nn[family]`` and ``hopfield_codec[family]`` over a
    family's own codecs, the learned baselines of ``--learned``; a reference row equal in every cell to
    the same reference over an earlier family's codecs, e.g. a refined family that shares its codec, is
    merged into that row as ``codec_nn[a] = codec_nn[b]``), one column per
    memory size in floats; each cell is ``right / unrelated`` (the error after writing the right
    images / after writing unrelated ones) or the error alone where no control was run. The
    paper's EBMM conv values close the table."""
    rows = result["results"]
    count = list(next(iter(rows.values())).keys())[-1]
    checkpoints = result.get("checkpoints", {})
    learned = result.get("learned", {})
    families: dict[str, dict[int, dict[str, Any]]] = {}
    members: dict[str, list[str]] = {}
    for name, row in rows.items():
        if name in checkpoints or name in learned or name.startswith(("codec_nn (", "codec_nn[", "hopfield_codec[")):
            families.setdefault(model_family(name), {})[int(row[count]["memory_floats"])] = row[count]
            members.setdefault(model_family(name), []).append(name)
    paper = {int(k): v for k, v in (result.get("paper_ebmm_conv") or {}).items()}
    sizes = sorted({size for cells in families.values() for size in cells})
    head = ["model", *[f"{size:,} floats" for size in sizes]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows_out: list[list[Any]] = []  # [reference or None, label, cells]
    for family, cells in families.items():
        if family.startswith(("codec_nn", "hopfield_codec")):
            label = LABELS.get(family, family)
        elif members[family][0] in learned:
            label = f"`{members[family][0] if len(members[family]) == 1 else family + '_*'}`"
        else:  # a family of one checkpoint is named by it
            label = f"EBMM `{members[family][0] if len(members[family]) == 1 else family + '_*'}`"
        values = [f"{cells[s]['mean']:.2f} / {cells[s]['unrelated']:.1f}" if s in cells and "unrelated" in cells[s]
                  else f"{cells[s]['mean']:.2f}" if s in cells else "–" for s in sizes]
        _add_row(rows_out, family, label, values)
    lines += [f"| {label} | " + " | ".join(values) + " |" for _, label, values in rows_out]
    if paper:
        nearest = [min((abs(f - s), f) for f in paper)[1] for s in sizes]  # the paper size nearest each
        values = [f"{paper[f]:g}" if abs(f - s) <= 0.15 * s else "–" for f, s in zip(nearest, sizes, strict=True)]
        lines.append("| EBMM conv, paper | " + " | ".join(values) + " |")
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


STUDIES = {"write": "fast writing", "training_efficiency": "training efficiency"}


def markdown(result: dict[str, Any]) -> str:
    """The table(s) for a results file of ``bench binary``, ``bench images`` or ``bench speed``; a
    study's results file (``STUDIES``) is ``ValueError``: its tables are ``python -m experiments.report``'s."""
    study = STUDIES.get(result.get("benchmark", ""))
    if study:
        raise ValueError(f"a {study} results file: its table comes from python -m experiments.report")
    if result.get("benchmark") == "speed":
        return speed_markdown(result)
    if result.get("benchmark") == "images":
        table = images_markdown(result)
        return f"{rate_markdown(result)}\n\n{table}" if result.get("learned") else table
    return binary_markdown(result)


USAGE = "usage: python -m ebmm.bench.report RESULTS.json [--analysis | --specificity [--count N] | --curves]"


def render(args: Sequence[str]) -> str:
    """What ``python -m ebmm.bench.report ARGS`` prints: the table(s) of the results file ``args[0]``;
    ``--analysis``: the ``"analysis"`` key of a speed results file instead of its phase tables. Paths
    are relative to the working directory (the repository root in the docs' markers)."""
    if not args or args[0].startswith("-"):
        raise ValueError(USAGE)
    options = list(args[1:])
    count = None
    if "--count" in options:
        at = options.index("--count")
        if at + 1 >= len(options) or "--specificity" not in options:
            raise ValueError(f"{USAGE}\n--count N goes with --specificity")
        count = options.pop(at + 1)
        options.pop(at)
    analysis = "--analysis" in options
    specificity = "--specificity" in options
    curves = "--curves" in options
    for arg in options:
        if arg not in ("--analysis", "--specificity", "--curves"):
            raise ValueError(f"{USAGE}\nnot understood: {arg!r}")
    result = load_json(args[0])
    if analysis:
        if "analysis" not in result:
            raise ValueError(f"{args[0]} has no 'analysis' key (written by python -m ebmm.bench.speed)")
        from ebmm.bench.speed import analysis_markdown

        return analysis_markdown(result["analysis"])
    if specificity:
        return specificity_markdown(result, count)
    if curves:
        if result.get("benchmark") != "images":
            raise ValueError(f"--curves goes with an image benchmark, not {args[0]}")
        return curves_markdown(result)
    return markdown(result)


def run_cli(render_args: Callable[[Sequence[str]], str], argv: list[str] | None = None) -> int:
    """Print what ``render_args`` makes of the command line; exit 2 with the reason on a bad one."""
    args = sys.argv[1:] if argv is None else argv
    try:
        text = render_args(args)
    except (ValueError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(render, argv)


if __name__ == "__main__":
    sys.exit(main())
