"""Training efficiency: meta-updates until a run's evaluation error first reaches a target.

    python -m experiments.efficiency RUN [RUN ...] --patterns 48 --target 1.0 \\
        --json results/training_efficiency.json --plot results/training_efficiency.png
    python -m experiments.efficiency results/training_efficiency.json --markdown \\
        --final ours=results/efficiency_final.json     # the README table

Reads each run folder's ``metrics.jsonl`` (the evaluations ``ebmm train`` logs on fresh episodes
every ``train.eval_every`` updates) and reports, per run, the first evaluated update whose error
at N patterns is at or below the target, the error at the end, and the run's optimiser settings.
The step is only as fine as the run's evaluation interval: the target was reached at or before it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ebmm.bench.harness import command_line, git_revision
from ebmm.checkpoint import load_json, save_json
from ebmm.run_folder import RunFolder


def updates_to_target(records: list[dict[str, Any]], key: str, target: float) -> dict[str, Any] | None:
    """The first evaluation record whose ``key`` is ``<= target`` (its step, error, seconds), or None."""
    for record in records:
        if record.get("kind") == "eval" and key in record and record[key] <= target:
            return {"step": record["step"], "error": record[key], "seconds": record.get("seconds")}
    return None


def efficiency_record(run_dirs: list[str | Path], patterns: int, target: float) -> dict[str, Any]:
    """Updates-to-target, final error and curve of each run (see the module docstring)."""
    from ebmm.train import read_metrics

    key = f"hamming@{patterns}"
    runs = {}
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        records = read_metrics(run_dir)
        evals = [r for r in records if r.get("kind") == "eval" and key in r]
        if not evals:
            raise ValueError(f"{run_dir} has no evaluation of {key}; its train.eval_patterns must include {patterns}")
        config = load_json(RunFolder(Path(run_dir)).config)
        runs[run_dir.name] = {
            "run": str(run_dir),
            "optimiser": {k: config["train"][k] for k in ("lr", "lr_schedule", "clip_norm", "weight_decay",
                                                           "meta_batch", "steps", "grad_mode")},
            "task_patterns": config["task"]["patterns"],
            "eval_episodes": config["train"]["eval_episodes"],
            "reached": updates_to_target(records, key, target),
            "final": {"step": evals[-1]["step"], "error": evals[-1][key], "seconds": evals[-1].get("seconds")},
            "best": min(({"step": r["step"], "error": r[key]} for r in evals), key=lambda item: item["error"]),
            "curve": [{"step": r["step"], **{k: v for k, v in r.items() if k.startswith("hamming@")}} for r in evals],
        }
    return {
        "benchmark": "training_efficiency",
        "command": command_line(),
        "git_revision": git_revision(),
        "metric": key,
        "target": target,
        "runs": runs,
        "notes": "reached.step is the first evaluation at or below the target (evaluations every train.eval_every "
                 "updates, on train.eval_episodes fresh episodes per N, the same episodes at every evaluation)",
    }


def format_efficiency(record: dict[str, Any]) -> str:
    """One line per run: updates to the target, final and best error."""
    lines = [f"meta-updates until {record['metric']} <= {record['target']:g}:"]
    for name, run in record["runs"].items():
        reached = run["reached"]
        when = f"{reached['step']:,} updates" if reached else "not reached"
        lines.append(f"  {name}: {when}; final {run['final']['error']:.2f} at {run['final']['step']:,}, "
                     f"best {run['best']['error']:.2f} at {run['best']['step']:,}")
    return "\n".join(lines)


def efficiency_markdown(record: dict[str, Any], finals: dict[str, dict[str, Any]] | None = None) -> str:
    """The README table: per run its optimiser, updates to the target, final and best error, and
    (``finals``: run name -> a ``bench binary`` results file of its final checkpoint) that benchmark."""
    finals = finals or {}
    counts = sorted({int(n) for final in finals.values() for n in final["results"]["ebmm"]})
    head = (f"| run | optimiser | updates to {record['metric']} ≤ {record['target']:g} | final (updates) | best |"
            + "".join(f" N = {n} |" for n in counts))
    lines = [head, "|---|---|---|---|---|" + "---|" * len(counts)]
    for name, run in record["runs"].items():
        opt = run["optimiser"]
        optimiser = f"AdamW {opt['lr']:g}, {opt['lr_schedule']}, clip {opt['clip_norm']:g}"
        reached = f"{run['reached']['step']:,}" if run["reached"] else f"not within {run['final']['step']:,}"
        row = (f"| {name} | {optimiser} | {reached} | {run['final']['error']:.2f} ({run['final']['step']:,}) | "
               f"{run['best']['error']:.2f} ({run['best']['step']:,}) |")
        final = finals.get(name)
        row += "".join(f" {final['results']['ebmm'][str(n)]['mean']:.2f} |" if final else " – |" for n in counts)
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.efficiency",
                                     description="meta-updates until a run's evaluation error reaches a target")
    parser.add_argument("runs", nargs="+", help="run folders (hold metrics.jsonl and config.json)")
    parser.add_argument("--patterns", type=int, default=48)
    parser.add_argument("--target", type=float, default=1.0)
    parser.add_argument("--plot-patterns", default="16,48,96", help="panels of the plot (comma-separated N)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None)
    parser.add_argument("--final", action="append", default=[], metavar="RUN=RESULTS.json",
                        help="a bench binary results file of a run's final checkpoint, for the table")
    parser.add_argument("--markdown", action="store_true", help="print the README table instead of the summary")
    args = parser.parse_args(argv)
    if args.markdown and len(args.runs) == 1 and args.runs[0].endswith(".json"):
        record = load_json(args.runs[0])  # a results file written by --json
    else:
        record = efficiency_record(args.runs, args.patterns, args.target)
    if args.markdown:
        finals = {name: load_json(path) for name, path in (item.split("=", 1) for item in args.final)}
        print(efficiency_markdown(record, finals))
        return 0
    print(format_efficiency(record))
    if args.json:
        save_json(args.json, record)
        print(f"wrote {args.json}")
    if args.plot:
        from ebmm.bench.plots import plot_runs
        from ebmm.train import read_metrics

        panels = tuple(int(n) for n in args.plot_patterns.split(","))
        plot_runs({Path(r).name: read_metrics(r) for r in args.runs}, args.plot, panels, target=(args.patterns, args.target))
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
