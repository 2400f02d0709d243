"""Training efficiency: meta-updates until a run's evaluation error first reaches a target.

    python -m ebmm.bench.efficiency RUN [RUN ...] --patterns 48 --target 1.0 \\
        --json results/training_efficiency.json --plot results/training_efficiency.png

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
        config = load_json(run_dir / "config.json")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="meta-updates until a run's evaluation error reaches a target")
    parser.add_argument("runs", nargs="+", help="run folders (hold metrics.jsonl and config.json)")
    parser.add_argument("--patterns", type=int, default=48)
    parser.add_argument("--target", type=float, default=1.0)
    parser.add_argument("--plot-patterns", default="16,48,96", help="panels of the plot (comma-separated N)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)
    record = efficiency_record(args.runs, args.patterns, args.target)
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
