"""Polygonal contours of a mask, as the C++ ``mask2polycont`` of the official T measure (re-implemented).

Pixel-corner contours are traced around 4-junctions (diagonal pixel pairs are separate contours), grouped
into closed curves as ``lines2jordan`` does, simplified with psimpl's Douglas-Peucker (its radial-distance
pre-pass at tolerance 0.1, then the given tolerance, in half-pixel units) and oriented: outer contours
clockwise, holes counter-clockwise; contours of <= 3 vertices are dropped.  :func:`upsample_contour`
resamples a contour so that no segment is longer than 3 px (float32, as the C++ code).

The tracer works on a "half-pixel" grid: pixel (r, c) has its centre at (2r+1, 2c+1) and its top-left
corner at (2r, 2c); a vertical pixel edge has coordinates (odd, even), a horizontal one (even, odd).
Coordinates are (X, Y) = (row, column) there, as in the C++ code.  An *edge* or a *corner* is such an
(X, Y) tuple; a *piece* is ``(start junction id, end junction id, [edges in walking order])``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from osvos_tf.evaluation.validation import as_mask

CONTOUR_TOLERANCE = 3.0
"""Polygon simplification tolerance of T, in the half-pixel grid of the contour tracer (official ``3``)."""

MAX_SEGMENT_PX = 3.0
"""Longest segment of a contour after :func:`upsample_contour`, in pixels (official ``cont_th_up``)."""

Edge = tuple[int, int]
Piece = tuple[int, int, list[Edge]]


# ------------------------------------------------------------------------------------ tracing
def _edge_maps(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundary edges of bool mask ``m`` (H, W): ``vert`` (H, W+1), True where pixels (r, c-1) and (r, c)
    differ, and ``horz`` (H+1, W), True where (r-1, c) and (r, c) differ (outside counts as background)."""
    H, W = m.shape
    pad = np.zeros((H + 2, W + 2), dtype=bool)
    pad[1:-1, 1:-1] = m
    vert = pad[1:-1, :-1] ^ pad[1:-1, 1:]
    horz = pad[:-1, 1:-1] ^ pad[1:, 1:-1]
    return vert, horz


def _four_junctions(vert: np.ndarray, horz: np.ndarray) -> list[Edge]:
    """Corners (X, Y) in raster order where all four incident pixel edges are boundary edges (two pixels
    touching only diagonally)."""
    up = vert[:-1, 1:-1]  # edge above corner (r, c): vert[r-1, c]   for r in 1..H-1, c in 1..W-1
    down = vert[1:, 1:-1]  # vert[r, c]
    left = horz[1:-1, :-1]  # horz[r, c-1]
    right = horz[1:-1, 1:]  # horz[r, c]
    jr, jc = np.nonzero(up & down & left & right)
    return [(2 * r, 2 * c) for r, c in zip((jr + 1).tolist(), (jc + 1).tolist())]


class _EdgeWalker:
    """The boundary edges of one mask on the half-pixel grid, which grid points were visited, and the
    junctions (1-based ids, in the order they are added) that walks start and end at."""

    def __init__(self, vert: np.ndarray, horz: np.ndarray):
        H, W = vert.shape[0], horz.shape[1]
        # is_cont / visited on the half-pixel grid, shifted by +1 so that -1 is a valid index.
        self.stride = 2 * W + 3
        grid = np.zeros((2 * H + 3, self.stride), dtype=np.uint8)
        grid[2 : 2 * H + 1 : 2, 1 : 2 * W + 2 : 2] = vert  # X = 2r+1 -> index 2r+2 ; Y = 2c -> index 2c+1
        grid[1 : 2 * H + 2 : 2, 2 : 2 * W + 1 : 2] = horz  # X = 2r   -> index 2r+1 ; Y = 2c+1 -> index 2c+2
        self.is_cont = bytes(grid.tobytes())
        self.visited = bytearray(len(self.is_cont))
        self.junction_ids: dict[Edge, int] = {}
        self.junction_pos: dict[int, Edge] = {}

    def _idx(self, x: int, y: int) -> int:
        return (x + 1) * self.stride + (y + 1)

    def is_visited(self, point: Edge) -> bool:
        return bool(self.visited[self._idx(*point)])

    def add_junction(self, corner: Edge) -> int:
        """Register ``corner`` as the next junction; returns its id."""
        k = len(self.junction_pos) + 1
        self.junction_ids[corner] = k
        self.junction_pos[k] = corner
        return k

    def walk(self, start_id: int, first_edge: Edge) -> tuple[list[Edge], int]:
        """Follow the contour from junction ``start_id`` through ``first_edge`` until a junction; returns
        (the edges in walking order, the id of the junction reached), marking what it passes as visited."""
        visited, is_cont, junction_ids, idx = self.visited, self.is_cont, self.junction_ids, self._idx
        path = []
        start = self.junction_pos[start_id]
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


def _trace_pieces(m: np.ndarray) -> tuple[list[Piece], dict[int, Edge]]:
    """Trace the boundary edges of bool mask ``m`` into pieces between junctions.

    Returns (pieces, junction_pos): junction_pos maps a junction id (1-based) to its corner (X, Y).
    4-junctions (diagonal pixel pairs) come first in raster order; every closed loop without a 4-junction
    gets an artificial junction at the top end of its first vertical edge in raster order.
    """
    vert, horz = _edge_maps(m)
    walker = _EdgeWalker(vert, horz)
    to_explore = []
    for corner in _four_junctions(vert, horz):
        k = walker.add_junction(corner)
        x, y = corner
        for e in ((x, y + 1), (x + 1, y), (x, y - 1), (x - 1, y)):
            to_explore.append((k, e))

    pieces = []
    while to_explore:
        jid, e = to_explore.pop()
        if walker.is_visited(e):
            continue
        path, end_id = walker.walk(jid, e)
        pieces.append((jid, end_id, path))

    # Loops without any 4-junction: scan vertical edges in raster order.
    vr, vc = np.nonzero(vert)
    for r, c in zip(vr.tolist(), vc.tolist()):
        e = (2 * r + 1, 2 * c)
        if walker.is_visited(e):
            continue
        k = walker.add_junction((2 * r, 2 * c))
        path, end_id = walker.walk(k, e)
        pieces.append((k, end_id, path))
    return pieces, walker.junction_pos


# ------------------------------------------------------------------------------ closed curves
class _CurveGrouper:
    """Groups contour pieces into closed curves, as the C++ ``lines2jordan``: from the junction with the
    largest id still holding pieces, sweep piece by piece (never straight through a junction when there is
    a choice) and close a curve each time the sweep comes back to a junction it passed."""

    def __init__(self, pieces: list[Piece], n_junctions: int):
        self.pieces = pieces
        self.curves: list[tuple[int, list[Edge]]] = []
        self.conts_on_junct: dict[int, set[int]] = {j: set() for j in range(1, n_junctions + 1)}
        for i, (o, e, _) in enumerate(pieces):
            self.conts_on_junct[o].add(i)
            self.conts_on_junct[e].add(i)
        # libstdc++'s unordered_map<int,...> built with the junction count as bucket hint and keys 1..N puts
        # each key in its own bucket and each new key at the front: begin() is the largest key still there.
        for j in [j for j, s in self.conts_on_junct.items() if not s]:
            del self.conts_on_junct[j]

    def group(self) -> list[tuple[int, list[Edge]]]:
        """All curves as (junction id they start and end at, [edges]), in the order they are closed."""
        while self.conts_on_junct:
            self._sweep()
        return self.curves

    def _other_end(self, piece: int, j: int) -> int:
        o, e, _ = self.pieces[piece]
        return e if j == o else o

    def _first_edge_from(self, piece: int, j: int) -> Edge:
        o, _, edges = self.pieces[piece]
        return edges[0] if o == j else edges[-1]

    def _remove(self, j: int, piece: int) -> None:
        s = self.conts_on_junct.get(j)
        if s is None:
            return
        s.discard(piece)
        if not s:
            del self.conts_on_junct[j]

    def _take(self, j: int, piece: int, swept_list: list[tuple[int, int]], swept_set: set[int]) -> int:
        """Leave junction ``j`` along ``piece``; returns the junction the piece ends at."""
        self._remove(j, piece)
        self._remove(self._other_end(piece, j), piece)
        swept_set.add(j)
        swept_list.append((j, piece))
        return self._other_end(piece, j)

    def _next_piece(self, j: int, piece: int) -> int | None:
        """The piece to leave junction ``j`` by after arriving along ``piece`` (None: nothing left)."""
        cands = sorted(self.conts_on_junct.get(j, ()))
        if not cands:  # undefined behaviour in the C++ code; never seen on real masks
            return None
        choice = cands[0]
        a = self._first_edge_from(choice, j)
        b = self._first_edge_from(piece, j)
        if (a[0] == b[0] or a[1] == b[1]) and len(cands) > 1:
            choice = cands[1]  # do not go straight through a junction
        return choice

    def _close_cycle(self, cycle_j: int, swept_list: list[tuple[int, int]], swept_set: set[int]) -> int:
        """Turn the sweep since junction ``cycle_j`` into a curve; returns the piece the sweep continues from
        (-1 when the sweep is empty)."""
        pos = next(i for i, (j, _) in enumerate(swept_list) if j == cycle_j)
        edges: list[Edge] = []
        last = cycle_j
        for j, piece in swept_list[pos:]:
            o, e, p_edges = self.pieces[piece]
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
        self.curves.append((cycle_j, edges))
        return swept_list[-1][1] if swept_list else -1

    def _sweep(self) -> None:
        swept_list: list[tuple[int, int]] = []
        swept_set: set[int] = set()
        j = max(self.conts_on_junct)
        piece = min(self.conts_on_junct[j])
        nj = self._take(j, piece, swept_list, swept_set)
        if nj in swept_set:
            self._close_cycle(nj, swept_list, swept_set)
        while swept_set:
            j = nj
            choice = self._next_piece(j, piece)
            if choice is None:
                break
            piece = choice
            nj = self._take(j, piece, swept_list, swept_set)
            if nj in swept_set:
                piece = self._close_cycle(nj, swept_list, swept_set)


# ------------------------------------------------------------------------------- polygons
def _edges_to_corners(start: Edge, edges: list[Edge]) -> np.ndarray:
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
    pieces, junction_pos = _trace_pieces(crop)
    curves = _CurveGrouper(pieces, len(junction_pos)).group()
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


