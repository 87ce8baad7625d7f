"""The speed benchmark: segmentation and fine-tuning time, against a bare VGG16 forward pass, and memory.

    from osvos_tf.speed import run_speed_benchmark, format_speed_report
    report = run_speed_benchmark(frames, mask)          # frames: paths or uint8 RGB arrays of one video
    print(format_speed_report(report))

``tools/bench.py`` is the command line (it picks DAVIS car-shadow when present, else a synthetic 854x480
clip). Everything is wall-clock time of this process, reported as the median of ``repeats`` runs after
``warmup`` runs. It measures:

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
  tracing, which hit the first update of each augmented image size, are excluded), and ``fit_s`` per preset:
  the whole fine-tuning as :meth:`OSVOS.fit_one_shot` runs it (measured, or estimated from ``iteration_s``
  when ``measure`` does not list the preset), and ``total_s``: fine-tuning + ``frames_for_total`` x
  ``segment_png_ms``;
* ``peak_rss_mb``: the process's peak resident memory (``ru_maxrss``), and ``long_run``: resident memory
  before and after segmenting a long stream of small frames (constant memory means no growth).

No timing is asserted anywhere in the tests: this is a measurement tool.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from osvos_tf.config import PRESETS, FineTuneConfig, SpeedSettings, finetune_config
from osvos_tf.cpu import resolve_compute_dtype


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
        settings: :class:`SpeedSettings`.
        osvos: the :class:`~osvos_tf.osvos.OSVOS` to time (default: ``OSVOS()``, the shipped parent).
        log: called with a line of text as each measurement finishes (default: silent).

    Returns:
        A JSON-able dict (keys in the module docstring; times in seconds or milliseconds as named).
    """
    import tensorflow as tf

    from osvos_tf.frames import read_frame
    from osvos_tf.osvos import OSVOS
    from osvos_tf.snapping import Snapper

    say = log or (lambda text: None)
    if not frames:
        raise ValueError("run_speed_benchmark needs at least one frame.")
    unknown = [p for p in (*settings.presets, *settings.measure) if p not in PRESETS]
    if unknown:
        raise ValueError(f"Unknown presets {unknown}; known: {', '.join(PRESETS)}.")
    extra_dtypes = [resolve_compute_dtype(d) for d in settings.compute_dtypes]  # checks the names
    osvos = osvos or OSVOS()
    first = read_frame(frames[0])
    h, w = first.shape[:2]
    report = {
        "frame_size": [h, w],
        "parent": osvos.source,
        "tensorflow": tf.__version__,
        "cpu_count": os.cpu_count(),
        "settings": dataclasses.asdict(settings),
    }

    own = osvos.config.compute_dtype
    dtypes = list(dict.fromkeys([own, *extra_dtypes]))
    report["compute_dtype"] = own
    report["vgg16_ms_by_dtype"] = {}
    for dtype in dtypes:
        vgg, vgg_all = vgg16_forward_seconds(h, w, settings.repeats, settings.warmup, dtype)
        report["vgg16_ms_by_dtype"][dtype] = round(1000 * vgg, 1)
        if dtype == "float32":
            report["vgg16_ms"] = round(1000 * vgg, 1)
            report["vgg16_ms_runs"] = [round(1000 * t, 1) for t in vgg_all]
        say(f"bare VGG16 forward at {w}x{h}, {dtype}: {1000 * vgg:.0f} ms")
    if "vgg16_ms" not in report:  # the reference is the float32 network: always time it
        vgg, vgg_all = vgg16_forward_seconds(h, w, settings.repeats, settings.warmup)
        report["vgg16_ms"], report["vgg16_ms_runs"] = round(1000 * vgg, 1), [round(1000 * t, 1) for t in vgg_all]
    vgg = report["vgg16_ms"] / 1000

    # one OSVOS per compute dtype, all from the same parent (the one passed is used for its own dtype)
    networks = {own: osvos}
    for dtype in dtypes:
        if dtype not in networks:
            networks[dtype] = OSVOS(
                checkpoint=osvos.source, config=dataclasses.replace(osvos.config, compute_dtype=dtype)
            )

    n = settings.segment_frames
    clip = [frames[i % len(frames)] for i in range(n)]
    arrays = [read_frame(f) for f in clip]
    report["segment_ms_by_dtype"], report["segment_ratio_by_dtype"] = {}, {}
    for dtype, net in networks.items():
        seg, seg_all = _median_seconds(lambda: [None for _ in net.segment(arrays)], settings.repeats, settings.warmup)
        report["segment_ms_by_dtype"][dtype] = round(1000 * seg / n, 1)
        report["segment_ratio_by_dtype"][dtype] = round(seg / n / (report["vgg16_ms_by_dtype"][dtype] / 1000), 3)
        if dtype == own:
            report["segment_ms"] = round(1000 * seg / n, 1)
            report["segment_ms_runs"] = [round(1000 * t / n, 1) for t in seg_all]
            report["segment_ratio"] = round(seg / n / vgg, 3)
        say(
            f"segment, {dtype}: {1000 * seg / n:.0f} ms/frame ({seg / n / vgg:.2f}x the bare float32 VGG16, "
            f"{report['segment_ratio_by_dtype'][dtype]:.2f}x the bare {dtype} one)"
        )
    with tempfile.TemporaryDirectory() as tmp:

        def to_png():
            osvos.segment_to_folder(clip, tmp, overwrite=True, progress=False)

        png, png_all = _median_seconds(to_png, settings.repeats, settings.warmup)
    report["segment_png_ms"] = round(1000 * png / n, 1)
    report["segment_png_ms_runs"] = [round(1000 * t / n, 1) for t in png_all]
    say(f"segment + PNG writing, {own}: {1000 * png / n:.0f} ms/frame")

    _, probs = next(iter(osvos.segment(arrays[:1])))
    report["snap_ms"] = {}
    for mode in settings.snap_modes:
        snapper = Snapper(mode)
        snapper(arrays[0], probs)  # warm-up (builds the contour network)
        snapper.reset_timing()
        for _ in range(settings.repeats):
            snapper(arrays[0], probs)
        report["snap_ms"][mode] = snapper.ms_per_frame()
        say(f"snap {mode}: {snapper.ms_per_frame()} ms/frame")

    def fit(config: FineTuneConfig, iterations: int):
        net = networks[config.compute_dtype]
        saved = net.config
        net.config = config
        try:
            return net.fit_one_shot(frames[0], mask, iterations=iterations, progress=False)
        finally:
            net.config = saved
            net.reset()

    def name_of(config: FineTuneConfig) -> str:
        extra = [
            f"{f.name}={getattr(config, f.name)}"
            for f in dataclasses.fields(config)
            if f.name not in ("iterations", "compute_dtype")
            and getattr(config, f.name) != getattr(osvos.config, f.name)
        ]
        return ", ".join([config.compute_dtype, *extra])

    configs = {}
    for dtype in networks:
        for overrides in ((), *(dict(o) for _, o in settings.extra_configs)):
            config = dataclasses.replace(osvos.config, compute_dtype=dtype, **dict(overrides))
            configs[name_of(config)] = config
    report["iteration_s"], setup = {}, {}
    for name, config in configs.items():
        state = fit(config, settings.slope_iterations)
        steps = state.step_seconds
        per_it = statistics.median(steps)  # robust to the tracing of the first step of each image size
        report["iteration_s"][name] = round(per_it, 3)
        setup[name] = max(state.seconds - per_it * len(steps), 0.0)  # tracing and augmentation
        say(
            f"fine-tuning, {name}: {per_it:.2f} s/iteration (median of {len(steps)}; set-up and tracing "
            f"{setup[name]:.1f} s)"
        )
    report["presets"] = {}
    for preset in settings.presets:
        _, config = finetune_config(preset, base=osvos.config)
        entry = {"iterations": config.iterations, "config": name_of(config)}
        if preset in settings.measure:
            entry["fit_s"] = round(fit(config, config.iterations).seconds, 1)
            entry["measured"] = True
        elif entry["config"] in setup:
            name = entry["config"]
            entry["fit_s"] = round(setup[name] + config.iterations * report["iteration_s"][name], 1)
            entry["measured"] = False
        else:
            continue
        entry["total_s"] = round(entry["fit_s"] + settings.frames_for_total * png / n, 1)
        report["presets"][preset] = entry
        say(
            f"preset {preset}: fine-tuning {entry['fit_s']:.0f} s ({'measured' if entry['measured'] else 'estimated'}),"
            f" total for {settings.frames_for_total} frames {entry['total_s']:.0f} s"
        )

    if settings.long_frames:
        report["long_run"] = long_run_memory(osvos, settings.long_frames)
        say(f"long run: {report['long_run']}")
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return report


def long_run_memory(osvos, n_frames: int, height: int = 64, width: int = 96) -> dict:
    """Resident memory while :meth:`OSVOS.segment` streams ``n_frames`` generated frames (never all in memory).

    Returns ``{"frames": n, "rss_mb_after_10": MiB, "rss_mb_at_end": MiB, "growth_mb": end - after 10}``.
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
        lines.append("  preset      iterations   fine-tuning (s)   total for 70 frames (s)   config")
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
