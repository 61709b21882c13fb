"""The smoke build's reports as committed: what `snakemake ... --config dataset=synthetic profile=smoke` writes.

A change that only restructures code must leave the reports byte-identical apart from what names the build
(its code commit, in the header and in the Runs table) and when it ran (the Date line), and apart from where
the FID weights were looked for.  :func:`normalise` blanks exactly those; the committed files under
``tests/data/expected_smoke/`` are normalised reports, and a change that is meant to alter the report
regenerates them (``GANREPRO_UPDATE_SMOKE_REPORTS=1`` for the fresh-checkout test, or ``python
tests/smoke_report.py REPORTS_DIR COMMIT TORCH_HOME`` after a smoke build).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

EXPECTED_DIR = Path(__file__).resolve().parent / "data" / "expected_smoke"
#: A torch home that holds no weights, so that FID/KID are unavailable and the segmenter trains from scratch
#: wherever the build runs: the report does not depend on what a machine has cached.
ABSENT_TORCH_HOME = "/nonexistent/torch-home"
#: Set to 1 to write the built reports as the new expected ones (a change meant to alter the report) instead of
#: comparing them.
UPDATE = os.environ.get("GANREPRO_UPDATE_SMOKE_REPORTS") == "1"
DATE_LINE = re.compile(r"^- \*\*Date:\*\* .*$", re.MULTILINE)


def normalise(text: str, commit: str, torch_home: str) -> str:
    """``text`` with the commit (full and as the Runs table abbreviates it), the Date line and the torch home
    replaced by fixed words."""
    text = text.replace(commit, "COMMIT").replace(commit[:12], "COMMIT")
    text = text.replace(torch_home.rstrip("/"), "TORCH_HOME")
    return DATE_LINE.sub("- **Date:** DATE", text)


def difference(actual: str, table: str) -> str | None:
    """None when the normalised report equals the committed one; else the first differing line of each.
    With :data:`UPDATE`, ``actual`` becomes the committed one."""
    if UPDATE:
        EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
        (EXPECTED_DIR / f"{table}.md").write_text(actual)
        return None
    expected = (EXPECTED_DIR / f"{table}.md").read_text()
    if actual == expected:
        return None
    for number, (got, want) in enumerate(zip(actual.splitlines(), expected.splitlines()), start=1):
        if got != want:
            return f"line {number}:\n  built:    {got}\n  expected: {want}"
    return f"lengths differ: built {len(actual.splitlines())} lines, expected {len(expected.splitlines())}"


if __name__ == "__main__":
    reports, commit, home = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    for report in sorted(reports.glob("*.md")):
        (EXPECTED_DIR / report.name).write_text(normalise(report.read_text(), commit, home))
        print(f"wrote {EXPECTED_DIR / report.name}")
