"""Calibrating snapping on DAVIS training sequences (never on validation): the raw-mask threshold, the UCM
threshold of contour snapping and the bilateral solver's (lam, sigma_spatial), each with the confidence
model's (margin, band) (:mod:`osvos_tf.snapping.confidence`).

    cal = calibrate_snapping("../shared/DAVIS", preset="default", sequence_step=2)   # fine-tuned predictions
    print(format_calibration(cal))

``tools/calibrate_snapping.py`` is the command line. The procedure:

1. **Predictions.** Each sequence's network is fine-tuned on its first annotated frame with the recipe of
   ``preset`` / ``iterations`` (:meth:`osvos_tf.osvos.OSVOS.fit`, as run_davis does), or is the parent itself
   (``iterations=0``, the default), and predicts ``frames_per_sequence`` evenly spaced frames (the first and
   last excluded, so never the annotated frame).
2. **Raw-mask threshold.** Each candidate threshold is scored by mean J over those frames without snapping;
   the best is used for the snapping below (``mask_threshold`` fixes it instead).
3. **Snapping.** Every snapping candidate (a UCM threshold, or a (lam, sigma_spatial) pair) is combined with
   every confidence candidate (margin, band) and with ``(1.0, 0)`` (snapping everywhere, the behaviour before
   the confidence model), and scored by mean J over the frames and by its per-sequence J (the mean over a
   sequence's frames) against no snapping. The chosen candidate has the best mean J among those that lose at
   most ``max_loss`` on every sequence (default 0.005, i.e. 0.5 J points, the target of issue #15); if none
   qualifies, the one with the smallest worst loss. The best candidate that snaps everywhere is reported too.

J is the DAVIS region similarity (:func:`osvos_tf.evaluation.jaccard`). Validation sequences are refused
(calibrating there would tune the snapping on the sequences it is measured on) unless
``allow_validation=True``, which warns.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from osvos_tf.config import MASK_THRESHOLD
from osvos_tf.davis import annotation_dir, list_davis_sequences, sequence_inputs
from osvos_tf.snapping.confidence import SNAP_EVERYWHERE

#: Candidate raw-mask thresholds: 0.5, 162/255 (the TF release's) and 0.8 (what the OSVOS authors report) among
#: them.
THRESHOLD_CANDIDATES = (0.3, 0.4, 0.5, 0.6, 162 / 255, 0.7, 0.8, 0.85)
#: Candidate UCM thresholds and bilateral (lam, sigma_spatial) pairs of :func:`calibrate_snapping`.
UCM_CANDIDATES = (0.05, 0.1, 0.15, 0.2, 0.225, 0.25, 0.275, 0.29, 0.35, 0.4)
BILATERAL_CANDIDATES = ((8.0, 8.0), (32.0, 8.0), (128.0, 8.0), (512.0, 8.0), (128.0, 16.0), (512.0, 16.0))
#: Candidate confidence margins and bands (:mod:`osvos_tf.snapping.confidence`); ``(1.0, 0)`` (snapping
#: everywhere) is always scored as well.
MARGIN_CANDIDATES = (0.1, 0.2, 0.3, 0.4, 1.0)
BAND_CANDIDATES = (0, 4, 8, 16, 32)
#: The largest J a chosen snapping candidate may lose against no snapping on any calibration sequence.
MAX_SEQUENCE_LOSS = 0.005


@dataclasses.dataclass(frozen=True)
class CalibrationSample:
    """One calibration frame.

    Attributes:
        sequence: its sequence's name.
        name: the frame's name (stem).
        frame: uint8 RGB (H, W, 3).
        probs: float32 (H, W) foreground probabilities in [0, 1] of the network being calibrated for.
        gt: bool (H, W) ground truth.
    """

    sequence: str
    name: str
    frame: np.ndarray
    probs: np.ndarray
    gt: np.ndarray


def calibrate_snapping(
    davis_root: str | os.PathLike,
    image_set: str = "train",
    frames_per_sequence: int = 3,
    checkpoint: str | os.PathLike | None = None,
    ucm_thresholds: Sequence[float] = UCM_CANDIDATES,
    bilateral: Sequence[tuple[float, float]] = BILATERAL_CANDIDATES,
    sequences: Sequence[str] | None = None,
    progress: bool = True,
    *,
    preset: str | None = None,
    iterations: int | None = None,
    sequence_step: int = 1,
    mask_thresholds: Sequence[float] = THRESHOLD_CANDIDATES,
    mask_threshold: float | None = None,
    margins: Sequence[float] = MARGIN_CANDIDATES,
    bands: Sequence[int] = BAND_CANDIDATES,
    max_loss: float = MAX_SEQUENCE_LOSS,
    allow_validation: bool = False,
    predictions: str | os.PathLike | None = None,
) -> dict:
    """Choose the raw-mask threshold and the snapping parameters by J on DAVIS frames (module docstring).

    Args:
        davis_root: the DAVIS-2016 root.
        image_set: the set whose sequences are used ('train'; 'val' is refused unless ``allow_validation``).
        frames_per_sequence: evenly spaced frames per sequence (first and last excluded), >= 1.
        checkpoint: the parent (default: the shipped one; see :class:`osvos_tf.osvos.OSVOS`).
        ucm_thresholds, bilateral: the snapping candidates.
        sequences: names to use instead of the whole set (validation ones refused as for ``image_set``).
        progress: progress bars (stderr).
        preset, iterations: fine-tune each sequence's network on its first annotated frame with this preset
            of :data:`osvos_tf.config.PRESETS` or this number of updates before predicting (not both). Neither
            (default) or ``iterations=0``: the parent's own predictions.
        sequence_step: use every ``sequence_step``-th sequence of the list, from the first (e.g. 2: half).
        mask_thresholds: the candidate raw-mask thresholds (0.5 and the default
            :data:`~osvos_tf.config.MASK_THRESHOLD` are always scored too).
        mask_threshold: the raw-mask threshold to snap at; None (default): the best candidate.
        margins, bands: the candidate confidence margins and bands.
        max_loss: the largest J loss against no snapping a chosen candidate may have on any sequence.
        allow_validation: calibrate on validation sequences anyway (warns; for diagnostics only).
        predictions: an ``.npz`` file of the network's predictions on the calibration frames: read instead of
            fine-tuning and predicting when it exists (it must have been written with the same parent,
            fine-tuning, DAVIS folder name and frames, else ValueError), written after predicting otherwise.
            Re-scoring other candidates or a fixed ``mask_threshold`` then takes seconds, not the fine-tuning.

    Returns:
        :func:`score_snapping`'s dict, plus ``"image_set"``, ``"checkpoint"`` (the parent's id, never a path),
        ``"fine_tuning"`` (``{"preset", "iterations", "compute_dtype", "seconds": {sequence: s}}``),
        ``"sequence_step"`` and ``"validation_sequences"`` (those used although they are validation ones).

    Raises:
        ValueError: bad counts or candidates, validation sequences without ``allow_validation``, a bad preset
            or iterations, or no annotated frame to calibrate on.
        FileNotFoundError: missing DAVIS folders or checkpoint.
    """
    from osvos_tf.benchmarks.budgets import resolve_budgets
    from osvos_tf.config import FineTuneConfig
    from osvos_tf.snapping import Snapper

    root = Path(davis_root)
    if preset is None and iterations is None:
        iterations = 0
    (budget,) = resolve_budgets(preset, iterations, FineTuneConfig())  # checks the preset / count first
    _check_candidates(ucm_thresholds, bilateral, mask_thresholds, margins, bands, mask_threshold, max_loss)
    if isinstance(frames_per_sequence, bool) or frames_per_sequence < 1:
        raise ValueError(f"frames_per_sequence must be >= 1, got {frames_per_sequence}.")
    if isinstance(sequence_step, bool) or not isinstance(sequence_step, int) or sequence_step < 1:
        raise ValueError(f"sequence_step must be an integer >= 1 (1: every sequence), got {sequence_step!r}.")
    seqs = list(sequences) if sequences is not None else list_davis_sequences(root, image_set)
    seqs = seqs[::sequence_step]
    validation = _validation_sequences(root, image_set, seqs, allow_validation)
    picks = _calibration_frames(root, image_set, seqs, frames_per_sequence)
    samples, record = _predictions(root, picks, checkpoint, budget, predictions, progress)
    contour_snapper = Snapper("contours")
    cal = score_snapping(
        samples,
        contour_snapper.contour_map,
        mask_thresholds=mask_thresholds,
        mask_threshold=mask_threshold,
        ucm_thresholds=ucm_thresholds,
        bilateral=bilateral,
        margins=margins,
        bands=bands,
        max_loss=max_loss,
        progress=progress,
    )
    cal["snap_ms_per_frame"]["contour_model"] = round(1000 * contour_snapper.seconds["contour_model"] / len(samples), 1)
    cal.update(
        image_set=image_set if sequences is None else None,
        checkpoint=record["checkpoint"],
        fine_tuning=record["fine_tuning"],
        sequence_step=sequence_step,
        validation_sequences=validation,
    )
    return cal


def _check_candidates(ucm, bilateral, thresholds, margins, bands, mask_threshold, max_loss) -> None:
    from osvos_tf.config import check_confidence

    if not ucm or not bilateral or not thresholds or not margins or not bands:
        raise ValueError(
            f"Give at least one candidate of each kind; got {len(ucm)} UCM thresholds, {len(bilateral)} bilateral "
            f"pairs, {len(thresholds)} mask thresholds, {len(margins)} margins and {len(bands)} bands."
        )
    for t in [*thresholds, *([] if mask_threshold is None else [mask_threshold])]:
        if not 0.0 <= float(t) < 1.0:
            raise ValueError(f"Mask thresholds must be in [0, 1) (foreground where p > threshold), got {t!r}.")
    for m, b in itertools.product(margins, bands):
        check_confidence(m, b)
    if not max_loss >= 0:
        raise ValueError(f"max_loss must be >= 0 (the J a chosen candidate may lose on a sequence), got {max_loss!r}.")


def _validation_sequences(root: Path, image_set: str, seqs: Sequence[str], allow: bool) -> list[str]:
    """The sequences of ``seqs`` that are validation sequences (all of them for ``image_set='val'``); raises
    ValueError when there are any, unless ``allow`` (then warns)."""
    try:
        val = set(list_davis_sequences(root, "val"))
    except (FileNotFoundError, ValueError):  # no validation set listed in this root
        val = set()
    found = [s for s in seqs if s in val or image_set == "val"]
    if found and not allow:
        raise ValueError(
            f"Refusing to calibrate on validation sequences ({', '.join(found)}): the snapping would be tuned on "
            "the sequences it is measured on. Calibrate on the train set (image_set='train', --set train), or "
            "pass allow_validation=True (--allow-validation) for a diagnostic whose numbers are not a fair measure."
        )
    if found:
        warnings.warn(
            f"Calibrating on validation sequences ({', '.join(found)}): the results overfit them; do not use "
            "them as defaults or report validation scores with them.",
            stacklevel=3,
        )
    return found


def _calibration_frames(
    davis_root: Path, image_set: str, seqs: Sequence[str], frames_per_sequence: int
) -> dict[str, tuple[list[Path], Path, list[tuple[Path, Path]]]]:
    """``{sequence: (frames, first-frame annotation, [(frame, ground truth), ...])}``: ``frames_per_sequence``
    evenly spaced annotated frames of each (first and last excluded); sequences without one are left out."""
    picks = {}
    for seq in seqs:
        frames, first_mask = sequence_inputs(davis_root, seq)
        inner = frames[1:-1] or frames
        chosen = np.unique(np.linspace(0, len(inner) - 1, frames_per_sequence + 2)[1:-1].round().astype(int))
        pairs = []
        for i in chosen:
            gt_path = annotation_dir(davis_root) / seq / f"{inner[i].stem}.png"
            if gt_path.is_file():
                pairs.append((inner[i], gt_path))
        if pairs:
            picks[seq] = (frames, first_mask, pairs)
    if not picks:
        raise ValueError(
            f"No annotated frame to calibrate on in {davis_root} ({image_set}): expected ground-truth masks in "
            f"{annotation_dir(davis_root)}/<sequence>/."
        )
    return picks


def _predictions(
    root: Path, picks: dict, checkpoint, budget, path: str | os.PathLike | None, progress: bool
) -> tuple[list[CalibrationSample], dict]:
    """The samples and their record ``{"checkpoint": parent id, "fine_tuning": {...}, "davis": folder name,
    "frames": [[sequence, frame name], ...]}``: read from the predictions file ``path`` when it exists (its
    record must match), else predicted (:func:`_predict`) and, with ``path``, written there."""
    from osvos_tf.atomic import atomic_path
    from osvos_tf.cpu import resolve_compute_dtype
    from osvos_tf.frames import read_frame
    from osvos_tf.masks import read_davis_mask
    from osvos_tf.parents import resolve_parent

    frames = [[seq, f.stem] for seq, (_, _, pairs) in picks.items() for f, _ in pairs]
    wanted = {
        "checkpoint": resolve_parent(checkpoint).id,
        "preset": budget.preset,
        "iterations": budget.iterations,
        "compute_dtype": resolve_compute_dtype(budget.config.compute_dtype),
        "davis": root.resolve().name,
        "frames": frames,
    }
    if path is not None and Path(path).is_file():
        with np.load(path) as data:
            stored = json.loads(str(data["record"]))
            diffs = [k for k in wanted if stored.get(k) != wanted[k]]
            if diffs:
                raise ValueError(
                    f"The predictions file {path} was written with other settings ({', '.join(diffs)} differ: "
                    f"{', '.join(f'{k}={stored.get(k)!r}' for k in diffs if k != 'frames')}); pass another file, "
                    "or the settings it was written with."
                )
            probs = [data[f"probs_{i}"] for i in range(len(frames))]
        pairs = [pair for _, (_, _, ps) in picks.items() for pair in ps]
        samples = [
            CalibrationSample(seq, name, read_frame(f), p, read_davis_mask(g))
            for (seq, name), (f, g), p in zip(frames, pairs, probs)
        ]
        return samples, _record(stored)
    samples, seconds, source, dtype = _predict(root, picks, checkpoint, budget.config, progress)
    stored = {**wanted, "checkpoint": source, "compute_dtype": dtype, "seconds": seconds}
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            arrays = {f"probs_{i}": s.probs for i, s in enumerate(samples)}
            np.savez_compressed(f, record=np.array(json.dumps(stored)), **arrays)
    return samples, _record(stored)


def _record(stored: dict) -> dict:
    return {
        "checkpoint": stored["checkpoint"],
        "fine_tuning": {k: stored[k] for k in ("preset", "iterations", "compute_dtype", "seconds")},
    }


def _predict(root: Path, picks: dict, checkpoint, config, progress: bool):
    """The samples (each sequence's network fine-tuned on its first frame for ``config.iterations`` updates, or
    the parent for 0), the fine-tuning seconds per sequence, the parent's id and the compute dtype."""
    from osvos_tf.masks import read_davis_mask
    from osvos_tf.osvos import OSVOS

    osvos = OSVOS(checkpoint=checkpoint, config=config)
    samples: list[CalibrationSample] = []
    seconds: dict[str, float] = {}
    for seq, (frames, first_mask, pairs) in picks.items():
        state = None
        osvos.reset()
        if config.iterations:
            state = osvos.fit([frames[0]], [first_mask], progress=progress)
            seconds[seq] = round(state.seconds, 1)
        for (path, gt_path), (_, frame, probs) in zip(pairs, osvos.segment_frames([p for p, _ in pairs], state)):
            samples.append(CalibrationSample(seq, path.stem, frame, probs, read_davis_mask(gt_path)))
    return samples, seconds, osvos.source, osvos.config.compute_dtype


def score_snapping(
    samples: Sequence[CalibrationSample],
    contour_map: Callable[[np.ndarray], np.ndarray],
    *,
    mask_thresholds: Sequence[float] = THRESHOLD_CANDIDATES,
    mask_threshold: float | None = None,
    ucm_thresholds: Sequence[float] = UCM_CANDIDATES,
    bilateral: Sequence[tuple[float, float]] = BILATERAL_CANDIDATES,
    margins: Sequence[float] = MARGIN_CANDIDATES,
    bands: Sequence[int] = BAND_CANDIDATES,
    max_loss: float = MAX_SEQUENCE_LOSS,
    progress: bool = False,
) -> dict:
    """Score every candidate on ``samples`` and choose (steps 2 and 3 of the module docstring).

    Args:
        samples: the calibration frames (at least one).
        contour_map: a frame's contour map, uint8 RGB (H, W, 3) -> float32 (H, W) in [0, 1] (e.g.
            ``Snapper('contours').contour_map``).
        mask_thresholds, mask_threshold, ucm_thresholds, bilateral, margins, bands, max_loss: as
            :func:`calibrate_snapping`.
        progress: a progress bar (stderr).

    Returns:
        A dict (J: mean over the frames; a sequence's J: mean over its frames)::

            {"frames": n, "sequences": [names], "max_loss": max_loss,
             "threshold": {"J": {t: J}, "best": t, "J_best": J, "J_0.5": J, "used": the threshold snapped at},
             "none": J at "used",
             "contours": {"ucm=..,margin=..,band=..": J}, "bilateral": {"lam=..,sigma_spatial=..,margin=..,band=..": J},
             "per_sequence": {seq: {"frames": k, "none": J, "threshold": {t: J}, "contours": {key: J},
                                    "bilateral": {key: J}}},
             "best": {mode: choice}, "everywhere": {mode: choice},
             "snap_ms_per_frame": {"contours": ms, "bilateral": ms}}

        where a choice (of the chosen candidate, resp. the best snapping everywhere) is the parameters
        (contours: ``threshold`` (UCM), ``margin``, ``band``; bilateral: ``lam``, ``sigma_spatial``, ``margin``,
        ``band``) with ``"key"``, ``"J"``, ``"gain"`` (J - none), ``"worst_loss"`` (largest J lost on a
        sequence, <= 0 when it loses nowhere), ``"worst_sequence"``, ``"meets_max_loss"`` and
        ``"per_sequence_gain"`` ({seq: J - none}).
    """
    import time

    from osvos_tf.config import BilateralParams
    from osvos_tf.evaluation import jaccard
    from osvos_tf.progress import Progress
    from osvos_tf.snapping import ConfidenceMap, snap_bilateral, snap_to_contours

    if not samples:
        raise ValueError("score_snapping needs at least one calibration sample, got none.")
    _check_candidates(ucm_thresholds, bilateral, mask_thresholds, margins, bands, mask_threshold, max_loss)
    thresholds = sorted({float(t) for t in mask_thresholds} | {0.5, MASK_THRESHOLD})
    seq_of = [s.sequence for s in samples]
    plain = {t: [jaccard(s.probs > t, s.gt) for s in samples] for t in thresholds}
    threshold_j = {t: float(np.mean(v)) for t, v in plain.items()}
    best_t = max(thresholds, key=lambda t: (threshold_j[t], t == 0.5))  # ties: 0.5
    used = best_t if mask_threshold is None else float(mask_threshold)
    none = plain[used] if used in plain else [jaccard(s.probs > used, s.gt) for s in samples]

    confidences = list(dict.fromkeys([*itertools.product(map(float, margins), map(int, bands)), SNAP_EVERYWHERE]))
    contour_params = {
        _key(ucm=u, margin=m, band=b): {"threshold": float(u), "margin": m, "band": b}
        for u in ucm_thresholds
        for m, b in confidences
    }
    bilateral_params = {
        _key(lam=lam, sigma_spatial=ss, margin=m, band=b): {
            "lam": float(lam),
            "sigma_spatial": float(ss),
            "margin": m,
            "band": b,
        }
        for lam, ss in bilateral
        for m, b in confidences
    }
    scores: dict[str, dict[str, list[float]]] = {
        "contours": {k: [] for k in contour_params},
        "bilateral": {k: [] for k in bilateral_params},
    }
    seconds = {"contours": 0.0, "bilateral": 0.0}
    bar = Progress(len(samples), "calibrate", enabled=progress)
    for s in samples:
        conf = ConfidenceMap(s.probs, used)
        contour = contour_map(s.frame)
        start = time.perf_counter()
        for u in ucm_thresholds:
            snapped = snap_to_contours(s.probs, contour, float(u), mask_threshold=used)
            for m, b in confidences:
                scores["contours"][_key(ucm=u, margin=m, band=b)].append(jaccard(conf.apply(snapped, m, b), s.gt))
        seconds["contours"] += time.perf_counter() - start
        start = time.perf_counter()
        for lam, ss in bilateral:
            snapped = snap_bilateral(s.frame, s.probs, BilateralParams(lam=float(lam), sigma_spatial=float(ss)))
            for m, b in confidences:
                key = _key(lam=lam, sigma_spatial=ss, margin=m, band=b)
                scores["bilateral"][key].append(jaccard(conf.apply(snapped, m, b), s.gt))
        seconds["bilateral"] += time.perf_counter() - start
        bar.update(status=s.sequence)
    bar.close()

    seqs = list(dict.fromkeys(seq_of))
    none_seq = _per_sequence(none, seq_of)
    per_sequence: dict[str, dict] = {
        q: {
            "frames": seq_of.count(q),
            "none": none_seq[q],
            "threshold": {t: _per_sequence(v, seq_of)[q] for t, v in plain.items()},
            "contours": {},
            "bilateral": {},
        }
        for q in seqs
    }
    means: dict[str, dict[str, float]] = {}
    for mode, by_key in scores.items():
        means[mode] = {k: float(np.mean(v)) for k, v in by_key.items()}
        for k, v in by_key.items():
            for q, j in _per_sequence(v, seq_of).items():
                per_sequence[q][mode][k] = j
    params = {"contours": contour_params, "bilateral": bilateral_params}
    none_j = float(np.mean(none))
    best, everywhere = {}, {}
    for mode in scores:
        choices = {
            k: _choice(params[mode][k], k, means[mode][k], none_j, per_sequence, mode, max_loss) for k in means[mode]
        }
        best[mode] = _select(list(choices.values()))
        everywhere[mode] = _select(
            [c for c in choices.values() if (c["margin"], c["band"]) == SNAP_EVERYWHERE], constrained=False
        )
    return {
        "frames": len(samples),
        "sequences": seqs,
        "max_loss": float(max_loss),
        "threshold": {
            "J": threshold_j,
            "best": best_t,
            "J_best": threshold_j[best_t],
            "J_0.5": threshold_j[0.5],
            "used": used,
        },
        "none": none_j,
        "contours": means["contours"],
        "bilateral": means["bilateral"],
        "per_sequence": per_sequence,
        "best": best,
        "everywhere": everywhere,
        "snap_ms_per_frame": {k: round(1000 * v / len(samples), 1) for k, v in seconds.items()},
    }


def _per_sequence(values: Sequence[float], seq_of: Sequence[str]) -> dict[str, float]:
    """Mean of the per-frame ``values`` per sequence (``seq_of[i]`` is frame i's sequence), in order."""
    out: dict[str, list[float]] = {}
    for v, q in zip(values, seq_of):
        out.setdefault(q, []).append(v)
    return {q: float(np.mean(v)) for q, v in out.items()}


def _choice(params: dict, key: str, j: float, none_j: float, per_sequence: dict, mode: str, max_loss: float) -> dict:
    """A candidate's record: its parameters, mean J, gain, per-sequence gains and worst loss."""
    gains = {q: rec[mode][key] - rec["none"] for q, rec in per_sequence.items()}
    worst = min(gains, key=lambda q: gains[q])
    return {
        **params,
        "key": key,
        "J": j,
        "gain": j - none_j,
        "worst_loss": -gains[worst],
        "worst_sequence": worst,
        "meets_max_loss": -gains[worst] <= max_loss + 1e-12,
        "per_sequence_gain": gains,
    }


def _select(choices: list[dict], constrained: bool = True) -> dict:
    """The best mean J among the choices that meet the max loss (all when not ``constrained``); if none does,
    the smallest worst loss. Ties go to the first."""
    pool = [c for c in choices if c["meets_max_loss"]] if constrained else choices
    if pool:
        return max(pool, key=lambda c: c["J"])
    return min(choices, key=lambda c: c["worst_loss"])


def _key(**params: float) -> str:
    """``"name=value,..."`` (values with ``%g``): a candidate's key in the calibration's output."""
    return ",".join(f"{k}={v:g}" for k, v in params.items())


def format_calibration(cal: dict) -> str:
    """A text report of :func:`calibrate_snapping`'s (or :func:`score_snapping`'s) output: the threshold sweep,
    the best candidate per snapping parameter, the chosen ones and the per-sequence gains."""
    ft = cal.get("fine_tuning") or {}
    if ft.get("iterations"):
        what = f"fine-tuned on each first frame ({ft.get('preset') or 'iterations'}: {ft['iterations']} updates"
        what += f", {ft['compute_dtype']})" if ft.get("compute_dtype") else ")"
    elif ft:
        what = "parent predictions, no fine-tuning"
    else:
        what = "given predictions"
    where = f"{cal['image_set']} sequences" if cal.get("image_set") else "sequences"
    step = f" (one in {cal['sequence_step']})" if cal.get("sequence_step", 1) > 1 else ""
    th = cal["threshold"]
    lines = [
        f"Snapping calibration on {cal['frames']} frames of {len(cal['sequences'])} {where}{step} ({what}"
        + (f"; parent {cal['checkpoint']}" if cal.get("checkpoint") else "")
        + "); J = mean over the frames.",
        "Raw-mask threshold (no snapping):",
    ]
    for t, j in th["J"].items():
        mark = f"  <- best ({j - th['J_0.5']:+.4f} against 0.5)" if float(t) == float(th["best"]) else ""
        lines.append(f"  {float(t):<10.4g} {j:.4f}{mark}")
    loss = cal["max_loss"]
    lines += [
        f"Snapping at mask threshold {float(th['used']):.4g}; chosen: best J among the candidates that lose at most "
        f"{loss:g} J on every sequence against no snapping ({cal['none']:.4f}).",
        f"  {'candidate (best confidence per snapping parameter)':<62} {'J':>7} {'worst loss':>11}  sequence",
    ]
    for mode in ("contours", "bilateral"):
        for choice in _best_per_parameter(cal, mode):
            lines.append(_choice_line(f"{mode} {choice['key']}", choice))
    lines.append("Chosen, and the best snapping everywhere (margin 1, band 0, as before the confidence model):")
    for mode in ("contours", "bilateral"):
        chosen = cal["best"][mode]
        note = "" if chosen["meets_max_loss"] else "  (none meets the max loss: smallest worst loss)"
        lines.append(_choice_line(f"{mode} chosen {chosen['key']}", chosen) + note)
        lines.append(_choice_line(f"{mode} everywhere {cal['everywhere'][mode]['key']}", cal["everywhere"][mode]))
    lines.append("Per sequence: J without snapping, and the gain of each against it:")
    cols = [("contours", "best"), ("contours", "everywhere"), ("bilateral", "best"), ("bilateral", "everywhere")]
    head = "".join(f"{m[:4] + (' chosen' if w == 'best' else ' everywh.'):>16}" for m, w in cols)
    lines.append(f"  {'sequence':<20} {'none':>7}{head}")
    for q, rec in cal["per_sequence"].items():
        gains = "".join(f"{cal[w][m]['per_sequence_gain'][q]:>+16.4f}" for m, w in cols)
        lines.append(f"  {q:<20} {rec['none']:>7.4f}{gains}")
    return "\n".join(lines)


def _best_per_parameter(cal: dict, mode: str) -> list[dict]:
    """For each snapping parameter of ``mode`` (a UCM threshold, a (lam, sigma_spatial)), the candidate that
    would be chosen among its confidence variants."""
    groups: dict[str, list[dict]] = {}
    for key, j in cal[mode].items():
        params = {name: float(value) for name, value in (part.split("=") for part in key.split(","))}
        base = key.rsplit(",margin=", 1)[0]
        choice = _choice(params, key, j, cal["none"], cal["per_sequence"], mode, cal["max_loss"])
        groups.setdefault(base, []).append(choice)
    return [_select(g) for g in groups.values()]


def _choice_line(label: str, choice: dict) -> str:
    return f"  {label:<62} {choice['J']:>7.4f} {choice['worst_loss']:>+11.4f}  {choice['worst_sequence']}"
