"""The packed DAVIS set (osvos_tf.packed_davis): H.264 frames (PyAV encode, OpenCV decode), lossless masks."""

import json
import math

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("av", reason="PyAV (`av`) is needed to encode packs: pip install -e '.[pack]'")
pytest.importorskip("cv2", reason="OpenCV (`cv2`) is needed to decode packs: pip install -e '.[pack]'")

from osvos_tf.packed_davis import FORMAT, load_packed, pack_davis  # noqa: E402

# (sequence, width, height, frame names): one even size and one odd size (padded for yuv420p, then cropped)
SEQUENCES = (("blobs", 64, 48, ("00000", "00002", "00004", "00006")), ("odd", 65, 49, ("00010", "00003", "00007")))


def _frame(width, height, t):
    """A smooth uint8 RGB (height, width, 3) frame: colour gradients and a moving blob."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    blob = 90 * np.exp(-((x - 10 - 5 * t) ** 2 + (y - height / 2) ** 2) / 60)
    r = 40 + 120 * x / width + blob
    g = 60 + 100 * y / height + 0.5 * blob
    b = 150 + 50 * np.sin(x / 9 + y / 13 + t / 3)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).round().astype(np.uint8)


def _mask(width, height, t):
    """A bool (height, width) mask with a ragged edge (checks bit exactness)."""
    y, x = np.mgrid[0:height, 0:width]
    return ((x - 10 - 5 * t) ** 2 + (y - height / 2) ** 2 < 120) | ((x * 7 + y * 3 + t) % 11 == 0)


@pytest.fixture
def tiny_davis(tmp_path):
    """A DAVIS-layout folder; ImageSets lists the frames of 'odd' out of name order. Returns (root, sources)
    with sources = {sequence: (frames uint8 (N, H, W, 3), masks bool (N, H, W))} in ImageSets order."""
    root = tmp_path / "DAVIS"
    lines, sources = [], {}
    for seq, width, height, names in SEQUENCES:
        (root / "JPEGImages" / "480p" / seq).mkdir(parents=True)
        (root / "Annotations" / "480p" / seq).mkdir(parents=True)
        frames, masks = [], []
        for t, name in enumerate(names):
            frame, mask = _frame(width, height, t), _mask(width, height, t)
            Image.fromarray(frame).save(root / "JPEGImages" / "480p" / seq / f"{name}.jpg", quality=95)
            Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(
                root / "Annotations" / "480p" / seq / f"{name}.png"
            )
            # the source the PSNR is measured against: the JPEG as decoded, not the array before JPEG coding
            frames.append(np.asarray(Image.open(root / "JPEGImages" / "480p" / seq / f"{name}.jpg").convert("RGB")))
            masks.append(mask)
            lines.append(f"/JPEGImages/480p/{seq}/{name}.jpg /Annotations/480p/{seq}/{name}.png")
        sources[seq] = (np.stack(frames), np.stack(masks))
    (root / "ImageSets" / "480p").mkdir(parents=True)
    (root / "ImageSets" / "480p" / "train.txt").write_text("\n".join(lines) + "\n")
    return root, sources


@pytest.fixture
def packed(tiny_davis, tmp_path):
    root, sources = tiny_davis
    index = pack_davis(root, tmp_path / "pack", progress=False)
    return tmp_path / "pack", index, sources


def _psnr(reference, decoded):
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / mse)


def test_pack_then_load_round_trip(packed):
    pack, index, sources = packed
    assert sorted(p.name for p in pack.iterdir()) == ["blobs.mp4", "index.json", "masks.npz", "odd.mp4"]
    assert index == json.loads((pack / "index.json").read_text())
    assert index["format"] == FORMAT and index["crf"] == 22 and index["image_set"] == "train"
    assert index["totals"]["frames"] == 7
    assert index["totals"]["bytes"] == sum(p.stat().st_size for p in pack.iterdir() if p.name != "index.json")
    for seq, width, height, names in SEQUENCES:
        frames, masks = sources[seq]
        loaded = load_packed(pack, sequences=[seq])
        entry = next(e for e in index["sequences"] if e["name"] == seq)
        assert (entry["width"], entry["height"], entry["frames"]) == (width, height, list(names))
        assert loaded.names == tuple((seq, name) for name in names)  # ImageSets order, not name order
        assert loaded.images.dtype == np.uint8 and loaded.images.shape == (len(names), height, width, 3)
        assert loaded.masks.dtype == bool and np.array_equal(loaded.masks, masks)
        psnrs = [_psnr(a, b) for a, b in zip(frames, loaded.images)]
        assert min(psnrs) > 30, psnrs
        # the PSNR recorded at pack time is that of the loader's decoding
        assert entry["psnr_db"] == pytest.approx(np.mean(psnrs), abs=0.01)
        assert entry["psnr_min_db"] == pytest.approx(min(psnrs), abs=0.01)
        assert not loaded.images.flags.writeable and not loaded.masks.flags.writeable


def test_sequences_of_different_sizes_are_not_stacked(packed):
    pack, _, _ = packed
    with pytest.raises(ValueError, match=r"different frame sizes.*64x48.*blobs.*65x49.*odd"):
        load_packed(pack)
    with pytest.raises(ValueError, match=r"'nope' are not in the pack"):
        load_packed(pack, sequences=["nope"])


def test_pack_one_sequence_and_load_all(tiny_davis, tmp_path):
    root, sources = tiny_davis
    index = pack_davis(root, tmp_path / "pack", sequences=["odd"], crf=18, progress=False)
    assert [e["name"] for e in index["sequences"]] == ["odd"] and index["crf"] == 18
    loaded = load_packed(tmp_path / "pack")
    assert len(loaded) == 3 and np.array_equal(loaded.masks, sources["odd"][1])
    with pytest.raises(ValueError, match="not in the set 'train'"):
        pack_davis(root, tmp_path / "pack2", sequences=["nope"], progress=False)


def test_non_empty_out_dir_is_refused(tiny_davis, tmp_path):
    root, _ = tiny_davis
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty.*Choose another"):
        pack_davis(root, out, progress=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("crf", [-1, 52, 2.5, True])
def test_bad_crf_is_refused(tiny_davis, tmp_path, crf):
    with pytest.raises(ValueError, match="crf must be an integer"):
        pack_davis(tiny_davis[0], tmp_path / "pack", crf=crf, progress=False)
    assert not (tmp_path / "pack").exists()


def test_corrupted_video_is_refused(packed):
    pack, index, _ = packed
    video = pack / "blobs.mp4"
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF
    video.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"blobs.mp4 is not the file that was packed: sha256 .*copy it again"):
        load_packed(pack, sequences=["blobs"])
    load_packed(pack, sequences=["odd"])  # the other sequence still loads


def test_video_with_other_frame_count_is_refused(packed):
    """A video that matches its (edited) sha256 but not the frame count: the decode check catches it."""
    pack, index, _ = packed
    entry = next(e for e in index["sequences"] if e["name"] == "blobs")
    entry["frames"] = entry["frames"] + ["00008"]
    (pack / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="decodes to 4 frames, but the index lists 5"):
        load_packed(pack, sequences=["blobs"])


def test_changed_masks_are_refused(packed):
    pack, _, _ = packed
    (pack / "masks.npz").write_bytes((pack / "masks.npz").read_bytes()[:-10])
    with pytest.raises(ValueError, match="masks.npz is not the file that was packed"):
        load_packed(pack, sequences=["odd"])


def test_truncated_or_foreign_index_is_refused(packed):
    pack, _, _ = packed
    text = (pack / "index.json").read_text()
    (pack / "index.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="index.json is not valid JSON.*truncated"):
        load_packed(pack)
    (pack / "index.json").write_text(json.dumps({"format": "something/2"}))
    with pytest.raises(ValueError, match=r"format tag 'something/2', expected 'osvos_tf.packed_davis/1'"):
        load_packed(pack)
    (pack / "index.json").write_text(json.dumps({"format": FORMAT, "sequences": [{"name": "x"}]}))
    with pytest.raises(ValueError, match=r"malformed fields \(sequences\[0\].frames"):
        load_packed(pack)
    (pack / "index.json").unlink()
    with pytest.raises(FileNotFoundError, match="not a complete pack"):
        load_packed(pack)


def test_loader_needs_no_tensorflow():
    """The loader runs on a machine without TensorFlow / Keras / PyAV (e.g. under JAX)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('tensorflow', 'keras', 'av'): sys.modules[name] = None\n"
        "import osvos_tf.packed_davis as p\n"
        "assert p.load_packed\n"
        "bad = [m for m in ('tensorflow', 'keras', 'av', 'PIL') if sys.modules.get(m) is not None]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.davis
def test_pack_real_davis_sequences(davis, tmp_path):
    """Two real train sequences at the default CRF 22: >= 34 dB mean PSNR (the whole 30-sequence train split
    gives about 34.6 dB, per sequence 32.8 to 36.6 dB) and exact masks."""
    from osvos_tf.davis import davis_pairs
    from osvos_tf.masks import read_davis_mask

    sequences = ["motorbike", "rollerblade"]  # short ones (22 and 18 frames here)
    index = pack_davis(davis, tmp_path / "pack", sequences=sequences, progress=False)
    assert index["totals"]["psnr_mean_db"] >= 34, index["totals"]
    loaded = load_packed(tmp_path / "pack")
    pairs = [p for p in davis_pairs(davis, "train") if p[0].split("/")[-2] in sequences]
    assert [name for _, name in loaded.names] == [p[0].split("/")[-1][:-4] for p in pairs]
    assert loaded.images.shape == (len(pairs), 480, 854, 3)
    for mask, (_, mask_path) in zip(loaded.masks, pairs):
        assert np.array_equal(mask, read_davis_mask(mask_path))
