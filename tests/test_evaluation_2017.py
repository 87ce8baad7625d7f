"""Tests of the DAVIS-2017 semi-supervised (multi-object) evaluation and ``tools/eval_davis.py --year 2017``.

Every expected number is computed by hand in the comments (boundary pixel counts of rectangles, matches
within the tolerance, the official Decay bins), not by the code under test.  Independent references: the
DAVIS-2016 evaluator (a 2016 sequence read as one object scores the same; ``davis`` tier) and the
``vos-benchmark`` package's per-object J and F (exact equality).  The real DAVIS-2017 annotation samples in
../shared/DAVIS2017_samples are used for the reader (skipped when absent).

Boundary facts used by hand: a h x w rectangle away from the image border has 2h + 2w boundary pixels
(``seg2bmap``: the row above it and its last row, w + 1 and w pixels, the column left of it and its last
column, h and h - 1 more); an isolated pixel has 4.  On a 20 x 30 image the F tolerance is
ceil(0.008 * hypot(20, 30)) = 1 px (a boundary pixel matches one at Euclidean distance <= 1).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from test_evaluation import run_tool  # the same eval_davis.py runner as the 2016 CLI tests

from osvos_tf import evaluation as ev
from osvos_tf.evaluation.boundary import bound_pix
from osvos_tf.evaluation.davis2017 import evaluate_results_2017
from osvos_tf.evaluation.multi_object import count_objects, evaluate_object_frames, evaluate_objects, object_masks
from osvos_tf.label_maps import read_label_map

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "DAVIS2017_samples"
H, W = 20, 30
VOID = 255
# any palette: the reader must use the indices, never the colours (index 0 is white here)
PALETTE = [255, 255, 255, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [7] * (3 * 251) + [224, 224, 192]


def rect(r0, r1, c0, c1, h=H, w=W):
    """bool (h, w), True on rows r0..r1-1, cols c0..c1-1."""
    m = np.zeros((h, w), bool)
    m[r0:r1, c0:c1] = True
    return m


def labels(*objects, h=H, w=W, void=None):
    """uint8 label map: objects[k-1] (a bool mask or None) painted with id k in order, then void (255)."""
    out = np.zeros((h, w), np.uint8)
    for k, m in enumerate(objects, start=1):
        if m is not None:
            out[m] = k
    if void is not None:
        out[void] = VOID
    return out


def save_labels(arr, path, mode="P"):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.asarray(arr, np.uint8))
    if mode == "P":
        img = img.convert("P")  # keeps the values as indices
        img.putpalette(PALETTE)
    img.save(path)


# ------------------------------------------------------------------ the hand-computed sequences
OBJ1 = rect(2, 8, 2, 10)  # 6 x 8 = 48 px, boundary 2*6 + 2*8 = 28 px
OBJ2 = rect(10, 16, 15, 25)  # 6 x 10 = 60 px
VOID_COL = rect(0, H, 28, 29)  # 20 px, far (> 1 px) from both objects
DOT = rect(18, 19, 5, 6)  # 1 px, far from OBJ1's boundary


def alpha_sequence():
    """6 frames (1..4 evaluated), objects 1 and 2 and a void column.  Object 2 is absent (occluded) in
    the ground truth of frames 2 and 3."""
    present = [True, True, False, False, True, True]
    gts = [labels(OBJ1, OBJ2 if p else None, void=VOID_COL) for p in present]
    results = [
        labels(OBJ1 | VOID_COL, OBJ2),  # 1: object 1 also claims the void column: void is background
        labels(OBJ1),  # 2: object 2 absent from both: J = F = 1
        labels(OBJ1 | DOT, OBJ2),  # 3: a far stray pixel for 1; object 2 predicted but absent from the gt
        labels(),  # 4: an empty result frame
    ]
    return gts, results


# frame 1, object 1: J = 48 / (48 + 20); boundary 28 (matched) + the column's 40 (cols 27 and 28, 20
#   rows each, unmatched) -> P = 28/68, R = 1, F = 2P/(P+1) = 56/96 = 7/12
# frame 3, object 1: J = 48/49; P = 28/(28+4), R = 1 -> F = 2*(7/8)/(15/8) = 14/15
ALPHA_J = {1: [48 / 68, 1.0, 48 / 49, 0.0], 2: [1.0, 1.0, 0.0, 0.0]}
ALPHA_F = {1: [7 / 12, 1.0, 14 / 15, 0.0], 2: [1.0, 1.0, 0.0, 0.0]}
# 4 evaluated frames: ids = round(linspace(1, 4, 5) + 1e-10) - 1 = [0, 1, 2, 2, 3]: the first bin is frames
# 0..1, the last 2..3
ALPHA_STATS = {
    (1, "J"): {"mean": (48 / 68 + 1 + 48 / 49) / 4, "recall": 0.75, "decay": (48 / 68 + 1) / 2 - (48 / 49) / 2},
    (1, "F"): {"mean": (7 / 12 + 1 + 14 / 15) / 4, "recall": 0.75, "decay": (7 / 12 + 1) / 2 - (14 / 15) / 2},
    (2, "J"): {"mean": 0.5, "recall": 0.5, "decay": 1.0},
    (2, "F"): {"mean": 0.5, "recall": 0.5, "decay": 1.0},
}

LATE2 = rect(12, 18, 2, 8)  # object 2 of 'late': 36 px
OBJ3 = rect(2, 8, 14, 20)
OBJ4 = rect(12, 18, 14, 20)  # id 4: not in the first frame


def late_sequence():
    """6 frames: the first holds ids 1 and 3 only, so there are 3 objects; object 2 enters the ground truth
    at frame 3, and id 4 at frame 2 (above the count: not scored).  The result finds object 2 at frame 4."""
    gts = [labels(OBJ1, LATE2 if i >= 3 else None, OBJ3, OBJ4 if i >= 2 else None) for i in range(6)]
    results = [labels(OBJ1, LATE2 if i >= 4 else None, OBJ3) for i in range(1, 5)]
    return gts, results


# object 2: frames 1, 2 both empty (J = F = 1), frame 3 missed (0), frame 4 exact (1)
LATE_J = {1: [1.0] * 4, 2: [1.0, 1.0, 0.0, 1.0], 3: [1.0] * 4}


def check_frames(out, want_j, want_f=None):
    assert sorted(out) == sorted(want_j)
    for k in want_j:
        np.testing.assert_allclose(out[k]["J"]["frames"], want_j[k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(out[k]["F"]["frames"], (want_f or want_j)[k], rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------ in memory
def test_void_absent_object_and_empty_result_frame_by_hand():
    gts, results = alpha_sequence()
    out = evaluate_objects(gts, results)  # results of frames 1..4 only
    check_frames(out, ALPHA_J, ALPHA_F)
    for (k, m), stats in ALPHA_STATS.items():
        for s, v in stats.items():
            assert out[k][m][s] == pytest.approx(v, abs=1e-12), (k, m, s)
    # results for all 6 frames: frames 0 and 5 are not scored, whatever they hold
    full = evaluate_objects(gts, [labels(OBJ2)] + results + [labels()])
    check_frames(full, ALPHA_J, ALPHA_F)


def test_object_appearing_late_and_ids_above_the_first_frame():
    gts, results = late_sequence()
    assert count_objects(gts[0]) == 3  # the largest id of the first frame, not the number of ids
    out = evaluate_objects(gts, results)
    check_frames(out, LATE_J)  # 3 objects: the ground-truth id 4 is not scored
    assert out[2]["J"]["mean"] == 0.75 and out[2]["J"]["recall"] == 0.75
    assert out[2]["J"]["decay"] == pytest.approx(1.0 - 0.5)  # bins frames 0..1 and 2..3


def test_overlapping_predictions_by_hand():
    a, b = rect(2, 8, 2, 10), rect(2, 8, 10, 18)  # two touching 6 x 8 objects
    gt = labels(a, b)
    gts = [gt, gt, gt]
    # a label map: object 1 takes cols 10..13 of object 2 (24 px), object 2 keeps cols 14..17
    claimed = labels(rect(2, 8, 2, 14), rect(2, 8, 14, 18))
    out = evaluate_objects(gts, [claimed])
    assert out[1]["J"]["frames"][0] == pytest.approx(48 / 72) and out[2]["J"]["frames"][0] == 0.5
    # object 2, result 6 x 4 (20 boundary px) vs gt 6 x 8 (28): of the result's, the 3 on col 13 at rows
    # 3..5 are 2 px from the gt boundary (17/20 matched); of the gt's, the left column (6), cols 9..11 of
    # the row above (3) and cols 10, 11 of the last row (2) are unmatched (17/28) -> F = 2*17/48 = 17/24
    assert out[2]["F"]["frames"][0] == pytest.approx(17 / 24, abs=1e-12)
    # a stack of per-object masks may overlap: each object is scored on its own mask
    stack = np.stack([rect(2, 8, 2, 14), b])
    out = evaluate_objects(gts, [stack])
    assert out[1]["J"]["frames"][0] == pytest.approx(48 / 72) and out[1]["F"]["frames"][0] < 1.0
    assert out[2]["J"]["frames"][0] == 1.0 and out[2]["F"]["frames"][0] == 1.0
    # a stack with fewer layers: the missing objects are empty predictions
    out = evaluate_objects(gts, [stack[:1]])
    assert out[2]["J"]["frames"][0] == 0.0 and out[2]["F"]["frames"][0] == 0.0


def test_f_tolerance_is_9_px_on_910_wide_frames():
    h, w = 480, 910  # ceil(0.008 * hypot(480, 910)) = ceil(8.23) = 9; at 854 wide ceil(7.84) = 8
    assert bound_pix((h, w), ev.BOUND_TH) == 9.0 and bound_pix((480, 854), ev.BOUND_TH) == 8.0
    a, b = rect(100, 200, 100, 300, h, w), rect(250, 350, 400, 600, h, w)
    gt = labels(a, b, h=h, w=w)
    res = labels(np.roll(a, 9, axis=1), np.roll(b, 10, axis=1), h=h, w=w)
    out = evaluate_objects([gt, gt, gt], [res])
    # every boundary pixel moves 9 px sideways: all within the tolerance; at 10 px the vertical sides are not
    assert out[1]["F"]["frames"][0] == 1.0 and out[2]["F"]["frames"][0] < 1.0
    assert out[1]["J"]["frames"][0] == pytest.approx((200 - 9) / (200 + 9))  # 100-row boxes, 200 wide


def test_decay_bins_past_256_frames_use_integer_indices():
    """300 evaluated frames: ids = round(linspace(1, 300, 5) + 1e-10) - 1 = [0, 75, 150, 224, 299]; the
    official uint8 ids wrap 299 to 43 and would leave the last bin empty."""
    obj = rect(1, 4, 1, 4, 6, 6)
    gts = [labels(obj, h=6, w=6)] * 302
    results = [labels(obj if i < 150 else None, h=6, w=6) for i in range(300)]  # found in frames 0..149
    out = evaluate_objects(gts, results)
    assert out[1]["J"]["decay"] == 1.0 and out[1]["F"]["decay"] == 1.0  # first bin [0..75], last [224..299]
    assert out[1]["J"]["mean"] == 0.5 and out[1]["J"]["recall"] == 0.5


def test_in_memory_errors_say_what_was_expected():
    gts, results = alpha_sequence()
    with pytest.raises(ValueError, match=r"result of frame 2: object id 3 in a result, but .* 2 object\(s\)"):
        evaluate_objects(gts, [results[0], labels(OBJ1, OBJ2, OBJ3)] + results[2:])
    with pytest.raises(ValueError, match=r"object id 255 in a result.*is not void in a result"):
        evaluate_objects(gts, [labels(OBJ1, void=VOID_COL)] + results[1:])
    with pytest.raises(ValueError, match="a stack of 3 object masks, but the first ground-truth frame has 2"):
        evaluate_objects(gts, [np.stack([OBJ1, OBJ2, OBJ3])] + results[1:])
    with pytest.raises(ValueError, match=r"holds no object .*--year 2016"):
        evaluate_objects([labels(void=OBJ1)] * 3, [labels()])  # a DAVIS-2016 mask (0/255) is all void
    with pytest.raises(ValueError, match="expected an integer .* label map .* received a float64"):
        evaluate_objects(gts, [r.astype(float) for r in results])
    with pytest.raises(ValueError, match=r"size mismatch between result of frame 1 and ground truth of frame 1"):
        evaluate_objects(gts, [labels(h=10)] + results[1:])
    with pytest.raises(ValueError, match="at least 3 ground-truth frames"):
        evaluate_objects(gts[:2], [])
    with pytest.raises(ValueError, match="expected 6 result frames .* or 4"):
        evaluate_objects(gts, results[:3])
    with pytest.raises(ValueError, match="received 4 ground-truth frames and 3 results"):
        evaluate_object_frames(gts[0], gts[1:-1], results[:3])


def test_object_masks_void_is_background_in_the_ground_truth():
    gt = labels(OBJ1, None, OBJ3, void=VOID_COL)
    m = object_masks(gt, 3, is_result=False)
    assert m.shape == (3, H, W) and m.dtype == bool
    assert np.array_equal(m[0], OBJ1) and not m[1].any() and np.array_equal(m[2], OBJ3)
    assert not m[:, VOID_COL].any()  # void belongs to no object


# ------------------------------------------------------------------------------- folders and CLI
def make_tree(tmp_path, seqs, mode="P"):
    """A DAVIS-2017 tree (JPEGImages, Annotations, ImageSets/2017/val.txt) and a results folder from
    {name: (gt label maps of frames 0..N-1, results of frames 1..N-2)}."""
    root, res = tmp_path / "DAVIS2017", tmp_path / "results"
    for name, (gts, results) in seqs.items():
        for i, gt in enumerate(gts):
            jpg = root / "JPEGImages" / "480p" / name / f"{i:05d}.jpg"
            jpg.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((*gt.shape, 3), 90, np.uint8)).save(jpg)
            save_labels(gt, root / "Annotations" / "480p" / name / f"{i:05d}.png")
        for i, r in enumerate(results, start=1):
            save_labels(r, res / name / f"{i:05d}.png", mode=mode)
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True)
    (sets / "val.txt").write_text("".join(f"{s}\n" for s in seqs) + "\n")
    return root, res


def check_schema(data, objects, sequences):
    assert list(data) == ["objects", "sequences", "overall"]
    assert list(data["objects"]) == objects and list(data["sequences"]) == sequences
    blocks = list(data["objects"].values()) + list(data["sequences"].values()) + [data["overall"]]
    for b in blocks:
        assert type(b["J&F"]) is float and b["J&F"] == pytest.approx((b["J"]["mean"] + b["F"]["mean"]) / 2)
        for m in ("J", "F"):
            assert list(b[m]) == ["mean", "recall", "decay"] and all(type(v) is float for v in b[m].values())
            assert 0.0 <= b[m]["mean"] <= 1.0 and 0.0 <= b[m]["recall"] <= 1.0 and -1.0 <= b[m]["decay"] <= 1.0
    json.dumps(data, allow_nan=False)


def test_results_folder_per_object_and_means_over_objects(tmp_path):
    root, res = make_tree(tmp_path, {"alpha": alpha_sequence(), "late": late_sequence()})
    r = evaluate_results_2017(root, res, workers=1, progress=False)  # the sequences of val.txt
    check_schema(r, ["alpha_1", "alpha_2", "late_1", "late_2", "late_3"], ["alpha", "late"])
    for (k, m), stats in ALPHA_STATS.items():
        assert r["objects"][f"alpha_{k}"][m] == pytest.approx(stats, abs=1e-12)
    assert r["objects"]["late_2"]["J"] == {"mean": 0.75, "recall": 0.75, "decay": 0.5}
    assert r["objects"]["late_1"]["F"] == {"mean": 1.0, "recall": 1.0, "decay": 0.0}
    assert r["sequences"]["late"]["n_objects"] == 3 and r["sequences"]["alpha"]["n_objects"] == 2
    alpha_j = [ALPHA_STATS[(1, "J")]["mean"], 0.5]
    late_j = [1.0, 0.75, 1.0]
    assert r["sequences"]["alpha"]["J"]["mean"] == pytest.approx(np.mean(alpha_j))
    overall_j = np.mean(alpha_j + late_j)  # over the 5 objects, not the 2 sequences
    assert r["overall"]["J"]["mean"] == pytest.approx(overall_j)
    assert abs(overall_j - np.mean([np.mean(alpha_j), np.mean(late_j)])) > 0.01
    overall_f = np.mean([ALPHA_STATS[(1, "F")]["mean"], 0.5, 1.0, 0.75, 1.0])
    assert r["overall"]["J&F"] == pytest.approx((overall_j + overall_f) / 2)
    # grayscale (L) results read the same; an explicit sequence list; worker processes
    _, res_l = make_tree(tmp_path / "l", {"alpha": alpha_sequence()}, mode="L")
    r_l = evaluate_results_2017(root, res_l, sequences=["alpha"], workers=2, progress=False)
    assert r_l["objects"] == {k: v for k, v in r["objects"].items() if k.startswith("alpha_")}


def test_folder_errors_name_the_file_and_the_fix(tmp_path):
    gts, results = alpha_sequence()
    root, res = make_tree(tmp_path, {"alpha": (gts, results)})
    bad = res / "alpha" / "00002.png"
    save_labels(labels(OBJ1, OBJ2, OBJ3), bad)
    with pytest.raises(ValueError, match=rf"result {bad}: object id 3 in a result, but .* 2 object\(s\)"):
        evaluate_results_2017(root, res, workers=1, progress=False)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(bad)
    with pytest.raises(ValueError, match=rf"Result label map {bad} is a RGB image: its colours are not object ids"):
        evaluate_results_2017(root, res, workers=2, progress=False)
    bad.unlink()
    with pytest.raises(FileNotFoundError, match=r"missing result frames .*00002\.png"):
        evaluate_results_2017(root, res, progress=False)
    with pytest.raises(
        FileNotFoundError, match=r"DAVIS-2017 list of the 'test-dev' sequences not found: .*test-dev\.txt"
    ):
        evaluate_results_2017(root, res, image_set="test-dev", progress=False)
    with pytest.raises(FileNotFoundError, match=r"DAVIS-2017 ground truth not found: .*Annotations/480p"):
        evaluate_results_2017(tmp_path / "nowhere", res, sequences=["alpha"], progress=False)
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match="missing sequence folder"):
        evaluate_results_2017(root, tmp_path / "other", sequences=["alpha"], progress=False)
    first = root / "Annotations" / "480p" / "alpha" / "00000.png"
    save_labels(np.where(gts[0] > 0, VOID, 0), first, mode="L")  # a DAVIS-2016 style 0/255 mask
    save_labels(results[0], bad)
    with pytest.raises(ValueError, match=rf"first ground-truth frame {first} holds no object"):
        evaluate_results_2017(root, res, workers=1, progress=False)


def test_cli_year_2017_table_json_and_errors(tmp_path):
    root, res = make_tree(tmp_path, {"alpha": alpha_sequence(), "late": late_sequence()})
    out = tmp_path / "out" / "eval.json"
    p = run_tool("--davis", root, "--year", 2017, "--results", res, "--json", out, "--workers", 1)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["Object", "J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]
    assert [line.split()[0] for line in lines if line[:1].isalpha()][1:] == [
        "alpha_1",
        "alpha_2",
        "late_1",
        "late_2",
        "late_3",
        "Overall",
    ]
    assert "[eval] 2/2 late:" in p.stderr and "(3 objects)" in p.stderr
    data = json.loads(out.read_text())
    check_schema(data, ["alpha_1", "alpha_2", "late_1", "late_2", "late_3"], ["alpha", "late"])
    assert data == evaluate_results_2017(root, res, workers=1, progress=False)
    overall = [line for line in lines if line.startswith("Overall")][0].split()
    assert overall[1] == f"{data['overall']['J&F']:.3f}" and overall[2] == f"{data['overall']['J']['mean']:.3f}"

    save_labels(labels(OBJ1, OBJ2, OBJ3), res / "alpha" / "00003.png")  # id 3 in a 2-object sequence
    p = run_tool("--davis", root, "--year", 2017, "--results", res, "--workers", 2)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.splitlines()[-1].startswith(f"error: result {res / 'alpha' / '00003.png'}: object id 3")
    p = run_tool("--davis", root, "--year", 2017, "--results", res, "--errors")
    assert p.returncode == 2 and "--errors" in p.stderr and "2016" in p.stderr
    p = run_tool("--davis", root, "--results", res, "--set", "val")
    assert p.returncode == 2 and "--set only applies to --year 2017" in p.stderr
    p = run_tool("--davis", root, "--year", 2017, "--set", "train", "--results", res)
    assert p.returncode == 2 and "error: DAVIS-2017 list of the 'train' sequences not found" in p.stderr


# ------------------------------------------------------------------------- the real 2017 samples
@pytest.mark.skipif(
    not (SAMPLES / "Annotations" / "480p").is_dir(),
    reason=f"DAVIS-2017 annotation samples not found at {SAMPLES} (needed only for this reader test)",
)
def test_reader_on_the_real_davis2017_samples(tmp_path):
    tennis = SAMPLES / "Annotations" / "480p" / "tennis" / "00000.png"
    indices = np.asarray(Image.open(tennis))  # PIL's palette indices: the independent reading
    got = read_label_map(tennis)
    assert got.dtype == np.uint8 and got.shape == (480, 854) and np.array_equal(got, indices)
    assert set(np.unique(got)) == {0, 1, 2, VOID}  # 2 objects and void (the samples' README)
    assert count_objects(got) == 2
    m = object_masks(got, 2, is_result=False)
    for k in (1, 2):
        assert np.count_nonzero(m[k - 1]) == np.count_nonzero(indices == k) > 0
    assert not m[:, indices == VOID].any()
    bear = read_label_map(SAMPLES / "Annotations" / "480p" / "bear" / "00000.png")
    assert count_objects(bear) == 1
    # the colours of the palette are ignored: the same ids written with another palette read the same
    save_labels(got, tmp_path / "repainted.png")
    assert np.array_equal(read_label_map(tmp_path / "repainted.png"), got)
    # 2 frames are too few to score (the first and last are skipped): a clear error, not an empty table
    for i in range(2):
        save_labels(read_label_map(tennis.with_name(f"{i:05d}.png")), tmp_path / "res" / "tennis" / f"{i:05d}.png")
    with pytest.raises(ValueError, match="has 2 ground-truth frames .* at least 3 are needed"):
        evaluate_results_2017(SAMPLES, tmp_path / "res", sequences=["tennis"], workers=1, progress=False)


# --------------------------------------------------------------------- against vos-benchmark
def random_label_maps(rng, n_frames, h, w, n_objects):
    """Ground-truth label maps with void borders and perturbed results (shifted, dilated, one object lost
    in some frames), uint8 (h, w)."""
    gts, results = [], []
    centres = rng.uniform([60, 60], [h - 60, w - 60], size=(n_objects, 2))
    yy, xx = np.mgrid[:h, :w]
    for t in range(n_frames):
        gt = np.zeros((h, w), np.uint8)
        res = np.zeros((h, w), np.uint8)
        for k in range(n_objects):
            cy, cx = centres[k] + t * rng.uniform(-4, 4, size=2)
            ry, rx = rng.uniform(20, 60, size=2)
            blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1 + 0.3 * np.sin(xx / 7.0 + k)
            gt[blob] = k + 1
            if rng.random() < 0.85:  # sometimes an object is missed
                moved = np.roll(blob, tuple(int(v) for v in rng.integers(-12, 13, size=2)), axis=(0, 1))
                grow = int(rng.integers(0, 3))  # (iterations=0 would dilate until nothing changes)
                res[ndimage.binary_dilation(moved, iterations=grow) if grow else moved] = k + 1
        edge = ndimage.binary_dilation(gt > 0, iterations=2) & ~ndimage.binary_erosion(gt > 0, iterations=1)
        gt[edge & (rng.random((h, w)) < 0.5)] = VOID
        gts.append(gt)
        results.append(res)
    return gts, results


@pytest.mark.parametrize("width", [854, 910])  # F tolerance 8 and 9 px
def test_per_object_j_and_f_equal_vos_benchmark_exactly(width):
    vos = pytest.importorskip(
        "vos_benchmark.evaluator", reason="vos-benchmark is not installed (pip install -e .[test])"
    )
    rng = np.random.default_rng(width)
    n_objects = 3
    gts, results = random_label_maps(rng, 7, 480, width, n_objects)
    ours = evaluate_objects(gts, results)
    evaluator = vos.Evaluator(boundary=ev.BOUND_TH)
    primer = np.arange(1, n_objects + 1, dtype=np.uint8).reshape(1, -1)  # registers every object from the start
    evaluator.feed_frame(primer, primer)
    for gt, res in zip(gts[1:-1], results[1:-1]):
        evaluator.feed_frame(res, np.where(gt == VOID, 0, gt))  # void is background (vos-benchmark has none)
    assert sorted(evaluator.object_iou) == sorted(ours) == [1, 2, 3]
    for k in ours:
        assert ours[k]["J"]["frames"].tolist() == [float(v) for v in evaluator.object_iou[k][1:]], k
        assert ours[k]["F"]["frames"].tolist() == [float(v) for v in evaluator.boundary_f[k][1:]], k
    all_f = np.concatenate([ours[k]["F"]["frames"] for k in ours])
    assert all_f.min() < 0.5 and np.sum((all_f > 0) & (all_f < 1)) >= 6  # the cases are not trivial


# ----------------------------------------------------------- a DAVIS-2016 sequence as one object
def perturb(gt, i):
    return [
        ndimage.binary_erosion(gt, iterations=3),
        ndimage.binary_dilation(gt, iterations=5),
        np.roll(gt, (6, -11), axis=(0, 1)),
        np.zeros_like(gt),  # an empty result frame
        ndimage.binary_dilation(np.roll(gt, 4, axis=1), iterations=2),
        gt,
    ][i % 6]


def test_a_davis2016_sequence_as_one_object_scores_as_the_2016_evaluator(davis, tmp_path):
    seqs = ["car-shadow", "motocross-jump"]
    root17, res16, res17 = tmp_path / "DAVIS2017", tmp_path / "res2016", tmp_path / "res2017"
    for seq in seqs:
        files = sorted((davis / "Annotations" / "480p" / seq).glob("*.png"))
        for i, f in enumerate(files):
            gt = ev.read_mask(f)
            save_labels(gt, root17 / "Annotations" / "480p" / seq / f.name)  # object 1
            if 0 < i < len(files) - 1:
                pred = perturb(gt, i)
                (res16 / seq).mkdir(parents=True, exist_ok=True)
                Image.fromarray(pred.astype(np.uint8) * 255).save(res16 / seq / f.name)
                save_labels(pred, res17 / seq / f.name)
    r16 = ev.evaluate_results(davis, res16, compute_t=False, workers=1, progress=False)
    r17 = evaluate_results_2017(root17, res17, sequences=seqs, workers=1, progress=False)
    assert list(r17["objects"]) == [f"{s}_1" for s in seqs]
    for seq in seqs:
        for m in ("J", "F"):
            assert r17["objects"][f"{seq}_1"][m] == r16["sequences"][seq][m], (seq, m)
            assert r17["sequences"][seq][m] == r16["sequences"][seq][m], (seq, m)
    for m in ("J", "F"):
        assert r17["overall"][m] == pytest.approx(r16["overall"][m], abs=1e-15)
    assert 0.2 < r17["overall"]["J"]["mean"] < 0.9  # the perturbations do change the scores
