"""Closed pixel-edge curves of a mask, traced as the C++ ``mask2polycont`` of the official T measure
(re-implemented): contours are traced around 4-junctions (two pixels touching only at a corner give two
curves) and grouped into closed curves as ``lines2jordan`` does, in the same order as the C++ code.

The tracer works on a "half-pixel" grid: pixel (r, c) has its centre at (2r+1, 2c+1) and its top-left
corner at (2r, 2c); a vertical pixel edge has coordinates (odd, even), a horizontal one (even, odd).
Coordinates are (X, Y) = (row, column) there, as in the C++ code.  An *edge* or a *corner* is such an
(X, Y) tuple; a *piece* is ``(start junction id, end junction id, [edges in walking order])``.
"""

from __future__ import annotations

import numpy as np

Edge = tuple[int, int]
Piece = tuple[int, int, list[Edge]]


def closed_curves(mask: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """The closed boundary curves of bool (H, W) ``mask``, in the C++ order.

    Returns a list of (corners, is_hole): ``corners`` is int64 (n+1, 2), the pixel corners (X, Y) on the
    half-pixel grid of one closed curve (first == last); ``is_hole`` is True when it bounds a hole (the
    background it encloses lies next to it).  Empty for an empty mask.
    """
    pieces, junction_pos = _trace_pieces(mask)
    out = []
    for orig, edges in _CurveGrouper(pieces, len(junction_pos)).group():
        corners = _edges_to_corners(junction_pos[orig], edges)
        out.append((corners, _is_hole(corners, mask)))
    return out


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


# ------------------------------------------------------------------------ corners and holes
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
