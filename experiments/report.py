"""Markdown tables from the studies' results files, for docs/results/:

    python -m experiments.report results/fast_writing.json                       # experiments.writing
    python -m experiments.report results/training_efficiency.json RUN=FINAL.json ...  # experiments.efficiency
    python -m experiments.report results/strings/slot_errors_NAME.json             # experiments.slot_errors

``RUN=FINAL.json``: the ``ebmm bench binary`` results file of a run's final checkpoint, the
efficiency table's last columns. The library's own results files (``bench binary``, ``images``,
``speed``) have theirs from ``python -m ebmm.bench.report``.

A table in the docs sits under a marker that names the arguments that print it. A marker whose
first word is ``experiments`` is this module's, ``<!-- report: experiments results/fast_writing.json -->``;
any other, ``<!-- report: ARGS -->``, is ``ebmm.bench.report``'s. ``render_marker`` takes either
(tests/test_readme.py checks every marker with it).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from typing import Any

from ebmm.checkpoint import load_json

USAGE = "usage: python -m experiments.report RESULTS.json [RUN=FINAL.json ...]"
PREFIX = "experiments"  # the first word of a marker that this module renders


def render(args: Sequence[str]) -> str:
    """What ``python -m experiments.report ARGS`` prints: the table of the study's results file
    ``args[0]``. Paths are relative to the working directory (the repository root in the markers)."""
    if not args or args[0].startswith("-") or "=" in args[0]:
        raise ValueError(USAGE)
    finals: dict[str, dict[str, Any]] = {}
    for arg in args[1:]:
        name, sep, path = arg.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{USAGE}\nnot understood: {arg!r}")
        finals[name] = load_json(path)
    result = load_json(args[0])
    benchmark = result.get("benchmark")
    if benchmark == "training_efficiency":
        from experiments.efficiency import efficiency_markdown

        return efficiency_markdown(result, finals)
    if finals:
        raise ValueError(f"RUN=FINAL.json arguments only go with a training-efficiency file, not {args[0]}")
    if benchmark == "write":
        from experiments.writing import writing_markdown

        return writing_markdown(result)
    if benchmark == "slot_errors":
        from experiments.slot_errors import slot_errors_markdown

        return slot_errors_markdown(result)
    raise ValueError(f"{args[0]} is not a study's results file (benchmark {benchmark!r}); "
                     "python -m ebmm.bench.report prints the library's")


def marker_command(marker: str) -> tuple[str, list[str]]:
    """The module and arguments of a ``<!-- report: MARKER -->``: ``experiments.report`` and the rest
    when the first word is ``experiments``, else ``ebmm.bench.report`` and all of it."""
    words = shlex.split(marker)
    if words and words[0] == PREFIX:
        return "experiments.report", words[1:]
    return "ebmm.bench.report", words


def render_marker(marker: str) -> str:
    """The table a marker names, from whichever module it names (``marker_command``)."""
    module, args = marker_command(marker)
    if module == "experiments.report":
        return render(args)
    from ebmm.bench.report import render as render_library

    return render_library(args)


def main(argv: list[str] | None = None) -> int:
    from ebmm.bench.report import run_cli

    return run_cli(render, argv)


if __name__ == "__main__":
    sys.exit(main())
