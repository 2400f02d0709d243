"""Are stored patterns strict local minima of the written energy? The certificate of ``ebmm.certify``
on seeded episodes, per memory load N.

    python -m experiments.certify_minima CHECKPOINT --patterns 16,32,48,64,96 --episodes 10 --seed 3 \\
        --json results/strings/certified_minima.json
    python -m experiments.certify_minima omniglot_conv_codec_refine_c36 --dataset omniglot --data-dir DIR \\
        --patterns 64 --episodes 2   # an image memory: test-split images, unrelated ones from the same split

For each N: the fraction of stored strings certified strict local minima over the box; of the rest,
how many are not even KKT points (the gradient points into the box somewhere) and how many are KKT
points with a flat or negative direction (undecided by the certificate); the smallest curvature;
and the same for as many *unrelated* strings under the same written memories (the control: they
should not be minima). The read of an uncorrupted stored pattern is also reported: its wrong bits
(values thresholded at 0.5) and whether the read itself is certified.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from ebmm.build import load_memory
from ebmm.certify import MinimumCertificate, certify_minima
from ebmm.data import ImageSet, load_images, sample_episodes
from ebmm.data.binary import random_binary_patterns
from ebmm.memory import EnergyMemory
from experiments.study_output import finish_study


def summary(certificate: MinimumCertificate, tolerance: float) -> dict[str, float | None]:
    """Fractions of patterns certified, not KKT, and KKT but undecided; the smallest curvature (``None``
    where no pattern needed one: none was a KKT point with a free coordinate)."""
    kkt = certificate.kkt_residual <= tolerance
    finite = certificate.curvature[torch.isfinite(certificate.curvature)]
    return {"certified": certificate.fraction_certified(), "not_kkt": float((~kkt).float().mean()),
            "kkt_undecided": float((kkt & ~certificate.strict).float().mean()),
            "smallest_curvature": float(finite.min()) if finite.numel() else None}  # None: no Hessian was needed


def certify_study(memory: EnergyMemory, counts: list[int], episodes: int, seed: int, tolerance: float = 1e-6,
                  images: ImageSet | None = None) -> dict[str, Any]:
    """Per N: the certificate's summary for stored and for unrelated patterns (random strings, or
    ``images`` of one split), and the read of an uncorrupted stored pattern: its wrong bits (values
    thresholded at 0.5) and whether the read itself is certified."""
    generator = torch.Generator().manual_seed(seed)
    rows = {}
    for count in counts:
        if images is None:
            stored = random_binary_patterns(episodes, count, memory.pattern_shape[0], generator)
            unrelated = random_binary_patterns(episodes, count, memory.pattern_shape[0], generator)
        else:
            stored, unrelated = sample_episodes(images, 2 * episodes, count, generator).chunk(2)
        with torch.no_grad():
            state = memory.write(stored)
            read = memory.read(stored, state).patterns
        wrong = ((read > 0.5) != (stored > 0.5)).flatten(2).sum(-1).float().mean()
        rows[str(count)] = {"stored": summary(certify_minima(memory, state, stored, tolerance), tolerance),
                            "unrelated": summary(certify_minima(memory, state, unrelated, tolerance), tolerance),
                            "read": summary(certify_minima(memory, state, read, tolerance), tolerance),
                            "read_of_stored_bits": float(wrong)}
    return {"episodes": episodes, "seed": seed, "tolerance": tolerance, "results": rows}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def markdown(result: dict[str, Any]) -> str:
    """One row per N."""
    lines = ["| N | stored patterns certified | not KKT | KKT, undecided | smallest curvature | unrelated patterns "
             "certified | read of a stored pattern: wrong bits, certified |", "|---|---|---|---|---|---|---|"]
    for count, row in result["results"].items():
        stored = row["stored"]
        lines.append(f"| {count} | {stored['certified']:.2f} | {stored['not_kkt']:.2f} | {stored['kkt_undecided']:.2f} | "
                     f"{_number(stored['smallest_curvature'])} | {row['unrelated']['certified']:.2f} | "
                     f"{row['read_of_stored_bits']:.2f}, {row['read']['certified']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="an EBMM: shipped name, checkpoint or run folder")
    parser.add_argument("--dataset", default=None, help="an image memory's dataset (its test split is written)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--patterns", default="16,32,48,64,96")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    memory, _ = load_memory(args.checkpoint)
    if not isinstance(memory, EnergyMemory):
        parser.error(f"{args.checkpoint} is not an EBMM")
    if (len(memory.pattern_shape) == 1) != (args.dataset is None):
        parser.error("--dataset goes with an image memory, and an image memory needs it")
    images = None if args.dataset is None else load_images(args.dataset, args.data_dir, "test")
    result = certify_study(memory, [int(n) for n in args.patterns.split(",")], args.episodes, args.seed, args.tolerance,
                           images)
    return finish_study("experiments.certify_minima", argv, args.checkpoint, result, markdown, args.json)


if __name__ == "__main__":
    sys.exit(main())
