"""One snapping step for the pipeline: :class:`Snapper`, used by ``OSVOS(snap=...)``, the CLI and
tools/run_davis.py, and :func:`check_snap_mode`.

TensorFlow is imported only when the contour network is first needed (mode 'contours' without a given
contour map).
"""

from __future__ import annotations

import time

import numpy as np

from osvos_tf.config import MASK_THRESHOLD, SNAP_MODES, BilateralParams, ContourSnapParams
from osvos_tf.snapping.bilateral import CALIBRATED_BILATERAL, snap_bilateral
from osvos_tf.snapping.confidence import keep_confident
from osvos_tf.snapping.contour_snap import snap_to_contours


def check_snap_mode(snap: str | None) -> str:
    """``None`` -> 'none'; a mode of :data:`SNAP_MODES` unchanged; anything else raises ValueError."""
    mode = "none" if snap is None else snap
    if mode not in SNAP_MODES:
        raise ValueError(f"Unknown snapping mode {snap!r}; expected one of {', '.join(SNAP_MODES)} (or None).")
    return mode


class Snapper:
    """Turns a frame's foreground probabilities into its final mask, snapped or not.

    The snapped mask replaces the raw one (``probs > threshold``) only where the network is uncertain: the
    confidence model of :mod:`osvos_tf.snapping.confidence`, with the ``margin`` and ``band`` of the mode's
    parameters (``margin=1.0, band=0``: everywhere, as before that model).

    Args:
        mode: 'none' / None (``probs > threshold``), 'contours' or 'bilateral'.
        threshold: the raw mask is ``probs > threshold`` (the mask that is voted over, for 'contours'; the
            plain mask for 'none'; what confident pixels keep, for both snapping modes). 'bilateral'
            thresholds its solution at ``bilateral.threshold``. Default :data:`~osvos_tf.config.MASK_THRESHOLD`.
        contours: :class:`ContourSnapParams` (used by 'contours'; default ``ContourSnapParams()``).
        bilateral: :class:`BilateralParams` (used by 'bilateral'; default :data:`CALIBRATED_BILATERAL`).
        contour_model: a built contour model to share (default: built from ``contours.weights`` at the first
            frame that needs it; TensorFlow is imported only then).

    Attributes:
        seconds: cumulative wall time ``{'contour_model': s, 'snap': s}`` of all calls (the contour network's
            forward pass, and superpixels + vote or the bilateral solve).
        frames: calls so far.
    """

    def __init__(
        self,
        mode: str | None = None,
        threshold: float = MASK_THRESHOLD,
        contours: ContourSnapParams | None = None,
        bilateral: BilateralParams | None = None,
        contour_model=None,
    ):
        self.mode = check_snap_mode(mode)
        self.threshold = float(threshold)
        self.contours = contours or ContourSnapParams()
        self.bilateral = bilateral or CALIBRATED_BILATERAL
        self.contours.validate()
        self.bilateral.validate()
        self._contour_model = contour_model
        self.reset_timing()

    def reset_timing(self) -> None:
        """Zero :attr:`seconds` and :attr:`frames` (e.g. after a warm-up call)."""
        self.seconds = {"contour_model": 0.0, "snap": 0.0}
        self.frames = 0

    @property
    def contour_model(self):
        """The contour network (built on first use)."""
        if self._contour_model is None:
            from osvos_tf.contours import build_contour_model

            self._contour_model = build_contour_model(weights=self.contours.weights)
        return self._contour_model

    def contour_map(self, frame_rgb) -> np.ndarray:
        """The contour probability (H, W) float32 in [0, 1] of a uint8 RGB frame (H, W, 3) (timed)."""
        from osvos_tf.contours import contour_probs

        start = time.perf_counter()
        out = contour_probs(self.contour_model, frame_rgb)
        self.seconds["contour_model"] += time.perf_counter() - start
        return out

    def __call__(self, frame_rgb, probs, contour=None, threshold: float | None = None) -> np.ndarray:
        """The final mask of one frame.

        Args:
            frame_rgb: uint8 RGB (H, W, 3) (used by 'contours' and 'bilateral').
            probs: float (H, W) foreground probabilities in [0, 1].
            contour: for 'contours', a precomputed contour map (H, W) of the frame (default: computed here).
            threshold: this call's probability threshold (default: :attr:`threshold`).

        Returns:
            bool (H, W): the raw mask, snapped where the network is uncertain.
        """
        self.frames += 1
        threshold = self.threshold if threshold is None else float(threshold)
        if self.mode == "none":
            return np.asarray(probs) > threshold
        if self.mode == "contours" and contour is None:
            contour = self.contour_map(frame_rgb)
        start = time.perf_counter()
        if self.mode == "contours":
            params: ContourSnapParams | BilateralParams = self.contours
            snapped = snap_to_contours(
                probs, contour, self.contours.threshold, self.contours.min_size, mask_threshold=threshold
            )
        else:
            params = self.bilateral
            snapped = snap_bilateral(frame_rgb, probs, self.bilateral)
        mask = keep_confident(snapped, probs, threshold, params.margin, params.band)
        self.seconds["snap"] += time.perf_counter() - start
        return mask

    def ms_per_frame(self) -> dict[str, float]:
        """``{'contour_model': ms, 'snap': ms}`` per call so far (0 before the first)."""
        n = max(self.frames, 1)
        return {k: round(1000.0 * v / n, 2) for k, v in self.seconds.items()}
