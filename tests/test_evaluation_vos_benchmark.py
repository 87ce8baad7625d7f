"""J and F against the independent ``vos-benchmark`` package (its ``Evaluator``: IoU, and the DAVIS
boundary F with ``cv2.dilate`` by ``skimage.morphology.disk``), asserted *exactly equal* (``==`` on the
float64 values, no tolerance), on synthetic masks chosen for the corner cases -- empty and full masks,
holes, one-pixel-thin structures, masks on the image border, diagonal touching pixels, shifts just within
and just beyond the 8 px tolerance -- and random blobs; plus perturbed DAVIS ground truth (``davis`` tier).

vos-benchmark is in the ``test`` extra (``pip install -e .[test]``); the tests are skipped without it.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from osvos_tf import evaluation as ev

vos = pytest.importorskip("vos_benchmark.evaluator", reason="vos-benchmark is not installed (pip install -e .[test])")

REPO = Path(__file__).resolve().parents[1]
DAVIS_ROOT = (
    Path(os.environ["OSVOS_DAVIS_ROOT"]) if os.environ.get("OSVOS_DAVIS_ROOT") else REPO.parent / "shared" / "DAVIS"
)
H, W = 480, 854  # DAVIS 480p: F tolerance ceil(0.008 * diagonal) = 8 px


def vos_j_f(result: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """J and F of one frame by vos-benchmark (object id 1)."""
    evaluator = vos.Evaluator(boundary=ev.BOUND_TH)
    primer = np.ones((2, 2), np.uint8)  # registers object 1, so that a frame with both masks empty is scored
    evaluator.feed_frame(primer, primer)
    evaluator.feed_frame(result.astype(np.uint8), gt.astype(np.uint8))
    return float(evaluator.object_iou[1][1]), float(evaluator.boundary_f[1][1])


def box(h, w, r0, r1, c0, c1):
    m = np.zeros((h, w), bool)
    m[r0:r1, c0:c1] = True
    return m


def synthetic_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (result, gt), bool (H, W)."""
    empty, full = np.zeros((H, W), bool), np.ones((H, W), bool)
    square = box(H, W, 100, 300, 200, 500)
    ring = square & ~box(H, W, 150, 250, 300, 400)  # a hole
    holes = square.copy()
    holes[120:280:20, 220:480:20] = False  # 1-pixel holes
    cross = box(H, W, 240, 241, 20, 830) | box(H, W, 10, 470, 427, 428)  # 1-pixel-wide lines
    border = box(H, W, 0, 1, 0, W) | box(H, W, 0, H, W - 1, W) | box(H, W, H - 1, H, 0, 40)  # first row, last column
    corner = box(H, W, H - 30, H, W - 30, W)  # the bottom-right pixel is never a boundary pixel
    diag = np.eye(H, W, dtype=bool)  # pixels touching only at corners
    checker = (np.indices((60, 90)).sum(axis=0) % 2).astype(bool)
    dot = box(H, W, 200, 201, 300, 301)
    cases = {
        "both empty": (empty, empty),
        "empty result": (empty, square),
        "empty ground truth": (square, empty),
        "both full (no boundary)": (full, full),
        "full result": (full, square),
        "identical": (square, square),
        "hole in the result": (ring, square),
        "hole in the ground truth": (square, ring),
        "1-px holes": (holes, square),
        "thin lines vs a box": (cross, square),
        "thin lines shifted 1 px": (cross, np.roll(cross, 1, axis=0)),
        "thin lines shifted 8 px (within)": (np.roll(cross, 8, axis=1), cross),
        "thin lines shifted 9 px (beyond)": (np.roll(cross, 9, axis=1), cross),
        "diagonal shifted 6 px both ways": (np.roll(diag, (6, 6), axis=(0, 1)), diag),
        "on the image border": (border, full),
        "border vs shifted border": (border, np.roll(border, 3, axis=0)),
        "bottom-right corner": (corner, square),
        "single pixel": (dot, square),
        "single pixel vs itself shifted": (dot, np.roll(dot, 8, axis=0)),
        "checkerboard (small image)": (checker, np.roll(checker, 1, axis=1)),
        "1-row image": (box(1, 40, 0, 1, 5, 20), box(1, 40, 0, 1, 10, 30)),
        "1-column image": (box(40, 1, 5, 20, 0, 1), box(40, 1, 0, 12, 0, 1)),
    }
    rng = np.random.default_rng(2016)
    for i in range(12):
        h, w = (int(v) for v in rng.integers(8, 160, size=2))
        gt = ndimage.binary_opening(rng.random((h, w)) < rng.uniform(0.2, 0.8), iterations=int(rng.integers(0, 2)))
        res = ndimage.binary_dilation(gt, iterations=int(rng.integers(0, 4))) ^ (rng.random((h, w)) < 0.02)
        cases[f"random blobs {i} ({h}x{w})"] = (res, gt)
    return cases


CASES = synthetic_cases()


@pytest.mark.parametrize("name", list(CASES))
def test_j_and_f_equal_vos_benchmark_exactly(name):
    res, gt = CASES[name]
    want_j, want_f = vos_j_f(res, gt)
    assert ev.jaccard(res, gt) == want_j
    assert ev.f_measure(res, gt) == want_f
    assert ev.jaccard(res.astype(np.uint8) * 255, gt.astype(np.int32) * 7) == want_j  # any nonzero is foreground


def test_the_cases_cover_the_f_conventions():
    """The cases above are not all trivial: they include F = 0, F = 1 and values in between."""
    fs = [vos_j_f(*CASES[n])[1] for n in CASES]
    assert 0.0 in fs and 1.0 in fs and sum(0.0 < f < 1.0 for f in fs) >= 15
    assert vos_j_f(*CASES["thin lines shifted 8 px (within)"])[1] == 1.0
    assert vos_j_f(*CASES["thin lines shifted 9 px (beyond)"])[1] < 1.0


@pytest.mark.davis
@pytest.mark.skipif(
    not (DAVIS_ROOT / "Annotations" / "480p").is_dir(),
    reason=f"DAVIS-2016 data not found at {DAVIS_ROOT} (set OSVOS_DAVIS_ROOT to run the DAVIS tests)",
)
def test_j_and_f_equal_vos_benchmark_exactly_on_perturbed_davis_masks():
    for seq in ("camel", "dance-twirl"):
        files = sorted((DAVIS_ROOT / "Annotations" / "480p" / seq).glob("*.png"))[1:40:6]
        fs = []
        for i, f in enumerate(files):
            gt = ev.read_mask(f)
            res = [
                ndimage.binary_erosion(gt, iterations=3),
                ndimage.binary_dilation(gt, iterations=5),
                np.roll(gt, (6, -11), axis=(0, 1)),
                ndimage.binary_dilation(np.roll(gt, 4, axis=1), iterations=2),
            ][i % 4]
            want_j, want_f = vos_j_f(res, gt)
            assert ev.jaccard(res, gt) == want_j, (seq, f.name)
            assert ev.f_measure(res, gt) == want_f, (seq, f.name)
            fs.append(want_f)
        assert min(fs) < 0.99  # the perturbations do change F
