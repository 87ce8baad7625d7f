"""Tests of osvos_tf.evaluation (DAVIS-2016 J, F, T and statistics, results folders) and tools/eval_davis.py.

Fast tests use hand-built masks.  Tests marked ``davis`` read ../shared/DAVIS (or $OSVOS_DAVIS_ROOT) and
are skipped with a reason when it is absent.  The comparison against the independent ``vos-benchmark``
package is in test_evaluation_vos_benchmark.py.
"""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial.distance import cdist

from osvos_tf import evaluation as ev
from osvos_tf.evaluation.temporal import min_cost_path

REPO = Path(__file__).resolve().parents[1]
DAVIS_ROOT = (
    Path(os.environ["OSVOS_DAVIS_ROOT"]) if os.environ.get("OSVOS_DAVIS_ROOT") else REPO.parent / "shared" / "DAVIS"
)
HAVE_DAVIS = (DAVIS_ROOT / "Annotations" / "480p").is_dir()
davis = pytest.mark.skipif(
    not HAVE_DAVIS, reason=f"DAVIS-2016 data not found at {DAVIS_ROOT} (set OSVOS_DAVIS_ROOT to run the DAVIS tests)"
)

H, W = 480, 854  # DAVIS 480p: F tolerance ceil(0.008 * diagonal) = 8 px


def rect(h, w, r0, r1, c0, c1):
    m = np.zeros((h, w), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def disk_mask(h, w, cy, cx, rad):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= rad**2


# ------------------------------------------------------------------------------------------- J
def test_jaccard_two_rectangles_by_hand():
    a = rect(10, 10, 0, 4, 0, 5)  # 4 x 5 = 20 px
    b = rect(10, 10, 2, 6, 2, 7)  # 20 px; overlap rows 2-3, cols 2-4 = 6 px
    assert ev.jaccard(a, b) == pytest.approx(6 / 34, abs=1e-12)
    assert ev.jaccard(a, a) == 1.0


def test_jaccard_empty_conventions():
    empty = np.zeros((8, 8), bool)
    full = rect(8, 8, 2, 5, 2, 5)
    assert ev.jaccard(empty, empty) == 1.0  # both empty
    assert ev.jaccard(empty, full) == 0.0  # empty result
    assert ev.jaccard(full, empty) == 0.0
    assert ev.jaccard(full.astype(np.uint8) * 255, full) == 1.0  # any nonzero is foreground


@pytest.mark.parametrize("k", [1, 3, 7])
def test_erosion_lowers_j_by_the_expected_amount(k):
    gt = rect(H, W, 100, 200, 300, 500)  # 100 x 200
    res = ndimage.binary_erosion(gt, structure=np.ones((3, 3)), iterations=k)
    expected = (100 - 2 * k) * (200 - 2 * k) / (100 * 200)
    assert ev.jaccard(res, gt) == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------------------------------- F
def test_boundary_map_counted_by_hand():
    m = rect(20, 20, 5, 9, 5, 9)  # 4 x 4 square, rows/cols 5..8
    expected = np.zeros((20, 20), bool)
    expected[4, 4:9] = True  # row above (5 px, the corner via the south-east neighbour)
    expected[5:9, 4] = True  # column left of it (4 px)
    expected[5:9, 8] = True  # its own right column (4 px)
    expected[8, 5:8] = True  # its own bottom row (3 px)
    b = ev.boundary_map(m)
    assert b.dtype == bool
    assert np.array_equal(b, expected)
    assert b.sum() == 16


def test_boundary_map_image_border_rules():
    # the last row/column only compare with their east/south neighbour: the image border is no boundary
    assert ev.boundary_map(np.ones((4, 5), bool)).sum() == 0
    m = np.zeros((4, 5), bool)
    m[:, -1] = True  # only the last column: the boundary is the column left of it
    expected = np.zeros((4, 5), bool)
    expected[:, -2] = True
    assert np.array_equal(ev.boundary_map(m), expected)


def test_f_measure_tiny_case_counted_by_hand():
    # 20x20 -> bound_pix = ceil(0.008 * 28.28) = 1 (a 4-neighbourhood disk).  GT square rows/cols 5..8,
    # result shifted 3 px right: 9 of the 16 result boundary pixels and 9 of the 16 ground-truth ones are
    # within 1 px of the other boundary (counted by hand), so P = R = F = 9/16.
    gt = rect(20, 20, 5, 9, 5, 9)
    res = rect(20, 20, 5, 9, 8, 12)
    assert ev.f_measure(res, gt) == pytest.approx(9 / 16, abs=1e-12)
    assert ev.f_measure(gt, gt) == 1.0


def brute_force_f(res, gt, radius):
    """Independent F: pairwise distances between boundary pixels of the official seg2bmap maps."""

    def bmap(seg):  # the official seg2bmap written out naively
        h, w = seg.shape
        b = np.zeros_like(seg)
        for y in range(h):
            for x in range(w):
                e = seg[y, x + 1] if x + 1 < w else False
                s = seg[y + 1, x] if y + 1 < h else False
                se = seg[y + 1, x + 1] if (x + 1 < w and y + 1 < h) else False
                if y == h - 1 and x == w - 1:
                    b[y, x] = False
                elif y == h - 1:
                    b[y, x] = seg[y, x] ^ e
                elif x == w - 1:
                    b[y, x] = seg[y, x] ^ s
                else:
                    b[y, x] = (seg[y, x] ^ e) or (seg[y, x] ^ s) or (seg[y, x] ^ se)
        return b

    bf, bg = bmap(res), bmap(gt)
    pf, pg = np.argwhere(bf), np.argwhere(bg)
    if len(pf) == 0 or len(pg) == 0:
        return None
    d = cdist(pf, pg)
    p = np.mean(d.min(axis=1) <= radius)
    r = np.mean(d.min(axis=0) <= radius)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f_measure_matches_brute_force_on_random_blobs(seed):
    rng = np.random.default_rng(seed)
    h, w = 40, 60  # bound_pix = ceil(0.008 * 72.1) = 1
    gt = ndimage.binary_opening(rng.random((h, w)) < 0.55, iterations=1)
    res = ndimage.binary_opening(rng.random((h, w)) < 0.55, iterations=1)
    ref = brute_force_f(res, gt, 1.0)
    assert ref is not None
    assert ev.f_measure(res, gt) == pytest.approx(ref, abs=1e-12)
    # with an explicit pixel tolerance (bound_th >= 1 means pixels)
    assert ev.f_measure(res, gt, bound_th=3) == pytest.approx(brute_force_f(res, gt, 3.0), abs=1e-12)


def test_shift_within_tolerance_keeps_f_and_beyond_lowers_it():
    gt = rect(H, W, 100, 300, 200, 500)
    for s in (1, 4, 8):  # 8 px = ceil(0.008 * hypot(480, 854))
        res = np.roll(gt, s, axis=1)
        assert ev.f_measure(res, gt) == 1.0, s
        assert ev.jaccard(res, gt) < 1.0
    f9 = ev.f_measure(np.roll(gt, 9, axis=1), gt)
    f20 = ev.f_measure(np.roll(gt, 20, axis=1), gt)
    assert f20 < f9 < 1.0


def test_empty_frames_conventions():
    gt = rect(H, W, 100, 300, 200, 500)
    empty = np.zeros((H, W), bool)
    assert ev.jaccard(empty, gt) == 0.0
    assert ev.f_measure(empty, gt) == 0.0  # P = 1, R = 0
    assert ev.f_measure(gt, empty) == 0.0  # P = 0, R = 1
    assert ev.jaccard(empty, empty) == 1.0 and ev.f_measure(empty, empty) == 1.0


def test_size_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="size mismatch"):
        ev.jaccard(np.zeros((10, 12)), np.zeros((12, 10)))
    with pytest.raises(ValueError, match="size mismatch"):
        ev.f_measure(np.zeros((10, 12)), np.zeros((12, 10)))


# ------------------------------------------------------------------------------------------- T
def test_mask_contours_rectangle_ring_and_single_pixel():
    m = rect(6, 7, 1, 4, 2, 6)  # rows 1..3, cols 2..5 -> corners x 2..6, y 1..4
    (c,) = ev.mask_contours(m)
    assert c.tolist() == [[2, 1], [6, 1], [6, 4], [2, 4], [2, 1]]  # closed, clockwise on screen
    ring = rect(9, 9, 1, 8, 1, 8) & ~rect(9, 9, 3, 6, 3, 6)
    conts = ev.mask_contours(ring)
    assert sorted(map(len, conts)) == [5, 5]
    outer = [c for c in conts if c.min() == 1][0]
    hole = [c for c in conts if c.min() == 3][0]

    def signed_area(c):
        x, y = c[:, 0].astype(float), c[:, 1].astype(float)
        return 0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])

    assert signed_area(outer) == 49 and signed_area(hole) == -9  # opposite orientations
    single = np.zeros((5, 5), bool)
    single[2, 2] = True
    assert ev.mask_contours(single) == []  # <= 3 vertices after simplification: dropped
    assert len(ev.mask_contours(single, tolerance=0)[0]) == 5


def test_mask_contours_split_diagonal_neighbours_at_the_junction():
    m = np.zeros((6, 6), bool)
    m[1:3, 1:3] = True
    m[3:5, 3:5] = True  # touches the first block only at a corner (a 4-junction)
    conts = ev.mask_contours(m, tolerance=0)
    assert len(conts) == 2
    assert all(c[0].tolist() == [3, 3] and c[-1].tolist() == [3, 3] for c in conts)


def test_upsample_contour_segments_at_most_3px():
    up = ev.upsample_contour(np.array([[0, 0], [7, 0], [7, 2]]))
    assert up.dtype == np.float32
    np.testing.assert_allclose(up, [[0, 0], [7 / 3, 0], [14 / 3, 0], [7, 0], [7, 2]], atol=1e-6)


def test_min_cost_path_total_matches_scipy_dijkstra():
    rng = np.random.default_rng(0)
    cost = rng.random((17, 23))
    n1, n2 = cost.shape
    rows, cols, vals = [], [], []
    for x in range(n1):
        for y in range(n2):
            for px, py in ((x, y - 1), (x - 1, y), (x - 1, y - 1)):
                if px >= 0 and py >= 0:
                    rows.append(px * n2 + py)
                    cols.append(x * n2 + y)
                    vals.append(cost[x, y])
    dist = dijkstra(csr_matrix((vals, (rows, cols)), shape=(n1 * n2, n1 * n2)), indices=0)
    path, (bx, by) = min_cost_path(cost)
    assert path[0].tolist() == [n1 - 1, n2 - 1] and path[-1].tolist() == [0, 0]
    steps = np.diff(path[::-1], axis=0)
    assert set(map(tuple, steps.tolist())) <= {(0, 1), (1, 0), (1, 1)}
    assert cost[path[:-1, 0], path[:-1, 1]].sum() == pytest.approx(dist[-1], abs=1e-9)
    assert cost[bx, by] == cost[path[:-1, 0], path[:-1, 1]].min()


def test_t_of_a_shape_against_itself_is_zero_and_empty_is_nan():
    m = disk_mask(120, 160, 60, 70, 35) | rect(120, 160, 50, 70, 90, 140)
    assert ev.t_stability(m, m) == 0.0
    assert math.isnan(ev.t_stability(np.zeros_like(m), m))
    assert math.isnan(ev.t_stability(m, np.zeros_like(m)))


def test_t_grows_with_shape_change():
    small = disk_mask(200, 200, 100, 100, 40)
    bigger = disk_mask(200, 200, 100, 100, 46)  # shape context is scale-normalised
    square = rect(200, 200, 60, 140, 60, 140)
    t_scale = ev.t_stability(small, bigger)
    t_shape = ev.t_stability(small, square)
    assert 0.0 <= t_scale < t_shape
    assert ev.shape_matching_cost(small, square) * ev.T_SCALE == pytest.approx(t_shape)


def test_shape_context_histograms():
    pts = ev.upsample_contour(ev.mask_contours(rect(50, 50, 10, 40, 5, 30))[0])
    h = ev.shape_context(pts)
    assert h.shape == (len(pts), 60) and h.dtype.kind == "i"
    assert (h[:, 4 * 12] >= 1).all()  # every point counts itself in the innermost radius, angle bin 0
    cost = ev.chi2_cost_matrix(h, h)
    assert np.allclose(np.diag(cost), 0.0) and (cost >= 0).all()


# ---------------------------------------------------------------------------------- statistics
def test_recall_and_decay_by_hand():
    assert ev.recall([0.4, 0.6, 0.51, 0.5]) == 0.5  # 0.5 itself is not above 0.5
    vals = np.arange(10) / 10.0
    # ids = round(linspace(1, 10, 5) + 1e-10) - 1 = [0, 2, 5, 7, 9]: bins [0..2], ..., [7..9]
    assert ev.decay(vals) == pytest.approx(np.mean([0.0, 0.1, 0.2]) - np.mean([0.7, 0.8, 0.9]))
    vals = np.array([1.0, 1.0, 0.9, 0.8, 0.6, 0.2, 0.1])
    # n = 7: linspace(1, 7, 5) = 1, 2.5, 4, 5.5, 7 -> ids [0, 2, 3, 5, 6]: first bin [0..2], last [5..6]
    assert ev.decay(vals) == pytest.approx(np.mean([1.0, 1.0, 0.9]) - np.mean([0.2, 0.1]))
    stats = ev.sequence_statistics([0.2, np.nan, 0.8])
    assert stats["mean"] == pytest.approx(0.5)


def test_evaluate_sequence_in_memory():
    gts = [rect(60, 80, 10 + i, 40 + i, 10, 50) for i in range(6)]
    out = ev.evaluate_sequence(gts, gts)
    assert np.array_equal(out["J"]["frames"], np.ones(4)) and np.array_equal(out["F"]["frames"], np.ones(4))
    assert out["J"]["recall"] == 1.0 and out["J"]["decay"] == 0.0
    assert len(out["T"]["frames"]) == 3 and out["T"]["mean"] == pytest.approx(0.0, abs=1e-9)
    out2 = ev.evaluate_sequence(gts, gts[1:-1], compute_t=False)
    assert out2["T"] is None and out2["J"]["mean"] == 1.0
    with pytest.raises(ValueError, match="result masks"):
        ev.evaluate_sequence(gts, gts[:3])


# --------------------------------------------------------------------------- folders, JSON, CLI
def save(mask, path, palette=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if palette:
        img = Image.fromarray(mask.astype(np.uint8), mode="P")
        img.putpalette([255, 255, 255, 200, 0, 0] + [0] * 762)  # index 0 is *white*: must be background
    else:
        img = Image.fromarray(mask.astype(np.uint8) * 255)
    img.save(path)


def make_tree(tmp_path, n_frames=6, size=(48, 64)):
    """A tiny DAVIS-layout tree: seq_a (eval_t true) and seq_b (eval_t false), GT + results."""
    root, res = tmp_path / "DAVIS", tmp_path / "results"
    h, w = size
    for seq, dy in (("seq_a", 0), ("seq_b", 3)):
        for i in range(n_frames):
            gt = rect(h, w, 10 + i, 30 + i, 15, 45)
            save(gt, root / "Annotations" / "480p" / seq / f"{i:05d}.png")
            if 1 <= i <= n_frames - 2:  # results for the evaluated frames only
                save(np.roll(gt, dy, axis=0), res / seq / f"{i:05d}.png", palette=(seq == "seq_b"))
    (root / "db_info.yaml").write_text(
        "sequences:\n"
        f"- {{name: seq_a, num_frames: {n_frames}, set: val, eval_t: true}}\n"
        f"- {{name: seq_b, num_frames: {n_frames}, set: val, eval_t: false}}\n"
    )
    return root, res


def check_schema(result, seqs, with_t):
    assert set(result) == {"sequences", "overall"}
    assert list(result["sequences"]) == seqs
    for block in list(result["sequences"].values()) + [result["overall"]]:
        assert set(block) == {"J", "F", "T"}
        for m in ("J", "F"):
            assert set(block[m]) == {"mean", "recall", "decay"}
            assert all(type(v) is float for v in block[m].values())
            assert 0.0 <= block[m]["mean"] <= 1.0 and 0.0 <= block[m]["recall"] <= 1.0
        assert set(block["T"]) == {"mean"}
        assert block["T"]["mean"] is None or type(block["T"]["mean"]) is float
    if not with_t:
        assert all(b["T"]["mean"] is None for b in result["sequences"].values())
        assert result["overall"]["T"]["mean"] is None
    json.dumps(result, allow_nan=False)  # strict JSON


def test_evaluate_results_schema_and_values(tmp_path):
    root, res = make_tree(tmp_path)
    r = ev.evaluate_results(root, res, workers=1, progress=False)
    check_schema(r, ["seq_a", "seq_b"], with_t=True)
    a, b = r["sequences"]["seq_a"], r["sequences"]["seq_b"]
    assert a["J"] == {"mean": 1.0, "recall": 1.0, "decay": 0.0} and a["F"]["mean"] == 1.0
    assert a["T"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert b["T"]["mean"] is None  # eval_t false
    assert b["J"]["mean"] == pytest.approx(17 / 23)  # 20-row box shifted by 3 rows (palette PNG read)
    assert r["overall"]["J"]["mean"] == pytest.approx((1 + 17 / 23) / 2)
    assert r["overall"]["T"]["mean"] == a["T"]["mean"]  # T only over eval_t sequences
    r2 = ev.evaluate_results(root, res, sequences=["seq_b"], compute_t=False, workers=1, progress=False)
    check_schema(r2, ["seq_b"], with_t=False)


def test_read_mask_palette_rgb_and_gray(tmp_path):
    m = rect(5, 6, 1, 3, 2, 5)
    save(m, tmp_path / "p.png", palette=True)
    save(m, tmp_path / "l.png")
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[m, 1] = 7
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    for name in ("p.png", "l.png", "rgb.png"):
        got = ev.read_mask(tmp_path / name)
        assert got.dtype == bool and np.array_equal(got, m), name


def test_errors_missing_folder_frame_size_and_layout(tmp_path):
    root, res = make_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing sequence folder"):
        ev.evaluate_results(root, res, sequences=["seq_a", "nope"], compute_t=False, progress=False)
    (res / "seq_a" / "00002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing result frames.*00002\.png"):
        ev.evaluate_results(root, res, sequences=["seq_a"], progress=False)
    save(np.zeros((30, 40), bool), res / "seq_a" / "00002.png")
    with pytest.raises(ValueError, match="size mismatch.*40x30"):
        ev.evaluate_results(root, res, sequences=["seq_a"], compute_t=False, workers=1, progress=False)
    flat = tmp_path / "flat"
    save(np.zeros((48, 64), bool), flat / "00001.png")
    with pytest.raises(ValueError, match="wrong results layout"):
        ev.evaluate_results(root, flat, progress=False)
    with pytest.raises(ValueError, match="wrong results layout"):
        ev.evaluate_results(root, flat, sequences=["seq_a"], progress=False)
    with pytest.raises(FileNotFoundError, match="Annotations"):
        ev.evaluate_results(tmp_path / "nowhere", res, progress=False)
    with pytest.raises(FileNotFoundError, match="results folder not found"):
        ev.evaluate_results(root, tmp_path / "nowhere", progress=False)
    unknown = tmp_path / "r2"
    save(np.zeros((48, 64), bool), unknown / "zzz" / "00001.png")
    with pytest.raises(FileNotFoundError, match=r"no DAVIS sequence in results folder .*no ground truth.*\(zzz;"):
        ev.evaluate_results(root, unknown, compute_t=False, progress=False)
    with pytest.raises(FileNotFoundError, match="no ground truth for sequence 'zzz'"):
        ev.evaluate_results(root, unknown, sequences=["zzz"], compute_t=False, progress=False)
    with pytest.raises(ValueError, match="workers: expected a number of processes >= 1, received 0"):
        ev.evaluate_results(root, res, workers=0, progress=False)


def run_tool(*args):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the tool must find the package by itself
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "eval_davis.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


def test_cli_prints_table_and_writes_json(tmp_path):
    root, res = make_tree(tmp_path)
    out = tmp_path / "out" / "eval.json"
    p = run_tool("--davis", root, "--results", res, "--json", out, "--workers", 2)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "J-Mean" in lines[0] and "T-Mean" in lines[0]
    assert any(line.startswith("seq_a ") for line in lines) and any(line.startswith("seq_b ") for line in lines)
    overall = [line for line in lines if line.startswith("Overall")][0].split()
    assert overall[1] == f"{(1 + 17 / 23) / 2:.3f}"  # J-Mean
    assert "[eval] 2/2" in p.stderr  # progress on stderr
    data = json.loads(out.read_text())
    check_schema(data, ["seq_a", "seq_b"], with_t=True)
    assert data == ev.evaluate_results(root, res, workers=1, progress=False)

    p = run_tool("--davis", root, "--results", res, "--sequences", "seq_b", "--no-t", "--json", out, "--workers", 1)
    assert p.returncode == 0, p.stderr
    data = json.loads(out.read_text())
    check_schema(data, ["seq_b"], with_t=False)

    flat = tmp_path / "flat"
    save(np.zeros((48, 64), bool), flat / "00001.png")
    p = run_tool("--davis", root, "--results", flat)
    assert p.returncode == 2 and "error: wrong results layout" in p.stderr


# ------------------------------------------------------- non-DAVIS sub-folders, bad mask files
def add_extra_folders(res):
    """Sub-folders a run leaves next to its sequences: overlays/ (PNGs of a frame size) and an empty logs/."""
    save(np.ones((48, 64), bool), res / "overlays" / "00001.png")
    (res / "logs").mkdir()
    (res / ".cache").mkdir()  # hidden: ignored without a word


def test_non_davis_subfolders_are_skipped_and_reported(tmp_path, capsys):
    root, res = make_tree(tmp_path)
    clean = ev.evaluate_results(root, res, compute_t=False, workers=1, progress=False)
    assert "skipped" not in clean
    add_extra_folders(res)
    r = ev.evaluate_results(root, res, compute_t=False, workers=1, progress=True)
    assert r["skipped"] == ["logs", "overlays"]
    assert {k: r[k] for k in ("sequences", "overall")} == clean  # the same numbers as without them
    err = capsys.readouterr().err.splitlines()
    skip_lines = [line for line in err if "skipped" in line]
    assert len(skip_lines) == 1, err
    assert "2 sub-folder(s)" in skip_lines[0] and skip_lines[0].endswith(": logs, overlays")
    assert str(res) in skip_lines[0] and ".cache" not in skip_lines[0]
    json.dumps(r, allow_nan=False)

    split = ev.error_split_results(root, res, workers=1, progress=False)
    assert split["skipped"] == ["logs", "overlays"] and list(split["sequences"]) == ["seq_a", "seq_b"]
    # an explicit sequence list is taken as given: a name without ground truth is an error
    with pytest.raises(FileNotFoundError, match="no ground truth for sequence 'overlays'"):
        ev.evaluate_results(root, res, sequences=["seq_a", "overlays"], progress=False)
    with pytest.raises(FileNotFoundError, match="no ground truth for sequence 'overlays'"):
        ev.error_split_results(root, res, sequences=["overlays"], progress=False)
    # only non-DAVIS sub-folders: nothing to evaluate is an error, not an empty table
    only = tmp_path / "only_extra"
    add_extra_folders(only)
    with pytest.raises(FileNotFoundError, match=r"no DAVIS sequence in results folder .*\(logs, overlays;"):
        ev.evaluate_results(root, only, progress=False)


def test_cli_skips_non_davis_subfolders_once_and_rejects_them_by_name(tmp_path):
    root, res = make_tree(tmp_path)
    add_extra_folders(res)
    out = tmp_path / "eval.json"
    p = run_tool("--davis", root, "--results", res, "--no-t", "--errors", "--json", out, "--workers", 1)
    assert p.returncode == 0, p.stderr
    skip_lines = [line for line in p.stderr.splitlines() if "skipped" in line]
    assert len(skip_lines) == 1 and skip_lines[0].endswith(": logs, overlays"), p.stderr  # not again for --errors
    data = json.loads(out.read_text())
    assert data["skipped"] == ["logs", "overlays"]
    assert list(data["sequences"]) == list(data["error_split"]["sequences"]) == ["seq_a", "seq_b"]
    assert not any(line.startswith(("overlays", "logs")) for line in p.stdout.splitlines())

    p = run_tool("--davis", root, "--results", res, "--no-t", "--sequences", "seq_a,overlays")
    assert p.returncode == 2 and "error: no ground truth for sequence 'overlays'" in p.stderr
    assert "Traceback" not in p.stderr


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_empty_or_truncated_result_png_is_named(tmp_path):
    root, res = make_tree(tmp_path)
    bad = res / "seq_b" / "00003.png"
    bad.write_bytes(b"")
    # 0-byte files are found before any work, with the other evaluated frames' check
    with pytest.raises(ValueError, match=r"empty result files in .*seq_b.*0-byte.*00003\.png"):
        ev.evaluate_results(root, res, compute_t=False, workers=1, progress=False)
    with pytest.raises(ValueError, match=r"empty result files in .*seq_b.*00003\.png"):
        ev.error_split_results(root, res, workers=1, progress=False)
    # a truncated file is found when it is decoded: in this process or in a worker process alike
    save(np.zeros((48, 64), bool), bad)
    truncate(bad)
    named = re.escape(f"Result mask {bad} is not a readable image")
    for workers in (1, 2):
        with pytest.raises(ValueError, match=named):
            ev.evaluate_results(root, res, compute_t=False, workers=workers, progress=False)
        with pytest.raises(ValueError, match=named):
            ev.error_split_results(root, res, workers=workers, progress=False)
    # a bad ground-truth file is named as such
    truncate(root / "Annotations" / "480p" / "seq_a" / "00002.png")
    with pytest.raises(ValueError, match=r"Ground-truth mask .*seq_a/00002\.png is not a readable image"):
        ev.evaluate_results(root, res, sequences=["seq_a"], compute_t=False, workers=1, progress=False)


def test_cli_bad_result_png_exits_2_with_the_file_name(tmp_path):
    root, res = make_tree(tmp_path)
    bad = res / "seq_a" / "00002.png"
    truncate(bad)
    p = run_tool("--davis", root, "--results", res, "--no-t", "--workers", 2)  # two sequences: a worker reads it
    assert p.returncode == 2, p.stderr
    assert p.stderr.splitlines()[-1].startswith(f"error: Result mask {bad} is not a readable image"), p.stderr
    assert "Traceback" not in p.stderr
    bad.write_bytes(b"")
    p = run_tool("--davis", root, "--results", res, "--no-t", "--errors")
    assert p.returncode == 2 and "error: empty result files in" in p.stderr and "00002.png" in p.stderr
    assert "Traceback" not in p.stderr


def test_format_table():
    r = {
        "sequences": {
            "a": {
                "J": {"mean": 0.5, "recall": 1.0, "decay": 0.0},
                "F": {"mean": 0.25, "recall": 0.0, "decay": -0.1},
                "T": {"mean": None},
            }
        },
        "overall": {
            "J": {"mean": 0.5, "recall": 1.0, "decay": 0.0},
            "F": {"mean": 0.25, "recall": 0.0, "decay": -0.1},
            "T": {"mean": None},
        },
    }
    text = ev.format_table(r)
    assert "0.500" in text and "-0.100" in text and text.splitlines()[-1].startswith("Overall")


# ---------------------------------------------------------------------------------- DAVIS tier
def davis_frames(seq, n=None):
    files = sorted((DAVIS_ROOT / "Annotations" / "480p" / seq).glob("*.png"))
    return files if n is None else files[:n]


@pytest.mark.davis
@davis
def test_davis_ground_truth_against_itself(tmp_path):
    res = tmp_path / "gt_results"
    res.mkdir()
    (res / "car-shadow").symlink_to(DAVIS_ROOT / "Annotations" / "480p" / "car-shadow")
    r = ev.evaluate_results(DAVIS_ROOT, res, compute_t=False, workers=1, progress=False)
    seq = r["sequences"]["car-shadow"]
    assert seq["J"] == {"mean": 1.0, "recall": 1.0, "decay": 0.0}
    assert seq["F"] == {"mean": 1.0, "recall": 1.0, "decay": 0.0}
    files = davis_frames("camel")
    for f in files[5:7]:
        m = ev.read_mask(f)
        assert ev.t_stability(m, m) == 0.0
    t = ev.t_stability(ev.read_mask(files[5]), ev.read_mask(files[6]))
    assert 0.0 < t < 1.0
