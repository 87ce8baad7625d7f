"""The command line end to end on a tiny input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from osvos_tf.masks import read_user_mask as read_mask
from osvos_tf.synthetic import write_clip


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "osvos_tf.cli", *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def _segment(frames_dir, mask, out, *extra):
    return run("segment", "--frames", str(frames_dir), "--mask", str(mask), "--out", str(out), *extra)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    return write_clip(root, n_frames=4, height=48, width=64, seed=1)


@pytest.mark.slow
def test_segment_end_to_end(tiny, tmp_path):
    frames_dir, masks_dir = tiny
    out = tmp_path / "out"
    r = _segment(
        frames_dir,
        masks_dir / "00000.png",
        out,
        "--iterations",
        "5",
        "--overlay",
        "--tensorboard",
        str(tmp_path / "tb"),
    )
    assert r.returncode == 0, r.stderr
    assert "4 masks written" in r.stdout
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["00000.png", "00001.png", "00002.png", "00003.png"]
    assert len(list((out / "overlays").glob("*.jpg"))) == 4
    assert read_mask(out / "00001.png").shape == (48, 64)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    record = json.loads((out / "run.json").read_text())  # the recipe, the parent and the input, by name
    assert record["input"] == {"frames_folder": frames_dir.name, "frames": 4, "width": 64, "height": 48}
    assert record["fine_tune_config"]["iterations"] == 5 and record["outputs"] == {"masks": ".", "overlays": "overlays"}
    assert record["threshold"] == 0.5 and str(tmp_path) not in (out / "run.json").read_text()
    assert "working resolution 64x48 (native); estimated" in r.stderr
    # a second run into the same folder is refused, and nothing is touched
    before = (out / "00001.png").read_bytes()
    r2 = _segment(frames_dir, masks_dir / "00000.png", out, "--iterations", "0")
    assert r2.returncode == 2 and "not empty" in r2.stderr
    assert (out / "00001.png").read_bytes() == before


def test_segment_without_finetuning_from_the_base_weights(tiny, tmp_path):
    frames_dir, masks_dir = tiny
    r = _segment(frames_dir, masks_dir / "00000.png", tmp_path / "base", "--iterations", "0", "--checkpoint", "base")
    assert r.returncode == 0, r.stderr
    assert "network: base:hed" in r.stdout and "fine-tuning 0 updates" in r.stdout
    assert len(list((tmp_path / "base").glob("*.png"))) == 4


def test_segment_bad_input_errors(tiny, tmp_path):
    frames_dir, masks_dir = tiny
    r = _segment(tmp_path / "nope", masks_dir / "00000.png", tmp_path / "o1")
    assert r.returncode == 2 and "not found" in r.stderr
    r = _segment(frames_dir, masks_dir / "00000.png", tmp_path / "o2", "--frame-index", "9")
    assert r.returncode == 2 and "out of range" in r.stderr
    empty = tmp_path / "empty.png"
    from PIL import Image

    Image.fromarray(np.zeros((48, 64), np.uint8)).save(empty)
    r = _segment(frames_dir, empty, tmp_path / "o3", "--iterations", "2")
    assert r.returncode == 2 and "nothing to fine-tune" in r.stderr


#: the synthetic demo after 20 updates from the shipped parent: measured IoU 0.938 (bfloat16, AVX512-BF16 machine);
#: the floor leaves a margin for float32 machines
DEMO_IOU_FLOOR = 0.85


@pytest.mark.slow
def test_demo_synthetic(tmp_path):
    r = run("demo", "--out", str(tmp_path / "demo"), "--iterations", "20")
    assert r.returncode == 0, r.stderr
    assert "Masks:" in r.stdout and "Overlays:" in r.stdout
    assert len(list((tmp_path / "demo" / "masks").glob("*.png"))) == 12
    assert "network: osvos_davis2016_cpu" in r.stdout  # the shipped parent, not a silent fallback
    iou = float(r.stdout.split("Mean IoU vs ground truth (frames 1..N-2): ")[1].split(";")[0])
    assert iou > DEMO_IOU_FLOOR, r.stdout


def test_output_inside_or_equal_to_the_frame_folder_is_refused(tiny, tmp_path):
    """--out = the frames folder with --overwrite once replaced every frame by its mask; now nothing is touched."""
    frames_dir, masks_dir = tiny
    before = {p.name: p.read_bytes() for p in frames_dir.iterdir()}
    for out in (frames_dir, frames_dir / "masks", frames_dir.parent):
        r = _segment(frames_dir, masks_dir / "00000.png", out, "--iterations", "0", "--overwrite")
        assert r.returncode == 2 and "frame folder" in r.stderr, r.stderr
    assert {p.name: p.read_bytes() for p in frames_dir.iterdir()} == before


def test_a_folder_in_use_by_another_run_is_refused_at_once(tiny, tmp_path):
    from osvos_tf.outputs import claim_output_dir

    frames_dir, masks_dir = tiny
    out = tmp_path / "busy"
    with claim_output_dir(out):  # another run holds the folder
        r = _segment(frames_dir, masks_dir / "00000.png", out, "--iterations", "0", "--overwrite")
    assert r.returncode == 2 and "in use by another osvos run (pid" in r.stderr, r.stderr
    assert not list(out.glob("*.png"))
    (out / ".osvos-run.lock").write_text("pid 1\n")  # as a run killed with -9 leaves it: not content, not held
    r = _segment(frames_dir, masks_dir / "00000.png", out, "--iterations", "0")
    assert r.returncode == 0, r.stderr
    assert not (out / ".osvos-run.lock").exists() and len(list(out.glob("*.png"))) == 4  # removed at the end


def test_bad_frames_are_found_before_fine_tuning(tiny, tmp_path):
    import shutil

    frames_dir, masks_dir = tiny
    clip = tmp_path / "clip"
    shutil.copytree(frames_dir, clip)
    good = (clip / "00002.jpg").read_bytes()
    (clip / "00002.jpg").write_bytes(good[: len(good) // 2])  # truncated, in the middle of the video
    r = _segment(clip, masks_dir / "00000.png", tmp_path / "o", "--iterations", "500")
    assert r.returncode == 2 and "00002.jpg" in r.stderr and "truncated" in r.stderr, r.stderr
    assert "fine-tune" not in r.stderr  # no fine-tuning progress: it failed first
    (clip / "00002.jpg").write_bytes(good)
    shutil.copy(clip / "00001.jpg", clip / "00001.png")  # two frames with one name stem
    r = _segment(clip, masks_dir / "00000.png", tmp_path / "o2", "--iterations", "0")
    assert r.returncode == 2 and "share the name '00001'" in r.stderr, r.stderr
    (clip / "00001.png").unlink()
    from PIL import Image

    Image.new("RGB", (10, 10)).save(clip / "00003.jpg")  # another size
    r = _segment(clip, masks_dir / "00000.png", tmp_path / "o3", "--iterations", "500")
    assert r.returncode == 2 and "00003.jpg is 10x10" in r.stderr and "same size" in r.stderr, r.stderr


def test_io_errors_are_messages_not_tracebacks(tiny, tmp_path):
    frames_dir, masks_dir = tiny
    (tmp_path / "a_file").write_text("x")
    r = _segment(frames_dir, masks_dir / "00000.png", tmp_path / "a_file" / "out", "--iterations", "0")
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_parents_lists_the_presets():
    r = run("parents")
    assert r.returncode == 0, r.stderr
    assert "osvos_davis2016_cpu (default)  [shipped]" in r.stdout and "one_shot_default_J 0.611" in r.stdout
