"""What every study's ``main`` ends with: record the command and revision, print the table, save the file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ebmm.bench.harness import git_revision
from ebmm.checkpoint import save_json


def finish_study(module: str, argv: list[str] | None, checkpoint: str, result: dict[str, Any],
                 markdown: Callable[[dict[str, Any]], str], json_path: str | None) -> int:
    """``result`` with ``command`` (``python -m module`` and its arguments), ``git_revision`` and
    ``checkpoint`` first; prints ``markdown(result)`` and saves the result to ``json_path`` if given."""
    given = sys.argv[1:] if argv is None else argv
    record = {"command": " ".join([f"python -m {module}", *given]), "git_revision": git_revision(),
              "checkpoint": checkpoint, **result}
    print(markdown(record))
    if json_path:
        save_json(json_path, record)
        print(f"wrote {json_path}")
    return 0
