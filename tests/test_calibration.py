"""The confidence model of snapping (hand-computed cases) and the calibration: the threshold sweep and the
choice under the per-sequence loss limit on synthetic samples with known answers, the validation refusal, and
fine-tuned calibration on a tiny DAVIS-layout tree."""

import numpy as np
import pytest

from osvos_tf import benchmarks
from osvos_tf.benchmarks import CalibrationSample, format_calibration, score_snapping
from osvos_tf.config import MASK_THRESHOLD, BilateralParams, ContourSnapParams
from osvos_tf.snapping import (
    SNAP_EVERYWHERE,
    ConfidenceMap,
    Snapper,
    keep_confident,
    snap_bilateral,
    snap_to_contours,
    superpixels,
)
from osvos_tf.synthetic import write_davis_tree

# --------------------------------------------------------------------------------------------------
# The confidence model
# --------------------------------------------------------------------------------------------------
#: 4x4 probabilities: a confident foreground pixel (0.95), an uncertain one (0.55), the rest background.
PROBS = np.array(
    [
        [0.95, 0.1, 0.1, 0.1],
        [0.1, 0.1, 0.1, 0.1],
        [0.1, 0.55, 0.45, 0.1],
        [0.1, 0.1, 0.1, 0.1],
    ],
    np.float32,
)


def test_contour_snapping_cannot_flip_a_confident_pixel():
    # a flat contour map is one superpixel; 2 of its 16 pixels are foreground, so the vote erases both
    contour = np.zeros((4, 4), np.float32)
    assert np.unique(superpixels(contour, 0.2)).tolist() == [0]
    frame = np.zeros((4, 4, 3), np.uint8)
    everywhere = Snapper("contours", threshold=0.5, contours=ContourSnapParams(threshold=0.2, margin=1.0, band=0))
    assert not everywhere(frame, PROBS, contour=contour).any()
    # margin 0.3 at threshold 0.5: only 0.55 and 0.45 are uncertain (|0.1 - 0.5| = 0.4 and |0.95 - 0.5| = 0.45
    # are not); the vote removes 0.55, the confident 0.95 stays
    expected = np.zeros((4, 4), bool)
    expected[0, 0] = True
    snapper = Snapper("contours", threshold=0.5, contours=ContourSnapParams(threshold=0.2, margin=0.3, band=0))
    assert np.array_equal(snapper(frame, PROBS, contour=contour), expected)
    # at threshold 0.4 the uncertain pixels are |p - 0.4| < 0.3: 0.55 and 0.45 again, and 0.1 is not (0.3)
    assert np.array_equal(snapper(frame, PROBS, contour=contour, threshold=0.4), expected)
    # margin 0: nothing may change, the raw mask
    frozen = Snapper("contours", threshold=0.5, contours=ContourSnapParams(threshold=0.2, margin=0.0, band=0))
    assert np.array_equal(frozen(frame, PROBS, contour=contour), PROBS > 0.5)


def test_band_keeps_pixels_far_from_the_boundary():
    # one row: three foreground pixels, four background ones; distances to the other class 3 2 1 | 1 2 3 4
    probs = np.array([[0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1]])
    conf = ConfidenceMap(probs, 0.5)
    assert conf.distance.tolist() == [[3, 2, 1, 1, 2, 3, 4]]
    everything = np.ones((1, 7), bool)
    nothing = np.zeros((1, 7), bool)
    assert conf.apply(everything, 1.0, 2).tolist() == [[1, 1, 1, 1, 1, 0, 0]]
    assert conf.apply(nothing, 1.0, 2).tolist() == [[1, 0, 0, 0, 0, 0, 0]]
    assert conf.apply(nothing, 1.0, 1).tolist() == [[1, 1, 0, 0, 0, 0, 0]]
    # both limits: |p - 0.5| = 0.4 everywhere, so margin 0.3 allows no change and 0.5 the band's
    assert conf.apply(nothing, 0.3, 2).tolist() == [[1, 1, 1, 0, 0, 0, 0]]
    assert conf.apply(nothing, 0.5, 2).tolist() == [[1, 0, 0, 0, 0, 0, 0]]
    # no limit: the snapped mask itself
    assert np.array_equal(keep_confident(nothing, probs, 0.5, *SNAP_EVERYWHERE), nothing)
    # an empty raw mask has no boundary: no pixel within a band
    empty = ConfidenceMap(np.full((2, 3), 0.2), 0.5)
    assert np.isinf(empty.distance).all()
    assert not empty.apply(np.ones((2, 3), bool), 1.0, 5).any()
    assert empty.apply(np.ones((2, 3), bool), 1.0, 0).all()


def test_confidence_inputs_are_checked():
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        ContourSnapParams(margin=-0.1).validate()
    with pytest.raises(ValueError, match="band must be an integer >= 0"):
        BilateralParams(band=1.5).validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="margin must be"):
        Snapper("bilateral", bilateral=BilateralParams(margin=float("nan")))
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\)"):
        ConfidenceMap(PROBS, 1.0)
    with pytest.raises(ValueError, match="finite probabilities in"):
        ConfidenceMap(PROBS + 1, 0.5)
    with pytest.raises(ValueError, match="must be bool with the probabilities' shape"):
        keep_confident(np.zeros((3, 3), bool), PROBS, 0.5, 0.3, 0)


def test_snapper_applies_the_confidence_model_of_each_mode():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    probs = np.clip(rng.random((24, 32)) * 1.2 - 0.1, 0, 1).astype(np.float32)
    contour = rng.random((24, 32)).astype(np.float32)
    bil = BilateralParams(lam=32.0, margin=0.2, band=3)
    expected = keep_confident(snap_bilateral(frame, probs, bil), probs, 0.4, 0.2, 3)
    assert np.array_equal(Snapper("bilateral", threshold=0.4, bilateral=bil)(frame, probs), expected)
    con = ContourSnapParams(threshold=0.3, margin=0.25, band=2)
    expected = keep_confident(snap_to_contours(probs, contour, 0.3, mask_threshold=0.4), probs, 0.4, 0.25, 2)
    assert np.array_equal(Snapper("contours", threshold=0.4, contours=con)(frame, probs, contour=contour), expected)
    # margin 1, band 0: the snapping of before the confidence model, unchanged
    old = BilateralParams(lam=32.0)
    assert (old.margin, old.band) == SNAP_EVERYWHERE
    assert np.array_equal(Snapper("bilateral", bilateral=old)(frame, probs), snap_bilateral(frame, probs, old))


# --------------------------------------------------------------------------------------------------
# Scoring and choosing (no network)
# --------------------------------------------------------------------------------------------------
def flat_contours(frame):
    return np.zeros(frame.shape[:2], np.float32)


def square(value_in, value_ring, value_out, size=12):
    """A size x size map: value_in on the centred 4x4 object (rows/cols c..c+3, c = size // 2 - 2), value_ring
    on the 20-pixel ring around it, value_out elsewhere; and the object as ground truth."""
    c = size // 2 - 2
    p = np.full((size, size), value_out, np.float32)
    p[c - 1 : c + 5, c - 1 : c + 5] = value_ring
    p[c : c + 4, c : c + 4] = value_in
    gt = np.zeros((size, size), bool)
    gt[c : c + 4, c : c + 4] = True
    return p, gt


def test_threshold_sweep_finds_the_known_best():
    # ground truth: 16 pixels, 12 at p = 0.75 and 4 at 0.68; a ring of 20 background pixels at 0.62
    probs, gt = square(0.75, 0.62, 0.2, size=8)
    probs[2, 2:6] = 0.68
    frame = np.zeros((8, 8, 3), np.uint8)
    samples = [CalibrationSample(q, "00005", frame, probs, gt) for q in ("a", "b")]
    cal = score_snapping(
        samples,
        flat_contours,
        mask_thresholds=(0.3, 0.6, 162 / 255, 0.7, 0.8),
        ucm_thresholds=(0.2,),
        bilateral=((8.0, 8.0),),
        margins=(0.1,),
        bands=(0,),
    )
    th = cal["threshold"]
    # t < 0.62: 16 / (16 + 20); 162/255 = 0.635: exact; 0.7: 12 of 16; 0.8: nothing
    # 0.5 and the default threshold are always scored
    assert list(th["J"]) == sorted({0.3, 0.5, 0.6, 162 / 255, 0.7, 0.8, MASK_THRESHOLD})
    assert all(j == 0.0 for t, j in th["J"].items() if t >= 0.75)
    assert th["J"][0.3] == th["J"][0.5] == th["J"][0.6] == pytest.approx(16 / 36)
    assert th["J"][162 / 255] == 1.0 and th["J"][0.7] == 0.75 and th["J"][0.8] == 0.0
    assert th["best"] == th["used"] == 162 / 255 and th["J_best"] == 1.0 and th["J_0.5"] == pytest.approx(16 / 36)
    assert cal["none"] == 1.0
    # a fixed mask threshold is used as given, and still reported
    fixed = score_snapping(
        samples, flat_contours, mask_threshold=0.5, ucm_thresholds=(0.2,), bilateral=((8.0, 8.0),), bands=(0,)
    )
    assert fixed["threshold"]["used"] == 0.5 and fixed["none"] == pytest.approx(16 / 36)


def two_sequences():
    """One frame each, 12x12, one superpixel (flat contour map; 144 pixels, so a region of fewer than 72
    foreground pixels is voted background). Sequence a: the 16-pixel object at 0.95 with a ring of 20 uncertain
    false positives at 0.55 (J 16/36 without snapping); sequence b: the object alone (J 1)."""
    pa, gt = square(0.95, 0.55, 0.05)
    pb, _ = square(0.95, 0.05, 0.05)
    frame = np.zeros((12, 12, 3), np.uint8)
    return [CalibrationSample("a", "1", frame, pa, gt), CalibrationSample("b", "1", frame, pb, gt)]


def test_choice_respects_the_per_sequence_loss():
    cal = score_snapping(
        two_sequences(),
        flat_contours,
        mask_threshold=0.5,
        ucm_thresholds=(0.2, 0.3),
        bilateral=((8.0, 8.0),),
        margins=(0.1, 0.4, 1.0),
        bands=(0, 2),
    )
    assert cal["per_sequence"]["a"]["none"] == pytest.approx(16 / 36) and cal["per_sequence"]["b"]["none"] == 1.0
    assert cal["none"] == pytest.approx((16 / 36 + 1) / 2)
    # every candidate: 2 UCM thresholds x (3 margins x 2 bands) (with (1, 0) among them)
    assert len(cal["contours"]) == 12 and "ucm=0.2,margin=1,band=0" in cal["contours"]
    # snapping everywhere: the vote erases both masks (36 and 16 of 144 pixels): J 0, a loss of 1 on b
    everywhere = cal["everywhere"]["contours"]
    assert (everywhere["margin"], everywhere["band"]) == SNAP_EVERYWHERE and everywhere["J"] == 0.0
    assert everywhere["worst_loss"] == 1.0 and everywhere["worst_sequence"] == "b"
    assert not everywhere["meets_max_loss"]
    # margin 0.1 or 0.4: only the ring (|0.55 - 0.5| = 0.05) is uncertain, not 0.95 / 0.05 (0.45): the vote
    # removes the ring and keeps the object: J 1 on both
    assert cal["contours"]["ucm=0.3,margin=0.1,band=0"] == 1.0 and cal["contours"]["ucm=0.2,margin=0.4,band=2"] == 1.0
    # band 2 without a margin: on a, all but the object's inner 2x2 (3 pixels from the background) is erased
    # (J 4/16); on b the whole object is within 2 pixels of the boundary (J 0)
    assert cal["contours"]["ucm=0.2,margin=1,band=2"] == pytest.approx((4 / 16 + 0) / 2)
    chosen = cal["best"]["contours"]
    assert chosen["key"] == "ucm=0.2,margin=0.1,band=0"  # the first of the J-1 candidates
    assert (chosen["threshold"], chosen["margin"], chosen["band"]) == (0.2, 0.1, 0)
    assert chosen["J"] == 1.0 and chosen["meets_max_loss"] and chosen["gain"] == pytest.approx(1 - cal["none"])
    assert chosen["per_sequence_gain"] == {"a": pytest.approx(20 / 36), "b": 0.0}
    assert chosen["worst_loss"] == 0.0 and chosen["worst_sequence"] == "b"
    text = format_calibration(cal)
    assert "contours chosen ucm=0.2,margin=0.1,band=0" in text
    assert f"{'a':<20} {16 / 36:>7.4f}{20 / 36:>+16.4f}{-16 / 36:>+16.4f}" in text


def test_choice_falls_back_to_the_smallest_worst_loss():
    # margin 1 only: every band erases both objects (each object pixel is within 4 px of the boundary), so every
    # candidate loses 1 on b; the least bad (the first) is chosen, and flagged
    cal = score_snapping(
        two_sequences(),
        flat_contours,
        mask_threshold=0.5,
        ucm_thresholds=(0.2,),
        bilateral=((8.0, 8.0),),
        margins=(1.0,),
        bands=(0, 4),
    )
    assert set(cal["contours"].values()) == {0.0}
    chosen = cal["best"]["contours"]
    assert not chosen["meets_max_loss"] and chosen["worst_loss"] == 1.0 and chosen["key"] == "ucm=0.2,margin=1,band=0"
    assert "none meets the max loss" in format_calibration(cal)


# --------------------------------------------------------------------------------------------------
# On a DAVIS-layout tree
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def train_tree(tmp_path_factory):
    return write_davis_tree(tmp_path_factory.mktemp("davis"), ("seq-a", "seq-b", "seq-c"), 5, 48, 64, image_set="train")


def test_validation_sequences_are_refused(tmp_path, train_tree):
    val_tree = write_davis_tree(tmp_path / "val", ("v1",), 5, 48, 64, image_set="val")
    with pytest.raises(ValueError, match=r"Refusing to calibrate on validation sequences \(v1\)"):
        benchmarks.calibrate_snapping(val_tree, "val")
    # a validation sequence named explicitly is refused too
    (train_tree / "ImageSets" / "480p" / "val.txt").write_text(
        "/JPEGImages/480p/seq-b/00000.jpg /Annotations/480p/seq-b/00000.png\n"
    )
    try:
        with pytest.raises(ValueError, match=r"validation sequences \(seq-b\).*allow_validation=True"):
            benchmarks.calibrate_snapping(train_tree, sequences=["seq-a", "seq-b"])
    finally:
        (train_tree / "ImageSets" / "480p" / "val.txt").unlink()
    with pytest.raises(ValueError, match="sequence_step must be an integer >= 1"):
        benchmarks.calibrate_snapping(train_tree, sequence_step=0)
    with pytest.raises(ValueError, match="Give presets or numbers of iterations, not both"):
        benchmarks.calibrate_snapping(train_tree, preset="fast", iterations=3)


@pytest.mark.slow
def test_calibration_fine_tunes_each_sequence_first(train_tree, monkeypatch, tmp_path):
    from osvos_tf.osvos import OSVOS

    calls = []
    fit = OSVOS.fit

    def recording_fit(self, frames, masks, *args, **kwargs):
        state = fit(self, frames, masks, *args, **kwargs)
        calls.append((frames, masks, state.iterations))
        return state

    monkeypatch.setattr(OSVOS, "fit", recording_fit)
    common = dict(
        frames_per_sequence=1,
        iterations=2,
        sequence_step=2,
        ucm_thresholds=(0.3,),
        bilateral=((8.0, 8.0),),
        margins=(0.3, 1.0),
        bands=(0,),
        progress=False,
        predictions=tmp_path / "predictions.npz",
    )
    cal = benchmarks.calibrate_snapping(train_tree, **common)
    # every second sequence (a, c), each fine-tuned once on its first frame and its annotation, 2 updates
    assert cal["sequences"] == ["seq-a", "seq-c"] and cal["image_set"] == "train"
    assert [(f[0].parent.name, f[0].name, m[0].name, n) for f, m, n in calls] == [
        ("seq-a", "00000.jpg", "00000.png", 2),
        ("seq-c", "00000.jpg", "00000.png", 2),
    ]
    assert all(len(f) == 1 and m[0].parent.parent.name == "480p" for f, m, _ in calls)
    ft = cal["fine_tuning"]
    assert ft["iterations"] == 2 and ft["preset"] is None and set(ft["seconds"]) == {"seq-a", "seq-c"}
    # the calibration frame is the middle one of 00001..00003, never the annotated frame
    assert cal["frames"] == 2 and all(rec["frames"] == 1 for rec in cal["per_sequence"].values())
    assert cal["validation_sequences"] == [] and cal["checkpoint"] == "osvos_davis2016_cpu"
    assert len(cal["contours"]) == 2 and len(cal["bilateral"]) == 2
    assert "fine-tuned on each first frame (iterations: 2 updates" in format_calibration(cal)
    # the predictions file: the same scores without fine-tuning again, at another mask threshold too
    again = benchmarks.calibrate_snapping(train_tree, **common, mask_threshold=0.5)
    assert len(calls) == 2 and again["fine_tuning"] == ft and again["threshold"]["J"] == cal["threshold"]["J"]
    assert again["threshold"]["used"] == 0.5 and again["none"] == cal["threshold"]["J"][0.5]
    with pytest.raises(ValueError, match=r"written with other settings \(iterations differ: iterations=2\)"):
        benchmarks.calibrate_snapping(
            train_tree, frames_per_sequence=1, iterations=3, sequence_step=2, predictions=tmp_path / "predictions.npz"
        )
