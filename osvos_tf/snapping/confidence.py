"""The confidence model of snapping: which pixels snapping may change, so that confident regions stay.

Snapping (contours or bilateral) recomputes the whole mask; where the network is sure, its answer is kept. A
pixel is **uncertain**, and takes the snapped value, when both hold:

* its probability is within ``margin`` of the mask threshold: ``|p - threshold| < margin``;
* it lies within ``band`` pixels of the boundary of the raw mask (``p > threshold``): the Euclidean distance
  from its centre to the nearest pixel of the other class is ``<= band`` (a pixel 4-adjacent to the other
  class is at distance 1). A raw mask that is empty or all foreground has no boundary: no pixel is within a
  band.

Every other pixel keeps the raw mask's value. ``margin >= 1`` sets no probability limit (``|p - t| < 1`` for
every probability in [0, 1] and threshold in (0, 1)), ``band = 0`` no distance limit; ``margin=1, band=0``
(:data:`SNAP_EVERYWHERE`) lets snapping change every pixel, the behaviour before the confidence model (issue
#15), so earlier results stay reproducible. ``margin = 0`` keeps the raw mask everywhere.

:class:`ConfidenceMap` computes the per-pixel quantities once per frame, so that many (margin, band) pairs
are cheap (the calibration, :mod:`osvos_tf.benchmarks.calibration`); :func:`keep_confident` is the one-shot
form. :class:`osvos_tf.snapping.Snapper` applies it with the margin and band of ``ContourSnapParams`` /
``BilateralParams``; :func:`~osvos_tf.snapping.snap_to_contours` and :func:`~osvos_tf.snapping.snap_bilateral`
are the unrestricted snapping operators.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from osvos_tf.config import check_confidence

#: ``(margin, band)`` that let snapping change every pixel (the behaviour before the confidence model).
SNAP_EVERYWHERE = (1.0, 0)


def as_probabilities(probs, name: str = "probs") -> np.ndarray:
    """Foreground probabilities as float64 (H, W) in [0, 1] ((H, W, 1) is squeezed; a bool mask becomes 0 / 1).

    Values within 1e-6 outside [0, 1] (rounding) are clipped.

    Raises:
        ValueError: not 2-D, or values that are not finite probabilities.
    """
    p = np.asarray(probs)
    if p.ndim == 3 and p.shape[-1] == 1:
        p = p[..., 0]
    if p.ndim != 2:
        raise ValueError(f"{name} must be (H, W) (or (H, W, 1)) probabilities; got shape {p.shape}.")
    p = p.astype(np.float64)
    if p.size and not (np.isfinite(p).all() and p.min() >= -1e-6 and p.max() <= 1 + 1e-6):
        raise ValueError(
            f"{name} must be finite probabilities in [0, 1]; got values in {p.min():.4g}..{p.max():.4g}. Pass the "
            "sigmoid of the logits."
        )
    return np.clip(p, 0.0, 1.0)


class ConfidenceMap:
    """Where snapping may change the mask of one frame (see the module docstring).

    Args:
        probs: foreground probabilities (H, W) in [0, 1] (see :func:`as_probabilities`).
        threshold: the raw mask is ``probs > threshold``; in [0, 1).

    Attributes:
        threshold: as given (float).
        raw: bool (H, W), the raw mask ``probs > threshold``.
        deviation: float64 (H, W), ``|probs - threshold|`` in [0, 1].
    """

    def __init__(self, probs, threshold: float):
        if not 0.0 <= float(threshold) < 1.0:
            raise ValueError(f"threshold must be in [0, 1) (foreground where p > threshold), got {threshold!r}.")
        p = as_probabilities(probs)
        self.threshold = float(threshold)
        self.raw: np.ndarray = p > self.threshold
        self.deviation: np.ndarray = np.abs(p - self.threshold)
        self._distance: np.ndarray | None = None
        self._uncertain: dict[tuple[float, int], np.ndarray] = {}

    @property
    def distance(self) -> np.ndarray:
        """float64 (H, W): Euclidean distance (pixels) from each pixel to the nearest pixel of the other class of
        :attr:`raw` (>= 1; ``inf`` everywhere when the raw mask is empty or all foreground). Computed once."""
        if self._distance is None:
            raw = self.raw
            if raw.all() or not raw.any():
                self._distance = np.full(raw.shape, np.inf)
            else:
                # edt: distance of each nonzero pixel to the nearest zero pixel
                self._distance = np.where(
                    raw, ndimage.distance_transform_edt(raw), ndimage.distance_transform_edt(~raw)
                )
        return self._distance

    def uncertain(self, margin: float, band: int) -> np.ndarray:
        """bool (H, W): the pixels snapping may change, ``|p - threshold| < margin`` (any if ``margin >= 1``) and
        within ``band`` pixels of the raw mask's boundary (any if ``band == 0``). Kept per (margin, band), so
        the caller must not modify it."""
        check_confidence(margin, band)
        key = (float(margin), int(band))
        if key not in self._uncertain:
            out = np.ones(self.raw.shape, bool) if margin >= 1.0 else self.deviation < margin
            if band > 0:
                out &= self.distance <= band
            self._uncertain[key] = out
        return self._uncertain[key]

    def apply(self, snapped, margin: float, band: int) -> np.ndarray:
        """bool (H, W): ``snapped`` (bool (H, W)) where :meth:`uncertain`, the raw mask elsewhere."""
        s = np.asarray(snapped)
        if s.shape != self.raw.shape or s.dtype != bool:
            raise ValueError(
                f"The snapped mask must be bool with the probabilities' shape {self.raw.shape}; got {s.dtype} "
                f"{s.shape}."
            )
        check_confidence(margin, band)
        if margin >= 1.0 and band == 0:  # no limit: the snapped mask as it is
            return s.copy()
        return np.where(self.uncertain(margin, band), s, self.raw)


def keep_confident(snapped, probs, threshold: float, margin: float, band: int) -> np.ndarray:
    """The snapped mask where the network is uncertain, its raw mask (``probs > threshold``) elsewhere.

    Args:
        snapped: bool (H, W), the output of a snapping operator.
        probs: float (H, W) foreground probabilities in [0, 1].
        threshold: mask threshold in [0, 1).
        margin, band: the confidence model (module docstring); :data:`SNAP_EVERYWHERE` returns ``snapped``.

    Returns:
        bool (H, W).
    """
    return ConfidenceMap(probs, threshold).apply(snapped, margin, band)
