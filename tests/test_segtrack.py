"""SegTrack v2: the reader (layout, header line, BMP, RGB-stored grey masks) and the Table 7 runner's IoU
bookkeeping, on a synthetic tree; the real bmx / parachute files when ../shared/SegTrackv2 is present."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from osvos_tf.segtrack import list_sequences, read_segtrack_mask, read_sequence, run_segtrack

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "SegTrackv2"


def _tree(root, n=3):
    """'two' (objects 1 and 2 overlapping, PNG) and 'one' (one object, BMP, masks 0/255 with a grey border)."""
    from osvos_tf.synthetic import synthetic_clip

    frames, masks = synthetic_clip(n_frames=n, height=48, width=64, seed=1)
    (root / "ImageSets").mkdir(parents=True)
    (root / "ImageSets" / "all.txt").write_text("two\none\n")
    for seq, ext in (("two", ".png"), ("one", ".bmp")):
        names = [f"{seq}_{100 + i:05d}" for i in range(n)]  # original numbering, not from 0
        (root / "ImageSets" / f"{seq}.txt").write_text(f"{seq}/\n" + "\n".join(names) + "\n")
        (root / "JPEGImages" / seq).mkdir(parents=True)
        for name, frame in zip(names, frames):
            Image.fromarray(frame).save(root / "JPEGImages" / seq / f"{name}{ext}")
        gt = root / "GroundTruth" / seq
        for obj in (1, 2) if seq == "two" else (None,):
            folder = gt / str(obj) if obj else gt
            folder.mkdir(parents=True)
            for name, mask in zip(names, masks):
                m = mask if obj != 2 else np.roll(mask, 4, axis=1)  # object 2 overlaps object 1
                grey = np.where(m, 255, 0).astype(np.uint8)
                grey[0, 0] = 100  # an anti-aliased border value: background (<= 127)
                Image.fromarray(np.stack([grey] * 3, -1)).save(folder / f"{name}{ext}")
    return root, masks


def test_reader_follows_the_release_layout(tmp_path):
    root, masks = _tree(tmp_path / "st")
    assert list_sequences(root) == ["two", "one"]
    two, one = read_sequence(root, "two"), read_sequence(root, "one")
    assert [p.name for p in two.frames] == ["two_00100.png", "two_00101.png", "two_00102.png"]
    assert sorted(two.objects) == [1, 2] and sorted(one.objects) == [1]
    assert one.frames[0].suffix == ".bmp"
    np.testing.assert_array_equal(read_segtrack_mask(one.objects[1][0]), masks[0])
    (root / "GroundTruth" / "one" / "one_00101.bmp").unlink()
    with pytest.raises(FileNotFoundError, match="one_00101 not found"):
        read_sequence(root, "one")


@pytest.mark.slow
def test_runner_scores_each_object_on_its_own_mask(tmp_path):
    root, _ = _tree(tmp_path / "st")
    report = run_segtrack(root, tmp_path / "out", iterations=2, progress=False)
    assert sorted(report["objects"]) == ["one_1", "two_1", "two_2"]
    for key, entry in report["objects"].items():
        seq, obj = key.split("_")
        s = read_sequence(root, seq)
        ious = []
        for frame_gt in s.objects[int(obj)]:  # recomputed by hand from the written masks
            got = np.asarray(Image.open(tmp_path / "out" / seq / obj / f"{frame_gt.stem}.png")) > 0
            gt = read_segtrack_mask(frame_gt)
            union = (got | gt).sum()
            ious.append(1.0 if union == 0 else (got & gt).sum() / union)
        assert entry["iou"] == pytest.approx(np.mean(ious))
        assert entry["iou_without_first"] == pytest.approx(np.mean(ious[1:]))
    two = report["sequences"]["two"]
    assert two["iou"] == pytest.approx((report["objects"]["two_1"]["iou"] + report["objects"]["two_2"]["iou"]) / 2)
    overall = report["overall"]
    assert overall["per_object"]["iou"] == pytest.approx(np.mean([v["iou"] for v in report["objects"].values()]))
    assert overall["per_sequence"]["iou"] == pytest.approx(np.mean([v["iou"] for v in report["sequences"].values()]))
    assert json.loads((tmp_path / "out" / "results.json").read_text())["overall"] == overall


def test_real_segtrack_files_read():
    if not (SHARED / "ImageSets" / "all.txt").is_file():
        pytest.skip(f"SegTrack v2 not found at {SHARED}")
    bmx, parachute = read_sequence(SHARED, "bmx"), read_sequence(SHARED, "parachute")
    assert len(bmx.frames) == 36 and sorted(bmx.objects) == [1, 2]
    assert len(parachute.frames) == 51 and sorted(parachute.objects) == [1]
    rider, bike = (read_segtrack_mask(bmx.objects[k][0]) for k in (1, 2))
    assert rider.shape == (360, 640) and rider.any() and bike.any()
    overlapping = [
        i for i in range(36) if (read_segtrack_mask(bmx.objects[1][i]) & read_segtrack_mask(bmx.objects[2][i])).any()
    ]
    assert overlapping  # the rider and the bike share pixels in some frames: scored on their own masks
