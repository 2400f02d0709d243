"""Learning-rate and size sweeps of the learned baselines: a record of every setting tried, and the
choice, from the sweep runs' own logs.

    python -m experiments.tuning summarise RUN_DIR... --json results/baselines/tuning_binary.json
    python -m experiments.tuning best results/baselines/tuning_binary.json MODEL   # prints the chosen lr
    python -m experiments.tuning best results/baselines/tuning_binary.json MODEL --memory-args
    python -m experiments.tuning pick RUN_DIR...   # prints the run with the lowest score

A run's score is the mean over the evaluated N of its last evaluation's error on the *train* split
(``train_<metric>@N`` for image tasks; binary strings have one distribution, so ``hamming@N`` on
fresh strings). Lower is better; the choice per model is the lowest score.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ebmm.bench.harness import command_line, git_revision
from ebmm.checkpoint import load_json, save_json
from ebmm.config_legacy import upgrade_model_table
from ebmm.run_folder import RunFolder
from ebmm.train import read_metrics


def run_record(run_dir: str | Path) -> dict[str, Any]:
    """What one sweep run tried and how well it did (see the module docstring for the score)."""
    run_dir = Path(run_dir)
    config = load_json(RunFolder(Path(run_dir)).config)
    evals = [r for r in read_metrics(run_dir) if r.get("kind") == "eval"]
    if not evals:
        raise ValueError(f"run {run_dir} has no evaluation yet")
    last = evals[-1]
    train_keys = [k for k in last if k.startswith("train_") and "@" in k]
    keys = train_keys or [k for k in last if k.split("@")[0] in ("hamming", "squared")]
    score = sum(float(last[k]) for k in keys) / len(keys)
    model = upgrade_model_table(config["model"])  # a run folder's config.json, old spelling or new
    return {
        "run": run_dir.name, "memory": model.get("kind", "ebmm"), "memory_args": model.get("args", {}),
        "lr": config["train"]["lr"], "steps": last["step"], "meta_batch": config["train"]["meta_batch"],
        "score": score, "scored_on": sorted(keys), "last_eval": last,
    }


def summarise(run_dirs: Sequence[str | Path]) -> dict[str, Any]:
    """Every run's record and, per model, the run with the lowest score."""
    runs = [run_record(path) for path in run_dirs]
    best: dict[str, dict[str, Any]] = {}
    for record in runs:
        current = best.get(record["memory"])
        if current is None or record["score"] < current["score"]:
            best[record["memory"]] = record
    return {
        "benchmark": "baseline_tuning",
        "score": "mean over the evaluated N of the last evaluation's train-split error (binary: fresh strings)",
        "runs": runs,
        "chosen": {name: {"lr": r["lr"], "memory_args": r["memory_args"], "run": r["run"], "score": r["score"]}
                   for name, r in best.items()},
        "command": command_line(),
        "git_revision": git_revision(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.tuning", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summarise", help="record every sweep run and the choice per model")
    summary.add_argument("runs", nargs="+")
    summary.add_argument("--json", required=True)
    pick = sub.add_parser("pick", help="print the run, of those given, with the lowest score")
    pick.add_argument("runs", nargs="+")
    best = sub.add_parser("best", help="print the chosen learning rate of MODEL from a tuning JSON")
    best.add_argument("json")
    best.add_argument("model")
    best.add_argument("--memory-args", action="store_true",
                      help="print the chosen model.args (recorded as memory_args) as a TOML inline table instead")
    args = parser.parse_args(argv)
    if args.command == "summarise":
        result = summarise(args.runs)
        save_json(args.json, result)
        for name, choice in result["chosen"].items():
            print(f"{name}: lr {choice['lr']:g} (score {choice['score']:.3f}, {choice['run']})")
        return 0
    if args.command == "pick":
        print(min(args.runs, key=lambda run: run_record(run)["score"]))
        return 0
    chosen = load_json(args.json)["chosen"]
    if args.model not in chosen:
        print(f"error: {args.json} has no choice for {args.model!r} (has {sorted(chosen)})", file=sys.stderr)
        return 2
    if args.memory_args:
        print(toml_inline(chosen[args.model]["memory_args"]))
    else:
        print(f"{chosen[args.model]['lr']:g}")
    return 0


def toml_inline(value: Any) -> str:
    """``value`` (a dict of numbers, strings, booleans, lists and dicts) as a TOML inline value."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_inline(item)}" for key, item in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_inline(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


if __name__ == "__main__":
    sys.exit(main())
