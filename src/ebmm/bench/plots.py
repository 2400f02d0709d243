"""Plots made from results files and metrics logs (matplotlib, headless)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "ebmm": "EBMM (ours)",
    "hopfield_hebb": "Hopfield, Hebb",
    "hopfield_storkey": "Hopfield, Storkey",
    "hopfield_pinv": "Hopfield, pseudo-inverse",
    "oracle": "nearest-neighbour oracle",
    "query": "corrupted query",
    "modern_hopfield": "modern Hopfield (raw images)",
    "memory_networks": "memory networks",
    "mann": "MANN (LRUA)",
    "lstm": "LSTM",
    "plasticity": "differentiable plasticity",
    "kanerva": "Dynamic Kanerva Machine",
    "hopfield_code": "modern Hopfield (learned code)",
    "ebmm_paper_optimiser": "EBMM, paper's optimiser (20,000 updates)",
    "ebmm_n96": "EBMM, fine-tuned on N = 64, 96",
    "ebmm_code_slots_fixed": "EBMM, code slots, fixed layout (96 × 86)",
    "ebmm_sign_slots": "EBMM, sign slots (12,000 updates)",
    "ebmm_sign_slots_paper_optimiser": "EBMM, sign slots, paper's optimiser (20,000 updates)",
    "ebmm_sign_slots_n96": "EBMM, sign slots, fine-tuned on N = 64, 96",
    "ebmm_meta": "EBMM after 1,500 meta-updates",
}


def _tab20() -> list[tuple[float, float, float, float]]:
    """The 20 colours of matplotlib's ``tab20`` (a listed colormap: entry i is its i-th colour)."""
    cmap = plt.get_cmap("tab20")
    return [cmap(i) for i in range(cmap.N)]


def _save(fig: plt.Figure, out: str | Path, rect: tuple[float, float, float, float] | None = None) -> Path:
    fig.tight_layout(rect=rect)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_binary(result: dict[str, Any], out: str | Path, paper: dict[str, dict[int, float]] | None = None) -> Path:
    """Error bits per pattern against the number of stored patterns, one line per model."""
    many = len(result["results"]) > 7  # the baseline comparison: a larger figure, a symlog axis
    fig, ax = plt.subplots(figsize=(10, 5.5) if many else (6.5, 4.2))
    if many:
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_prop_cycle(color=_tab20()[::2] + _tab20()[1::2])
    for name, row in result["results"].items():
        counts = [int(n) for n in row]
        means = [row[str(n)]["mean"] for n in counts]
        low = [max(0.0, row[str(n)]["mean"] - row[str(n)]["p5"]) for n in counts]
        high = [max(0.0, row[str(n)]["p95"] - row[str(n)]["mean"]) for n in counts]
        style: dict[str, Any] = dict(linestyle="--", color="grey") if name == "query" else {}
        ax.errorbar(counts, means, yerr=[low, high], marker="o", capsize=3, label=LABELS.get(name, name), **style)
    if paper and "ebmm" in paper:
        counts = sorted(paper["ebmm"])
        ax.plot(counts, [paper["ebmm"][n] for n in counts], "k*", markersize=10, label="EBMM, paper")
    ax.set_xlabel("stored patterns N")
    ax.set_ylabel("error bits per pattern (of 128)")
    protocol = result.get("protocol", {})
    ax.set_title(f"Binary strings, {protocol.get('corruption', '?')} {protocol.get('corrupt_bits', '?')} bits; "
                 f"{protocol.get('episodes', '?')} episodes", fontsize=9)
    ax.grid(alpha=0.3)
    if many:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _save(fig, out, rect=(0, 0, 1, 1))
    ax.legend(fontsize=8)
    return _save(fig, out)


def plot_training(records: list[dict[str, Any]], out: str | Path, title: str = "") -> Path:
    """Meta-training curve: training loss and evaluation error bits against meta-updates."""
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    fig, (ax_loss, ax_bits) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8)
    ax_loss.set_xlabel("meta-updates")
    ax_loss.set_ylabel("meta-loss (squared error summed over read steps)")
    ax_loss.set_yscale("log")
    ax_loss.grid(alpha=0.3)
    keys = sorted({k for r in evals for k in r if k.startswith("hamming@")}, key=lambda k: int(k.split("@")[1]))
    for key in keys:
        ax_bits.plot([r["step"] for r in evals], [r[key] for r in evals], marker=".", label=f"N={key.split('@')[1]}")
    ax_bits.axhline(32, color="grey", linestyle="--", lw=0.8, label="corrupted query")
    ax_bits.set_xlabel("meta-updates")
    ax_bits.set_ylabel("error bits on fresh episodes")
    ax_bits.grid(alpha=0.3)
    ax_bits.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, out)


def plot_runs(
    runs: dict[str, list[dict[str, Any]]], out: str | Path, patterns: tuple[int, ...] = (32, 48),
    target: tuple[int, float] | None = None,
) -> Path:
    """Evaluation error bits against meta-updates for several runs, one panel per N, one legend.

    ``target = (N, bits)`` draws the target error as a horizontal line in N's panel.
    """
    fig, axes = plt.subplots(1, len(patterns), figsize=(4.5 * len(patterns) + 2.5, 4), squeeze=False)
    for ax, count in zip(axes[0], patterns, strict=True):
        key = f"hamming@{count}"
        if len(runs) > 10:  # the default cycle repeats its colours after ten
            ax.set_prop_cycle(color=_tab20())
        for label, records in runs.items():
            evals = [r for r in records if r["kind"] == "eval" and key in r]
            if evals:
                ax.plot([r["step"] for r in evals], [r[key] for r in evals], marker=".", label=label)
        ax.axhline(32, color="grey", linestyle="--", lw=0.8, label="corrupted query")
        if target is not None and target[0] == count:
            ax.axhline(target[1], color="black", linestyle=":", lw=1.0,
                       label=f"target: {target[1]:g} error bits or fewer at N={count}")
            ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("meta-updates")
        ax.set_ylabel(f"error bits on fresh episodes, N={count}")
        ax.grid(alpha=0.3)
    legend: dict[str, Any] = {}  # every panel's entries once (a target line is in one panel only)
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="center right", fontsize=8)
    return _save(fig, out, rect=(0, 0, 1 - 2.3 / fig.get_figwidth(), 1))


def model_family(name: str) -> str:
    """The curve a row belongs to: a checkpoint name without its size suffix, ``codec_nn`` for its sizes,
    ``codec_nn[family]`` / ``hopfield_codec[family]`` for the references over a family's own codecs."""
    if name.startswith("codec_nn ("):
        return "codec_nn"
    same_codec = re.fullmatch(r"(codec_nn|hopfield_codec)\[(.+)\]", name)
    if same_codec:
        return f"{same_codec.group(1)}[{model_family(same_codec.group(2))}]"
    return re.sub(r"_[cd]\d+$", "", name)


def _is_curve(name: str) -> bool:
    return name.startswith(("codec_nn (", "codec_nn[", "hopfield_codec["))


def plot_images(result: dict[str, Any], out: str | Path) -> Path:
    """Error against memory size from an image benchmark, in floats (left) and in bits (right).

    EBMM checkpoints and codec_nn are curves (one per family), with their quantised reads (dashed)
    on the bits panel where the results have them; references with a fixed memory (the query, the
    verbatim store, modern Hopfield, ...) are horizontal lines; the paper's EBMM conv points overlaid.
    """
    counts = list(next(iter(result["results"].values())).keys())
    count = counts[-1]
    rows_of = result["results"]
    learned = result.get("learned") or {}
    checkpoints = [n for n in rows_of if n in result.get("checkpoints", {}) or n in learned]
    curves: dict[str, list[str]] = {}
    for name in [*checkpoints, *[n for n in rows_of if _is_curve(n)]]:
        curves.setdefault(model_family(name), []).append(name)
    lines = [n for n in rows_of if n not in checkpoints and not _is_curve(n)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    colours = iter(_tab20())
    for family, names in curves.items():
        colour = next(colours)
        cells = sorted((rows_of[n][count] for n in names), key=lambda c: c["memory_floats"])
        label = LABELS.get(family, family)
        for ax, key in ((axes[0], "memory_floats"), (axes[1], "memory_bits")):
            xs = [c.get(key, 32 * c["memory_floats"]) for c in cells]
            ax.plot(xs, [c["mean"] for c in cells], marker="o", color=colour, label=f"{label} (float32)")
        for depth, style in zip(sorted({d for c in cells for d in c.get("quantized", {})}, key=int, reverse=True),
                                ("--", ":", "-."), strict=False):
            points = [(c["quantized"][depth]["memory_bits"], c["quantized"][depth]["mean"]) for c in cells
                      if depth in c.get("quantized", {})]
            axes[1].plot([x for x, _ in points], [y for _, y in points], marker=".", linestyle=style, color=colour,
                         label=f"{label} ({depth}-bit state)")
    paper = result.get("paper_ebmm_conv") or {}
    if paper:
        axes[0].plot([int(k) for k in paper], list(paper.values()), marker="s", linestyle="--", color="black",
                     label="EBMM conv, paper (read off its plot)")
    line_styles: list[Any] = ["--", "-.", ":", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1))]
    for line_style, name in zip(line_styles, lines, strict=False):
        cell = rows_of[name][count]
        base = LABELS.get(name, name.replace(" (no write)", ", nothing written (θ̄)"))
        for ax, key, unit in ((axes[0], "memory_floats", "floats"), (axes[1], "memory_bits", "bits")):
            size = cell.get(key, 32 * cell["memory_floats"])
            ax.axhline(cell["mean"], linestyle=line_style, color="grey" if name == "query" else None,
                       label=f"{base} ({size:,} {unit})" if size else base)
    metric = "error bits per image" if result.get("metric") == "hamming" else "squared error per image"
    axes[0].set_xlabel("memory (float32 numbers)")
    axes[1].set_xlabel("memory (bits)")
    axes[0].set_ylabel(metric)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=0.1)  # a verbatim store can read with no error at all
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=6)
    fig.suptitle(f"{result.get('dataset', '')}, {count} images, {result.get('split', '')} split")
    return _save(fig, out)


def plot_grid(grid: Any, out: str | Path, title: str = "", labels: Sequence[str] | None = None) -> Path:
    """A grid of images ``(rows, columns, C, H, W)`` in [0, 1]; row 0 originals, 1 queries, then reads.

    ``labels`` names the rows (default: original, query, read 1, read 2, ...).
    """
    rows, columns = int(grid.shape[0]), int(grid.shape[1])
    labels = list(labels) if labels is not None else ["original", "query", *[f"read {k}" for k in range(1, rows - 1)]]
    if len(labels) != rows:
        raise ValueError(f"labels must name every one of the {rows} rows, got {len(labels)}")
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9 + 0.8, rows * 0.9 + 0.4), squeeze=False)
    for r in range(rows):
        for c in range(columns):
            image = grid[r, c].detach().cpu().clamp(0, 1)
            ax = axes[r][c]
            if image.shape[0] == 1:
                ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(image.permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(labels[r], fontsize=7)
    fig.suptitle(title, fontsize=8)
    return _save(fig, out, rect=(0, 0, 1, 0.95))
