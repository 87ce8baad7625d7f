"""Benchmarks on DAVIS-2016 and speed measurements; every public name is re-exported here.

    from osvos_tf.benchmarks import run_davis, plot_runs
    runs = run_davis("../shared/DAVIS", "runs/davis_fast", preset="fast")
    runs.run().results["overall"]["J"]["mean"]
    plot_runs(["runs/davis_fast", "runs/davis_default"], "plots/davis")   # needs matplotlib

Modules, one concept each:

* :mod:`~osvos_tf.benchmarks.davis_run` -- :func:`run_davis`: fine-tune each sequence once, segment it after
  each budget, per snapping mode, into run folders (:class:`DavisRuns`).
* :mod:`~osvos_tf.benchmarks.run_folder` -- the run folder: timing.json (:class:`RunSettings`, the parent by
  its id), results.json (:func:`evaluate_run`), resume checks, stale-file cleanup.
* :mod:`~osvos_tf.benchmarks.budgets` -- presets / iteration counts -> :class:`Budget`.
* :mod:`~osvos_tf.benchmarks.sampling` -- a quick J estimate (:func:`sampled_frames`, :func:`mean_jaccard`).
* :mod:`~osvos_tf.benchmarks.calibration` -- the raw-mask threshold and the snapping parameters, on
  fine-tuned predictions of the train sequences (:func:`calibrate_snapping`, :func:`score_snapping`).
* :mod:`~osvos_tf.benchmarks.plots` -- :func:`load_run`, :func:`plot_runs` (matplotlib, imported there).
* :mod:`~osvos_tf.benchmarks.speed` -- the speed benchmark (:func:`run_speed_benchmark`).
* :mod:`~osvos_tf.benchmarks.lists` -- the comma-separated lists the tools take.

Importing this package does not import TensorFlow; running a network does.
"""

from osvos_tf.benchmarks.budgets import Budget, resolve_budgets, shared_finetuning
from osvos_tf.benchmarks.calibration import (
    BAND_CANDIDATES,
    BILATERAL_CANDIDATES,
    MARGIN_CANDIDATES,
    MAX_SEQUENCE_LOSS,
    THRESHOLD_CANDIDATES,
    UCM_CANDIDATES,
    CalibrationSample,
    calibrate_snapping,
    format_calibration,
    score_snapping,
)
from osvos_tf.benchmarks.davis_run import DavisRun, DavisRuns, run_davis, snap_modes
from osvos_tf.benchmarks.lists import comma_floats, comma_ints, comma_names, comma_pairs
from osvos_tf.benchmarks.plots import TIME_AXES, load_run, plot_runs
from osvos_tf.benchmarks.run_folder import (
    RESULTS_FILE,
    TIMING_FILE,
    RunSettings,
    evaluate_run,
    finished_sequences,
    read_timing,
)
from osvos_tf.benchmarks.sampling import mean_jaccard, sampled_frames
from osvos_tf.benchmarks.speed import (
    benchmark_video,
    current_rss_mb,
    format_speed_report,
    long_run_memory,
    peak_rss_mb,
    quick_settings,
    run_speed_benchmark,
    vgg16_forward_seconds,
)
from osvos_tf.config import SpeedSettings
from osvos_tf.davis import list_davis_sequences

__all__ = [
    "BAND_CANDIDATES",
    "BILATERAL_CANDIDATES",
    "MARGIN_CANDIDATES",
    "MAX_SEQUENCE_LOSS",
    "RESULTS_FILE",
    "THRESHOLD_CANDIDATES",
    "TIMING_FILE",
    "TIME_AXES",
    "UCM_CANDIDATES",
    "Budget",
    "CalibrationSample",
    "DavisRun",
    "DavisRuns",
    "RunSettings",
    "SpeedSettings",
    "benchmark_video",
    "calibrate_snapping",
    "comma_floats",
    "comma_ints",
    "comma_names",
    "comma_pairs",
    "current_rss_mb",
    "evaluate_run",
    "finished_sequences",
    "format_calibration",
    "format_speed_report",
    "list_davis_sequences",
    "load_run",
    "long_run_memory",
    "mean_jaccard",
    "peak_rss_mb",
    "plot_runs",
    "quick_settings",
    "read_timing",
    "resolve_budgets",
    "run_davis",
    "run_speed_benchmark",
    "sampled_frames",
    "score_snapping",
    "shared_finetuning",
    "snap_modes",
    "vgg16_forward_seconds",
]
