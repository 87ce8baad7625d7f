"""Bad input: every case gets a clear error or a documented behaviour, and nothing is overwritten."""

import numpy as np
import pytest
from PIL import Image

from osvos_tf.frames import check_pair, list_frames, read_frame
from osvos_tf.masks import read_user_mask as read_mask
from osvos_tf.masks import write_mask
from osvos_tf.outputs import prepare_output_dir, write_results


def _square(h=20, w=30):
    m = np.zeros((h, w), bool)
    m[5:15, 8:20] = True
    return m


def test_palette_mask_index_nonzero(tmp_path):
    m = _square()
    img = Image.fromarray(m.astype(np.uint8) * 2, mode="P")  # index 2 (DAVIS-2017 objects are 1, 2, ...)
    img.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
    img.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "p.png"), m)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "I;16", "1"])
def test_mask_modes(tmp_path, mode):
    m = _square()
    if mode == "L":
        img = Image.fromarray(np.where(m, 255, 0).astype(np.uint8))
    elif mode == "RGB":
        img = Image.fromarray(np.stack([np.where(m, 200, 0)] * 3, -1).astype(np.uint8))
    elif mode == "RGBA":
        rgba = np.zeros((*m.shape, 4), np.uint8)
        rgba[..., 3] = np.where(m, 255, 0)  # a cut-out: uniform colour, object in the alpha channel
        img = Image.fromarray(rgba, mode="RGBA")
    elif mode == "I;16":
        img = Image.fromarray(np.where(m, 65535, 0).astype(np.uint16))
    else:
        img = Image.fromarray(m)
    img.save(tmp_path / "m.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), m)


def test_soft_mask_binarised_at_half(tmp_path):
    soft = np.array([[0, 100, 127, 128, 200, 255]], np.uint8)
    Image.fromarray(soft).save(tmp_path / "s.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "s.png"), [[False, False, False, True, True, True]])


def test_zero_one_label_map(tmp_path):
    Image.fromarray(_square().astype(np.uint8)).save(tmp_path / "01.png")  # values 0/1, not 0/255
    np.testing.assert_array_equal(read_mask(tmp_path / "01.png"), _square())


def test_mask_arrays():
    np.testing.assert_array_equal(read_mask(np.array([[0.2, 0.7]])), [[False, True]])
    np.testing.assert_array_equal(read_mask(np.array([[0, 255]], np.uint8)), [[False, True]])
    with pytest.raises(ValueError, match="must be"):
        read_mask(np.zeros((2, 3, 4, 5)))


def test_grayscale_and_rgba_frames(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray).save(tmp_path / "g.png")
    f = read_frame(tmp_path / "g.png")
    assert f.shape == (3, 4, 3) and np.all(f[..., 0] == gray) and np.all(f[..., 2] == gray)
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 1] = 77
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    assert read_frame(tmp_path / "a.png").shape == (3, 4, 3)
    assert read_frame(rgba).shape == (3, 4, 3) and read_frame(rgba)[0, 0, 1] == 77
    with pytest.raises(ValueError, match="0..255"):
        read_frame(np.full((3, 4, 3), 0.5))


def test_missing_empty_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_frame(tmp_path / "missing.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        read_mask(tmp_path / "empty.png")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ValueError, match="not a readable image"):
        read_frame(tmp_path / "corrupt.jpg")


def test_size_mismatch_message():
    with pytest.raises(ValueError, match="30x20.*differs.*31x20"):
        check_pair(np.zeros((20, 31, 3), np.uint8), np.zeros((20, 30), bool))


def test_list_frames_natural_order_and_errors(tmp_path):
    for name in ["10.jpg", "2.jpg", "1.png", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_frames(tmp_path)] == ["1.png", "2.jpg", "10.jpg"]
    with pytest.raises(FileNotFoundError):
        list_frames(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No image files"):
        list_frames(tmp_path / "empty")


def test_output_folder_never_overwritten_without_asking(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        prepare_output_dir(out)
    frames = [np.zeros((4, 5, 3), np.uint8)] * 2
    probs = [np.ones((4, 5), np.float32)] * 2
    with pytest.raises(FileExistsError):
        write_results(probs, frames, out)
    written = write_results(probs, frames, out, overwrite=True)
    assert (out / "mine.txt").read_text() == "precious"
    assert [p.name for p in written] == ["00000.png", "00001.png"]
    assert set(np.unique(np.asarray(Image.open(written[0])))) == {255}


def test_written_masks_are_davis_style(tmp_path):
    m = _square()
    write_mask(tmp_path / "m.png", m)
    img = Image.open(tmp_path / "m.png")
    assert img.mode == "L" and set(np.unique(np.asarray(img))) == {0, 255}
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), m)


def test_label_maps_and_void_under_the_user_rules(tmp_path):
    """A 0..N label map with one id is that object (it was read as empty before: 1 < 128); void (255) is
    background; several ids are refused; soft 0..255 masks are still thresholded at half range."""
    from osvos_tf.masks import MultipleObjectsError

    m = _square()
    one = m.astype(np.uint8) * 3
    one[0, 0] = 255  # void
    Image.fromarray(one, mode="L").save(tmp_path / "one.png")
    expected = m.copy()
    np.testing.assert_array_equal(read_mask(tmp_path / "one.png"), expected)
    pal = Image.fromarray(one, mode="P")
    pal.putpalette([0, 0, 0] * 256)
    pal.save(tmp_path / "one_p.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "one_p.png"), expected)
    two = one.copy()
    two[19, 29] = 1
    with pytest.raises(MultipleObjectsError, match=r"holds 2 objects \(ids 1, 3\)"):
        read_mask(two)
    soft = np.linspace(0, 255, 20 * 30).reshape(20, 30).astype(np.uint8)
    np.testing.assert_array_equal(read_mask(soft), soft >= 128)


def test_davis_rule_counts_every_nonzero_pixel_and_names_bad_files(tmp_path):
    from osvos_tf.masks import read_davis_mask

    labels = np.zeros((4, 5), np.uint8)
    labels[1, 1], labels[2, 2], labels[3, 3] = 1, 2, 255
    Image.fromarray(labels, mode="L").save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_davis_mask(tmp_path / "l.png"), labels != 0)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.png is an empty file \(0 bytes\)"):
        read_davis_mask(tmp_path / "empty.png")


def test_check_frames_decodes_every_frame_and_names_the_odd_one(tmp_path):
    from osvos_tf.frames import check_frames

    for i in range(3):
        Image.new("RGB", (8, 6)).save(tmp_path / f"{i}.png")
    assert check_frames(list_frames(tmp_path)) == (6, 8)
    data = (tmp_path / "1.png").read_bytes()
    (tmp_path / "1.png").write_bytes(data[:30])
    with pytest.raises(ValueError, match=r"1.png is not a readable image"):
        check_frames(list_frames(tmp_path))


def test_frames_sharing_a_name_stem_are_refused_when_listing(tmp_path):
    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    Image.new("RGB", (8, 6)).save(tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="share the name 'a'"):
        list_frames(tmp_path)
