"""DAVIS-2016 evaluation: region similarity J, contour accuracy F, temporal stability T.

This package re-implements, in plain numpy/scipy, the measures and statistics of the official DAVIS-2016
benchmark code (Perazzi et al., CVPR 2016; the ``davis`` Python package: ``measures/jaccard.py``,
``measures/f_boundary.py``, ``measures/t_stability.py`` with its C++ ``tstab`` extension built on
J. Pont-Tuset's polygonal-contour code, ``dataset/loader.py`` and ``dataset/utils.py``).  It is written
from a reading of that code, not copied, and is meant to give the same numbers.  It never needs
TensorFlow.

Conventions (the contracts every function here relies on):

* A *mask* is a 2-D array of shape ``(H, W)``, dtype ``bool`` or any integer type; every nonzero pixel is
  foreground.  Result and ground-truth masks of one frame must have the same shape.
* A results folder is ``DIR/<sequence>/<frame>.png`` with the ground-truth frame names
  (``00000.png``, ``00001.png``, ...), read by :func:`read_mask` (any nonzero pixel is foreground;
  palette PNGs are read as their palette indices, RGB(A) PNGs as "any colour channel nonzero").
  Sub-folders that are not DAVIS sequences are skipped when the sequences are discovered.
* Only frames ``1 .. N-2`` of a sequence are evaluated (the first frame is the given annotation, the last
  one is excluded by the benchmark), so results for frames 0 and N-1 may be absent.

Modules, one concept each (every public name is re-exported here):

* :mod:`~osvos_tf.evaluation.region` -- J (:func:`jaccard`): intersection over union, 1 when both masks
  are empty.
* :mod:`~osvos_tf.evaluation.boundary` -- F (:func:`f_measure`, :func:`boundary_map`, :data:`BOUND_TH`).
* :mod:`~osvos_tf.evaluation.tracing` -- the closed pixel-edge curves of a mask (the C++ contour tracer).
* :mod:`~osvos_tf.evaluation.polygons` -- the simplified, oriented polygons T is built on
  (:func:`mask_contours`, :func:`upsample_contour`).
* :mod:`~osvos_tf.evaluation.shape_contexts` -- shape-context histograms and their chi-square costs
  (:func:`shape_context`, :func:`chi2_cost_matrix`).
* :mod:`~osvos_tf.evaluation.temporal` -- T (:func:`t_stability`, :func:`shape_matching_cost`,
  :data:`T_SCALE`): the contour matcher and its one known deviation from the official code.
* :mod:`~osvos_tf.evaluation.statistics` -- Mean, Recall, Decay (:func:`sequence_statistics`,
  :func:`recall`, :func:`decay`).
* :mod:`~osvos_tf.evaluation.sequence` -- one sequence in memory (:func:`evaluate_sequence`).
* :mod:`~osvos_tf.evaluation.layout` -- a results folder checked against a DAVIS root.
* :mod:`~osvos_tf.evaluation.pool` -- per-sequence jobs in worker processes.
* :mod:`~osvos_tf.evaluation.results` -- a results folder -> the JSON-ready dict
  (:func:`evaluate_results`).
* :mod:`~osvos_tf.evaluation.error_analysis` -- the OSVOS Figure 5 error split (:func:`error_split`,
  :func:`error_split_results`, :data:`ERROR_NEAR_PX`).
* :mod:`~osvos_tf.evaluation.report` -- tables and :func:`evaluate_and_report` (what
  ``tools/eval_davis.py`` calls; JSON written atomically).
* :mod:`~osvos_tf.evaluation.validation` -- the mask-argument checks shared by the measures.

Overall numbers are means over sequences (T over the sequences that have a T).

The DAVIS-2017 semi-supervised (multi-object) protocol reuses J, F and the statistics above, per object
(imported from their modules; ``evaluate_and_report(year=2017)`` / ``tools/eval_davis.py --year 2017`` run it):

* :mod:`~osvos_tf.evaluation.multi_object` -- the per-object rules and J/F of one sequence in memory
  (``evaluate_objects``, ``evaluate_object_frames``, ``count_objects``, ``object_masks``).
* :mod:`~osvos_tf.evaluation.davis2017` -- a results folder -> the JSON-ready dict, means over objects
  (``evaluate_results_2017``); the image-set lists are in :mod:`~osvos_tf.evaluation.layout`.
"""

from __future__ import annotations

from osvos_tf.davis import annotated_frame_names, default_davis_root, load_db_info
from osvos_tf.evaluation.boundary import BOUND_TH, boundary_map, f_measure
from osvos_tf.evaluation.davis2017 import evaluate_results_2017
from osvos_tf.evaluation.error_analysis import ERROR_NEAR_PX, error_split, error_split_results
from osvos_tf.evaluation.multi_object import evaluate_objects
from osvos_tf.evaluation.polygons import mask_contours, upsample_contour
from osvos_tf.evaluation.region import jaccard
from osvos_tf.evaluation.report import evaluate_and_report, format_error_table, format_objects_table, format_table
from osvos_tf.evaluation.results import evaluate_results
from osvos_tf.evaluation.sequence import evaluate_sequence
from osvos_tf.evaluation.shape_contexts import chi2_cost_matrix, shape_context
from osvos_tf.evaluation.statistics import decay, recall, sequence_statistics
from osvos_tf.evaluation.temporal import T_SCALE, shape_matching_cost, t_stability
from osvos_tf.masks import read_davis_mask as read_mask

__all__ = [
    "BOUND_TH",
    "T_SCALE",
    "default_davis_root",
    "read_mask",
    "load_db_info",
    "annotated_frame_names",
    "jaccard",
    "boundary_map",
    "f_measure",
    "mask_contours",
    "upsample_contour",
    "shape_context",
    "chi2_cost_matrix",
    "shape_matching_cost",
    "t_stability",
    "recall",
    "decay",
    "sequence_statistics",
    "evaluate_sequence",
    "evaluate_results",
    "format_table",
    "ERROR_NEAR_PX",
    "error_split",
    "error_split_results",
    "format_error_table",
    "evaluate_and_report",
    "evaluate_objects",
    "evaluate_results_2017",
    "format_objects_table",
]
