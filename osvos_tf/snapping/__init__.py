"""Boundary snapping of a segmentation: contour snapping (OSVOS's "Ours") and the fast bilateral solver.

* :mod:`osvos_tf.snapping.contour_snap`: superpixels from a contour map (a UCM approximation: watershed, then
  greedy region merging by mean boundary strength), the majority vote and :func:`snap_to_contours`;
* :mod:`osvos_tf.snapping.bilateral`: the bilateral grid, the fast bilateral solver (OpenCV's
  ``fastBilateralSolverFilter``, reproduced to 3e-5) and :func:`snap_bilateral`;
* :mod:`osvos_tf.snapping.confidence`: the confidence model, which pixels snapping may change
  (:class:`ConfidenceMap`, :func:`keep_confident`), so that confident regions stay;
* :mod:`osvos_tf.snapping.snapper`: the :class:`Snapper` the pipeline runs per frame, :func:`check_snap_mode`.

The parameters (:class:`BilateralParams`, :class:`ContourSnapParams`, :data:`SNAP_MODES`, the UCM thresholds,
:data:`MASK_THRESHOLD`) live in :mod:`osvos_tf.config` and are re-exported here.
"""

from osvos_tf.config import (
    CALIBRATED_UCM_THRESHOLD,
    MASK_THRESHOLD,
    SNAP_MODES,
    UCM_THRESHOLD,
    BilateralParams,
    ContourSnapParams,
)
from osvos_tf.snapping.bilateral import (
    CALIBRATED_BILATERAL,
    BilateralGrid,
    bilateral_solve,
    rgb_to_ycrcb,
    snap_bilateral,
)
from osvos_tf.snapping.confidence import SNAP_EVERYWHERE, ConfidenceMap, as_probabilities, keep_confident
from osvos_tf.snapping.contour_snap import majority_vote, snap_to_contours, superpixels
from osvos_tf.snapping.snapper import Snapper, check_snap_mode

__all__ = [
    "CALIBRATED_BILATERAL",
    "CALIBRATED_UCM_THRESHOLD",
    "MASK_THRESHOLD",
    "SNAP_EVERYWHERE",
    "SNAP_MODES",
    "UCM_THRESHOLD",
    "BilateralGrid",
    "BilateralParams",
    "ConfidenceMap",
    "ContourSnapParams",
    "Snapper",
    "as_probabilities",
    "bilateral_solve",
    "check_snap_mode",
    "keep_confident",
    "majority_vote",
    "rgb_to_ycrcb",
    "snap_bilateral",
    "snap_to_contours",
    "superpixels",
]
