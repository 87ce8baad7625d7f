"""Several objects per video (issue #16): label maps in and out, void in the loss, one network per object,
the argmax merge."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from osvos_tf.label_maps import (
    DAVIS_PALETTE,
    label_map_from_masks,
    merge,
    object_ids,
    read_label_map,
    write_label_map,
)


def test_davis_palette_is_the_voc_colour_map():
    # by hand: k = 1 -> red bit 7, 2 -> green bit 7, 3 -> both, 4 -> blue, 8 -> red bit 6; 255 -> (224, 224, 192)
    assert [tuple(DAVIS_PALETTE[k]) for k in (0, 1, 2, 3, 4, 8, 255)] == [
        (0, 0, 0),
        (128, 0, 0),
        (0, 128, 0),
        (128, 128, 0),
        (0, 0, 128),
        (64, 0, 0),
        (224, 224, 192),
    ]


def test_label_maps_round_trip_as_palette_pngs(tmp_path):
    labels = np.zeros((5, 7), np.uint8)
    labels[1:3, 1:3], labels[3:, 4:], labels[0, 6] = 1, 3, 255
    write_label_map(tmp_path / "a.png", labels)
    image = Image.open(tmp_path / "a.png")
    assert image.mode == "P" and image.getpalette()[3:6] == [128, 0, 0]
    np.testing.assert_array_equal(read_label_map(tmp_path / "a.png"), labels)
    assert object_ids([labels]) == (1, 3)
    Image.fromarray(labels, "L").save(tmp_path / "gray.png")  # 8-bit grayscale ids read the same
    np.testing.assert_array_equal(read_label_map(tmp_path / "gray.png"), labels)


def test_bad_label_maps_are_refused_with_the_fix(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="colours are not object ids"):
        read_label_map(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="at most 254 objects"):
        read_label_map(np.arange(300).reshape(15, 20))
    with pytest.raises(ValueError, match="overlaps object"):
        label_map_from_masks({1: np.eye(3, dtype=bool), 2: np.ones((3, 3), bool)})
    with pytest.raises(ValueError, match="integers 1..254"):
        label_map_from_masks({0: np.eye(3, dtype=bool)})
    np.testing.assert_array_equal(
        label_map_from_masks({2: np.eye(2, dtype=bool), 5: ~np.eye(2, dtype=bool)}), [[2, 5], [5, 2]]
    )


def test_merge_is_the_argmax_with_background_below_the_threshold():
    p1 = np.array([[0.9, 0.6, 0.2, 0.7]], np.float32)
    p3 = np.array([[0.8, 0.7, 0.4, 0.7]], np.float32)
    # by hand: 0.9 > 0.8 -> 1; 0.7 > 0.6 -> 3; best 0.4 <= 0.5 -> background; a tie -> the lower id
    np.testing.assert_array_equal(merge({3: p3, 1: p1}, threshold=0.5), [[1, 3, 0, 1]])
    np.testing.assert_array_equal(merge({3: p3, 1: p1}, threshold=0.75), [[1, 0, 0, 0]])


def test_void_pixels_are_left_out_of_the_loss():
    from osvos_tf.losses import VOID_LABEL, balanced_bce_with_logits

    rng = np.random.default_rng(0)
    labels = (rng.random((1, 6, 8, 1)) > 0.6).astype(np.float32)
    logits = rng.normal(0, 2, labels.shape).astype(np.float32)
    void = rng.random(labels.shape) > 0.7
    with_void = np.where(void, VOID_LABEL, labels)
    keep = ~void.ravel()
    # the same loss as an "image" made of the valid pixels alone
    ref = balanced_bce_with_logits(labels.ravel()[keep][None, :, None, None], logits.ravel()[keep][None, :, None, None])
    got = balanced_bce_with_logits(with_void, logits)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-6)
    assert float(np.asarray(balanced_bce_with_logits(np.full_like(labels, VOID_LABEL), logits))[0]) == 0.0


def _two_object_clip(n=6):
    from osvos_tf.synthetic import two_object_clip

    return two_object_clip(n_frames=n)


@pytest.mark.slow
def test_one_network_per_object_then_the_argmax(tmp_path):
    from osvos_tf import OSVOS

    frames, labels = _two_object_clip()
    annotation = labels[0].copy()
    annotation[0, :] = 255  # a void row: ignored in the loss
    osvos = OSVOS()
    state = osvos.fit_objects(frames[:1], [annotation], iterations=60, progress=False, time_budget_s=300)
    assert state.objects == (1, 2) and dict(state.first_frames) == {1: 0, 2: 0}
    assert all(s.iterations == 60 for s in state.states.values())
    assert state.states[1].weights is not state.states[2].weights
    results = list(osvos.segment_objects(frames, state))
    assert [i for i, _, _ in results] == list(range(len(frames)))
    for (_, merged, probs), truth in zip(results[1:], labels[1:]):
        assert merged.dtype == np.uint8 and set(np.unique(merged)) <= {0, 1, 2}
        assert set(probs) == {1, 2}
        for obj in (1, 2):
            iou = ((merged == obj) & (truth == obj)).sum() / ((merged == obj) | (truth == obj)).sum()
            assert iou > 0.75, (obj, iou)  # measured 0.81-0.95
    unmerged = list(osvos.segment_objects(frames[:2], state, merge=None))
    assert unmerged[0][1] is None and set(unmerged[0][2]) == {1, 2}

    written = osvos.segment_objects_to_folder(frames, tmp_path / "out", state, progress=False)
    assert len(written) == len(frames)
    np.testing.assert_array_equal(read_label_map(written[2]), results[2][1])
    assert Image.open(written[2]).mode == "P"
    with pytest.raises(ValueError, match="appear in no annotated frame"):
        osvos.fit_objects(frames[:1], [annotation], objects=[3], iterations=1, progress=False)


@pytest.mark.slow
def test_an_object_first_annotated_in_a_later_frame_trains_on_that_frame_only():
    from osvos_tf import OSVOS

    frames, labels = _two_object_clip(3)
    first = np.where(labels[0] == 2, 0, labels[0]).astype(np.uint8)  # object 2 not yet annotated in frame 0
    osvos = OSVOS()
    state = osvos.fit_objects(frames[:2], [first, labels[1]], iterations=2, progress=False)
    assert dict(state.first_frames) == {1: 0, 2: 1}
    assert state.states[1].annotated_shapes == ((64, 96), (64, 96)) and state.states[2].annotated_shapes == ((64, 96),)


def test_void_survives_the_augmentation():
    from osvos_tf.data import augmented_variants
    from osvos_tf.losses import VOID_LABEL

    frame = np.zeros((8, 12, 3), np.uint8)
    mask = np.zeros((8, 12), bool)
    mask[2:6, 2:6] = True
    void = np.zeros((8, 12), bool)
    void[:, 10:] = True  # the two right-most columns
    (_, lab), (_, lab_flipped), (_, lab_half), _ = augmented_variants(frame, mask, (1.0, 0.5), True, void)
    lab, lab_flipped, lab_half = (np.asarray(t)[0, :, :, 0] for t in (lab, lab_flipped, lab_half))
    assert (lab[:, 10:] == VOID_LABEL).all() and (lab[:, :10] >= 0).all()
    assert (lab_flipped[:, :2] == VOID_LABEL).all()  # flipped with the image
    assert lab_half.shape == (4, 6) and (lab_half[:, 5] == VOID_LABEL).all() and (lab_half[:, :5] >= 0).all()
    np.testing.assert_array_equal(lab[2:6, 2:6], 1.0)


def _write_clip(folder, frames):
    folder.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg", quality=95)


@pytest.mark.slow
def test_cli_segments_every_object_of_a_palette_mask(tmp_path, capsys):
    from osvos_tf.cli import main

    frames, labels = _two_object_clip(4)
    _write_clip(tmp_path / "frames", frames)
    write_label_map(tmp_path / "m.png", labels[0])
    code = main(
        ["segment", "--frames", str(tmp_path / "frames"), "--mask", str(tmp_path / "m.png")]
        + ["--out", str(tmp_path / "out"), "--iterations", "3", "--overlay"]
    )
    assert code == 0
    assert "4 label maps written" in capsys.readouterr().out
    outs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in outs] == [f"{i:05d}.png" for i in range(4)]
    assert all(Image.open(p).mode == "P" for p in outs)
    assert len(list((tmp_path / "out" / "overlays").glob("*.jpg"))) == 4
    code = main(
        ["segment", "--frames", str(tmp_path / "frames"), "--mask", str(tmp_path / "m.png")]
        + ["--out", str(tmp_path / "out2"), "--iterations", "1", "--objects", "2"]
    )
    assert code == 0 and "objects 2" in capsys.readouterr().out


def test_cli_refuses_bad_object_requests_before_fine_tuning(tmp_path, capsys):
    from osvos_tf.cli import main

    frames, labels = _two_object_clip(2)
    _write_clip(tmp_path / "frames", frames)
    write_label_map(tmp_path / "m.png", labels[0])
    Image.fromarray(np.stack([labels[0] * 100] * 3, -1).astype(np.uint8)).save(tmp_path / "rgb.png")
    base = ["segment", "--frames", str(tmp_path / "frames"), "--iterations", "1"]
    for mask, objects, message in (
        ("m.png", "3", "appear in no annotated frame"),
        ("m.png", "x", "comma-separated object ids"),
        ("rgb.png", "1", "colours are not object ids"),
    ):
        out = tmp_path / f"out_{objects}"
        code = main([*base, "--mask", str(tmp_path / mask), "--out", str(out), "--objects", objects])
        assert code == 2 and message in capsys.readouterr().err
        assert not list(out.glob("*.png"))  # nothing written


SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "DAVIS2017_samples"


@pytest.mark.slow
def test_readme_example_on_real_davis2017_annotations():
    """The README's multi-object example on DAVIS-2017 tennis (2 objects and void): fine-tuned on frame 0's
    palette annotation, frame 1 segmented and compared with its annotation."""
    seq = SAMPLES / "JPEGImages" / "480p" / "tennis"
    if not seq.is_dir():
        pytest.skip(f"DAVIS-2017 samples not found at {SAMPLES}")
    from osvos_tf import OSVOS

    annotations = SAMPLES / "Annotations" / "480p" / "tennis"
    osvos = OSVOS()
    state = osvos.fit_objects([seq / "00000.jpg"], [annotations / "00000.png"], iterations=30, progress=False)
    assert state.objects == (1, 2)
    ((_, labels, probs),) = osvos.segment_objects([seq / "00001.jpg"], state)
    truth = read_label_map(annotations / "00001.png")
    assert set(probs) == {1, 2} and labels.shape == truth.shape == (480, 854)
    iou = ((labels == 1) & (truth == 1)).sum() / ((labels == 1) | (truth == 1)).sum()
    assert iou > 0.6, iou  # the player: measured 0.71 after 30 updates (0.78 after 100)
    # object 2 (the ball, 362 pixels of 409,920 in frame 0) is not found: the network, fine-tuned from the
    # CPU-trained parent, marks ~60k pixels for it (IoU 0.01 after 30 or 100 updates). Recorded, not hidden.
