"""``ganrepro report``: the finished runs of one table build, beside the papers' numbers, as markdown.

The metrics JSON files are the source of truth; everything here only reads them (and the runs' config,
provenance, loss log and evaluation images) and renders.  The pieces are kept apart so each can be tested
and changed alone:

* :mod:`.collect`    reads and checks every run of a table into plain dataclasses (a missing file is an error)
* :mod:`.aggregate`  mean ± std over seeds, rankings and their rank correlation
* :mod:`.bootstrap`  resampling test images and seeds: the arithmetic of the 95 % intervals
* :mod:`.certainty`  every cell's interval and the verdict on each ordering the paper claims
* :mod:`.claims`     the report's text about them: header count, per-section verdicts, definitions
* :mod:`.facts`      what the report header states: data hash, commits, settings, date
* :mod:`.figures`    sample grids and loss curves, rendered deterministically to PNG bytes
* :mod:`.render`     the markdown text
* :mod:`.build`      ties them together and writes only files whose bytes changed
"""

from ganrepro.reporting.build import build_report

__all__ = ["build_report"]
