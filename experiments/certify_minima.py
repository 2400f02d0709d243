"""Are stored strings strict local minima of the written energy? The certificate of ``ebmm.certify``
on seeded episodes, per memory load N.

    python -m experiments.certify_minima CHECKPOINT --patterns 16,32,48,64,96 --episodes 10 --seed 3 \\
        --json results/strings/certified_minima.json

For each N: the fraction of stored strings certified strict local minima over the box; of the rest,
how many are not even KKT points (the gradient points into the box somewhere) and how many are KKT
points with a flat or negative direction (undecided by the certificate); the smallest curvature;
and the same for as many *unrelated* strings under the same written memories (the control: they
should not be minima). The read of an uncorrupted stored string is also reported (wrong bits).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from ebmm.bench.harness import git_revision
from ebmm.build import load_memory
from ebmm.certify import MinimumCertificate, certify_minima
from ebmm.checkpoint import save_json
from ebmm.data.binary import random_binary_patterns
from ebmm.memory import EnergyMemory


def summary(certificate: MinimumCertificate, tolerance: float) -> dict[str, float]:
    """Fractions of patterns certified, not KKT, and KKT but undecided; the smallest curvature."""
    kkt = certificate.kkt_residual <= tolerance
    finite = certificate.curvature[torch.isfinite(certificate.curvature)]
    return {"certified": certificate.fraction_certified(), "not_kkt": float((~kkt).float().mean()),
            "kkt_undecided": float((kkt & ~certificate.strict).float().mean()),
            "smallest_curvature": float(finite.min()) if finite.numel() else float("inf")}


def certify_study(memory: EnergyMemory, counts: list[int], episodes: int, seed: int, tolerance: float = 1e-6
                  ) -> dict[str, Any]:
    """Per N: the certificate's summary for stored and for unrelated strings, and the stored strings' read error."""
    (dim,) = memory.pattern_shape
    generator = torch.Generator().manual_seed(seed)
    rows = {}
    for count in counts:
        stored = random_binary_patterns(episodes, count, dim, generator)
        unrelated = random_binary_patterns(episodes, count, dim, generator)
        with torch.no_grad():
            state = memory.write(stored)
            read = memory.read(stored, state).patterns
        rows[str(count)] = {"stored": summary(certify_minima(memory, state, stored, tolerance), tolerance),
                            "unrelated": summary(certify_minima(memory, state, unrelated, tolerance), tolerance),
                            "read_of_stored_bits": float(((read > 0.5) != (stored > 0.5)).sum(-1).float().mean())}
    return {"episodes": episodes, "seed": seed, "tolerance": tolerance, "results": rows}


def markdown(result: dict[str, Any]) -> str:
    """One row per N."""
    lines = ["| N | stored strings certified | not KKT | KKT, undecided | smallest curvature | unrelated strings "
             "certified | read of a stored string, wrong bits |", "|---|---|---|---|---|---|---|"]
    for count, row in result["results"].items():
        stored = row["stored"]
        lines.append(f"| {count} | {stored['certified']:.2f} | {stored['not_kkt']:.2f} | {stored['kkt_undecided']:.2f} | "
                     f"{stored['smallest_curvature']:.3g} | {row['unrelated']['certified']:.2f} | "
                     f"{row['read_of_stored_bits']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a string memory: shipped name, checkpoint or run folder")
    parser.add_argument("--patterns", default="16,32,48,64,96")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    memory, _ = load_memory(args.checkpoint)
    if not isinstance(memory, EnergyMemory) or len(memory.pattern_shape) != 1:
        parser.error(f"{args.checkpoint} is not an EBMM string memory")
    result = certify_study(memory, [int(n) for n in args.patterns.split(",")], args.episodes, args.seed, args.tolerance)
    given = sys.argv[1:] if argv is None else argv
    result = {"command": " ".join(["python -m experiments.certify_minima", *given]), "git_revision": git_revision(),
              "checkpoint": args.checkpoint, **result}
    print(markdown(result))
    if args.json:
        save_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
