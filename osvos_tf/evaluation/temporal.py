"""Temporal (in)stability T (the official ``db_eval_t_stab``) between consecutive result frames.

The official procedure, re-implemented: polygonise both masks
(:func:`~osvos_tf.evaluation.polygons.mask_contours`), keep the contour with the most vertices, resample it
so no segment is longer than 3 px (:func:`~osvos_tf.evaluation.polygons.upsample_contour`), compute
shape-context histograms and the chi-square cost matrix (:mod:`osvos_tf.evaluation.shape_contexts`), find a
minimum-cost monotone path through the cost matrix from (0,0) to (n1-1,n2-1) (the official code runs
Dijkstra on that DAG; here it is a vectorised dynamic programme), re-run it from the cell after the cheapest
cell of the first path, make the pairs bijective, and average their costs. The per-pair value is 5 x that
average (the official "magic number"); NaN when either mask has no contour. A sequence's T is the mean over
its frame pairs, ignoring NaN, and counts only for sequences whose ``eval_t`` is true in ``db_info.yaml``.

Tie-breaking (the one known way this can differ from the official code): when two predecessors of a cell
have exactly equal accumulated cost (it happens when neighbouring contour points have identical
histograms), this code prefers the diagonal, then (x-1, y), then (x, y-1), whereas the official result
depends on the pop order of Boost's 4-ary heap; the resulting per-pair differences are of the order of
1e-4.  What the tests assert: hand-checked contours, the path's total cost against
``scipy.sparse.csgraph.dijkstra``, T = 0 for identical masks, NaN for an empty one, T growing with the
shape change.  A one-off comparison with a compiled build of the official C++ code (g++/libstdc++, Boost
1.74, Eigen 3.4) found identical contours and per-pair T bit-identical except at such ties; it is not
part of the tests (no C++ build, no stored reference values).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from osvos_tf.evaluation.polygons import CONTOUR_TOLERANCE, MAX_SEGMENT_PX, mask_contours, upsample_contour
from osvos_tf.evaluation.shape_contexts import chi2_cost_matrix, shape_context
from osvos_tf.evaluation.validation import as_mask

T_SCALE = 5.0
"""Factor applied to the mean shape-matching cost to give T (official ``magic_number``)."""

Descriptor = tuple[np.ndarray, np.ndarray]
"""(resampled longest contour float32 (n, 2), its shape-context histograms int64 (n, 60))."""


def min_cost_path(cost: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Cheapest monotone path (right, down or diagonal steps) from (0, 0) to (n1-1, n2-1).

    The cost of a path is the sum of the costs of the cells it enters (the start cell is free), as in the
    official Boost-Dijkstra ``match_dijkstra``.  Returns (path (k, 2) int from the end cell back to
    (0, 0), (x, y) of the cheapest cell on the path other than (0, 0), the one nearest the end on ties).
    Ties between predecessors prefer the diagonal, then (x-1, y), then (x, y-1).
    """
    n1, n2 = cost.shape
    acc = np.full((n1, n2), np.inf)
    pred = np.zeros((n1, n2), dtype=np.int8)  # 0 diagonal, 1 from (x-1, y), 2 from (x, y-1)
    acc[0, 0] = 0.0
    for k in range(1, n1 + n2 - 1):
        x = np.arange(max(0, k - n2 + 1), min(k, n1 - 1) + 1)
        y = k - x
        diag = np.full(len(x), np.inf)
        upv = np.full(len(x), np.inf)
        leftv = np.full(len(x), np.inf)
        ok = (x >= 1) & (y >= 1)
        diag[ok] = acc[x[ok] - 1, y[ok] - 1]
        ok = x >= 1
        upv[ok] = acc[x[ok] - 1, y[ok]]
        ok = y >= 1
        leftv[ok] = acc[x[ok], y[ok] - 1]
        best = diag
        choice = np.zeros(len(x), dtype=np.int8)
        better = upv < best
        best = np.where(better, upv, best)
        choice[better] = 1
        better = leftv < best
        best = np.where(better, leftv, best)
        choice[better] = 2
        acc[x, y] = best + cost[x, y]
        pred[x, y] = choice
    path = []
    x, y = n1 - 1, n2 - 1
    best_cost = math.inf
    best_xy = (x, y)
    while (x, y) != (0, 0):
        path.append((x, y))
        c = cost[x, y]
        if c < best_cost:
            best_cost = c
            best_xy = (x, y)
        p = pred[x, y]
        if p == 0:
            x, y = x - 1, y - 1
        elif p == 1:
            x -= 1
        else:
            y -= 1
    path.append((0, 0))
    return np.array(path, dtype=np.int64), best_xy


def _first_min_per_group(keys: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Indices of, for each distinct key (ascending), the first occurrence of its minimum cost."""
    order = np.lexsort((np.arange(len(keys)), costs, keys))
    k_sorted = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = k_sorted[1:] != k_sorted[:-1]
    return order[first]


def _bijective_pairs(pairs: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Keep, for each point of either contour, only its cheapest pair (official ``get_bijective_pairs``)."""
    c = cost[pairs[:, 0], pairs[:, 1]]
    pairs = pairs[_first_min_per_group(pairs[:, 0], c)]
    c = cost[pairs[:, 0], pairs[:, 1]]
    return pairs[_first_min_per_group(pairs[:, 1], c)]


def contour_descriptor(mask: np.ndarray) -> Descriptor | None:
    """The :data:`Descriptor` of the longest contour of bool (H, W) ``mask``, or None when it has none."""
    conts = mask_contours(mask, CONTOUR_TOLERANCE)
    if not conts:
        return None
    longest = conts[0]
    for c in conts[1:]:
        if len(c) > len(longest):
            longest = c
    up = upsample_contour(longest, MAX_SEGMENT_PX)
    return up, shape_context(up)


def match_descriptors(d1: Descriptor | None, d2: Descriptor | None) -> float:
    """Mean cost of the bijective matching of two descriptors (without the factor 5); NaN when either is None."""
    if d1 is None or d2 is None:
        return float("nan")
    cost = chi2_cost_matrix(d1[1], d2[1])
    n1, n2 = cost.shape
    _, (sx, sy) = min_cost_path(cost)
    shifted = np.roll(np.roll(cost, -(sy + 1), axis=1), -(sx + 1), axis=0)
    pairs, _ = min_cost_path(shifted)
    pairs[:, 0] = np.mod(pairs[:, 0] + sx + 1, n1)
    pairs[:, 1] = np.mod(pairs[:, 1] + sy + 1, n2)
    pairs = _bijective_pairs(pairs, cost)
    return float(np.average(cost[pairs[:, 0], pairs[:, 1]]))


def shape_matching_cost(mask_a: ArrayLike, mask_b: ArrayLike) -> float:
    """Mean shape-context matching cost between the longest contours of two masks (official
    ``db_eval_t_stab``, without the factor 5).  NaN when either mask has no contour of > 3 vertices."""
    a = as_mask(mask_a, "mask_a")
    b = as_mask(mask_b, "mask_b")
    return match_descriptors(contour_descriptor(a), contour_descriptor(b))


def t_stability(mask_t: ArrayLike, mask_t1: ArrayLike) -> float:
    """Per-frame-pair temporal (in)stability T = 5 x :func:`shape_matching_cost` (NaN if a mask is empty).

    ``mask_t`` and ``mask_t1`` are the (H, W) result masks of two consecutive frames.
    """
    return T_SCALE * shape_matching_cost(mask_t, mask_t1)
