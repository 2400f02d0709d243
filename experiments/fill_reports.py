"""Paste the current table under every ``<!-- report: ARGS -->`` marker of the given pages.

    python -m experiments.fill_reports README.md docs/results/image_memories.md

Run from the repository root after a results file changes. The table that follows a marker (the
consecutive lines starting with ``|``) is replaced by what the marker's report prints
(``experiments.report.render_marker``); pages whose marker is followed by anything else are left
alone and named, since only a single table can be replaced safely. tests/test_readme.py checks the
result.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from experiments.report import render_marker

MARKER = re.compile(r"^<!-- report: (.+?) -->[ \t]*$")


def fill(text: str) -> tuple[str, list[str]]:
    """``text`` with every marker's single table replaced; also the markers that could not be."""
    lines, out, skipped = text.split("\n"), [], []
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        match = MARKER.match(line)
        if not match:
            continue
        table = render_marker(match.group(1))
        if index >= len(lines) or not lines[index].startswith("|") or "\n\n" in table:
            skipped.append(match.group(1))
            continue
        while index < len(lines) and lines[index].startswith("|"):
            index += 1
        out.extend(table.split("\n"))
    return "\n".join(out), skipped


def main(argv: list[str] | None = None) -> int:
    pages = sys.argv[1:] if argv is None else argv
    if not pages:
        print(__doc__, file=sys.stderr)
        return 2
    for page in map(Path, pages):
        text, skipped = fill(page.read_text())
        page.write_text(text)
        for marker in skipped:
            print(f"{page}: left <!-- report: {marker} --> alone (not followed by a single table)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
