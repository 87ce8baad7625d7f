"""The parent-training data: DAVIS pairs, decode_mask against the Python mask readers, the check of a
training set, and the seeded, resumable tf.data stream."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from osvos_tf.data import check_training_pairs, decode_mask, parent_dataset
from osvos_tf.davis import davis_pairs
from osvos_tf.masks import read_davis_mask, read_user_mask
from osvos_tf.model import MEAN_BGR
from osvos_tf.synthetic import write_davis_tree


@pytest.fixture(scope="module")
def tiny_davis(tmp_path_factory):
    return write_davis_tree(tmp_path_factory.mktemp("davis"), ("a", "b"), 4, 48, 64, None, False, seed=0)


def test_pairs_from_tree_and_imagesets(tiny_davis, tmp_path):
    pairs = davis_pairs(tiny_davis)
    assert len(pairs) == 8 and pairs[0][0].endswith("a/00000.jpg") and pairs[0][1].endswith("a/00000.png")
    sets = tiny_davis / "ImageSets" / "480p"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "train.txt").write_text("/JPEGImages/480p/b/00001.jpg /Annotations/480p/b/00001.png\n")
    assert [p[0].split("/")[-2:] for p in davis_pairs(tiny_davis)] == [["b", "00001.jpg"]]
    (sets / "train.txt").unlink()
    with pytest.raises(FileNotFoundError, match="not found"):
        davis_pairs(tmp_path)


def _decoded(path):
    return decode_mask(tf.io.read_file(str(path))).numpy()[..., 0] > 0.5


def test_decode_mask_agrees_with_read_davis_mask(tmp_path):
    """decode_mask follows the DAVIS rule (nonzero) on the masks DAVIS and users write; it thresholds soft
    grayscale at 128 as the USER rule (the documented difference)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (6, 7)).astype(np.uint8)  # 0 background, 1 and 2 objects
    labels[0, :3] = [0, 1, 2]  # every value present
    palette = Image.fromarray(labels, mode="P")
    palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0])  # the DAVIS palette's first entries
    rgb = np.zeros((6, 7, 3), np.uint8)
    rgb[labels == 1] = (64, 0, 0)  # dark: foreground by the DAVIS rule, background by the USER rule
    rgb[labels == 2] = (0, 0, 200)
    rgba = np.concatenate([rgb, np.full((6, 7, 1), 255, np.uint8)], -1)
    rgba[0, 0, 3] = 0  # alpha is ignored
    masks = {
        "palette": palette,
        "gray0255": Image.fromarray(np.where(labels > 0, 255, 0).astype(np.uint8)),
        "gray01": Image.fromarray((labels > 0).astype(np.uint8)),
        "rgb": Image.fromarray(rgb),
        "rgba": Image.fromarray(rgba),
        "onebit": Image.fromarray(labels > 0),
    }
    for name, image in masks.items():
        path = tmp_path / f"{name}.png"
        image.save(path)
        np.testing.assert_array_equal(_decoded(path), read_davis_mask(path), err_msg=name)
        assert _decoded(path).any() and not _decoded(path).all(), name

    soft = np.array([[0, 1, 90, 127, 128, 200, 255]], np.uint8)  # anti-aliased edge values
    Image.fromarray(soft).save(tmp_path / "soft.png")
    np.testing.assert_array_equal(_decoded(tmp_path / "soft.png"), read_user_mask(tmp_path / "soft.png"))
    np.testing.assert_array_equal(_decoded(tmp_path / "soft.png"), [[0, 0, 0, 0, 1, 1, 1]])
    assert read_davis_mask(tmp_path / "soft.png").sum() == 6  # the DAVIS rule keeps every nonzero pixel


def test_check_training_pairs_names_every_bad_file(tiny_davis, tmp_path):
    good = davis_pairs(tiny_davis)[:2]
    frame = tiny_davis / "JPEGImages" / "480p" / "a" / "00000.jpg"
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(frame.read_bytes()[: frame.stat().st_size // 2])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(small)
    deep = tmp_path / "deep16.png"
    Image.fromarray(np.ones((48, 64), np.uint16)).save(deep)
    bad_palette = Image.fromarray(np.zeros((48, 64), np.uint8), mode="P")
    bad_palette.putpalette([255, 255, 255, 0, 0, 0])  # index 0 white: TensorFlow would read it as all object
    bad_palette.save(tmp_path / "white0.png")
    tiff = tmp_path / "frame.tif"
    Image.open(frame).save(tiff)
    mask = good[0][1]
    bad = [
        (str(truncated), mask),
        (str(garbage), mask),
        (good[0][0], str(empty)),
        (good[0][0], str(small)),
        (good[0][0], str(tmp_path / "missing.png")),
        (good[0][0], str(deep)),
        (good[0][0], str(tmp_path / "white0.png")),
        (str(tiff), mask),
    ]
    check_training_pairs(good)  # a good set passes silently
    with pytest.raises(ValueError) as err:
        check_training_pairs([good[0], *bad, good[1]])
    text = str(err.value)
    assert text.startswith(f"{len(bad)} problem(s) in the training set of {len(bad) + 2}"), text
    for name in ("truncated.jpg", "garbage.jpg", "empty.png", "small.png", "missing.png", "deep16.png"):
        assert name in text, (name, text)
    assert "white0.png: its palette gives index 0" in text and "frame.tif is a TIFF file" in text
    assert "20x30" not in text and "30x20 (WxH)" in text and "nothing was trained" in text
    with pytest.raises(ValueError, match="No training pairs"):
        check_training_pairs([])


def _level_tree(root, levels):
    """One 8x8 frame per gray level (its identity) with a mask of its left half."""
    pairs = []
    mask = np.zeros((8, 8), np.uint8)
    mask[:, :4] = 255
    for i, level in enumerate(levels):
        Image.fromarray(np.full((8, 8, 3), level, np.uint8)).save(root / f"{i}.png")
        Image.fromarray(mask).save(root / f"{i}_mask.png")
        pairs.append((str(root / f"{i}.png"), str(root / f"{i}_mask.png")))
    return pairs


def test_stream_is_seeded_permuted_per_epoch_and_resumable(tmp_path):
    levels = [20, 60, 100, 140, 180]
    pairs = _level_tree(tmp_path, levels)

    def order(seed, start=0, n=10):
        ds = parent_dataset(pairs, scales=(1.0,), flip=False, seed=seed, start=start)
        blue = [float(x[0, 0, 0, 0]) + MEAN_BGR[0] for x, _ in ds.take(n)]
        return [levels.index(round(b)) for b in blue]

    first = order(seed=7)
    assert sorted(first[:5]) == sorted(first[5:]) == list(range(5))  # each epoch visits every pair once
    assert first[:5] != first[5:]  # a new permutation per epoch
    assert order(seed=7, start=3, n=7) == first[3:]
    assert order(seed=8) != first
    tf.random.set_seed(123)  # global RNG state does not change the stream
    try:
        assert order(seed=7) == first
    finally:
        tf.random.set_seed(None)

    def stream(start, n):  # with every augmentation: the tail from `start` is the stream's own tail
        ds = parent_dataset(pairs, scales=(0.5, 1.0, 1.5), flip=True, crop=(6, 5), batch_size=2, seed=3, start=start)
        return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]

    full = stream(0, 5)
    for (xa, ya), (xb, yb) in zip(full[2:], stream(4, 3)):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(full[0][1], f[1]) for f in full[1:])  # crops and flips do vary


def test_pipeline_keeps_pairs_aligned_and_binary(tmp_path):
    """An image whose colour encodes the mask: after flips, scales and crops the two must still agree."""
    mask = np.zeros((60, 80), bool)
    mask[10:40, 5:30] = True  # off-centre, so a wrong flip would show
    image = np.where(mask[..., None], 250, 5).astype(np.uint8).repeat(3, -1)
    Image.fromarray(image).save(tmp_path / "frame.png")
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(tmp_path / "mask.png")
    pairs = [(str(tmp_path / "frame.png"), str(tmp_path / "mask.png"))] * 2
    for crop in (None, (32, 40)):
        ds = parent_dataset(pairs, scales=(0.5, 0.8, 1.0), crop=crop, batch_size=1, seed=3)
        shapes = set()
        for images, labels in ds.take(24):
            img, lab = images.numpy()[0], labels.numpy()[0, ..., 0]
            shapes.add(img.shape[:2])
            assert set(np.unique(lab)) <= {0.0, 1.0}
            bright = (img[..., 0] + MEAN_BGR[0]) > 127.5  # blue channel of the BGR input
            agree = (bright == (lab > 0.5)).mean()
            assert agree > 0.97, agree
            if crop is not None:
                assert lab.any(), "object-aware crops contain foreground"
        if crop is None:
            assert len(shapes) == 3  # three scales seen
        else:
            assert shapes == {crop}


def test_parent_dataset_refuses_bad_arguments(tmp_path):
    pairs = _level_tree(tmp_path, [50])
    with pytest.raises(ValueError, match="at least one"):
        parent_dataset([])
    with pytest.raises(ValueError, match="crop"):
        parent_dataset(pairs, batch_size=2)
    with pytest.raises(ValueError, match="start"):
        parent_dataset(pairs, start=-1)
