"""The speed benchmark: segmentation and fine-tuning time, against a bare VGG16 forward pass, and memory.

    from osvos_tf.benchmarks import run_speed_benchmark, format_speed_report
    report = run_speed_benchmark(frames, mask)          # frames: paths or uint8 RGB arrays of one video
    print(format_speed_report(report))

``tools/bench.py`` is the command line (:func:`benchmark_video` picks DAVIS car-shadow when present, else a
synthetic 854x480 clip). Everything is wall-clock time of this process, reported as the median of
``repeats`` runs after ``warmup`` runs (:class:`osvos_tf.config.SpeedSettings`). It measures:

* ``vgg16_ms``: a bare ``keras.applications.VGG16(include_top=False, weights=None)`` forward pass at the
  frame size (the speed limit of this architecture on this machine), through a ``tf.function``;
* ``segment_ms``: :meth:`OSVOS.segment` per frame on in-memory frames (the network alone), and
  ``segment_png_ms``: :meth:`OSVOS.segment_to_folder` per frame from the frame files (decode, network,
  PNG encode); ``segment_ratio`` = segment_ms / vgg16_ms;
* ``snap_ms``: per-frame snapping time of each mode (contour network forward and superpixels, or the
  bilateral solve), when asked;
* ``compute_dtype``: that of the OSVOS measured; ``segment_ms_by_dtype`` and ``vgg16_ms_by_dtype``: the same
  measurements for each of ``SpeedSettings.compute_dtypes`` (a network per dtype, from the same parent);
* ``iteration_s`` per fine-tuning configuration, named by its dtype and its other differences from the
  OSVOS's config (e.g. ``"bfloat16, freeze_blocks=2"``): the median update time of a run (so set-up and
  tracing, which hit the first update of each augmented image size, are excluded), and ``presets``: per
  preset, ``fit_s``, the whole fine-tuning as :meth:`OSVOS.fit` runs it (measured, or estimated from
  ``iteration_s`` when ``measure`` does not list the preset), and ``total_s``: fine-tuning +
  ``frames_for_total`` x ``segment_png_ms``;
* ``peak_rss_mb``: the process's peak resident memory (``ru_maxrss``), and ``long_run``: resident memory
  before and after segmenting a long stream of small frames (constant memory means no growth).

``parent`` is the parent's :attr:`osvos_tf.parents.ParentSource.id` (never a path). The OSVOS measured is
left as it was (its config and :attr:`~osvos_tf.osvos.OSVOS.state`). No timing is asserted anywhere in the
tests: this is a measurement tool.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from osvos_tf.config import PRESETS, FineTuneConfig, SpeedSettings, finetune_config, schedule_counts
from osvos_tf.cpu import resolve_compute_dtype

#: The video :func:`benchmark_video` uses when no frames are given and DAVIS has it.
DEFAULT_SEQUENCE = "car-shadow"


def _median_seconds(fn: Callable[[], object], repeats: int, warmup: int) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Current resident memory of this process in MiB (from /proc/self/statm; NaN where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def quick_settings(settings: SpeedSettings) -> SpeedSettings:
    """The smoke-run version of ``settings``: 1 repetition, 2 frames, no preset fine-tuned end to end, 3
    slope updates, no extra dtype, at most 50 long-run frames (its snapping modes are kept)."""
    return dataclasses.replace(
        settings,
        repeats=1,
        segment_frames=2,
        measure=(),
        slope_iterations=3,
        compute_dtypes=(),
        long_frames=min(settings.long_frames, 50),
    )


@contextlib.contextmanager
def benchmark_video(
    frames_dir: str | os.PathLike | None = None,
    mask: str | os.PathLike | None = None,
    davis_root: str | os.PathLike | None = None,
    sequence: str = DEFAULT_SEQUENCE,
    log: Callable[[str], None] | None = None,
) -> Iterator[tuple[list[Path], Path]]:
    """The video to benchmark, as ``(frame paths, first-frame annotation)``, for the ``with`` block.

    ``frames_dir`` and ``mask`` when given (both); else DAVIS ``sequence`` under ``davis_root`` (default
    :func:`osvos_tf.davis.default_davis_root`) when present; else a synthetic 854x480 clip of 8 frames in a
    temporary folder, removed at the end of the block (``log`` says so).

    Raises:
        ValueError: only one of ``frames_dir`` and ``mask``. FileNotFoundError: a missing frame folder or
        mask, or a DAVIS sequence without its first annotation.
    """
    from osvos_tf.davis import default_davis_root, jpeg_dir, sequence_inputs
    from osvos_tf.frames import list_frames
    from osvos_tf.synthetic import write_clip

    if (frames_dir is None) != (mask is None):
        raise ValueError("Give the frames and the mask of their first frame together, or neither (for DAVIS).")
    if frames_dir is not None and mask is not None:
        if not Path(mask).is_file():
            raise FileNotFoundError(f"Mask not found: {mask} (the annotation of the first frame of {frames_dir}).")
        yield list_frames(frames_dir), Path(mask)
        return
    root = Path(davis_root) if davis_root is not None else default_davis_root()
    if (jpeg_dir(root) / sequence).is_dir():
        yield sequence_inputs(root, sequence)
        return
    if log is not None:
        log(f"{jpeg_dir(root) / sequence} not found: using a synthetic 854x480 clip")
    with tempfile.TemporaryDirectory() as tmp:
        frames, masks = write_clip(Path(tmp) / "clip", n_frames=8, height=480, width=854, seed=0)
        yield list_frames(frames), masks / "00000.png"


def vgg16_forward_seconds(
    height: int, width: int, repeats: int = 5, warmup: int = 2, compute_dtype: str = "float32"
) -> tuple[float, list[float]]:
    """Median seconds of a bare keras.applications VGG16 (no top, random weights) forward pass on one
    (1, height, width, 3) float32 image, through a ``tf.function``; with ``compute_dtype='bfloat16'``, the same
    network with every layer under Keras's ``mixed_bfloat16`` policy (as osvos_tf's bfloat16 option)."""
    import keras
    import tensorflow as tf

    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(height, width, 3))
    if compute_dtype != "float32":
        policy = {"bfloat16": "mixed_bfloat16"}[compute_dtype]
        model = keras.models.clone_model(
            model, clone_function=lambda layer: layer.__class__.from_config({**layer.get_config(), "dtype": policy})
        )
    image = tf.constant(np.random.default_rng(0).uniform(-120, 130, (1, height, width, 3)).astype(np.float32))

    @tf.function
    def forward(x):
        return model(x, training=False)

    return _median_seconds(lambda: forward(image).numpy(), repeats, warmup)


def run_speed_benchmark(
    frames: Sequence,
    mask,
    settings: SpeedSettings = SpeedSettings(),
    osvos=None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Measure segmentation and fine-tuning speed on one video (see the module docstring).

    Args:
        frames: the video's frames (paths, for the PNG timing to include decoding; or uint8 RGB arrays).
        mask: the annotation of ``frames[0]``.
        settings: :class:`~osvos_tf.config.SpeedSettings`.
        osvos: the :class:`~osvos_tf.osvos.OSVOS` to time (default: ``OSVOS()``, the shipped parent); left as
            it was.
        log: called with a line of text as each measurement finishes (default: silent).

    Returns:
        A JSON-able dict (keys in the module docstring; times in seconds or milliseconds as named).

    Raises:
        ValueError: no frames, an unknown preset or compute dtype in ``settings``.
    """
    import tensorflow as tf

    from osvos_tf.frames import read_frame
    from osvos_tf.osvos import OSVOS

    say = log or (lambda text: None)
    if not frames:
        raise ValueError("run_speed_benchmark needs at least one frame.")
    unknown = [p for p in (*settings.presets, *settings.measure) if p not in PRESETS]
    if unknown:
        raise ValueError(f"Unknown presets {unknown}; known: {', '.join(PRESETS)}.")
    extra_dtypes = [resolve_compute_dtype(d) for d in settings.compute_dtypes]  # checks the names
    osvos = osvos or OSVOS()
    h, w = read_frame(frames[0]).shape[:2]
    report = {
        "frame_size": [h, w],
        "parent": osvos.source,
        "tensorflow": tf.__version__,
        "cpu_count": os.cpu_count(),
        "settings": dataclasses.asdict(settings),
        "compute_dtype": osvos.config.compute_dtype,
    }
    dtypes = list(dict.fromkeys([osvos.config.compute_dtype, *extra_dtypes]))
    report.update(_time_vgg16(h, w, dtypes, settings, say))
    # one OSVOS per compute dtype, all from the same parent (the one passed is used for its own dtype)
    networks = {osvos.config.compute_dtype: osvos}
    for dtype in dtypes:
        if dtype not in networks:
            config = dataclasses.replace(osvos.config, compute_dtype=dtype)
            networks[dtype] = OSVOS(checkpoint=_checkpoint_of(osvos), config=config)
    clip = [frames[i % len(frames)] for i in range(settings.segment_frames)]
    report.update(_time_segmentation(networks, osvos, clip, report, settings, say))
    report["snap_ms"] = _time_snapping(osvos, read_frame(clip[0]), settings, say)
    fine_tuning = _FineTuning(networks, frames[0], mask, osvos.config)
    report["iteration_s"] = fine_tuning.time_updates(settings, say)
    report["presets"] = fine_tuning.preset_times(settings, report["segment_png_ms"] / 1000, say)
    if settings.long_frames:
        report["long_run"] = long_run_memory(osvos, settings.long_frames)
        say(f"long run: {report['long_run']}")
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return report


def _checkpoint_of(osvos) -> str | os.PathLike:
    """What ``OSVOS(checkpoint=...)`` takes to load the parent of ``osvos`` again."""
    parent = osvos.parent
    return parent.path if parent.path is not None else parent.name


def _time_vgg16(h: int, w: int, dtypes: Sequence[str], settings: SpeedSettings, say) -> dict:
    """``vgg16_ms_by_dtype``, and ``vgg16_ms`` / ``vgg16_ms_runs`` of float32 (the reference, always timed)."""
    out: dict = {"vgg16_ms_by_dtype": {}}
    for dtype in dtypes:
        vgg, runs = vgg16_forward_seconds(h, w, settings.repeats, settings.warmup, dtype)
        out["vgg16_ms_by_dtype"][dtype] = round(1000 * vgg, 1)
        if dtype == "float32":
            out["vgg16_ms"], out["vgg16_ms_runs"] = round(1000 * vgg, 1), [round(1000 * t, 1) for t in runs]
        say(f"bare VGG16 forward at {w}x{h}, {dtype}: {1000 * vgg:.0f} ms")
    if "vgg16_ms" not in out:
        vgg, runs = vgg16_forward_seconds(h, w, settings.repeats, settings.warmup)
        out["vgg16_ms"], out["vgg16_ms_runs"] = round(1000 * vgg, 1), [round(1000 * t, 1) for t in runs]
    return out


def _time_segmentation(networks: dict, osvos, clip: list, report: dict, settings: SpeedSettings, say) -> dict:
    """Per-frame segmentation times: network only per dtype (``segment_ms*``), and with decoding and PNG
    writing for ``osvos`` (``segment_png_ms*``)."""
    from osvos_tf.frames import read_frame

    n = len(clip)
    arrays = [read_frame(f) for f in clip]
    vgg = report["vgg16_ms"] / 1000
    out: dict = {"segment_ms_by_dtype": {}, "segment_ratio_by_dtype": {}}
    for dtype, net in networks.items():
        seg, runs = _median_seconds(_consume(net.segment, arrays), settings.repeats, settings.warmup)
        out["segment_ms_by_dtype"][dtype] = round(1000 * seg / n, 1)
        out["segment_ratio_by_dtype"][dtype] = round(seg / n / (report["vgg16_ms_by_dtype"][dtype] / 1000), 3)
        if net is osvos:
            out["segment_ms"] = round(1000 * seg / n, 1)
            out["segment_ms_runs"] = [round(1000 * t / n, 1) for t in runs]
            out["segment_ratio"] = round(seg / n / vgg, 3)
        say(
            f"segment, {dtype}: {1000 * seg / n:.0f} ms/frame ({seg / n / vgg:.2f}x the bare float32 VGG16, "
            f"{out['segment_ratio_by_dtype'][dtype]:.2f}x the bare {dtype} one)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        png, runs = _median_seconds(
            lambda: osvos.segment_to_folder(clip, tmp, overwrite=True, progress=False),
            settings.repeats,
            settings.warmup,
        )
    out["segment_png_ms"] = round(1000 * png / n, 1)
    out["segment_png_ms_runs"] = [round(1000 * t / n, 1) for t in runs]
    say(f"segment + PNG writing, {osvos.config.compute_dtype}: {1000 * png / n:.0f} ms/frame")
    return out


def _consume(segment: Callable[[list], Iterator], arrays: list) -> Callable[[], None]:
    """A call that runs ``segment(arrays)`` to the end."""

    def run() -> None:
        for _ in segment(arrays):
            pass

    return run


def _time_snapping(osvos, frame: np.ndarray, settings: SpeedSettings, say) -> dict:
    """``{mode: Snapper.ms_per_frame()}`` for each of ``settings.snap_modes``, after a warm-up call."""
    from osvos_tf.snapping import Snapper

    _, probs = next(iter(osvos.segment([frame])))
    out = {}
    for mode in settings.snap_modes:
        snapper = Snapper(mode)
        snapper(frame, probs)  # warm-up (builds the contour network)
        snapper.reset_timing()
        for _ in range(settings.repeats):
            snapper(frame, probs)
        out[mode] = snapper.ms_per_frame()
        say(f"snap {mode}: {snapper.ms_per_frame()} ms/frame")
    return out


class _FineTuning:
    """Fine-tuning timings on the annotated frame: per-update medians per configuration, then per preset."""

    def __init__(self, networks: dict, frame, mask, base: FineTuneConfig):
        self.networks = networks
        self.frame, self.mask = frame, mask
        self.base = base
        self.setup: dict[str, float] = {}  # configuration name -> set-up and tracing seconds
        self.iteration_s: dict[str, float] = {}

    def fit(self, config: FineTuneConfig):
        """Fine-tune the network of ``config``'s dtype with ``config``, leaving that OSVOS as it was."""
        net = self.networks[config.compute_dtype]
        previous = net.state
        try:
            return net.fit([self.frame], [self.mask], config, progress=False)
        finally:
            net.state = previous

    #: Fields a configuration's name leaves out: the schedule (the estimate combines per-update times).
    _UNNAMED = ("iterations", "compute_dtype", "coarse_updates")

    def name_of(self, config: FineTuneConfig) -> str:
        """The dtype, and the fields (other than the schedule's) that differ from the base config."""
        extra = [
            f"{f.name}={getattr(config, f.name)}"
            for f in dataclasses.fields(config)
            if f.name not in self._UNNAMED and getattr(config, f.name) != getattr(self.base, f.name)
        ]
        return ", ".join([config.compute_dtype, *extra])

    def time_updates(self, settings: SpeedSettings, say) -> dict[str, float]:
        """``iteration_s``: the median update time of a ``slope_iterations`` run per configuration (each
        dtype, plain and with each of ``settings.extra_configs``, and at the ``coarse_scales`` of each preset
        with ``coarse_updates``), without coarse updates."""
        coarse = {
            ("scales", tuple(c.coarse_scales))
            for c in (finetune_config(p, base=self.base)[1] for p in settings.presets)
            if c.coarse_updates
        }
        configs = {}
        for dtype in self.networks:
            for _, pairs in (("", ()), *settings.extra_configs, *(("", (pair,)) for pair in sorted(coarse))):
                overrides: dict[str, Any] = {
                    "compute_dtype": dtype,
                    "iterations": settings.slope_iterations,
                    "coarse_updates": 0,
                    **dict(pairs),
                }
                config = dataclasses.replace(self.base, **overrides)
                configs[self.name_of(config)] = config
        for name, config in configs.items():
            state = self.fit(config)
            per_it = statistics.median(state.step_seconds)  # robust to the tracing of each image size's first step
            self.iteration_s[name] = round(per_it, 3)
            self.setup[name] = max(state.seconds - per_it * len(state.step_seconds), 0.0)  # tracing, augmentation
            say(
                f"fine-tuning, {name}: {per_it:.2f} s/iteration (median of {len(state.step_seconds)}; set-up and "
                f"tracing {self.setup[name]:.1f} s)"
            )
        return dict(self.iteration_s)

    def updates_seconds(self, config: FineTuneConfig) -> float | None:
        """The estimated time of ``config``'s updates: its coarse updates x the update time at its
        ``coarse_scales``, plus the others x the update time at its ``scales`` (None: not timed)."""
        main = self.iteration_s.get(self.name_of(config))
        n_coarse, n_rest = schedule_counts(config)
        coarse = self.iteration_s.get(self.name_of(dataclasses.replace(config, scales=config.coarse_scales)))
        if main is None or (n_coarse and coarse is None):
            return None
        return n_coarse * (coarse or 0.0) + n_rest * main

    def preset_times(self, settings: SpeedSettings, png_s_per_frame: float, say) -> dict[str, dict]:
        """Per preset: its fine-tuning time (run end to end for ``settings.measure``, else estimated as set-up +
        :meth:`updates_seconds`) and the total for ``settings.frames_for_total`` frames. Presets whose
        configuration was not timed by :meth:`time_updates` are left out."""
        out = {}
        for preset in settings.presets:
            _, config = finetune_config(preset, base=self.base)
            entry: dict = {"iterations": config.iterations, "config": self.name_of(config)}
            if preset in settings.measure:
                entry["fit_s"] = round(self.fit(config).seconds, 1)
                entry["measured"] = True
            elif (updates_s := self.updates_seconds(config)) is not None:
                entry["fit_s"] = round(self.setup[entry["config"]] + updates_s, 1)
                entry["measured"] = False
            else:
                continue
            entry["total_s"] = round(entry["fit_s"] + settings.frames_for_total * png_s_per_frame, 1)
            out[preset] = entry
            say(
                f"preset {preset}: fine-tuning {entry['fit_s']:.0f} s "
                f"({'measured' if entry['measured'] else 'estimated'}), total for {settings.frames_for_total} "
                f"frames {entry['total_s']:.0f} s"
            )
        return out


def long_run_memory(osvos, n_frames: int, height: int = 64, width: int = 96) -> dict:
    """Resident memory while :meth:`OSVOS.segment` streams ``n_frames`` generated frames (never all in memory).

    Returns ``{"frames": n, "size": [h, w], "rss_mb_after_10": MiB, "rss_mb_at_end": MiB, "growth_mb": end -
    after 10}``.
    """
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)

    def stream():
        for i in range(n_frames):
            yield np.roll(base, i, axis=1)

    after_10 = None
    for i, _ in enumerate(osvos.segment(stream())):
        if i == 9:
            after_10 = current_rss_mb()
    end = current_rss_mb()
    after_10 = end if after_10 is None else after_10
    return {
        "frames": n_frames,
        "size": [height, width],
        "rss_mb_after_10": round(after_10, 1),
        "rss_mb_at_end": round(end, 1),
        "growth_mb": round(end - after_10, 1),
    }


def format_speed_report(report: dict) -> str:
    """The report of :func:`run_speed_benchmark` as a text table."""
    h, w = report["frame_size"]
    own = report.get("compute_dtype", "float32")
    lines = [
        f"Speed at {w}x{h} on {report['cpu_count']} CPU cores (TensorFlow {report['tensorflow']}; medians)",
        f"  bare VGG16 forward (keras.applications)   {report['vgg16_ms']:8.0f} ms/frame",
    ]
    for dtype, ms in report.get("vgg16_ms_by_dtype", {}).items():
        if dtype != "float32":
            lines.append(f"  bare VGG16 forward, {dtype:<21} {ms:8.0f} ms/frame")
    by_dtype = report.get("segment_ms_by_dtype", {own: report["segment_ms"]})
    for dtype, ms in by_dtype.items():
        mark = "  <- this OSVOS" if dtype == own and len(by_dtype) > 1 else ""
        lines.append(
            f"  segment (network only), {dtype:<16} {ms:8.0f} ms/frame   = {ms / report['vgg16_ms']:.2f}x VGG16{mark}"
        )
    lines.append(f"  segment + decode + PNG writing, {own:<9} {report['segment_png_ms']:8.0f} ms/frame")
    for mode, ms in report.get("snap_ms", {}).items():
        lines.append(
            f"  snapping '{mode}', added per frame".ljust(44)
            + f"{sum(ms.values()):8.0f} ms/frame  ({', '.join(f'{k} {v:.0f}' for k, v in ms.items())})"
        )
    for name, s in report.get("iteration_s", {}).items():
        lines.append(f"  fine-tuning iteration, {name:<26} {s:6.2f} s")
    if report.get("presets"):
        frames = report.get("settings", {}).get("frames_for_total", 70)
        lines.append(f"  preset      iterations   fine-tuning (s)   total for {frames} frames (s)   config")
        for preset, e in report["presets"].items():
            how = "" if e["measured"] else "  (estimated)"
            lines.append(
                f"  {preset:<10} {e['iterations']:>10}   {e['fit_s']:>15.0f}   {e['total_s']:>23.0f}   "
                f"{e.get('config', '')}{how}"
            )
    if "long_run" in report:
        lr = report["long_run"]
        lines.append(
            f"  long run: {lr['frames']} frames of {lr['size'][1]}x{lr['size'][0]}: RSS "
            f"{lr['rss_mb_after_10']:.0f} MiB after 10 frames, {lr['rss_mb_at_end']:.0f} MiB at the end "
            f"(growth {lr['growth_mb']:+.0f} MiB)"
        )
    lines.append(f"  peak resident memory                      {report['peak_rss_mb']:8.0f} MiB")
    lines.append(
        "  for reference, the original PyTorch release on this CPU at 854x480 (issue #5): ~4200 ms per "
        "forward pass, ~13 s per fine-tuning step"
    )
    return "\n".join(lines)
