"""A table build without Snakemake or DVC: the plan's stages run in dependency order, like ``make``.

A GPU machine often has torch but not the workflow tools.  This runner takes the stages of
:func:`~ganrepro.workflow.dvc.dvc_stages` (name, command, deps, outs: the stages of
:func:`~ganrepro.workflow.stages.build_stages` as ``dvc repro`` runs them, the command lines Snakemake runs),
keeps those the table's report needs, and runs each one whose outputs are missing or older than its inputs.
Three things differ from ``dvc repro``, each because the runner has no other tool around it:

- the ``ganrepro dvc-yaml --check`` guard of the train stages is dropped: it checks that dvc.yaml matches
  params/, and the runner reads params/ itself on every build, as Snakemake does;
- a stage's ``params:`` files count as inputs (whole files, as ``make`` would: editing any row re-runs every
  train stage of the table, not only that row's);
- without MLflow (``tracking=False``) the track stages are left out and the report is written without
  ``--mlflow-parent``, the only option of the report command that needs them.

A leading ``ganrepro`` is run as ``sys.executable -m ganrepro``, with this package first on ``PYTHONPATH``, so
that a checkout without the installed script builds with its own code.  After a stage succeeds its outputs are
touched: commands that leave unchanged files alone (the report) would otherwise look stale for ever.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ganrepro.errors import UserError
from ganrepro.workflow.dvc import dvc_stages
from ganrepro.workflow.plan import Plan

#: The order stage kinds are reported in (a kind not listed, e.g. one added later, follows in plan order).
KIND_ORDER = (
    "download",
    "prepare",
    "segmenter",
    "import-checkpoint",
    "train",
    "train-pack",
    "evaluate",
    "track",
    "report",
    "report-copy",
)
_GUARD = "dvc-yaml"


@dataclass(frozen=True)
class Stage:
    """One job of the build: its plan command line and the files it reads and writes."""

    name: str
    kind: str
    command: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]

    @property
    def log(self) -> str | None:
        """The file the command appends its output to (``ganrepro --log FILE``), if any."""
        argv = shlex.split(self.command)
        return argv[2] if len(argv) > 2 and argv[1] == "--log" else None


@dataclass
class KindTime:
    """Wall time of one kind of stage: how many ran, their summed seconds and the span from first start to
    last end (smaller than the sum when stages ran side by side)."""

    count: int = 0
    seconds: float = 0.0
    first_start: float = field(default=float("inf"))
    last_end: float = 0.0

    @property
    def span(self) -> float:
        return max(0.0, self.last_end - self.first_start)


def command_kind(command: str) -> str:
    """The ``ganrepro`` subcommand a command line runs (``--log FILE`` skipped), e.g. ``train``."""
    argv = shlex.split(command)
    rest = argv[1:]
    if rest[:1] == ["--log"]:
        rest = rest[2:]
    return rest[0] if rest else ""


def without_option(command: str, option: str) -> str:
    """``command`` without ``option`` and its value (shlex round trip: the plan's lines are shlex-joined)."""
    argv = shlex.split(command)
    if option in argv:
        at = argv.index(option)
        del argv[at : at + 2]
    return shlex.join(argv)


def _as_stage(name: str, body: dict[str, Any]) -> Stage:
    commands = body["cmd"] if isinstance(body["cmd"], list) else [body["cmd"]]
    commands = [c for c in commands if command_kind(c) != _GUARD]
    if len(commands) != 1:
        raise UserError(f"stage {name}: expected one ganrepro command besides the dvc.yaml guard, got {commands}")
    params = [path for entry in body.get("params", []) for path in entry]
    outs = [out if isinstance(out, str) else next(iter(out)) for out in body.get("outs", [])]
    return Stage(name, command_kind(commands[0]), commands[0], (*body.get("deps", []), *params), tuple(outs))


def plan_stages(plan: Plan, table: str, tracking: bool = True) -> list[Stage]:
    """The stages ``table``'s report needs, in the plan's (dependency) order; see the module docstring."""
    plan.table(table)
    stages = [_as_stage(name, body) for name, body in dvc_stages(plan).items()]
    if not tracking:
        dropped = {out for s in stages if s.kind == "track" for out in s.outs}
        stages = [
            replace(
                s,
                deps=tuple(d for d in s.deps if d not in dropped),
                command=without_option(s.command, "--mlflow-parent") if s.kind == "report" else s.command,
            )
            for s in stages
            if s.kind != "track"
        ]
    producer = {out: s for s in stages for out in s.outs}
    needed: set[str] = set()
    # The build's own report, not the reports/{table}.md copy: a copy Snakemake did not write would look up to
    # date to a later `snakemake reports/{table}.md` of another dataset or profile (no metadata to compare).
    wanted = [producer[plan.report_copy(table)]]
    while wanted:
        stage = wanted.pop()
        if stage.name not in needed:
            needed.add(stage.name)
            wanted += [producer[d] for d in stage.deps if d in producer]
    return [s for s in stages if s.name in needed]


# ------------------------------------------------------------------------------------------ up to date


def _own_mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _newest(path: Path) -> float | None:
    """A file's mtime; a folder's newest mtime among itself and everything under it; None when absent."""
    newest = _own_mtime(path)
    if newest is not None and path.is_dir():
        for folder, _, files in os.walk(path):
            for name in files:
                newest = max(newest, _own_mtime(Path(folder, name)) or newest)
    return newest


def stale_stages(stages: list[Stage], root: Path) -> list[Stage]:
    """The stages to run, in order: outputs missing or older than an input, or an input about to be remade.

    An input that no stage makes and that does not exist is an error now, before anything runs."""
    producer = {out: s.name for s in stages for out in s.outs}
    to_run: list[Stage] = []
    rerun: set[str] = set()
    for stage in stages:
        remade = any(producer.get(d) in rerun for d in stage.deps)
        inputs = []
        for dep in stage.deps:
            mtime = _newest(root / dep)
            if mtime is None and dep not in producer:
                raise UserError(f"stage {stage.name}: input {dep} does not exist and no stage makes it")
            inputs.append(mtime)
        outputs = [_own_mtime(root / out) for out in stage.outs]
        present = [m for m in outputs if m is not None]
        missing = not outputs or len(present) < len(outputs) or None in inputs
        if remade or missing or max((m for m in inputs if m is not None), default=0.0) > min(present):
            to_run.append(stage)
            rerun.add(stage.name)
    return to_run


# ------------------------------------------------------------------------------------------ running


def argv_of(command: str) -> list[str]:
    """The command line as run: a leading ``ganrepro`` becomes ``sys.executable -m ganrepro``."""
    argv = shlex.split(command)
    return [sys.executable, "-m", "ganrepro", *argv[1:]] if argv[:1] == ["ganrepro"] else argv


def _environment() -> dict[str, str]:
    """This process's environment with this package's source folder first on PYTHONPATH."""
    import ganrepro

    source = str(Path(ganrepro.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _touch(root: Path, outs: tuple[str, ...]) -> None:
    now = time.time()
    for out in outs:
        path = root / out
        if path.exists():
            os.utime(path, (now, now))


def _failure(stage: Stage, code: int, root: Path) -> str:
    where = f"; its log: {stage.log}" if stage.log else ""
    tail = ""
    if stage.log and (root / stage.log).is_file():
        lines = (root / stage.log).read_text(errors="replace").strip().splitlines()
        tail = (" (last line: " + lines[-1].strip() + ")") if lines else ""
    return f"stage {stage.name} failed with exit code {code}{where}{tail}"


def execute(stages: list[Stage], root: Path, jobs: int = 1, echo: Callable[[str], None] = print) -> dict[str, KindTime]:
    """Run ``stages`` (from :func:`stale_stages`) with at most ``jobs`` at once, each when the stages making
    its inputs have finished; stop starting new ones at the first failure and raise after the running ones end."""
    makes = {out: s.name for s in stages for out in s.outs}
    waiting = list(stages)
    running: dict[str, tuple[Stage, subprocess.Popen[bytes], float]] = {}
    finished: set[str] = set()
    times: dict[str, KindTime] = {}
    failure: str | None = None
    env = _environment()

    def ready(stage: Stage) -> bool:
        return all(d not in makes or makes[d] in finished for d in stage.deps)

    while running or (waiting and failure is None):
        launchable = [s for s in waiting if ready(s)] if failure is None else []
        for stage in launchable[: max(0, jobs - len(running))]:
            waiting.remove(stage)
            echo(f"[{stage.kind}] {stage.name}: {stage.command}")
            running[stage.name] = (stage, subprocess.Popen(argv_of(stage.command), cwd=root, env=env), time.time())
        time.sleep(0.05)
        for name, (stage, process, start) in list(running.items()):
            code = process.poll()
            if code is None:
                continue
            end = time.time()
            del running[name]
            if code != 0:
                failure = failure or _failure(stage, code, root)
                continue
            _touch(root, stage.outs)
            finished.add(name)
            kind = times.setdefault(stage.kind, KindTime())
            kind.count, kind.seconds = kind.count + 1, kind.seconds + end - start
            kind.first_start, kind.last_end = min(kind.first_start, start), max(kind.last_end, end)
            echo(f"[{stage.kind}] {stage.name}: done in {end - start:.1f} s")
    if failure is not None:
        raise UserError(failure)
    return times


def time_table(times: dict[str, KindTime], total: float) -> list[str]:
    """Wall time per stage kind (span and summed seconds) and the build's total, as printed lines."""
    kinds = [k for k in KIND_ORDER if k in times] + [k for k in times if k not in KIND_ORDER]
    lines = [f"{'stage':<12}{'count':>6}{'wall s':>10}{'sum s':>10}"]
    lines += [f"{k:<12}{times[k].count:>6}{times[k].span:>10.1f}{times[k].seconds:>10.1f}" for k in kinds]
    lines.append(f"{'total':<12}{sum(t.count for t in times.values()):>6}{total:>10.1f}")
    return lines
