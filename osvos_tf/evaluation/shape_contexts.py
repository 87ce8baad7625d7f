"""Shape-context descriptors of contour points and their chi-square matching costs (the official
``sc_compute`` and ``hist_cost_2`` of the T measure): 12 angle x 5 log-radius bins, radii 1/8..2 of the
mean pairwise distance, no tangents, no outliers."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial.distance import pdist, squareform

_R_INNER = 1.0 / 8.0
_R_OUTER = 2.0
_NBINS_R = 5
_NBINS_THETA = 12
_EPS = 2.2204e-16  # the constant the official hist_cost_2 uses


def shape_context(points: ArrayLike) -> np.ndarray:
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


def chi2_cost_matrix(h1: ArrayLike, h2: ArrayLike) -> np.ndarray:
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
