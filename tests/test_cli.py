"""The command line end to end on a tiny input."""

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


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    return write_clip(root, n_frames=4, height=48, width=64, seed=1)


def test_segment_end_to_end(tiny, tmp_path):
    frames_dir, masks_dir = tiny
    out = tmp_path / "out"
    r = run(
        "segment",
        "--frames",
        str(frames_dir),
        "--mask",
        str(masks_dir / "00000.png"),
        "--out",
        str(out),
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
    # a second run into the same folder is refused, and nothing is touched
    before = (out / "00001.png").read_bytes()
    r2 = run(
        "segment",
        "--frames",
        str(frames_dir),
        "--mask",
        str(masks_dir / "00000.png"),
        "--out",
        str(out),
        "--iterations",
        "0",
    )
    assert r2.returncode == 2 and "not empty" in r2.stderr
    assert (out / "00001.png").read_bytes() == before


def test_segment_without_finetuning_from_the_base_weights(tiny, tmp_path):
    frames_dir, masks_dir = tiny
    r = run(
        "segment",
        "--frames",
        str(frames_dir),
        "--mask",
        str(masks_dir / "00000.png"),
        "--out",
        str(tmp_path / "base"),
        "--iterations",
        "0",
        "--checkpoint",
        "base",
    )
    assert r.returncode == 0, r.stderr
    assert "network: base:hed" in r.stdout and "fine-tuning 0 updates" in r.stdout
    assert len(list((tmp_path / "base").glob("*.png"))) == 4


def test_segment_bad_input_errors(tiny, tmp_path):
    frames_dir, masks_dir = tiny
    r = run(
        "segment",
        "--frames",
        str(tmp_path / "nope"),
        "--mask",
        str(masks_dir / "00000.png"),
        "--out",
        str(tmp_path / "o1"),
    )
    assert r.returncode == 2 and "not found" in r.stderr
    r = run(
        "segment",
        "--frames",
        str(frames_dir),
        "--mask",
        str(masks_dir / "00000.png"),
        "--out",
        str(tmp_path / "o2"),
        "--frame-index",
        "9",
    )
    assert r.returncode == 2 and "out of range" in r.stderr
    empty = tmp_path / "empty.png"
    from PIL import Image

    Image.fromarray(np.zeros((48, 64), np.uint8)).save(empty)
    r = run(
        "segment", "--frames", str(frames_dir), "--mask", str(empty), "--out", str(tmp_path / "o3"), "--iterations", "2"
    )
    assert r.returncode == 2 and "nothing to fine-tune" in r.stderr


def test_demo_synthetic(tmp_path):
    r = run("demo", "--out", str(tmp_path / "demo"), "--iterations", "20")
    assert r.returncode == 0, r.stderr
    assert "Masks:" in r.stdout and "Overlays:" in r.stdout
    assert len(list((tmp_path / "demo" / "masks").glob("*.png"))) == 12
