"""Boundary snapping of a segmentation: contour snapping (OSVOS's "Ours") and the fast bilateral solver.

Contour snapping (Caelles et al., CVPR 2017, section 3.3)
---------------------------------------------------------
The original computes an ultrametric contour map (UCM) from the contour network's output, thresholds it at
0.29 and takes the 4-connected regions as superpixels; each superpixel is then foreground iff more than
half of its pixels are foreground in the network's mask. :func:`superpixels` approximates the UCM regions
quickly and faithfully:

1. a watershed of the contour map (``skimage.segmentation.watershed``, 4-connectivity, from the local
   minima), computed on the map quantised to 256 levels (the original UCM code takes an 8-bit contour map
   too; the quantisation removes about a third of the minima, which are noise-level), gives the finest
   partition, with no boundary pixels;
2. adjacent regions are then merged greedily, always the pair with the weakest boundary first, where the
   strength of a boundary is the mean contour probability along it (every 4-adjacent pixel pair across the
   boundary contributes the larger of its two probabilities; boundaries of merged regions add up, so the
   strength of a merged boundary is the length-weighted mean). Merging stops when the weakest boundary
   is >= ``threshold``. This is exactly the UCM's construction (Arbelaez et al., PAMI 2011: regions of the
   oriented watershed merged by mean boundary strength), and thresholding a UCM at t keeps exactly the
   boundaries whose merge level is >= t. What differs from the original: no oriented watershed (the
   contour is not split into orientations), and the watershed runs on the raw probabilities (no
   non-maximum suppression, so the ridges are a few pixels thick).

The merging is exact greedy merging with a binary heap and lazy deletion over a region adjacency graph
whose boundary sums and lengths are gathered with numpy; a region absorbed into another hands its
adjacency over (smaller into larger). It is tested against a brute-force re-computation. Optionally
(``min_size``, off by default), regions of fewer pixels are then merged across their weakest boundary: a
watershed of a thick, unthinned contour map leaves tiny basins on the ridges that the original's thinned
contours do not produce; they only keep their own mask values in the vote.

Timing (854x480, 2-core CPU shared with a training job): watershed + merging + voting 120-230 ms (median
over DAVIS frames), on top of the contour network's forward pass (about 3.7 s on this CPU).

Fast bilateral solver (Barron & Poole, ECCV 2016)
-------------------------------------------------
:func:`bilateral_solve` is a numpy / scipy re-implementation of OpenCV's
``cv2.ximgproc.fastBilateralSolverFilter`` (opencv_contrib ``fbs_filter.cpp``) that reproduces its outputs
(tested to 1e-4 against fixtures made with OpenCV 4.6):

* grid: each pixel's vertex is ``(int(x / s_spatial), int(y / s_spatial), int(Y / s_luma),
  int(Cr / s_chroma), int(Cb / s_chroma))`` with (Y, Cr, Cb) OpenCV's 8-bit fixed-point RGB -> YCrCb
  conversion; vertices are identified by OpenCV's hash ``sum_i coord_i * 255**i`` (so coordinates >= 255,
  which only occur for frames over 255 * s_spatial pixels wide or tall or for colour sigmas <= 1, alias
  across axes the way OpenCV's do; a fixture checks it);
* splat / slice: the 0/1 pixel-to-vertex matrix S (a hard assignment, no multilinear interpolation);
* blur: B = 10 I + the adjacency of vertices whose hashes differ by +-255**i (the 10 grid neighbours);
* bistochastisation: n = 1, then ten times n <- sqrt(n * m / (B n)) with m = S 1; then m <- n * (B n);
* problem: A = lam (diag(m) - diag(n) B diag(n)) + diag(S c), b = S (c * t), with t the target, c the
  confidence; initial guess: the per-vertex mean of t;
* Jacobi-preconditioned conjugate gradient (Eigen's algorithm: stop when |r|^2 < tol^2 |b|^2 or after
  ``iterations`` iterations); the output is the solution sliced back to the pixels.

We compute in float64, OpenCV in float32: the difference is within float32 rounding amplified by the CG
(at most 3e-5 on the fixtures). Timing: 70-130 ms per 854x480 frame (median, shared 2-core CPU).
Note that OpenCV's blur (10 on the centre, 1 on each of the 10 neighbours) is not the paper's [1 2 1]
stencil; we follow OpenCV, the reference we test against.

:func:`snap_bilateral` solves with the foreground probability p as the target and ``|2p - 1|`` as the
confidence (certain pixels anchor the solution, pixels near 0.5 take the value of the pixels of their colour
nearby), then thresholds at 0.5. Its default parameters (:data:`CALIBRATED_BILATERAL`: lam 512,
sigma_spatial 16, luma and chroma 8) were calibrated on the DAVIS train sequences; :class:`BilateralParams`
keeps OpenCV's defaults, so that :func:`bilateral_solve` equals OpenCV's filter out of the box.
"""

from __future__ import annotations

import heapq
import time

import numpy as np
from scipy import sparse

from osvos_tf.config import CALIBRATED_UCM_THRESHOLD, SNAP_MODES, UCM_THRESHOLD, BilateralParams, ContourSnapParams  # noqa: F401  (re-exported: public names of this module)

# --------------------------------------------------------------------------------------------------------
# Contour snapping
# --------------------------------------------------------------------------------------------------------


def _as_contour_map(contour_probs) -> np.ndarray:
    c = np.asarray(contour_probs)
    if c.ndim == 3 and c.shape[-1] == 1:
        c = c[..., 0]
    if c.ndim != 2:
        raise ValueError(f"A contour map must be (H, W) (or (H, W, 1)); got shape {c.shape}.")
    if c.dtype == np.uint8:
        return c.astype(np.float32) / 255.0
    c = c.astype(np.float32)
    if c.size and (not np.isfinite(c).all() or c.min() < 0 or c.max() > 1):
        raise ValueError("A contour map must hold probabilities in [0, 1] (or uint8 0..255).")
    return c


def _region_adjacency(labels: np.ndarray, contour: np.ndarray, n: int):
    """Boundary edges of a label map: ``(a, b, sum, count)`` with a < b, summing max(c_p, c_q) over the
    4-adjacent pixel pairs (p, q) with labels a and b."""
    pieces_a, pieces_b, pieces_w = [], [], []
    for la, lb, ca, cb in (
        (labels[:, :-1], labels[:, 1:], contour[:, :-1], contour[:, 1:]),
        (labels[:-1, :], labels[1:, :], contour[:-1, :], contour[1:, :]),
    ):
        diff = la != lb
        a, b = la[diff], lb[diff]
        pieces_a.append(np.minimum(a, b))
        pieces_b.append(np.maximum(a, b))
        pieces_w.append(np.maximum(ca[diff], cb[diff]))
    a = np.concatenate(pieces_a).astype(np.int64)
    b = np.concatenate(pieces_b).astype(np.int64)
    w = np.concatenate(pieces_w).astype(np.float64)
    key, inverse = np.unique(a * n + b, return_inverse=True)
    sums = np.bincount(inverse, weights=w, minlength=len(key))
    counts = np.bincount(inverse, minlength=len(key)).astype(np.float64)
    return key // n, key % n, sums, counts


def _greedy_merge(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    threshold: float,
    sizes: np.ndarray | None = None,
    min_size: int = 0,
) -> np.ndarray:
    """Merge regions 0..n-1 along their weakest boundary (mean strength) until it is >= ``threshold``; then
    merge every region smaller than ``min_size`` pixels (``sizes``) into its neighbour across its weakest
    boundary, smallest first.

    Returns:
        int64 (n,): the representative region of each region after merging.
    """
    parent = np.arange(n)
    weights = sums / counts
    below = weights < threshold
    small = min_size > 0 and sizes is not None and bool((sizes < min_size).any())
    if not (below.any() or small):
        return parent
    # adjacency: region -> {neighbour: [sum, count]} (the same list object on both sides)
    nbrs: list[dict | None] = [dict() for _ in range(n)]
    for x, y, s, c in zip(a.tolist(), b.tolist(), sums.tolist(), counts.tolist()):
        entry = [s, c]
        nbrs[x][y] = entry
        nbrs[y][x] = entry
    alive = [True] * n
    size = sizes.tolist() if sizes is not None else [1] * n
    pop, push = heapq.heappop, heapq.heappush
    heap: list = []

    def merge(x: int, y: int) -> int:
        """Merge regions x and y (the one with fewer neighbours is absorbed); returns the survivor."""
        if len(nbrs[x]) < len(nbrs[y]):
            x, y = y, x
        nx = nbrs[x]
        del nx[y]
        for z, ez in nbrs[y].items():
            if z == x:
                continue
            nz = nbrs[z]
            del nz[y]
            exz = nx.get(z)
            if exz is None:
                nx[z] = ez
                nz[x] = ez
                exz = ez
            else:
                exz[0] += ez[0]
                exz[1] += ez[1]
            wz = exz[0] / exz[1]
            if wz < threshold:
                push(heap, (wz, x, z) if x < z else (wz, z, x))
        nbrs[y] = None
        alive[y] = False
        parent[y] = x
        size[x] += size[y]
        return x

    heap.extend(zip(weights[below].tolist(), a[below].tolist(), b[below].tolist()))
    heapq.heapify(heap)
    while heap:
        w, x, y = pop(heap)
        if not (alive[x] and alive[y]):
            continue
        entry = nbrs[x].get(y)
        if entry is None or entry[0] / entry[1] != w:
            continue  # stale: this boundary has changed since
        merge(x, y)
    if small:
        queue = [(size[r], r) for r in range(n) if alive[r] and size[r] < min_size]
        heapq.heapify(queue)
        while queue:
            sz, r = pop(queue)
            if not alive[r] or size[r] != sz or not nbrs[r]:
                continue
            target = min(nbrs[r].items(), key=lambda item: item[1][0] / item[1][1])[0]
            survivor = merge(r, target)
            if size[survivor] < min_size:
                push(queue, (size[survivor], survivor))
    # resolve chains of absorptions to their final representative
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def superpixels(contour_probs, threshold: float = UCM_THRESHOLD, min_size: int = 0) -> np.ndarray:
    """Superpixels aligned to a contour map: the regions of its UCM thresholded at ``threshold``.

    See the module docstring (watershed, then greedy merging by mean boundary strength).

    Args:
        contour_probs: (H, W) contour probability in [0, 1] (float) or 0..255 (uint8).
        threshold: boundaries whose mean strength is below it are removed (the original: 0.29). 0 keeps the
            watershed regions; above 1 merges everything connected into one region.
        min_size: then merge regions of fewer pixels into the neighbour across their weakest boundary
            (default 0: off, the plain UCM). A watershed of a thick (not non-maximum-suppressed) contour map
            has tiny basins along the ridges, where the original's thinned contours have none; a few pixels
            (e.g. 8) removes them.

    Returns:
        int32 (H, W) label map, labels 0..K-1 (every pixel belongs to a region; regions are 4-connected).
    """
    from skimage.segmentation import watershed

    contour = _as_contour_map(contour_probs)
    if contour.size == 0:
        return np.zeros(contour.shape, np.int32)
    quantised = np.round(contour * 255.0).astype(np.uint8)
    labels = watershed(quantised, connectivity=1).astype(np.int32)
    if labels.max() <= 1:  # a single basin (a constant map has no minimum at all: every label is 0)
        return np.zeros(contour.shape, np.int32)
    labels -= 1
    n = int(labels.max()) + 1
    a, b, sums, counts = _region_adjacency(labels, contour, n)
    sizes = np.bincount(labels.ravel(), minlength=n) if min_size > 0 else None
    root = _greedy_merge(n, a, b, sums, counts, float(threshold), sizes, int(min_size))
    _, compact = np.unique(root, return_inverse=True)  # representatives -> 0..K-1
    return compact.astype(np.int32)[labels]


def _as_mask(mask_or_probs, threshold: float = 0.5) -> np.ndarray:
    m = np.asarray(mask_or_probs)
    if m.ndim == 3 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"A mask must be (H, W); got shape {m.shape}.")
    if m.dtype == bool:
        return m
    if np.issubdtype(m.dtype, np.floating):
        return m > threshold
    if np.issubdtype(m.dtype, np.integer):
        return m > (127 if m.max(initial=0) > 1 else 0)
    raise ValueError(f"A mask must be bool, integer or float probabilities; got {m.dtype}.")


def majority_vote(labels, mask) -> np.ndarray:
    """Each region becomes foreground iff strictly more than half of its pixels are foreground in ``mask``.

    Args:
        labels: int (H, W) region labels >= 0 (e.g. from :func:`superpixels`).
        mask: bool (H, W) (float probabilities are thresholded at > 0.5).

    Returns:
        bool (H, W). A region exactly half foreground becomes background.
    """
    labels = np.asarray(labels)
    mask = _as_mask(mask)
    if labels.shape != mask.shape:
        raise ValueError(f"labels {labels.shape} and mask {mask.shape} differ in shape.")
    if labels.size == 0:
        return np.zeros(labels.shape, bool)
    if labels.min() < 0:
        raise ValueError("labels must be >= 0.")
    flat = labels.ravel()
    fg = np.bincount(flat, weights=mask.ravel(), minlength=int(flat.max()) + 1)
    total = np.bincount(flat, minlength=len(fg))
    return (2 * fg > total)[labels]


def snap_to_contours(
    mask_or_probs, contour_probs, threshold: float = UCM_THRESHOLD, min_size: int = 0, mask_threshold: float = 0.5
) -> np.ndarray:
    """OSVOS contour snapping: majority vote of the mask over the superpixels of the contour map.

    Args:
        mask_or_probs: bool mask or float foreground probabilities (H, W) (foreground where > mask_threshold).
        contour_probs: (H, W) contour probability of the same frame (e.g.
            :func:`osvos_tf.contours.contour_probs`).
        threshold: UCM threshold of the superpixels (the original: 0.29).
        min_size: see :func:`superpixels` (0: off).
        mask_threshold: probabilities are foreground where > mask_threshold.

    Returns:
        bool (H, W) snapped mask.
    """
    mask = _as_mask(mask_or_probs, mask_threshold)
    contour = _as_contour_map(contour_probs)
    if mask.shape != contour.shape:
        raise ValueError(f"mask {mask.shape} and contour map {contour.shape} differ in shape.")
    return majority_vote(superpixels(contour, threshold, min_size), mask)


# --------------------------------------------------------------------------------------------------------
# Fast bilateral solver
# --------------------------------------------------------------------------------------------------------


def _ycrcb_planes(frame_rgb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = np.asarray(frame_rgb)
    r, g, b = (f[..., i].astype(np.int32) for i in range(3))
    shift, half = 14, 1 << 13
    y = (b * 1868 + g * 9617 + r * 4899 + half) >> shift  # always within 0..255
    offset = (128 << shift) + half
    cr = np.clip(((r - y) * 11682 + offset) >> shift, 0, 255)
    cb = np.clip(((b - y) * 9241 + offset) >> shift, 0, 255)
    return y, cr, cb


def rgb_to_ycrcb(frame_rgb) -> np.ndarray:
    """OpenCV's 8-bit RGB -> YCrCb (``cv2.cvtColor(bgr, COLOR_BGR2YCrCb)``), bit-exact (checked on all 2^24
    colours against OpenCV 4.6).

    Fixed point with 14 fractional bits: Y = (1868 B + 9617 G + 4899 R) / 2^14, Cr = (R - Y) * 11682 / 2^14
    + 128, Cb = (B - Y) * 9241 / 2^14 + 128, each rounded half up and clipped to 0..255.

    Returns:
        uint8 (H, W, 3): Y, Cr, Cb.
    """
    return np.stack(_ycrcb_planes(frame_rgb), axis=-1).astype(np.uint8)


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for int64, about twice as fast on image-ordered keys (a stable
    sort profits from the runs of equal keys along the rows)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.empty(len(values), bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


class BilateralGrid:
    """The bilateral grid of a frame: splat indices, blur and bistochastisation (OpenCV's construction).

    Build once per frame and :meth:`solve` any number of targets with it.

    Attributes:
        shape: (H, W) of the frame.
        splat_idx: int64 (H*W,) vertex of every pixel (row-major).
        n_vertices: number of occupied grid vertices V.
        adjacency: scipy CSR (V, V), 1 between grid neighbours (the blur is ``10 I + adjacency``).
        counts: pixels per vertex (V,).
        m, n: the bistochastisation vectors (V,).
        last_iterations: CG iterations of the last :meth:`solve` (counted as Eigen / OpenCV report them).
    """

    def __init__(self, frame_rgb, sigma_spatial: float = 8.0, sigma_luma: float = 8.0, sigma_chroma: float = 8.0):
        frame = np.asarray(frame_rgb)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"The bilateral solver needs a uint8 RGB frame (H, W, 3); got {frame.dtype} {frame.shape}."
            )
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"Empty frame {frame.shape}.")
        self.shape = frame.shape[:2]
        self.last_iterations = None
        h, w = self.shape
        y, cr, cb = _ycrcb_planes(frame)
        # int(v / sigma) as OpenCV computes it (double division, truncation; all values are >= 0), and its
        # hash sum_i coord_i * 255**i, applied per axis through lookup tables
        base = [255**i for i in range(5)]
        levels = np.arange(256, dtype=np.float64)
        luma_lut = (levels / float(sigma_luma)).astype(np.int64) * base[2]
        cr_lut = (levels / float(sigma_chroma)).astype(np.int64) * base[3]
        cb_lut = (levels / float(sigma_chroma)).astype(np.int64) * base[4]
        xs = (np.arange(w) / float(sigma_spatial)).astype(np.int64) * base[0]
        ys = (np.arange(h) / float(sigma_spatial)).astype(np.int64) * base[1]
        key = luma_lut[y]
        key += cr_lut[cr]
        key += cb_lut[cb]
        key += xs[None, :]
        key += ys[:, None]
        keys, self.splat_idx = _unique_inverse(key.ravel())
        nv = len(keys)
        self.n_vertices = nv
        # neighbours: vertices whose hashes differ by 255**i (the reverse direction is the transpose)
        rows, cols = [], []
        step = np.nonzero(keys[1:] - keys[:-1] == 1)[0]  # +1: the next key in sorted order, if any
        rows.append(step)
        cols.append(step + 1)
        for offset in base[1:]:
            wanted = keys + offset
            pos = np.minimum(np.searchsorted(keys, wanted), nv - 1)
            hit = np.nonzero(keys[pos] == wanted)[0]
            rows.append(hit)
            cols.append(pos[hit])
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        self.adjacency = sparse.csr_matrix(
            (np.ones(2 * len(r)), (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(nv, nv)
        )
        self.counts = np.bincount(self.splat_idx, minlength=nv).astype(np.float64)
        n = np.ones(nv)
        for _ in range(10):
            n = np.sqrt(n * self.counts / self.blur(n))
        self.m = n * self.blur(n)
        self.n = n

    def blur(self, v: np.ndarray) -> np.ndarray:
        """OpenCV's grid blur: 10 times the vertex plus the sum of its (up to 10) neighbours."""
        return 10.0 * v + self.adjacency @ v

    def splat(self, values) -> np.ndarray:
        """Sum of pixel values per vertex (V,)."""
        return np.bincount(self.splat_idx, weights=np.asarray(values, np.float64).ravel(), minlength=self.n_vertices)

    def slice(self, vertex_values) -> np.ndarray:
        """Vertex values back to the pixels (H, W)."""
        return np.asarray(vertex_values)[self.splat_idx].reshape(self.shape)

    def solve(
        self, target, confidence, lam: float = 128.0, iterations: int = 25, tolerance: float = 1e-5
    ) -> np.ndarray:
        """Solve the bilateral problem for one target. See :func:`bilateral_solve`. Returns float32 (H, W)."""
        t = np.asarray(target, np.float64)
        c = np.asarray(confidence, np.float64)
        if t.shape != self.shape or c.shape != self.shape:
            raise ValueError(f"target {t.shape} and confidence {c.shape} must have the frame's shape {self.shape}.")
        # A = lam (diag(m) - diag(n) (10 I + adjacency) diag(n)) + diag(S c), applied without forming it
        n, adjacency = self.n, self.adjacency
        diag = lam * (self.m - 10.0 * n * n) + self.splat(c)
        lam_n = lam * n

        def matvec(x):
            return diag * x - lam_n * (adjacency @ (n * x))

        b = self.splat(t * c)
        y0 = self.splat(t) / self.counts
        y, self.last_iterations = _jacobi_cg(matvec, diag, b, y0, iterations, tolerance)
        return self.slice(y).astype(np.float32)


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    # einsum, not BLAS: a multithreaded BLAS dot is ~100x slower on a machine whose cores are busy
    return float(np.einsum("i,i->", u, v))


def _jacobi_cg(
    matvec, diag: np.ndarray, b: np.ndarray, x0: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, int]:
    """Jacobi-preconditioned conjugate gradient with Eigen's ``ConjugateGradient`` algorithm and stopping
    rule (|r|^2 < tol^2 |b|^2, at most ``max_iter`` iterations; a zero diagonal entry preconditions with 1).

    Returns:
        ``(x, iterations)``, iterations counted as Eigen reports them.
    """
    x = x0.copy()
    rhs_norm2 = _dot(b, b)
    if rhs_norm2 == 0.0:
        return np.zeros_like(b), 0
    inv_diag = np.ones_like(diag)
    np.divide(1.0, diag, out=inv_diag, where=diag != 0)
    threshold = max(tol * tol * rhs_norm2, float(np.finfo(np.float32).tiny))
    r = b - matvec(x)
    if _dot(r, r) < threshold:
        return x, 0
    p = inv_diag * r
    abs_new = _dot(r, p)
    i = 0
    while i < int(max_iter):
        tmp = matvec(p)
        alpha = abs_new / _dot(p, tmp)
        x += alpha * p
        r -= alpha * tmp
        if _dot(r, r) < threshold:
            break
        z = inv_diag * r
        abs_old, abs_new = abs_new, _dot(r, z)
        p = z + (abs_new / abs_old) * p
        i += 1
    return x, i


def bilateral_solve(frame_rgb, target, confidence, params: BilateralParams = BilateralParams()) -> np.ndarray:
    """The fast bilateral solver: a smooth, edge-aware fit of ``target`` weighted by ``confidence``.

    Minimises ``lam/2 * sum_ij W_ij (x_i - x_j)^2 + sum_i c_i (x_i - t_i)^2`` in the bilateral grid of the
    frame (see the module docstring; OpenCV's construction). Equals
    ``cv2.ximgproc.fastBilateralSolverFilter(frame[..., ::-1], target, confidence, sigma_spatial,
    sigma_luma, sigma_chroma, lam, iterations, tolerance)`` for float32 target and confidence.

    Args:
        frame_rgb: uint8 RGB (H, W, 3), the guide.
        target: float (H, W).
        confidence: float (H, W) >= 0.
        params: :class:`BilateralParams` (its sigmas, lam, iterations, tolerance).

    Returns:
        float32 (H, W).
    """
    params.validate()
    grid = BilateralGrid(frame_rgb, params.sigma_spatial, params.sigma_luma, params.sigma_chroma)
    return grid.solve(target, confidence, params.lam, params.iterations, params.tolerance)


#: Bilateral snapping parameters calibrated on the 30 DAVIS-2016 train sequences (tools/calibrate_snapping.py:
#: best mean IoU of 5 (lam, sigma_spatial) pairs, then of 5 wider ones; benchmarks/results/snapping_calibration/).
#: OpenCV's defaults (lam 128, sigma_spatial 8) scored 0.564, these 0.625, no snapping 0.487.
CALIBRATED_BILATERAL = BilateralParams(sigma_spatial=16.0, lam=512.0)


def snap_bilateral(frame_rgb, probs, params: BilateralParams = CALIBRATED_BILATERAL) -> np.ndarray:
    """Snap a segmentation to the frame's edges with the fast bilateral solver.

    Args:
        frame_rgb: uint8 RGB (H, W, 3).
        probs: foreground probabilities (H, W) in [0, 1] (a bool mask is taken as 0 / 1).
        params: solver parameters (default: :data:`CALIBRATED_BILATERAL`); ``params.confidence`` 'margin' uses ``|2p - 1|`` (pixels near 0.5 follow
            their neighbours of similar colour), 'constant' uses 1.

    Returns:
        bool (H, W): the solution > ``params.threshold``.
    """
    p = np.asarray(probs)
    if p.ndim == 3 and p.shape[-1] == 1:
        p = p[..., 0]
    p = p.astype(np.float64)
    if p.size and not (np.isfinite(p).all() and p.min() >= -1e-6 and p.max() <= 1 + 1e-6):
        raise ValueError("probs must be in [0, 1].")
    p = np.clip(p, 0.0, 1.0)
    confidence = np.abs(2.0 * p - 1.0) if params.confidence == "margin" else np.ones_like(p)
    return bilateral_solve(frame_rgb, p, confidence, params) > params.threshold


# --------------------------------------------------------------------------------------------------------
# One snapping step for the pipeline: OSVOS(snap=...), the CLI and tools/run_davis.py
# --------------------------------------------------------------------------------------------------------


def check_snap_mode(snap) -> str:
    """``None`` -> 'none'; a mode of :data:`SNAP_MODES` unchanged; anything else raises ValueError."""
    mode = "none" if snap is None else snap
    if mode not in SNAP_MODES:
        raise ValueError(f"Unknown snapping mode {snap!r}; expected one of {', '.join(SNAP_MODES)} (or None).")
    return mode


class Snapper:
    """Turns a frame's foreground probabilities into its final mask, snapped or not.

    Args:
        mode: 'none' / None (``probs > threshold``), 'contours' or 'bilateral'.
        threshold: foreground where ``probs > threshold`` (the mask that is voted over, for 'contours'; the
            plain mask for 'none'). 'bilateral' thresholds its solution at ``bilateral.threshold``.
        contours: :class:`ContourSnapParams` (used by 'contours').
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
        threshold: float = 0.5,
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
        """The contour probability (H, W) float32 in [0, 1] of a uint8 RGB frame (timed)."""
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
            contour: for 'contours', a precomputed contour map of the frame (default: computed here).
            threshold: this call's probability threshold (default: :attr:`threshold`).

        Returns:
            bool (H, W).
        """
        self.frames += 1
        threshold = self.threshold if threshold is None else float(threshold)
        if self.mode == "none":
            return np.asarray(probs) > threshold
        if self.mode == "contours" and contour is None:
            contour = self.contour_map(frame_rgb)
        start = time.perf_counter()
        if self.mode == "contours":
            mask = snap_to_contours(
                probs, contour, self.contours.threshold, self.contours.min_size, mask_threshold=threshold
            )
        else:
            mask = snap_bilateral(frame_rgb, probs, self.bilateral)
        self.seconds["snap"] += time.perf_counter() - start
        return mask

    def ms_per_frame(self) -> dict:
        """``{'contour_model': ms, 'snap': ms}`` per call so far (0 before the first)."""
        n = max(self.frames, 1)
        return {k: round(1000.0 * v / n, 2) for k, v in self.seconds.items()}
