"""Polygonal contours of a mask, as the C++ ``mask2polycont`` of the official T measure (re-implemented).

The closed pixel-edge curves of :mod:`osvos_tf.evaluation.tracing` are simplified with psimpl's
Douglas-Peucker (its radial-distance pre-pass at tolerance 0.1, then the given tolerance, in half-pixel
units) and oriented: outer contours clockwise, holes counter-clockwise; contours of <= 3 vertices are
dropped.  :func:`upsample_contour` resamples a contour so that no segment is longer than 3 px (float32, as
the C++ code).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from osvos_tf.evaluation.tracing import closed_curves
from osvos_tf.evaluation.validation import as_mask

CONTOUR_TOLERANCE = 3.0
"""Polygon simplification tolerance of T, in the half-pixel grid of the contour tracer (official ``3``)."""

MAX_SEGMENT_PX = 3.0
"""Longest segment of a contour after :func:`upsample_contour`, in pixels (official ``cont_th_up``)."""


def _segment_distance2(s1: np.ndarray, s2: np.ndarray, pts: np.ndarray) -> np.ndarray:
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


def mask_contours(mask: ArrayLike, tolerance: float = CONTOUR_TOLERANCE) -> list[np.ndarray]:
    """Polygonal contours of a mask, as the official ``tstab.mask2poly(mask, 3).contour_coords``.

    ``mask`` is a (H, W) bool/integer array (nonzero = foreground).  Returns a list of int arrays of shape
    (n, 2) holding (x, y) = (column, row) pixel-corner coordinates of closed polygons (the first vertex is
    repeated at the end): outer boundaries clockwise and holes counter-clockwise (in the C++ sense),
    simplified with tolerance ``tolerance`` half-pixels; polygons with <= 3 vertices are dropped.
    """
    m = as_mask(mask, "mask")
    if not m.any():
        return []
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    r0, c0 = int(rows[0]), int(cols[0])
    crop = m[r0 : rows[-1] + 1, c0 : cols[-1] + 1]
    off = np.array([2 * r0, 2 * c0], dtype=np.int64)
    out = []
    for corners, hole in closed_curves(crop):
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


def upsample_contour(contour: ArrayLike, max_len: float = MAX_SEGMENT_PX) -> np.ndarray:
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
