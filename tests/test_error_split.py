"""Tests of the OSVOS Figure 5 error split (osvos_tf.evaluation.error_split / error_split_results /
format_error_table) and of ``tools/eval_davis.py --errors``.

Everything here uses small hand-built masks and a tiny DAVIS-layout tree in tmp_path (no DAVIS data).
"""

import json

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import cdist
from test_evaluation import run_tool  # the eval_davis.py runner, shared

from osvos_tf import evaluation as ev

KEYS = ("fp_near", "fp_far", "fn")


def rect(h, w, r0, r1, c0, c1):
    m = np.zeros((h, w), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def brute_force_split(mask, gt, near_px):
    """Independent split: pairwise pixel-centre distances from each false positive to every gt pixel."""
    fp = np.argwhere(mask & ~gt)
    g = np.argwhere(gt)
    if len(fp) and len(g):
        near = int(np.count_nonzero(cdist(fp, g).min(axis=1) <= near_px))
    else:
        near = 0
    return {"fp_near": near, "fp_far": len(fp) - near, "fn": int(np.sum(gt & ~mask)), "union": int(np.sum(mask | gt))}


# ------------------------------------------------------------------------------------ one frame
def hand_case():
    """10x10 gt square (rows/cols 20..29) in a 60x80 frame; the result misses 3 of its pixels and has 5
    false positives at hand-computed distances from the square."""
    gt = rect(60, 80, 20, 30, 20, 30)
    mask = gt.copy()
    mask[20, 20] = mask[20, 21] = mask[21, 20] = False  # 3 false negatives
    fps = {
        (25, 30): 1.0,  # touching the right side
        (25, 49): 20.0,  # straight right of (25, 29): exactly 20 -> near
        (41, 45): 20.0,  # from the corner (29, 29): sqrt(12^2 + 16^2) = 20 exactly -> near
        (22, 50): 21.0,  # straight right of (22, 29): 21 -> far
        (41, 46): float(np.hypot(12, 17)),  # 20.81 -> far
    }
    for rc in fps:
        mask[rc] = True
    return mask, gt, fps


def test_hand_computed_counts():
    mask, gt, fps = hand_case()
    out = ev.error_split(mask, gt)  # default near_px = 20
    assert out == {"fp_near": 3, "fp_far": 2, "fn": 3, "union": 105}
    assert all(type(v) is int for v in out.values())
    # J = 97 / 105 -> the three fractions sum to 1 - J = 8 / 105
    assert (out["fp_near"] + out["fp_far"] + out["fn"]) / out["union"] == pytest.approx(1 - ev.jaccard(mask, gt))
    assert ev.error_split(mask, gt, near_px=21)["fp_near"] == 5
    assert ev.error_split(mask, gt, near_px=20.9)["fp_near"] == 4  # 20.81 is near, 21 is not
    assert ev.error_split(mask, gt, near_px=19.99)["fp_near"] == 1
    assert ev.error_split(mask, gt, near_px=1)["fp_near"] == 1
    assert ev.error_split(mask, gt, near_px=0) == {"fp_near": 0, "fp_far": 5, "fn": 3, "union": 105}
    for near_px in (0, 1, 19.99, 20, 20.9, 21, 1000):
        assert ev.error_split(mask, gt, near_px) == brute_force_split(mask, gt, near_px)


def test_integer_masks_nonzero_is_foreground():
    mask, gt, _ = hand_case()
    assert ev.error_split(mask.astype(np.uint8) * 255, gt.astype(np.int32) * 3) == ev.error_split(mask, gt)


def test_near_is_not_limited_by_the_image_border_crop():
    # gt near the border: the crop around it is clipped by the image, distances must still be exact
    gt = rect(30, 40, 0, 3, 37, 40)
    mask = np.zeros_like(gt)
    mask[29, 0] = mask[3, 36] = mask[10, 20] = True
    for near_px in (1, 1.5, 17.0, 17.1, 40):
        assert ev.error_split(mask, gt, near_px) == brute_force_split(mask, gt, near_px)


@pytest.mark.parametrize("seed", range(6))
def test_fractions_sum_to_one_minus_iou_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    h, w = 40, 56
    gt = rng.random((h, w)) < rng.uniform(0.0, 0.3)
    mask = rng.random((h, w)) < rng.uniform(0.0, 0.3)
    near_px = float(rng.uniform(0, 12))
    out = ev.error_split(mask, gt, near_px)
    inter = np.logical_and(mask, gt).sum()
    union = np.logical_or(mask, gt).sum()
    iou = inter / union  # independent of ev.jaccard
    assert out["union"] == union
    total = (out["fp_near"] + out["fp_far"] + out["fn"]) / out["union"]
    assert total == pytest.approx(1.0 - iou, abs=1e-12)
    assert out == brute_force_split(mask, gt, near_px)


def test_empty_ground_truth_and_empty_frames():
    mask = rect(20, 30, 2, 5, 3, 7)  # 12 px
    empty = np.zeros((20, 30), bool)
    assert ev.error_split(mask, empty) == {"fp_near": 0, "fp_far": 12, "fn": 0, "union": 12}
    assert ev.error_split(mask, empty, near_px=1e9)["fp_far"] == 12  # no object: every FP is far
    assert ev.error_split(empty, mask) == {"fp_near": 0, "fp_far": 0, "fn": 12, "union": 12}
    assert ev.error_split(empty, empty) == {"fp_near": 0, "fp_far": 0, "fn": 0, "union": 0}
    assert ev.error_split(mask, mask) == {"fp_near": 0, "fp_far": 0, "fn": 0, "union": 12}


def test_input_validation_errors():
    with pytest.raises(ValueError, match=r"size mismatch.*expected.*\(10, 12\).*received.*\(12, 10\)"):
        ev.error_split(np.zeros((12, 10), bool), np.zeros((10, 12), bool))
    with pytest.raises(ValueError, match=r"mask expected a 2-D.*received shape \(4, 5, 3\)"):
        ev.error_split(np.zeros((4, 5, 3), bool), np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match=r"gt expected a 2-D.*received shape \(20,\)"):
        ev.error_split(np.zeros((4, 5), bool), np.zeros(20, bool))
    for bad in (-1, float("nan"), float("inf"), "far"):
        with pytest.raises(ValueError, match="near_px: expected"):
            ev.error_split(np.zeros((4, 5), bool), np.zeros((4, 5), bool), near_px=bad)


def test_format_error_table():
    split = {
        "near_px": 20.0,
        "sequences": {"a-long-sequence-name": {"fp_near": 0.1, "fp_far": 0.02, "fn": 0.3, "frames": 7}},
        "overall": {"fp_near": 0.1, "fp_far": 0.02, "fn": 0.3, "frames": 7},
        "pixels": {"fp_near": 10, "fp_far": 2, "fn": 30, "union": 100},
    }
    lines = ev.format_error_table(split).splitlines()
    assert lines[0].split() == ["Sequence", "FP-near", "FP-far", "FN", "1-J", "Frames"]
    assert lines[2].split() == ["a-long-sequence-name", "0.100", "0.020", "0.300", "0.420", "7"]
    assert lines[4].split() == ["Overall", "0.100", "0.020", "0.300", "0.420", "7"]
    assert "20 px" in lines[-1]


# ------------------------------------------------------------------------ results folder and tool
def save(mask, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)


H, W, N = 48, 64, 6
BLOB = rect(H, W, 0, 2, 62, 64)  # 4 px in the top-right corner: > 21 px from every gt box below


def gt_box(i):
    return rect(H, W, 10 + i, 30 + i, 15, 45)  # 20 x 30 = 600 px


def make_tree(tmp_path):
    """DAVIS layout with N = 6 frames per sequence (frames 1..4 evaluated):

    seq_a  results = gt                               -> no error
    seq_b  results = gt shifted 3 rows down           -> per frame 90 FP (1..3 px away: near), 90 FN,
                                                         union 690
    seq_c  frame 1: gt empty, result = BLOB           -> fp_far = 1 (J = 0)
           frames 2, 3: result = gt + BLOB            -> fp_far = 4 / 604
           frame 4: gt and result empty               -> empty union: 0 everywhere (J = 1)
    Results exist only for frames 1..4, except a wrong-size seq_a/00000.png that must never be read.
    """
    root, res = tmp_path / "DAVIS", tmp_path / "results"
    for i in range(N):
        empty_c = i in (1, 4)
        for seq in ("seq_a", "seq_b", "seq_c"):
            gt = np.zeros((H, W), bool) if (seq == "seq_c" and empty_c) else gt_box(i)
            save(gt, root / "Annotations" / "480p" / seq / f"{i:05d}.png")
            if not 1 <= i <= N - 2:
                continue
            if seq == "seq_a":
                r = gt
            elif seq == "seq_b":
                r = np.roll(gt, 3, axis=0)
            else:
                r = gt | BLOB if i != 4 else gt
            save(r, res / seq / f"{i:05d}.png")
    save(np.ones((5, 7), bool), res / "seq_a" / "00000.png")
    (root / "db_info.yaml").write_text(
        "sequences:\n"
        + "".join(f"- {{name: {s}, num_frames: {N}, set: val, eval_t: true}}\n" for s in ("seq_a", "seq_b", "seq_c"))
    )
    return root, res


EXPECTED_SEQ = {
    "seq_a": {"fp_near": 0.0, "fp_far": 0.0, "fn": 0.0, "frames": 4},
    "seq_b": {"fp_near": 90 / 690, "fp_far": 0.0, "fn": 90 / 690, "frames": 4},
    "seq_c": {"fp_near": 0.0, "fp_far": (1 + 2 * 4 / 604 + 0) / 4, "fn": 0.0, "frames": 4},
}
EXPECTED_PIXELS = {"fp_near": 4 * 90, "fp_far": 3 * 4, "fn": 4 * 90, "union": 4 * 600 + 4 * 690 + (4 + 604 + 604 + 0)}


def check_split(split, seqs, near_px=20.0):
    assert set(split) == {"near_px", "sequences", "overall", "pixels"}
    assert split["near_px"] == near_px
    assert list(split["sequences"]) == seqs
    for s in seqs:
        got = split["sequences"][s]
        assert set(got) == set(EXPECTED_SEQ[s])
        assert got["frames"] == EXPECTED_SEQ[s]["frames"] and type(got["frames"]) is int
        for k in KEYS:
            assert type(got[k]) is float
            assert got[k] == pytest.approx(EXPECTED_SEQ[s][k], abs=1e-12), (s, k)
    assert set(split["overall"]) == set(KEYS) | {"frames"}
    assert split["overall"]["frames"] == 4 * len(seqs)
    for k in KEYS:
        assert split["overall"][k] == pytest.approx(np.mean([EXPECTED_SEQ[s][k] for s in seqs]), abs=1e-12)
    json.dumps(split, allow_nan=False)


def test_error_split_results_by_hand_and_against_j(tmp_path):
    root, res = make_tree(tmp_path)
    seqs = ["seq_a", "seq_b", "seq_c"]
    split = ev.error_split_results(root, res, workers=1, progress=False)
    check_split(split, seqs)
    assert split["pixels"] == EXPECTED_PIXELS
    assert all(type(v) is int for v in split["pixels"].values())
    # the worker pool gives the same numbers, and the sequence order is the requested one
    pooled = ev.error_split_results(root, res, sequences=["seq_c", "seq_b"], workers=2, progress=False)
    check_split(pooled, ["seq_c", "seq_b"])
    for s in ("seq_b", "seq_c"):
        assert pooled["sequences"][s] == split["sequences"][s]
    # per sequence and overall, fp_near + fp_far + fn = 1 - J-Mean of the J/F evaluation
    jf = ev.evaluate_results(root, res, compute_t=False, workers=1, progress=False)
    for s in seqs:
        total = sum(split["sequences"][s][k] for k in KEYS)
        assert total == pytest.approx(1 - jf["sequences"][s]["J"]["mean"], abs=1e-12), s
    assert sum(split["overall"][k] for k in KEYS) == pytest.approx(1 - jf["overall"]["J"]["mean"], abs=1e-12)
    # near_px changes only the near/far split: seq_b's FPs are 1..3 px away, the blob >= 21 px
    at2 = ev.error_split_results(root, res, near_px=2, workers=1, progress=False)
    assert at2["near_px"] == 2.0
    assert at2["pixels"] == dict(EXPECTED_PIXELS, fp_near=4 * 60, fp_far=4 * 30 + 12)


def test_error_split_results_errors_match_j_f_evaluation(tmp_path):
    root, res = make_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing sequence folder"):
        ev.error_split_results(root, res, sequences=["seq_a", "nope"], progress=False)
    with pytest.raises(ValueError, match="empty list of sequences"):
        ev.error_split_results(root, res, sequences=[], progress=False)
    with pytest.raises(ValueError, match="near_px: expected"):
        ev.error_split_results(root, res, near_px=-3, progress=False)
    with pytest.raises(FileNotFoundError, match="Annotations"):
        ev.error_split_results(tmp_path / "nowhere", res, progress=False)
    with pytest.raises(FileNotFoundError, match="results folder not found"):
        ev.error_split_results(root, tmp_path / "nowhere", progress=False)
    (res / "seq_a" / "00002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing result frames.*00002\.png"):
        ev.error_split_results(root, res, sequences=["seq_a"], progress=False)
    save(np.zeros((30, 40), bool), res / "seq_a" / "00002.png")
    with pytest.raises(ValueError, match=r"size mismatch.*seq_a/00002\.png.*40x30"):
        ev.error_split_results(root, res, sequences=["seq_a"], workers=1, progress=False)
    flat = tmp_path / "flat"
    save(np.zeros((H, W), bool), flat / "00001.png")
    with pytest.raises(ValueError, match="wrong results layout"):
        ev.error_split_results(root, flat, progress=False)
    unknown = tmp_path / "r2"
    save(np.zeros((H, W), bool), unknown / "zzz" / "00001.png")
    with pytest.raises(FileNotFoundError, match=r"no DAVIS sequence in results folder .*\(zzz;"):
        ev.error_split_results(root, unknown, progress=False)
    with pytest.raises(FileNotFoundError, match="no ground truth for sequence 'zzz'"):
        ev.error_split_results(root, unknown, sequences=["zzz"], progress=False)
    with pytest.raises(ValueError, match="workers: expected a number of processes >= 1"):
        ev.error_split_results(root, res, workers=0, progress=False)


def test_tool_errors_flag_prints_table_and_writes_json(tmp_path):
    root, res = make_tree(tmp_path)
    out = tmp_path / "out" / "eval.json"
    p = run_tool("--davis", root, "--results", res, "--no-t", "--errors", "--json", out, "--workers", 1)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "J-Mean" in lines[0]
    head = [i for i, line in enumerate(lines) if line.split()[:4] == ["Sequence", "FP-near", "FP-far", "FN"]]
    assert len(head) == 1
    err_rows = {line.split()[0]: line.split()[1:] for line in lines[head[0] :] if line.startswith("seq_")}
    assert err_rows["seq_b"] == [f"{90 / 690:.3f}", "0.000", f"{90 / 690:.3f}", f"{180 / 690:.3f}", "4"]
    assert "[errors] 3/3" in p.stderr
    data = json.loads(out.read_text())
    assert set(data) == {"sequences", "overall", "error_split"}
    check_split(data["error_split"], ["seq_a", "seq_b", "seq_c"])
    assert data["error_split"]["pixels"] == EXPECTED_PIXELS
    jf = ev.evaluate_results(root, res, compute_t=False, workers=1, progress=False)
    assert {k: data[k] for k in ("sequences", "overall")} == jf

    # --near-px, --sequences
    p = run_tool(
        "--davis", root, "--results", res, "--no-t", "--errors", "--near-px", 2, "--sequences", "seq_b", "--json", out
    )
    assert p.returncode == 0, p.stderr
    split = json.loads(out.read_text())["error_split"]
    assert split["near_px"] == 2.0 and list(split["sequences"]) == ["seq_b"]
    assert split["pixels"] == {"fp_near": 4 * 60, "fp_far": 4 * 30, "fn": 4 * 90, "union": 4 * 690}

    # without --errors the JSON has no split; --near-px alone or negative is a usage error
    p = run_tool("--davis", root, "--results", res, "--no-t", "--json", out, "--workers", 1)
    assert p.returncode == 0, p.stderr
    assert "error_split" not in json.loads(out.read_text()) and "FP-near" not in p.stdout
    p = run_tool("--davis", root, "--results", res, "--no-t", "--near-px", 5)
    assert p.returncode == 2 and "--near-px only applies to the error split" in p.stderr
    p = run_tool("--davis", root, "--results", res, "--no-t", "--errors", "--near-px", -1)
    assert p.returncode == 2 and "error: near_px: expected" in p.stderr
