"""Plots of evaluated run folders: J and F per sequence, and quality against time (the paper's Figure 8).

    plot_runs(["runs/davis_fast", "runs/davis_default"], "plots/davis")   # needs matplotlib

``tools/plot_davis.py`` is the command line. matplotlib (the ``plots`` extra) is imported only here, when a
plot is drawn.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from osvos_tf.benchmarks.run_folder import RESULTS_FILE, read_timing

#: x axes of the quality-vs-time plot: timing.json field (or derived value) and axis label.
TIME_AXES = {
    "fit": "fine-tuning time per sequence (s)",
    "total": "total time per sequence (s): fine-tuning + segmentation",
    "per_frame": "time per frame (s): (fine-tuning + segmentation) / frames",
}

_MARKERS = "osD^vP*Xh<>p"


def load_run(run_dir: str | os.PathLike) -> dict:
    """A run folder's timing.json and results.json: ``{'dir', 'label', 'timing', 'results'}``.

    ``label`` is the preset name or 'N it', plus the folder name.

    Raises:
        FileNotFoundError: timing.json or results.json is missing; ValueError: not a run folder.
    """
    run_dir = Path(run_dir)
    timing = read_timing(run_dir)
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the run has not been evaluated. Run tools/run_davis.py on "
            f"that folder to the end (it resumes), or tools/eval_davis.py --json {path}."
        )
    results = json.loads(path.read_text())
    settings = timing.get("settings", {})
    budget = settings.get("preset") or f"{settings.get('iterations')} it"
    return {"dir": run_dir, "label": f"{budget} ({run_dir.name})", "timing": timing, "results": results}


def plot_runs(
    run_dirs: Sequence[str | os.PathLike],
    out_prefix: str | os.PathLike,
    time_axis: str = "fit",
    labels: Sequence[str] | None = None,
    log_x: bool = False,
) -> list[Path]:
    """Plot one or more evaluated run folders as PNGs.

    Writes ``<out_prefix>_jf.png`` (J mean and F mean per sequence as grouped bars, one bar per run, plus
    the overall mean) and ``<out_prefix>_quality_vs_time.png`` (J mean against time, one marker per
    sequence and a large marker at each run's mean, one marker style per run: with runs of several presets
    this is the paper's Figure 8).

    Args:
        run_dirs: folders written by :func:`~osvos_tf.benchmarks.run_davis` (timing.json and results.json).
        out_prefix: path prefix of the PNGs; its folder is created.
        time_axis: a key of :data:`TIME_AXES` ('fit', 'total' or 'per_frame').
        labels: legend names, one per run (default: preset or iterations, and the folder name).
        log_x: logarithmic time axis (times must then be > 0, so not with iterations 0 and 'fit').

    Returns:
        The two PNG paths.

    Raises:
        ImportError: matplotlib is missing. ValueError: bad ``time_axis``/``labels``, no runs, or a run with no
        sequence both timed and evaluated. FileNotFoundError: see :func:`load_run`.
    """
    if time_axis not in TIME_AXES:
        raise ValueError(f"time_axis must be one of {', '.join(TIME_AXES)}; got {time_axis!r}.")
    run_dirs = list(run_dirs)
    if not run_dirs:
        raise ValueError("plot_runs needs at least one run folder.")
    if labels is not None and len(labels) != len(run_dirs):
        raise ValueError(f"Give one label per run: {len(run_dirs)} runs, {len(labels)} labels.")
    figure, canvas = _matplotlib()
    runs = [load_run(d) for d in run_dirs]
    for i, run in enumerate(runs):
        if labels is not None:
            run["label"] = labels[i]
        run["seqs"] = [s for s in run["results"]["sequences"] if s in run["timing"]["sequences"]]
        if not run["seqs"]:
            raise ValueError(f"Run {run['dir']} has no sequence that is both in timing.json and results.json.")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    jf_path = Path(f"{out_prefix}_jf.png")
    qt_path = Path(f"{out_prefix}_quality_vs_time.png")
    _plot_jf(runs, figure, canvas).savefig(jf_path, dpi=120)
    _plot_quality_vs_time(runs, time_axis, log_x, figure, canvas).savefig(qt_path, dpi=120)
    return [jf_path, qt_path]


def _matplotlib():
    """matplotlib's ``Figure`` and the Agg canvas (no global backend is set)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            "The plots need matplotlib, which is not installed: pip install -e .[plots] (or pip install matplotlib)."
        ) from err
    return Figure, FigureCanvasAgg


def _plot_jf(runs: list[dict], figure, canvas):
    """J and F mean per sequence (and overall), grouped bars, one bar per run."""
    seqs = list(dict.fromkeys(s for run in runs for s in run["seqs"])) + ["Overall"]
    width = 0.8 / len(runs)
    fig = figure(figsize=(max(6.0, 1.0 + 0.45 * len(seqs) * (1 + 0.5 * (len(runs) - 1))), 6.5))
    canvas(fig)
    for row, measure in enumerate(("J", "F")):
        ax = fig.add_subplot(2, 1, row + 1)
        for i, run in enumerate(runs):
            per_seq = run["results"]["sequences"]
            values = [
                run["results"]["overall"][measure]["mean"]
                if s == "Overall"
                else (per_seq[s][measure]["mean"] if s in per_seq else float("nan"))
                for s in seqs
            ]
            xs = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(seqs))]
            ax.bar(xs, values, width, label=run["label"])
        ax.set_ylabel(f"{measure} mean")
        ax.set_ylim(0, 1)
        ax.set_xticks(range(len(seqs)))
        ax.set_xticklabels(seqs if row == 1 else [], rotation=45, ha="right")
        ax.grid(axis="y", alpha=0.3)
        if row == 0:
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _time_value(record: dict, axis: str) -> float:
    if axis == "fit":
        return float(record["fit_seconds"])
    total = float(record["fit_seconds"]) + float(record["segment_seconds"])
    return total if axis == "total" else total / float(record["frames"])


def _plot_quality_vs_time(runs: list[dict], time_axis: str, log_x: bool, figure, canvas):
    """J mean against time: a small marker per sequence, a large one at each run's mean."""
    fig = figure(figsize=(7, 5))
    canvas(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, run in enumerate(runs):
        xs = [_time_value(run["timing"]["sequences"][s], time_axis) for s in run["seqs"]]
        ys = [run["results"]["sequences"][s]["J"]["mean"] for s in run["seqs"]]
        marker, color = _MARKERS[i % len(_MARKERS)], f"C{i % 10}"
        ax.scatter(xs, ys, marker=marker, color=color, alpha=0.5, s=25)
        mean_j = sum(ys) / len(ys)
        ax.scatter(
            [sum(xs) / len(xs)],
            [mean_j],
            marker=marker,
            s=150,
            color=color,
            edgecolors="black",
            label=f"{run['label']}: J {mean_j:.3f}",
        )
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(TIME_AXES[time_axis])
    ax.set_ylabel("J mean (small: per sequence, large: mean)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
