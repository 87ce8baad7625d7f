"""Calibrating the snapping parameters on DAVIS training sequences (never on validation).

    cal = calibrate_snapping("../shared/DAVIS")        # train set, 3 frames per sequence
    print(format_calibration(cal))

``tools/calibrate_snapping.py`` is the command line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from osvos_tf.davis import annotation_dir, list_davis_sequences, sequence_inputs

#: Candidate UCM thresholds and bilateral (lam, sigma_spatial) pairs of :func:`calibrate_snapping`.
UCM_CANDIDATES = (0.05, 0.1, 0.15, 0.2, 0.225, 0.25, 0.275, 0.29, 0.35, 0.4)
BILATERAL_CANDIDATES = ((32.0, 8.0), (128.0, 8.0), (512.0, 8.0), (128.0, 16.0), (512.0, 16.0))


def calibrate_snapping(
    davis_root: str | os.PathLike,
    image_set: str = "train",
    frames_per_sequence: int = 3,
    checkpoint: str | os.PathLike | None = None,
    ucm_thresholds: Sequence[float] = UCM_CANDIDATES,
    bilateral: Sequence[tuple[float, float]] = BILATERAL_CANDIDATES,
    sequences: Sequence[str] | None = None,
    progress: bool = True,
) -> dict:
    """Choose the snapping parameters by mean IoU on DAVIS frames of ``image_set`` (train by default).

    The masks that are snapped are the parent network's own predictions (no fine-tuning), on
    ``frames_per_sequence`` evenly spaced frames (first and last excluded) of each sequence. Each candidate
    UCM threshold of contour snapping and each (lam, sigma_spatial) pair of the bilateral solver is scored by
    the mean IoU with the ground truth over all those frames; the plain mask (probabilities > 0.5) is the
    reference.

    Returns:
        ``{"frames": n, "sequences": [...], "checkpoint": parent id, "image_set": set, "none": J,
        "contours": {threshold: J}, "bilateral": {"lam=..,sigma_spatial=..": J}, "best": {"contours":
        {"threshold": t, "J": J}, "bilateral": {"lam": .., "sigma_spatial": .., "J": J}},
        "snap_ms_per_frame": {"contour_model": ms, "bilateral": ms}}`` (J = mean IoU; the parent id is
        :attr:`osvos_tf.parents.ParentSource.id`, never a path).

    Raises:
        ValueError: ``frames_per_sequence`` < 1, no candidate, or no annotated frame to calibrate on.
        FileNotFoundError: missing DAVIS folders or checkpoint.
    """
    from osvos_tf.config import FineTuneConfig
    from osvos_tf.osvos import OSVOS

    if not ucm_thresholds or not bilateral:
        raise ValueError(
            f"Give at least one UCM threshold and one bilateral pair (got {len(ucm_thresholds)} and {len(bilateral)})."
        )
    seqs, samples = _calibration_samples(Path(davis_root), image_set, frames_per_sequence, sequences)
    osvos = OSVOS(checkpoint=checkpoint, config=FineTuneConfig(iterations=0))
    plain, contour_j, bilateral_j, timing = _mean_ious(osvos, samples, ucm_thresholds, bilateral, progress)
    best_t = max(contour_j, key=lambda t: contour_j[t])
    best_lam, best_ss = max(bilateral, key=lambda pair: bilateral_j[_pair_key(*pair)])
    return {
        "frames": len(samples),
        "sequences": seqs,
        "checkpoint": osvos.source,
        "image_set": image_set,
        "none": plain,
        "contours": contour_j,
        "bilateral": bilateral_j,
        "best": {
            "contours": {"threshold": best_t, "J": contour_j[best_t]},
            "bilateral": {"lam": best_lam, "sigma_spatial": best_ss, "J": bilateral_j[_pair_key(best_lam, best_ss)]},
        },
        "snap_ms_per_frame": timing,
    }


def _calibration_samples(
    davis_root: Path, image_set: str, frames_per_sequence: int, sequences: Sequence[str] | None
) -> tuple[list[str], list[tuple[str, Path, Path]]]:
    """The sequences, and ``(sequence, frame, ground truth)`` of ``frames_per_sequence`` evenly spaced
    annotated frames of each (first and last excluded)."""
    if isinstance(frames_per_sequence, bool) or frames_per_sequence < 1:
        raise ValueError(f"frames_per_sequence must be >= 1, got {frames_per_sequence}.")
    seqs = list(sequences) if sequences is not None else list_davis_sequences(davis_root, image_set)
    samples = []
    for seq in seqs:
        frames, _ = sequence_inputs(davis_root, seq)
        inner = frames[1:-1] or frames
        picks = np.unique(np.linspace(0, len(inner) - 1, frames_per_sequence + 2)[1:-1].round().astype(int))
        for i in picks:
            gt_path = annotation_dir(davis_root) / seq / f"{inner[i].stem}.png"
            if gt_path.is_file():
                samples.append((seq, inner[i], gt_path))
    if not samples:
        raise ValueError(
            f"No annotated frame to calibrate on in {davis_root} ({image_set}): expected ground-truth masks in "
            f"{annotation_dir(davis_root)}/<sequence>/."
        )
    return seqs, samples


def _mean_ious(
    osvos,
    samples: Sequence[tuple[str, Path, Path]],
    ucm_thresholds: Sequence[float],
    bilateral: Sequence[tuple[float, float]],
    progress: bool,
) -> tuple[float, dict[float, float], dict[str, float], dict[str, float]]:
    """Mean IoU over ``samples`` of the plain masks, of each UCM threshold and of each bilateral pair (keyed by
    :func:`_pair_key`), and the snapping ms per frame (``{'contour_model': ms, 'bilateral': ms}``)."""
    from osvos_tf.config import BilateralParams
    from osvos_tf.evaluation import jaccard
    from osvos_tf.masks import read_davis_mask
    from osvos_tf.progress import Progress
    from osvos_tf.snapping import Snapper, snap_to_contours

    contour_snapper = Snapper("contours")
    bilateral_snappers = {
        _pair_key(lam, ss): Snapper("bilateral", bilateral=BilateralParams(lam=lam, sigma_spatial=ss))
        for lam, ss in bilateral
    }
    plain: list[float] = []
    contour_scores: dict[float, list[float]] = {float(t): [] for t in ucm_thresholds}
    bilateral_scores: dict[str, list[float]] = {key: [] for key in bilateral_snappers}
    bar = Progress(len(samples), "calibrate", enabled=progress)
    for (seq, _, gt_path), (_, frame, probs) in zip(samples, osvos.segment_frames([s[1] for s in samples])):
        gt = read_davis_mask(gt_path)
        plain.append(jaccard(probs > 0.5, gt))
        contour = contour_snapper.contour_map(frame)
        for t, values in contour_scores.items():
            values.append(jaccard(snap_to_contours(probs, contour, t), gt))
        for key, snapper in bilateral_snappers.items():
            bilateral_scores[key].append(jaccard(snapper(frame, probs), gt))
        bar.update(status=seq)
    bar.close()
    timing = {
        "contour_model": round(1000 * contour_snapper.seconds["contour_model"] / len(samples), 1),
        "bilateral": round(float(np.mean([b.ms_per_frame()["snap"] for b in bilateral_snappers.values()])), 1),
    }
    return (
        float(np.mean(plain)),
        {t: float(np.mean(v)) for t, v in contour_scores.items()},
        {k: float(np.mean(v)) for k, v in bilateral_scores.items()},
        timing,
    )


def _pair_key(lam: float, sigma_spatial: float) -> str:
    return f"lam={lam:g},sigma_spatial={sigma_spatial:g}"


def format_calibration(cal: dict) -> str:
    """A short text table of :func:`calibrate_snapping`'s output."""
    lines = [
        f"Snapping calibration on {cal['frames']} frames of {len(cal['sequences'])} {cal['image_set']} "
        f"sequences (parent predictions, no fine-tuning); mean IoU:",
        f"  no snapping                           {cal['none']:.4f}",
    ]
    for t, j in cal["contours"].items():
        mark = "  <- best" if t == cal["best"]["contours"]["threshold"] else ""
        lines.append(f"  contours, UCM threshold {t:<13g} {j:.4f}{mark}")
    best_key = _pair_key(cal["best"]["bilateral"]["lam"], cal["best"]["bilateral"]["sigma_spatial"])
    for k, j in cal["bilateral"].items():
        lines.append(f"  bilateral, {k:<26} {j:.4f}{'  <- best' if k == best_key else ''}")
    return "\n".join(lines)
