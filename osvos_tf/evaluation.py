"""DAVIS-2016 evaluation: region similarity J, contour accuracy F, temporal stability T.

This module re-implements, in plain numpy/scipy, the measures and statistics of the official DAVIS-2016
benchmark code (Perazzi et al., CVPR 2016; the ``davis`` Python package: ``measures/jaccard.py``,
``measures/f_boundary.py``, ``measures/t_stability.py`` with its C++ ``tstab`` extension built on
J. Pont-Tuset's polygonal-contour code, ``dataset/loader.py`` and ``dataset/utils.py``).  It is written
from a reading of that code, not copied, and is meant to give the same numbers.  It never needs
TensorFlow.

Conventions (the contracts every function here relies on):

* A *mask* is a 2-D array of shape ``(H, W)``, dtype ``bool`` or any integer type; every nonzero pixel is
  foreground.  Result and ground-truth masks of one frame must have the same shape.
* A results folder is ``DIR/<sequence>/<frame>.png`` with the ground-truth frame names
  (``00000.png``, ``00001.png``, ...).  Any nonzero pixel is foreground; palette PNGs are read as their
  palette indices (index != 0 is foreground), RGB(A) PNGs as "any colour channel nonzero".
* Only frames ``1 .. N-2`` of a sequence are evaluated (the first frame is the given annotation, the last
  one is excluded by the benchmark), so results for frames 0 and N-1 may be absent.

Measures
--------
J (:func:`jaccard`)
    Intersection over union; 1 when both masks are empty.
F (:func:`f_measure`)
    F-measure of boundary precision and recall.  Boundaries are one pixel wide, made as the official
    ``seg2bmap`` makes them (:func:`boundary_map`); a boundary pixel is matched when a boundary pixel of
    the other mask lies within ``bound_pix = ceil(0.008 * image diagonal)`` pixels (8 px at 854x480),
    which is what dilating with ``skimage.morphology.disk(bound_pix)`` does (computed here with a
    Euclidean distance transform, which gives the same matches).  Empty-boundary conventions as the
    official code: no result boundary and some ground-truth boundary -> P=1, R=0; the reverse -> P=0,
    R=1; both empty -> P=R=1; F = 0 when P + R = 0.
T (:func:`t_stability`)
    Temporal (in)stability between consecutive *result* frames ``t`` and ``t+1``, exactly as the
    official procedure: polygonise both masks (pixel-corner contours traced around 4-junctions as the
    C++ ``mask2polycont`` does, Douglas-Peucker simplification with psimpl's radial-distance pre-pass at
    tolerance 0.1 and then 3 in half-pixel units, clockwise outer contours / counter-clockwise holes,
    contours of <= 3 vertices dropped), keep the contour with the most vertices, resample it so no segment
    is longer than 3 px (float32 as the C++ code), compute shape-context histograms (12 angle x 5
    log-radius bins, radii 1/8..2 of the mean pairwise distance), the chi-square cost matrix, a
    minimum-cost monotone path through the cost matrix from (0,0) to (n1-1,n2-1) (the official code runs
    Dijkstra on that DAG; here it is a vectorised dynamic programme), re-run from the cell after the
    cheapest cell of the first path, make the pairs bijective, and average their costs.  The per-pair
    value is 5 x that average (the official "magic number"); NaN when either mask has no contour.  A
    sequence's T is the mean over its frame pairs, ignoring NaN, and counts only for sequences whose
    ``eval_t`` is true in ``db_info.yaml``.

    Checked against a compiled build of the official C++ contour code, upsampler and Boost-Dijkstra
    matcher (g++/libstdc++, Boost 1.74, Eigen 3.4): contours are identical on DAVIS masks and on random
    masks full of 4-junctions and holes, and per-pair T is bit-identical except when the path search
    meets an exact tie.  That is the one known deviation: when two predecessors of a cell have exactly
    equal accumulated cost (it happens when neighbouring contour points have identical histograms), this
    code prefers the diagonal, then (x-1, y), then (x, y-1), whereas the official result depends on the
    pop order of Boost's 4-ary heap; the resulting per-pair differences are of the order of 1e-4.

Statistics (:func:`sequence_statistics`), over the per-frame values of frames 1..N-2
    Mean (NaN ignored); Recall = fraction of frames with value > 0.5; Decay = mean of the first of 4 bins
    minus mean of the last, with the official bins: ``ids = round(linspace(1, n, 5) + 1e-10) - 1`` and bin
    ``i`` = ``values[ids[i] : ids[i+1] + 1]`` (neighbouring bins share their boundary frame).  Overall
    numbers are means over sequences (T over the sequences that have a T).

Error split (:func:`error_split`, :func:`error_split_results`), the analysis of Figure 5 of the OSVOS paper
    The error pixels of a frame (1 - J of it, as fractions of |result | gt|) split into false positives
    within 20 px of the ground-truth object ("fp_near": imprecise borders), false positives farther away
    ("fp_far": spurious detections) and false negatives ("fn": missed object); means over frames 1..N-2,
    then over sequences.

Entry points: :func:`evaluate_results` (a results folder -> the JSON-ready dict), :func:`format_table`,
:func:`error_split_results` and :func:`format_error_table`, :func:`evaluate_and_report` (what
``tools/eval_davis.py`` calls).
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import multiprocessing
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial.distance import pdist, squareform

from osvos_tf.davis import annotated_frame_names, default_davis_root, load_db_info  # noqa: F401
from osvos_tf.masks import read_davis_mask as read_mask  # noqa: F401  (public name)

__all__ = [
    "BOUND_TH",
    "T_SCALE",
    "default_davis_root",
    "read_mask",
    "load_db_info",
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
]

BOUND_TH = 0.008
"""Boundary tolerance of F as a fraction of the image diagonal (official ``bound_th``)."""

T_SCALE = 5.0
"""Factor applied to the mean shape-matching cost to give T (official ``magic_number``)."""

# Parameters of the official T measure (t_stability.py / t_stability.m).
_CONT_TH = 3.0  # polygon simplification tolerance, in the half-pixel grid of the contour tracer
_CONT_TH_UP = 3.0  # maximum segment length after resampling, in pixels
_R_INNER = 1.0 / 8.0
_R_OUTER = 2.0
_NBINS_R = 5
_NBINS_THETA = 12
_EPS = 2.2204e-16  # the constant the official hist_cost_2 uses

_MASK_EXT = ".png"


# --------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------
def _as_mask(mask, name="mask") -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) array, got shape {arr.shape}")
    return arr != 0


def _check_same_shape(a: np.ndarray, b: np.ndarray, what: str = "result and ground truth"):
    if a.shape != b.shape:
        raise ValueError(
            f"size mismatch between {what}: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]} "
            f"(width x height); masks must have the ground truth's size (854x480 for DAVIS 480p) -- "
            f"save results at the annotation resolution"
        )


# --------------------------------------------------------------------------------------------------
# J and F
# --------------------------------------------------------------------------------------------------
def jaccard(mask, gt) -> float:
    """Region similarity J: |mask & gt| / |mask | gt|, and 1.0 when both are empty.

    ``mask`` and ``gt`` are (H, W) arrays of the same shape, bool or integer (nonzero = foreground).
    """
    m = _as_mask(mask, "mask")
    g = _as_mask(gt, "gt")
    _check_same_shape(m, g)
    union = np.count_nonzero(m | g)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(m & g)) / float(union)


def boundary_map(mask) -> np.ndarray:
    """One-pixel-wide boundary of a (H, W) mask, as the official ``seg2bmap``.

    A pixel is on the boundary when it differs from its east, south or south-east neighbour (outside the
    image counts as background); the last row only compares with the east neighbour, the last column
    only with the south one, and the bottom-right pixel is never a boundary pixel.  Returns bool (H, W).
    """
    seg = _as_mask(mask, "mask")
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    b[-1, :] = seg[-1, :] ^ east[-1, :]
    b[:, -1] = seg[:, -1] ^ south[:, -1]
    b[-1, -1] = False
    return b


def _bound_pix(shape, bound_th: float) -> float:
    if bound_th >= 1:
        return float(bound_th)
    return float(np.ceil(bound_th * np.linalg.norm(shape)))


def _matched(src: np.ndarray, dst: np.ndarray, radius: float) -> int:
    """Number of True pixels of ``src`` within Euclidean distance ``radius`` of a True pixel of ``dst``.

    Same count as ``sum(src & binary_dilation(dst, disk(radius)))`` for integer radius.  Both inputs
    must be non-empty.
    """
    rows = np.flatnonzero(np.any(src, axis=1) | np.any(dst, axis=1))
    cols = np.flatnonzero(np.any(src, axis=0) | np.any(dst, axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    s = src[r0:r1, c0:c1]
    d = dst[r0:r1, c0:c1]
    dist = ndimage.distance_transform_edt(~d)
    return int(np.count_nonzero(s & (dist <= radius)))


def f_measure(mask, gt, bound_th: float = BOUND_TH) -> float:
    """Contour accuracy F between a result ``mask`` and the ground truth ``gt`` ((H, W), same shape).

    ``bound_th`` < 1 is a fraction of the image diagonal (rounded up to whole pixels); >= 1 is pixels.
    """
    m = _as_mask(mask, "mask")
    g = _as_mask(gt, "gt")
    _check_same_shape(m, g)
    fg_b = boundary_map(m)
    gt_b = boundary_map(g)
    n_fg = int(np.count_nonzero(fg_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_fg == 0 and n_gt > 0:
        precision, rec = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, rec = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, rec = 1.0, 1.0
    else:
        radius = _bound_pix(m.shape, bound_th)
        precision = _matched(fg_b, gt_b, radius) / float(n_fg)
        rec = _matched(gt_b, fg_b, radius) / float(n_gt)
    if precision + rec == 0:
        return 0.0
    return 2.0 * precision * rec / (precision + rec)


# --------------------------------------------------------------------------------------------------
# T: polygonal contours (the C++ mask2polycont of the official code, re-implemented)
# --------------------------------------------------------------------------------------------------
# The contour tracer works on a "half-pixel" grid: pixel (r, c) has its centre at (2r+1, 2c+1) and its
# top-left corner at (2r, 2c); a vertical pixel edge has coordinates (odd, even), a horizontal one
# (even, odd).  Coordinates are (X, Y) = (row, column) there, as in the C++ code.


def _trace_pieces(m: np.ndarray):
    """Trace the boundary edges of bool mask ``m`` into pieces between junctions.

    Returns (pieces, junction_pos): pieces is a list of (orig_junction_id, end_junction_id, [edge (X, Y)
    in walking order]); junction_pos maps a junction id (1-based) to its corner (X, Y).  4-junctions
    (diagonal pixel pairs) come first in raster order; every closed loop without a 4-junction gets an
    artificial junction at the top end of its first vertical edge in raster order.
    """
    H, W = m.shape
    pad = np.zeros((H + 2, W + 2), dtype=bool)
    pad[1:-1, 1:-1] = m
    vert = pad[1:-1, :-1] ^ pad[1:-1, 1:]  # (H, W+1): edge between columns c-1 and c of row r
    horz = pad[:-1, 1:-1] ^ pad[1:, 1:-1]  # (H+1, W): edge between rows r-1 and r of column c

    # is_cont / visited on the half-pixel grid, shifted by +1 so that -1 is a valid index.
    S = 2 * W + 3
    grid = np.zeros((2 * H + 3, S), dtype=np.uint8)
    grid[2 : 2 * H + 1 : 2, 1 : 2 * W + 2 : 2] = vert  # X = 2r+1 -> index 2r+2 ; Y = 2c -> index 2c+1
    grid[1 : 2 * H + 2 : 2, 2 : 2 * W + 1 : 2] = horz  # X = 2r   -> index 2r+1 ; Y = 2c+1 -> index 2c+2
    is_cont = bytes(grid.tobytes())
    visited = bytearray(len(is_cont))

    def idx(x, y):
        return (x + 1) * S + (y + 1)

    # 4-junctions: interior corners with all four incident edges on the contour.
    junction_ids: dict = {}
    junction_pos: dict = {}
    up = vert[:-1, 1:-1]  # edge above corner (r, c): vert[r-1, c]   for r in 1..H-1, c in 1..W-1
    down = vert[1:, 1:-1]  # vert[r, c]
    left = horz[1:-1, :-1]  # horz[r, c-1]
    right = horz[1:-1, 1:]  # horz[r, c]
    jr, jc = np.nonzero(up & down & left & right)
    to_explore = []
    for k, (r, c) in enumerate(zip((jr + 1).tolist(), (jc + 1).tolist()), start=1):
        pos = (2 * r, 2 * c)
        junction_ids[pos] = k
        junction_pos[k] = pos
        x, y = pos
        for e in ((x, y + 1), (x + 1, y), (x, y - 1), (x - 1, y)):
            to_explore.append((k, e))

    def explore(start_id, first_edge):
        path = []
        start = junction_pos[start_id]
        visited[idx(*start)] = 1
        jt = start
        nxt = first_edge
        while True:
            x, y = nxt
            if x % 2:  # vertical edge: its ends are above and below
                e1, e2 = (x + 1, y), (x - 1, y)
            else:  # horizontal edge: its ends are left and right
                e1, e2 = (x, y - 1), (x, y + 1)
            if not visited[idx(*e1)]:
                jt = e1
            elif not visited[idx(*e2)]:
                jt = e2
            elif e1 == jt:
                jt = e2
            else:
                jt = e1
            visited[idx(x, y)] = 1
            visited[idx(*jt)] = 1
            path.append(nxt)
            end_id = junction_ids.get(jt, 0)
            if end_id > 0:
                return path, end_id
            jx, jy = jt
            for cand in ((jx + 1, jy), (jx - 1, jy), (jx, jy + 1)):
                ci = idx(*cand)
                if is_cont[ci] and not visited[ci]:
                    nxt = cand
                    break
            else:
                nxt = (jx, jy - 1)

    pieces = []
    while to_explore:
        jid, e = to_explore.pop()
        if visited[idx(*e)]:
            continue
        path, end_id = explore(jid, e)
        pieces.append((jid, end_id, path))

    # Loops without any 4-junction: scan vertical edges in raster order.
    n_junctions = len(junction_pos)
    vr, vc = np.nonzero(vert)
    for r, c in zip(vr.tolist(), vc.tolist()):
        e = (2 * r + 1, 2 * c)
        if visited[idx(*e)]:
            continue
        n_junctions += 1
        pos = (2 * r, 2 * c)
        junction_ids[pos] = n_junctions
        junction_pos[n_junctions] = pos
        path, end_id = explore(n_junctions, e)
        pieces.append((n_junctions, end_id, path))
    return pieces, junction_pos


def _group_into_curves(pieces, n_junctions):
    """Group contour pieces into closed curves, as the C++ ``lines2jordan``.

    Returns a list of (orig_junction_id, [edges]) in the order the curves are closed.
    """
    conts_on_junct: dict = {}
    for j in range(1, n_junctions + 1):
        conts_on_junct[j] = set()
    for i, (o, e, _) in enumerate(pieces):
        conts_on_junct[o].add(i)
        conts_on_junct[e].add(i)
    # libstdc++'s unordered_map<int,...> built with the junction count as bucket hint and keys 1..N puts
    # each key in its own bucket and each new key at the front: begin() is the largest key still there.
    for j in [j for j, s in conts_on_junct.items() if not s]:
        del conts_on_junct[j]

    def other_end(piece, j):
        o, e, _ = pieces[piece]
        return e if j == o else o

    def first_next(piece, j):
        o, _, edges = pieces[piece]
        return edges[0] if o == j else edges[-1]

    def remove(j, piece):
        s = conts_on_junct.get(j)
        if s is None:
            return
        s.discard(piece)
        if not s:
            del conts_on_junct[j]

    curves = []

    def close_cycle(cycle_j, swept_list, swept_set):
        pos = next(i for i, (j, _) in enumerate(swept_list) if j == cycle_j)
        edges = []
        last = cycle_j
        for j, piece in swept_list[pos:]:
            o, e, p_edges = pieces[piece]
            if o == j:
                edges.extend(p_edges)
                last = e
            else:
                edges.extend(reversed(p_edges))
                last = o
            swept_set.discard(j)
        del swept_list[pos:]
        if last != cycle_j:  # cannot happen for a well-formed contour graph
            raise RuntimeError("internal error: contour pieces do not close")
        curves.append((cycle_j, edges))
        return swept_list[-1][1] if swept_list else -1

    while conts_on_junct:
        swept_list = []
        swept_set = set()
        j = max(conts_on_junct)
        piece = min(conts_on_junct[j])
        remove(j, piece)
        remove(other_end(piece, j), piece)
        swept_set.add(j)
        swept_list.append((j, piece))
        nj = other_end(piece, j)
        if nj in swept_set:
            close_cycle(nj, swept_list, swept_set)
        while swept_set:
            j = nj
            cands = sorted(conts_on_junct.get(j, ()))
            if not cands:  # undefined behaviour in the C++ code; never seen on real masks
                break
            choice = cands[0]
            a = first_next(choice, j)
            b = first_next(piece, j)
            if (a[0] == b[0] or a[1] == b[1]) and len(cands) > 1:
                choice = cands[1]  # do not go straight through a junction
            piece = choice
            remove(j, piece)
            remove(other_end(piece, j), piece)
            swept_set.add(j)
            swept_list.append((j, piece))
            nj = other_end(piece, j)
            if nj in swept_set:
                piece = close_cycle(nj, swept_list, swept_set)
    return curves


def _edges_to_corners(start, edges) -> np.ndarray:
    """Closed corner polygon (n+1, 2) of a curve given as n edges walked from the corner ``start``."""
    pts = np.empty((len(edges) + 1, 2), dtype=np.int64)
    pts[0] = start
    e = np.asarray(edges, dtype=np.int64)
    cur_x, cur_y = start
    xs = pts[:, 0]
    ys = pts[:, 1]
    for k in range(len(edges)):
        ex, ey = int(e[k, 0]), int(e[k, 1])
        if ex % 2 == 0:  # horizontal edge: move along Y
            cur_y = ey + (ey - cur_y)
        else:  # vertical edge: move along X
            cur_x = ex + (ex - cur_x)
        xs[k + 1] = cur_x
        ys[k + 1] = cur_y
    return pts


def _point_in_polygon(px: float, py: float, poly: np.ndarray) -> bool:
    """Crossing-number test; ``poly`` is closed (first == last), the point is never on it here."""
    x0 = poly[:-1, 0].astype(np.float64)
    y0 = poly[:-1, 1].astype(np.float64)
    x1 = poly[1:, 0].astype(np.float64)
    y1 = poly[1:, 1].astype(np.float64)
    crosses = (y0 > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    return bool(np.count_nonzero(crosses & (px < xi)) % 2)


def _is_hole(corners: np.ndarray, mask: np.ndarray) -> bool:
    """True when the closed pixel-edge curve encloses background next to it (a hole boundary)."""
    (x0, y0), (x1, y1) = corners[0], corners[1]
    if x0 == x1:  # horizontal edge at X = x0 between rows x0/2 - 1 and x0/2, column min(y)/2
        col = min(y0, y1) // 2
        rows = (x0 // 2 - 1, x0 // 2)
        cells = [(r, col) for r in rows]
    else:  # vertical edge at Y = y0 between columns y0/2 - 1 and y0/2, row min(x)/2
        row = min(x0, x1) // 2
        cols = (y0 // 2 - 1, y0 // 2)
        cells = [(row, c) for c in cols]
    H, W = mask.shape
    fg_cell = None
    for r, c in cells:
        if 0 <= r < H and 0 <= c < W and mask[r, c]:
            fg_cell = (r, c)
    if fg_cell is None:  # cannot happen: a contour edge always has foreground on one side
        raise RuntimeError("internal error: contour edge without foreground")
    inside = _point_in_polygon(2 * fg_cell[0] + 1, 2 * fg_cell[1] + 1, corners)
    return not inside


def _segment_distance2(s1, s2, pts):
    """psimpl's squared point-to-segment distance (float32 projection fraction, as in C++)."""
    v = s2 - s1
    w = pts - s1
    cw = w[:, 0] * v[0] + w[:, 1] * v[1]
    cv = v[0] * v[0] + v[1] * v[1]
    d_s1 = (pts[:, 0] - s1[0]) ** 2 + (pts[:, 1] - s1[1]) ** 2
    d_s2 = (pts[:, 0] - s2[0]) ** 2 + (pts[:, 1] - s2[1]) ** 2
    if cv == 0:
        frac = np.zeros(len(pts))
    else:
        frac = (cw.astype(np.float32) / np.float32(cv)).astype(np.float64)
    proj_x = s1[0] + frac * v[0]
    proj_y = s1[1] + frac * v[1]
    d_proj = (pts[:, 0] - proj_x) ** 2 + (pts[:, 1] - proj_y) ** 2
    return np.where(cw <= 0, d_s1, np.where(cv <= cw, d_s2, d_proj))


def _douglas_peucker(pts: np.ndarray, tol: float) -> np.ndarray:
    """psimpl's ``simplify_douglas_peucker``: radial-distance pre-pass, then Douglas-Peucker.

    ``pts`` is (n, 2) float64; the first and last points are always kept.  Among equally distant
    candidates the later point becomes the key (psimpl's ``>=``).
    """
    n = len(pts)
    if n < 3 or tol == 0:
        return pts
    tol2 = tol * tol
    keep = [0]
    cx, cy = pts[0]
    for i in range(1, n - 1):
        dx = pts[i, 0] - cx
        dy = pts[i, 1] - cy
        if dx * dx + dy * dy < tol2:
            continue
        cx, cy = pts[i]
        keep.append(i)
    keep.append(n - 1)
    red = pts[keep]
    m = len(red)
    keys = np.zeros(m, dtype=bool)
    keys[0] = keys[-1] = True
    stack = [(0, m - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        d2 = _segment_distance2(red[first], red[last], red[first + 1 : last])
        k = len(d2) - 1 - int(np.argmax(d2[::-1]))
        if tol2 < d2[k]:
            key = first + 1 + k
            keys[key] = True
            stack.append((key, last))
            stack.append((first, key))
    return red[keys]


def _is_clockwise(poly: np.ndarray) -> bool:
    nxt = np.roll(poly, -1, axis=0)
    total = np.sum((nxt[:, 0] - poly[:, 0]) * (nxt[:, 1] + poly[:, 1]))
    return bool(total > 0)


def mask_contours(mask, tolerance: float = _CONT_TH) -> list:
    """Polygonal contours of a mask, as the official ``tstab.mask2poly(mask, 3).contour_coords``.

    ``mask`` is a (H, W) bool/integer array (nonzero = foreground).  Returns a list of int arrays of shape
    (n, 2) holding (x, y) = (column, row) pixel-corner coordinates of closed polygons (the first vertex is
    repeated at the end): outer boundaries clockwise and holes counter-clockwise (in the C++ sense),
    simplified with tolerance ``tolerance`` half-pixels; polygons with <= 3 vertices are dropped.
    """
    m = _as_mask(mask, "mask")
    if not m.any():
        return []
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    r0, c0 = int(rows[0]), int(cols[0])
    crop = m[r0 : rows[-1] + 1, c0 : cols[-1] + 1]
    pieces, junction_pos = _trace_pieces(crop)
    curves = _group_into_curves(pieces, len(junction_pos))
    off = np.array([2 * r0, 2 * c0], dtype=np.int64)
    out = []
    for orig, edges in curves:
        corners = _edges_to_corners(junction_pos[orig], edges)
        hole = _is_hole(corners, crop)
        poly = (corners + off).astype(np.float64)
        if tolerance > 0:
            if tolerance > 0.1:
                poly = _douglas_peucker(poly, 0.1)
            poly = _douglas_peucker(poly, tolerance)
        if _is_clockwise(poly) == hole:
            poly = poly[::-1]
        ipoly = (poly.astype(np.int64)) // 2
        if len(ipoly) <= 3:
            continue
        out.append(np.ascontiguousarray(ipoly[:, ::-1]))
    return out


def upsample_contour(contour, max_len: float = _CONT_TH_UP) -> np.ndarray:
    """Insert evenly spaced points so that no segment of the polyline is longer than ``max_len``.

    As the official C++ ``contour_upsample``: float32 arithmetic, a segment of length L > max_len is cut
    into ceil(L / max_len) pieces by repeatedly adding the step vector.  Returns float32 (m, 2).
    """
    c = np.asarray(contour, dtype=np.float32)
    th = np.float32(max_len)
    out = [c[:1]]
    for i in range(len(c) - 1):
        d = c[i + 1] - c[i]
        length = np.sqrt(d[0] * d[0] + d[1] * d[1])
        if length > th:
            n_seg = int(np.ceil(np.float32(length) / th))
            step = d / np.float32(n_seg)
            seq = np.empty((n_seg, 2), dtype=np.float32)
            seq[0] = c[i]
            seq[1:] = step
            out.append(np.cumsum(seq, axis=0, dtype=np.float32)[1:])
        out.append(c[i + 1 : i + 2])
    return np.concatenate(out, axis=0)


def shape_context(points) -> np.ndarray:
    """Shape-context histograms of a point set, as the official ``sc_compute`` (no tangents, no outliers).

    ``points`` is (n, 2) (x, y).  Returns int64 (n, 60): for each point, counts of all points (itself
    included) by log-polar bin, index ``r_bin * 12 + theta_bin`` with radii normalised by the mean
    pairwise distance, 5 radial bins between 1/8 and 2, 12 angle bins.
    """
    p = np.asarray(points)
    n = len(p)
    r_array = squareform(pdist(p.astype(np.float64)))
    mean_dist = np.mean(r_array)
    r_n = r_array / mean_dist
    edges = np.logspace(np.log10(_R_INNER), np.log10(_R_OUTER), _NBINS_R)
    r_q = np.zeros((n, n), dtype=np.int64)
    for edge in edges:
        r_q += r_n < edge
    x = p[:, 0].astype(np.float64)
    y = p[:, 1].astype(np.float64)
    theta = np.arctan2(y[None, :] - y[:, None], x[None, :] - x[:, None])
    theta2 = np.fmod(np.fmod(theta, 2 * np.pi) + 2 * np.pi, 2 * np.pi)
    theta_q = np.floor(theta2 / (2 * np.pi / _NBINS_THETA)).astype(np.int64)
    nbins = _NBINS_THETA * _NBINS_R
    sel = r_q > 0
    rows = np.nonzero(sel)[0]
    flat = rows * nbins + (r_q[sel] - 1) * _NBINS_THETA + theta_q[sel]
    return np.bincount(flat, minlength=n * nbins).reshape(n, nbins)


def chi2_cost_matrix(h1, h2) -> np.ndarray:
    """Chi-square cost between every pair of histograms (rows of ``h1`` (n1, B) and ``h2`` (n2, B)).

    Each row is normalised to sum 1; cost = 0.5 * sum_k (a_k - b_k)^2 / (a_k + b_k + eps), as the official
    ``hist_cost_2``.  Returns float64 (n1, n2).
    """
    a = h1 / (np.sum(h1, axis=1, keepdims=True) + _EPS)
    b = h2 / (np.sum(h2, axis=1, keepdims=True) + _EPS)
    n1, n2 = len(a), len(b)
    out = np.empty((n1, n2))
    chunk = max(1, 200_000 // max(1, n2 * a.shape[1]))  # small blocks stay in cache
    t2 = b[None, :, :]
    for s in range(0, n1, chunk):
        t1 = a[s : s + chunk, None, :]
        num = t1 - t2
        np.square(num, out=num)
        den = t1 + t2
        den += _EPS
        np.divide(num, den, out=num)
        block = np.sum(num, axis=2)
        block *= 0.5
        out[s : s + chunk] = block
    return out


def _min_cost_path(cost: np.ndarray):
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


def _contour_descriptor(mask):
    """(resampled longest contour, its shape-context histograms), or None when the mask has no contour."""
    conts = mask_contours(mask, _CONT_TH)
    if not conts:
        return None
    longest = conts[0]
    for c in conts[1:]:
        if len(c) > len(longest):
            longest = c
    up = upsample_contour(longest, _CONT_TH_UP)
    return up, shape_context(up)


def _match_descriptors(d1, d2) -> float:
    if d1 is None or d2 is None:
        return float("nan")
    cost = chi2_cost_matrix(d1[1], d2[1])
    n1, n2 = cost.shape
    _, (sx, sy) = _min_cost_path(cost)
    shifted = np.roll(np.roll(cost, -(sy + 1), axis=1), -(sx + 1), axis=0)
    pairs, _ = _min_cost_path(shifted)
    pairs[:, 0] = np.mod(pairs[:, 0] + sx + 1, n1)
    pairs[:, 1] = np.mod(pairs[:, 1] + sy + 1, n2)
    pairs = _bijective_pairs(pairs, cost)
    return float(np.average(cost[pairs[:, 0], pairs[:, 1]]))


def shape_matching_cost(mask_a, mask_b) -> float:
    """Mean shape-context matching cost between the longest contours of two masks (official
    ``db_eval_t_stab``, without the factor 5).  NaN when either mask has no contour of > 3 vertices."""
    a = _as_mask(mask_a, "mask_a")
    b = _as_mask(mask_b, "mask_b")
    return _match_descriptors(_contour_descriptor(a), _contour_descriptor(b))


def t_stability(mask_t, mask_t1) -> float:
    """Per-frame-pair temporal (in)stability T = 5 x :func:`shape_matching_cost` (NaN if a mask is empty).

    ``mask_t`` and ``mask_t1`` are the (H, W) result masks of two consecutive frames.
    """
    return T_SCALE * shape_matching_cost(mask_t, mask_t1)


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------
def _nanmean(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or np.all(np.isnan(x)):
        return float("nan")
    return float(np.nanmean(x))


def recall(values, threshold: float = 0.5) -> float:
    """Fraction of the per-frame ``values`` strictly above ``threshold`` (NaN counts as not above)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    return float(np.mean(x > threshold))


def decay(values, n_bins: int = 4) -> float:
    """Mean of the first of ``n_bins`` temporal bins minus the mean of the last (official bins).

    Bin edges ``ids = round(linspace(1, n, n_bins + 1) + 1e-10) - 1``; bin i is ``values[ids[i]:ids[i+1]+1]``
    (edges shared by neighbouring bins).  NaN values are ignored inside a bin.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    ids = (np.round(np.linspace(1, len(x), n_bins + 1) + 1e-10) - 1).astype(np.int64)
    bins = [x[ids[i] : ids[i + 1] + 1] for i in range(n_bins)]
    return _nanmean(bins[0]) - _nanmean(bins[-1])


def sequence_statistics(values) -> dict:
    """{'mean', 'recall', 'decay'} of the per-frame values of frames 1..N-2 of one sequence."""
    return {"mean": _nanmean(values), "recall": recall(values), "decay": decay(values)}


# --------------------------------------------------------------------------------------------------
# Sequences and results folders
# --------------------------------------------------------------------------------------------------
def evaluate_sequence(gt_masks: Sequence, result_masks: Sequence, compute_t: bool = True) -> dict:
    """Evaluate one sequence given all its masks in memory.

    ``gt_masks`` holds the N ground-truth masks of the sequence (frames 0..N-1, (H, W) arrays);
    ``result_masks`` holds either N result masks aligned with them or the N-2 result masks of frames
    1..N-2 only.  Returns ``{'J': {'frames', 'mean', 'recall', 'decay'}, 'F': {...}, 'T': {'frames',
    'mean'}}`` where 'frames' are per-frame numpy arrays over frames 1..N-2 (T has one value per pair of
    consecutive evaluated frames; T is None when ``compute_t`` is false).
    """
    n = len(gt_masks)
    if n < 3:
        raise ValueError(
            f"a sequence needs at least 3 ground-truth frames (the first and last are not evaluated), got {n}"
        )
    if len(result_masks) == n:
        res = list(result_masks)[1:-1]
    elif len(result_masks) == n - 2:
        res = list(result_masks)
    else:
        raise ValueError(
            f"expected {n} result masks (all frames) or {n - 2} (frames 1..{n - 2}), got {len(result_masks)}"
        )
    gts = list(gt_masks)[1:-1]
    return _evaluate_frames(gts, res, compute_t)


def _evaluate_frames(gts, res, compute_t, names=None) -> dict:
    j = np.empty(len(gts))
    f = np.empty(len(gts))
    masks = []
    for i, (g, r) in enumerate(zip(gts, res)):
        g = _as_mask(g, "ground truth")
        r = _as_mask(r, "result")
        what = "result and ground truth" if names is None else names[i]
        _check_same_shape(r, g, what)
        j[i] = jaccard(r, g)
        f[i] = f_measure(r, g)
        masks.append(r)
    out = {
        "J": dict(frames=j, **sequence_statistics(j)),
        "F": dict(frames=f, **sequence_statistics(f)),
        "T": None,
    }
    if compute_t:
        descs = [_contour_descriptor(m) for m in masks]
        t = np.array([T_SCALE * _match_descriptors(a, b) for a, b in zip(descs[:-1], descs[1:])])
        out["T"] = {"frames": t, "mean": _nanmean(t)}
    return out


def _eval_one(davis_root: str, results_dir: str, seq: str, frames: list, compute_t: bool):
    droot = Path(davis_root)
    rdir = Path(results_dir) / seq
    gdir = droot / "Annotations" / "480p" / seq
    evald = frames[1:-1]
    gts = [read_mask(gdir / f"{fr}{_MASK_EXT}") for fr in evald]
    res = [read_mask(rdir / f"{fr}{_MASK_EXT}") for fr in evald]
    names = [f"result {rdir / (fr + _MASK_EXT)} and ground truth {gdir / (fr + _MASK_EXT)}" for fr in evald]
    out = _evaluate_frames(gts, res, compute_t, names)
    return seq, out


def _list_sequences(results_dir: Path) -> list:
    subdirs = sorted(p.name for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs:
        return subdirs
    pngs = [p for p in results_dir.iterdir() if p.suffix.lower() == _MASK_EXT]
    if pngs:
        raise ValueError(_layout_message(results_dir, pngs))
    raise ValueError(
        f"no sequence folders in results folder {results_dir}: expected {results_dir}/<sequence>/"
        f"<frame>.png (e.g. {results_dir}/blackswan/00001.png)"
    )


def _layout_message(results_dir: Path, pngs) -> str:
    example = sorted(p.name for p in pngs)[0]
    return (
        f"wrong results layout: found {len(pngs)} PNG files directly in {results_dir} (e.g. {example}) "
        f"but no sequence subfolders; expected {results_dir}/<sequence>/<frame>.png, e.g. "
        f"{results_dir}/blackswan/00001.png -- move each sequence's masks into a folder named after it"
    )


def _json_float(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _mp_context():
    # fork is cheap but unsafe once TensorFlow (threads) is loaded in this process.
    if sys.platform.startswith("linux") and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _check_inputs(davis_root, results_dir, sequences, workers):
    """Validate the arguments shared by the results-folder evaluations; return (davis_root, results_dir,
    sequence names, workers).  Checks only what is cheap (folders, sequence list, worker count)."""
    davis_root = Path(davis_root)
    results_dir = Path(results_dir)
    ann = davis_root / "Annotations" / "480p"
    if not ann.is_dir():
        raise FileNotFoundError(
            f"DAVIS ground truth not found: expected {ann} under the DAVIS root {davis_root}; pass the "
            f"DAVIS-2016 folder (the one holding Annotations/ and db_info.yaml) as davis_root / --davis "
            f"or set OSVOS_DAVIS_ROOT"
        )
    if not results_dir.is_dir():
        raise FileNotFoundError(
            f"results folder not found: {results_dir} (expected a folder {results_dir}/<sequence>/<frame>.png)"
        )
    if sequences is None:
        seqs = _list_sequences(results_dir)
    else:
        seqs = [s for s in sequences]
        if not seqs:
            raise ValueError("empty list of sequences: give at least one sequence name or None for all")
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return davis_root, results_dir, seqs, workers


def _result_frames(davis_root: Path, results_dir: Path, seqs: list) -> dict:
    """{sequence: ground-truth frame names} after checking that every evaluated result frame (1..N-2)
    exists; raises FileNotFoundError / ValueError with the layout advice otherwise."""
    frames_of = {}
    for s in seqs:
        rdir = results_dir / s
        if not rdir.is_dir():
            pngs = [p for p in results_dir.iterdir() if p.suffix.lower() == _MASK_EXT]
            if pngs:
                raise ValueError(_layout_message(results_dir, pngs))
            raise FileNotFoundError(
                f"missing sequence folder: expected {rdir} with the result masks of sequence {s!r} "
                f"(one <frame>.png per ground-truth frame, e.g. {rdir}/00001.png); run the method on "
                f"{s!r} or leave it out of the sequence list"
            )
        frames = annotated_frame_names(davis_root, s)
        missing = [fr for fr in frames[1:-1] if not (rdir / f"{fr}{_MASK_EXT}").is_file()]
        if missing:
            shown = ", ".join(f"{m}{_MASK_EXT}" for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise FileNotFoundError(
                f"missing result frames in {rdir}: {len(missing)} of the {len(frames) - 2} evaluated "
                f"frames ({frames[1]}..{frames[-2]}) are absent: {shown}; write one mask per ground-truth "
                f"frame with the same file name"
            )
        frames_of[s] = frames
    return frames_of


def _run_jobs(fn, jobs: list, workers: int, report) -> None:
    """Call ``report(*fn(*job))`` for every job, in this process (``workers == 1`` or a single job) or in
    a pool of ``workers`` processes (results reported in completion order).  ``fn`` must be a
    module-level function so that it pickles."""
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            report(*fn(*job))
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=_mp_context()) as ex:
        futures = [ex.submit(fn, *job) for job in jobs]
        try:
            for fut in concurrent.futures.as_completed(futures):
                report(*fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def evaluate_results(
    davis_root,
    results_dir,
    sequences: Iterable[str] | None = None,
    compute_t: bool = True,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """Evaluate a results folder ``results_dir/<sequence>/<frame>.png`` against DAVIS-2016 480p.

    ``davis_root`` holds ``Annotations/480p/<sequence>/`` and ``db_info.yaml``.  ``sequences`` defaults
    to every sequence folder in ``results_dir``.  Sequences run in ``workers`` processes (1 = in this
    process); progress goes to stderr when ``progress``.  T is computed only when ``compute_t`` and only
    for sequences with ``eval_t: true`` in ``db_info.yaml``.

    Returns (all numbers are floats in the units of the official code, fractions in [0, 1])::

        {"sequences": {seq: {"J": {"mean", "recall", "decay"}, "F": {...}, "T": {"mean": x or None}}},
         "overall":   {"J": {"mean", "recall", "decay"}, "F": {...}, "T": {"mean": x or None}}}

    Overall values are means over the sequences (T over the sequences that have one).  Raises
    FileNotFoundError for a missing folder or frame, ValueError for a wrong layout or a size mismatch.
    """
    davis_root, results_dir, seqs, workers = _check_inputs(davis_root, results_dir, sequences, workers)

    # Validate everything cheap before doing any work, so errors come at once and clearly.
    eval_t = {}
    if compute_t:
        db_info = load_db_info(davis_root)
        for s in seqs:
            if s not in db_info:
                raise ValueError(
                    f"sequence {s!r} is not in {davis_root / 'db_info.yaml'}, which says whether T counts "
                    f"for it; evaluate it without T (compute_t=False / --no-t) or use a DAVIS root whose "
                    f"db_info.yaml lists it"
                )
            eval_t[s] = bool(db_info[s].get("eval_t", False))
    frames_of = _result_frames(davis_root, results_dir, seqs)

    jobs = [(str(davis_root), str(results_dir), s, frames_of[s], compute_t and eval_t.get(s, False)) for s in seqs]
    per_seq = {}

    def report(seq, out):
        per_seq[seq] = out
        if progress:
            t = out["T"]
            t_txt = f" T {t['mean']:.3f}" if t is not None and not math.isnan(t["mean"]) else ""
            print(
                f"[eval] {len(per_seq)}/{len(jobs)} {seq}: J {out['J']['mean']:.3f} F {out['F']['mean']:.3f}{t_txt}",
                file=sys.stderr,
                flush=True,
            )

    _run_jobs(_eval_one, jobs, workers, report)

    result = {"sequences": {}, "overall": {}}
    for s in seqs:
        out = per_seq[s]
        t = out["T"]
        result["sequences"][s] = {
            "J": {k: _json_float(out["J"][k]) for k in ("mean", "recall", "decay")},
            "F": {k: _json_float(out["F"][k]) for k in ("mean", "recall", "decay")},
            "T": {"mean": None if t is None else _json_float(t["mean"])},
        }
    for m in ("J", "F"):
        result["overall"][m] = {
            k: _json_float(_nanmean([result["sequences"][s][m][k] for s in seqs])) for k in ("mean", "recall", "decay")
        }
    t_vals = [result["sequences"][s]["T"]["mean"] for s in seqs]
    t_vals = [v for v in t_vals if v is not None]
    result["overall"]["T"] = {"mean": _json_float(np.mean(t_vals)) if t_vals else None}
    return result


def format_table(results: dict) -> str:
    """Text table of :func:`evaluate_results` output: one row per sequence and an 'Overall' row."""
    cols = [
        ("J", "mean"),
        ("J", "recall"),
        ("J", "decay"),
        ("F", "mean"),
        ("F", "recall"),
        ("F", "decay"),
        ("T", "mean"),
    ]
    heads = ["J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay", "T-Mean"]
    names = list(results["sequences"]) + ["Overall"]
    w = max(8, max(len(n) for n in names))

    def fmt(v):
        return f"{'-':>8}" if v is None else f"{v:8.3f}"

    lines = [f"{'Sequence':<{w}} " + " ".join(f"{h:>8}" for h in heads)]
    lines.append("-" * len(lines[0]))
    for s, vals in results["sequences"].items():
        lines.append(f"{s:<{w}} " + " ".join(fmt(vals[m][k]) for m, k in cols))
    lines.append("-" * len(lines[0]))
    ov = results["overall"]
    lines.append(f"{'Overall':<{w}} " + " ".join(fmt(ov[m][k]) for m, k in cols))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Error split (OSVOS paper, Figure 5)
# --------------------------------------------------------------------------------------------------
ERROR_NEAR_PX = 20.0
"""Default distance (pixels) up to which a false positive counts as "near" the object (OSVOS Fig. 5)."""

_SPLIT_KEYS = ("fp_near", "fp_far", "fn")


def _check_near_px(near_px) -> float:
    try:
        value = float(near_px)
    except (TypeError, ValueError):
        raise ValueError(f"near_px: expected a number of pixels >= 0, received {near_px!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"near_px: expected a finite number of pixels >= 0, received {near_px!r}")
    return value


def _split_counts(m: np.ndarray, g: np.ndarray, near_px: float) -> tuple:
    """(fp_near, fp_far, fn, union) pixel counts of bool masks ``m`` (result) and ``g`` (ground truth) of
    the same shape; no input checks."""
    fp = m & ~g
    n_fp = int(np.count_nonzero(fp))
    fn = int(np.count_nonzero(g & ~m))
    union = int(np.count_nonzero(m | g))
    rows = np.flatnonzero(np.any(g, axis=1))
    if n_fp == 0 or rows.size == 0:  # no false positive, or no object to be near: every FP is far
        return 0, n_fp, fn, union
    # Every ground-truth pixel lies in its bounding box, so the distance transform of a crop that holds
    # the box grown by near_px gives exact distances there; FPs outside that crop are farther than near_px.
    cols = np.flatnonzero(np.any(g, axis=0))
    pad = int(math.ceil(near_px))
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, g.shape[0])
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, g.shape[1])
    dist = ndimage.distance_transform_edt(~g[r0:r1, c0:c1])
    near = int(np.count_nonzero(fp[r0:r1, c0:c1] & (dist <= near_px)))
    return near, n_fp - near, fn, union


def error_split(mask, gt, near_px: float = ERROR_NEAR_PX) -> dict:
    """Split the errors of one frame as in Figure 5 of the OSVOS paper (Caelles et al., CVPR 2017).

    ``mask`` (the result) and ``gt`` (the ground truth) are 2-D arrays of the same shape ``(H, W)``,
    dtype ``bool`` (integer arrays are accepted too: nonzero = foreground).  Returns pixel counts (Python
    ``int``)::

        {"fp_near": false-positive pixels (mask & ~gt) at Euclidean distance <= near_px from the nearest
                    ground-truth foreground pixel -- errors at the object's border,
         "fp_far":  false-positive pixels farther than near_px -- spurious detections away from the
                    object; every false positive is far when gt is empty,
         "fn":      false-negative pixels (gt & ~mask) -- missed object,
         "union":   |mask | gt|}

    so that ``(fp_near + fp_far + fn) / union == 1 - J`` when the union is not empty.  The paper's
    Figure 5 uses near_px = 20.  Distances are pixel-centre distances from
    ``scipy.ndimage.distance_transform_edt(~gt)``.  Raises ValueError for a non-2-D input, different
    shapes, or a negative / non-finite ``near_px``.
    """
    m = np.asarray(mask)
    g = np.asarray(gt)
    for name, arr in (("mask", m), ("gt", g)):
        if arr.ndim != 2:
            raise ValueError(f"error_split: {name} expected a 2-D (H, W) array, received shape {arr.shape}")
    if m.shape != g.shape:
        raise ValueError(
            f"error_split: size mismatch, expected mask of the ground truth's shape (H, W) = {g.shape}, "
            f"received mask of shape {m.shape}"
        )
    near_px = _check_near_px(near_px)
    fp_near, fp_far, fn, union = _split_counts(m != 0, g != 0, near_px)
    return {"fp_near": fp_near, "fp_far": fp_far, "fn": fn, "union": union}


def _split_fractions(counts: np.ndarray) -> np.ndarray:
    """(n, 4) per-frame counts [fp_near, fp_far, fn, union] -> (n, 3) fractions of the union (0 for a
    frame whose union is empty)."""
    counts = np.asarray(counts, dtype=np.float64).reshape(-1, 4)
    union = counts[:, 3:4]
    out = np.zeros((counts.shape[0], 3))
    np.divide(counts[:, :3], union, out=out, where=union > 0)
    return out


def _error_split_one(davis_root: str, results_dir: str, seq: str, frames: list, near_px: float):
    rdir = Path(results_dir) / seq
    gdir = Path(davis_root) / "Annotations" / "480p" / seq
    evald = frames[1:-1]
    counts = np.zeros((len(evald), 4), dtype=np.int64)
    for i, fr in enumerate(evald):
        name = fr + _MASK_EXT
        g = read_mask(gdir / name)
        r = read_mask(rdir / name)
        _check_same_shape(r, g, f"result {rdir / name} and ground truth {gdir / name}")
        counts[i] = _split_counts(r, g, near_px)
    return seq, counts


def error_split_results(
    davis_root,
    results_dir,
    sequences: Iterable[str] | None = None,
    near_px: float = ERROR_NEAR_PX,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """Error split of OSVOS Figure 5 for a results folder ``results_dir/<sequence>/<frame>.png``.

    Same inputs, sequence discovery, frame selection (frames 1..N-2) and error messages as
    :func:`evaluate_results` (``db_info.yaml`` is not needed).  For every evaluated frame,
    :func:`error_split` counts false positives within ``near_px`` pixels of the ground-truth object
    ("fp_near"), false positives farther away ("fp_far") and false negatives ("fn"), each expressed as a
    fraction of that frame's union |result | gt|, so ``fp_near + fp_far + fn == 1 - J`` of the frame (a
    frame with an empty union, where J = 1, contributes 0 to all three).  A sequence's values are the
    means over its frames and the overall values the means over sequences, as DAVIS averages J; hence
    ``overall fp_near + fp_far + fn == 1 - overall J-Mean`` of :func:`evaluate_results`.

    Returns (fractions are floats in [0, 1], counts are ints)::

        {"near_px": float,
         "sequences": {seq: {"fp_near": x, "fp_far": y, "fn": z, "frames": n evaluated frames}},
         "overall":   {"fp_near": x, "fp_far": y, "fn": z, "frames": total evaluated frames},
         "pixels":    {"fp_near": N, "fp_far": N, "fn": N, "union": N}}  # totals over all frames

    Raises FileNotFoundError for a missing folder or frame, ValueError for a wrong layout, a size
    mismatch, or a negative ``near_px``.
    """
    near_px = _check_near_px(near_px)
    davis_root, results_dir, seqs, workers = _check_inputs(davis_root, results_dir, sequences, workers)
    frames_of = _result_frames(davis_root, results_dir, seqs)
    jobs = [(str(davis_root), str(results_dir), s, frames_of[s], near_px) for s in seqs]
    per_seq = {}

    def report(seq, counts):
        per_seq[seq] = counts
        if progress:
            fr = _split_fractions(counts).mean(axis=0)
            print(
                f"[errors] {len(per_seq)}/{len(jobs)} {seq}: FP-near {fr[0]:.3f} FP-far {fr[1]:.3f} FN {fr[2]:.3f}",
                file=sys.stderr,
                flush=True,
            )

    _run_jobs(_error_split_one, jobs, workers, report)

    result = {"near_px": near_px, "sequences": {}, "overall": {}, "pixels": {}}
    for s in seqs:
        means = _split_fractions(per_seq[s]).mean(axis=0)
        result["sequences"][s] = {k: float(v) for k, v in zip(_SPLIT_KEYS, means)}
        result["sequences"][s]["frames"] = int(len(per_seq[s]))
    result["overall"] = {k: float(np.mean([result["sequences"][s][k] for s in seqs])) for k in _SPLIT_KEYS}
    result["overall"]["frames"] = int(sum(len(per_seq[s]) for s in seqs))
    totals = np.sum([per_seq[s].sum(axis=0) for s in seqs], axis=0)
    result["pixels"] = {k: int(v) for k, v in zip(_SPLIT_KEYS + ("union",), totals)}
    return result


def format_error_table(split: dict) -> str:
    """Text table of :func:`error_split_results` output: one row per sequence and an 'Overall' row with
    the FP-near / FP-far / FN fractions of the union, their sum (= 1 - J) and the number of frames."""
    heads = ["FP-near", "FP-far", "FN", "1-J", "Frames"]
    names = list(split["sequences"]) + ["Overall"]
    w = max(8, max(len(n) for n in names))

    def row(name, vals):
        nums = [vals[k] for k in _SPLIT_KEYS]
        return f"{name:<{w}} " + " ".join(f"{v:8.3f}" for v in nums + [sum(nums)]) + f" {vals['frames']:>8d}"

    lines = [f"{'Sequence':<{w}} " + " ".join(f"{h:>8}" for h in heads)]
    lines.append("-" * len(lines[0]))
    for s, vals in split["sequences"].items():
        lines.append(row(s, vals))
    lines.append("-" * len(lines[0]))
    lines.append(row("Overall", split["overall"]))
    lines.append(
        f"(fractions of |result | gt| per frame; FP-near = false positives within "
        f"{split['near_px']:g} px of the object, FP-far = farther, FN = false negatives)"
    )
    return "\n".join(lines)


def evaluate_and_report(
    davis_root,
    results_dir,
    sequences: Iterable[str] | None = None,
    compute_t: bool = True,
    workers: int = 2,
    json_path=None,
    stream=None,
    progress: bool = True,
    errors: bool = False,
    near_px: float = ERROR_NEAR_PX,
) -> dict:
    """Run :func:`evaluate_results`, print :func:`format_table` to ``stream`` (stdout) and, when
    ``json_path`` is given, write the results dict there as JSON (null for a missing T).

    With ``errors``, also run :func:`error_split_results` (``near_px``), print
    :func:`format_error_table` after the J/F/T table and store the split under the key
    ``"error_split"`` of the returned (and written) dict.
    """
    stream = sys.stdout if stream is None else stream
    if errors:
        near_px = _check_near_px(near_px)  # fail before the (long) J/F/T evaluation
    results = evaluate_results(
        davis_root, results_dir, sequences=sequences, compute_t=compute_t, workers=workers, progress=progress
    )
    print(format_table(results), file=stream)
    if errors:
        results["error_split"] = error_split_results(
            davis_root, results_dir, sequences=sequences, near_px=near_px, workers=workers, progress=progress
        )
        print("", file=stream)
        print(format_error_table(results["error_split"]), file=stream)
    if json_path is not None:
        json_path = Path(json_path)
        if json_path.parent and not json_path.parent.exists():
            json_path.parent.mkdir(parents=True, exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return results
