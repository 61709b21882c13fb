"""The report's figures, rendered to PNG bytes that depend only on their inputs.

Figures are drawn on a bare Agg canvas (no pyplot state, no display), under matplotlib's default style (a
user's matplotlibrc cannot change them) and saved without the software tag, so the same runs give the same
bytes and an unchanged report rewrites nothing.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganrepro.errors import DataError
from ganrepro.images import list_images, load_image, natural_key

DPI = 100
SAMPLE_COUNT = 3
MAX_POINTS = 2000  # per loss line after smoothing: more than a panel can show


@dataclass(frozen=True)
class Column:
    """One model output column of a sample grid: its title and the run's evaluation folder."""

    title: str
    eval_dir: Path


@dataclass(frozen=True)
class Series:
    """One row's loss log for the loss figure."""

    label: str
    losses: dict[str, list[float]]  # "step" plus one list per loss column


def sample_names(columns: Sequence[Column], count: int = SAMPLE_COUNT) -> list[str]:
    """The first ``count`` test images (natural order) that every column's run has generated."""
    first = [p.stem for p in list_images(columns[0].eval_dir / "images")]
    have = [{p.stem for p in list_images(c.eval_dir / "images")} for c in columns]
    common = [name for name in first if all(name in h for h in have)]
    if not common:
        raise DataError(
            f"the runs of {', '.join(c.title for c in columns)} have no evaluation image in common "
            f"(looked in {columns[0].eval_dir / 'images'} and the others)"
        )
    return sorted(common, key=lambda name: natural_key(Path(name)))[:count]


def samples_png(title: str, columns: Sequence[Column], names: Sequence[str]) -> bytes:
    """Grid: one line per test image; input | each column's output | ground truth."""
    first = columns[0].eval_dir
    cells: list[tuple[str, Any]] = [("input", lambda n: first / "inputs" / f"{n}.png")]
    cells += [(c.title, lambda n, c=c: c.eval_dir / "images" / f"{n}.png") for c in columns]
    cells += [("ground truth", lambda n: first / "real" / f"{n}.png")]
    with _style():
        from matplotlib.figure import Figure

        headings = [textwrap.fill(heading, 18) for heading, _ in cells]
        title_lines = max(h.count("\n") + 1 for h in headings)
        fig, axes = _grid(
            Figure,
            len(names),
            len(cells),
            panel=(1.7, 1.7),
            gap=(0.05, 0.05),
            margins=(0.3, 0.1, 0.4 + 0.15 * title_lines, 0.1),
        )
        for i, name in enumerate(names):
            for j, (_heading, path_of) in enumerate(cells):
                ax = axes[i][j]
                ax.imshow(np.asarray(load_image(path_of(name), "RGB")), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(headings[j], fontsize=8)
                if j == 0:
                    ax.set_ylabel(name, fontsize=8)
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / fig.get_figheight())
        return _png(fig)


def window_for(n: int) -> int:
    """Moving-average window: 2% of the logged steps, at least 1 (no smoothing for tiny runs)."""
    return max(1, n // 50)


def smooth(steps: Sequence[float], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Trailing moving average over the finite values (x at each window's last step), thinned to MAX_POINTS."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    window = window_for(len(y))
    if len(y) >= window > 1:
        sums = np.cumsum(np.concatenate([[0.0], y]))
        y = (sums[window:] - sums[:-window]) / window
        x = x[window - 1 :]
    stride = max(1, math.ceil(len(y) / MAX_POINTS))
    return x[::stride], y[::stride]


def losses_png(title: str, series: Sequence[Series]) -> bytes:
    """One panel per loss column (union over the rows, in order of appearance), one line per row."""
    names = list(dict.fromkeys(c for s in series for c in s.losses if c != "step"))
    lengths = {len(s.losses["step"]) for s in series}
    windows = {window_for(n) for n in lengths}
    window = windows.pop() if len(windows) == 1 else None
    note = (
        "moving average over 2% of each run's steps"
        if window is None
        else "unsmoothed: too few steps"
        if window == 1
        else f"moving average over {window} steps"
    )
    with _style():
        from matplotlib.figure import Figure

        ncols = 2 if len(names) == 4 else max(1, min(3, len(names)))
        nrows = max(1, math.ceil(len(names) / ncols))
        legend_rows = math.ceil(len(series) / 3)
        fig, grid = _grid(
            Figure,
            nrows,
            ncols,
            panel=(3.8, 2.0),
            gap=(0.3, 0.55),
            margins=(0.55, 0.2, 0.55, 0.55 + 0.22 * legend_rows),
        )
        axes = grid.ravel()
        handles: dict[str, Any] = {}
        for ax, name in zip(axes, names):
            for index, s in enumerate(series):
                if name not in s.losses:
                    continue
                x, y = smooth(s.losses["step"], s.losses[name])
                (line,) = ax.plot(x, y, lw=1.1, color=f"C{index % 10}", label=s.label)
                handles.setdefault(s.label, line)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes[len(names) :]:
            ax.set_axis_off()
        if not names:
            axes[0].text(0.5, 0.5, "no losses logged", ha="center", va="center")
        if handles:
            fig.legend(
                list(handles.values()),
                list(handles),
                loc="lower center",
                bbox_to_anchor=(0.5, 0.0),
                ncols=min(3, len(handles)),
                fontsize=8,
                frameon=False,
            )
        fig.suptitle(f"{title}: training losses, first seed ({note})", fontsize=10, y=1 - 0.1 / fig.get_figheight())
        return _png(fig)


def _grid(
    figure: Any,
    nrows: int,
    ncols: int,
    panel: tuple[float, float],
    gap: tuple[float, float],
    margins: tuple[float, float, float, float],
) -> tuple[Any, np.ndarray]:
    """A figure sized to fit ``nrows`` × ``ncols`` panels of ``panel`` inches, with fixed margins (left,
    right, top, bottom, inches) and gaps (fractions of a panel): a fixed layout draws once, unlike a
    constrained one, and gives the same picture for the same content."""
    left, right, top, bottom = margins
    width = left + right + ncols * panel[0] + (ncols - 1) * gap[0] * panel[0]
    height = top + bottom + nrows * panel[1] + (nrows - 1) * gap[1] * panel[1]
    fig = figure(figsize=(width, height))
    axes = fig.subplots(
        nrows,
        ncols,
        squeeze=False,
        gridspec_kw={
            "left": left / width,
            "right": 1 - right / width,
            "top": 1 - top / height,
            "bottom": bottom / height,
            "wspace": gap[0],
            "hspace": gap[1],
        },
    )
    return fig, axes


def _style() -> Any:
    import matplotlib.style

    return matplotlib.style.context("default")


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
