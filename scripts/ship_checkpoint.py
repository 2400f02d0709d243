"""Copy a run's latest checkpoint into checkpoints/NAME with its log and a TRAINING.md record.

Usage: python scripts/ship_checkpoint.py RUN_DIR checkpoints/NAME "the command that trained it"
Only what inference needs travels (model.safetensors, config.json, state.json) plus metrics.jsonl;
the optimiser state stays in the run folder.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

from ebmm.build import load_memory, resolve_checkpoint


def codec_line(energy_args: dict, init_from: str = "") -> str:
    """A line on the codec a codec-slot energy fitted before meta-training (empty for other energies), or
    on the checkpoint whose energy the run started from (``train.init_from``)."""
    if init_from:
        return (f"- Start: `{init_from}` (`train.init_from`, not refitted): all its parameters when its model\n"
                f"  config equals this run's, else its energy's, with the write and read rules from this config.\n")
    if energy_args.get("codec") != "conv":
        return ""
    fit = {"fit_steps": 2000, "fit_batch": 64, "fit_shift": 2, "fit_holdout": 0.1, **energy_args.get("codec_args", {})}
    return (f"- Codec: convolutional autoencoder fitted first order when the run started (before update 0; not in the\n"
            f"  seconds above): {fit['fit_steps']:,} Adam steps of {fit['fit_batch']} train-split images shifted by up to "
            f"{fit['fit_shift']} pixels,\n  the weights best on a held-out {fit['fit_holdout']:.0%} of the split kept "
            f"(`ebmm.energy.image_codecs.ConvCodec`).\n")


def model_lines(model: dict, memory: Any, loaded: Any) -> str:
    """The TRAINING.md lines on the model: an EBMM's energy and write/read rules, or a learned baseline's arguments."""
    shape = loaded.model.pattern_shape
    if model.get("kind", "ebmm") != "ebmm":
        return (f"- Model: learned baseline `{model['kind']}`, arguments `{json.dumps(model['args'])}`, patterns of shape\n"
                f"  {shape}; memory sized by its `budget` (`ebmm.baselines`).\n")
    refine = f"R = {model['refine_steps']} refine steps, " if model.get("refine_steps") else ""
    return (f"- Model: `{model['energy']}` energy, arguments `{json.dumps(model['energy_args'])}`, patterns of shape\n"
            f"  {shape}; writable weights: {memory.memory_floats():,} floats\n"
            f"  ({', '.join(memory.writable)}); T = {model['write_steps']} write steps ({', '.join(model['write_terms'])}),\n"
            f"  {refine}K = {model['read_steps']} read steps.\n")


def frozen_line(frozen: list[str]) -> str:
    """A line naming the meta-parameters ``train.frozen`` held at their starting value (empty if none)."""
    if not frozen:
        return ""
    return f"- Frozen (held at their starting value): {', '.join(f'`{name}`' for name in frozen)}.\n"


def main(run: str, target: str, command: str) -> None:
    folder = resolve_checkpoint(run)
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.json", "state.json"):
        shutil.copy2(folder / name, out / name)
    shutil.copy2(Path(run) / "metrics.jsonl", out / "metrics.jsonl")
    config = json.loads((folder / "config.json").read_text())
    state = json.loads((folder / "state.json").read_text())
    memory, loaded = load_memory(out)
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    last = {k: round(v, 2) for k, v in evals[-1].items() if "@" in k} if evals else {}
    model, task, train = config["model"], config["task"], config["train"]
    text = f"""# {out.as_posix()} — {config['name']}

{model_lines(model, memory, loaded)}- Task: `{task['data']}` train split, N drawn from {task['patterns']} per update, corruption
  `{task['corruption']}` {json.dumps(task['corruption_args']) if task['corruption_args'] else ''}.
- Trained by: `{command}` (`config.json` here is the resolved config; `metrics.jsonl` is that run's log).
- Budget: {state['step']:,} of the config's {train['steps']:,} meta-updates{' (stopped early)' if 0 < state['step'] < train['steps'] else ''}{' (none: the initialised model, `--max-steps 0`)' if state['step'] == 0 else ''}, {train['meta_batch']} episode(s) each, {state['elapsed_seconds']:.0f} s
  ({state['elapsed_seconds'] / 3600:.2f} hours) on `{train['device']}` — one thread of a 2-core
  {platform.machine()} CPU shared with other runs (`OMP_NUM_THREADS=1`), {train['grad_mode'].replace('_', '-')}
  meta-gradients, AdamW {train['lr']} ({train['lr_schedule']}), clipping {train['clip_norm']}; no GPU.
{codec_line(model.get('energy_args', {}), train.get('init_from', ''))}{frozen_line(train.get('frozen', []))}- Last evaluation during training ({train['eval_episodes']} episodes per N): {last}.
- Files: `model.safetensors` (all meta-parameters, {(out / 'model.safetensors').stat().st_size // 1024} KB), `config.json`,
  `state.json` (step, seconds), `metrics.jsonl`.
"""
    (out / "TRAINING.md").write_text(text)
    print(f"shipped {folder} -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
