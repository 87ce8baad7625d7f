"""osvos_tf.benchmarks.speed and tools/bench.py on a tiny clip: the report's structure and its arithmetic (no
timing assertions: this is a benchmark, timings are not tested)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from osvos_tf.benchmarks import speed
from osvos_tf.config import FineTuneConfig, SpeedSettings, finetune_config
from osvos_tf.synthetic import write_clip

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip"), n_frames=3, height=48, width=64, seed=4)


@pytest.mark.slow
def test_report_is_consistent(clip_files):
    from osvos_tf import OSVOS
    from osvos_tf.frames import list_frames

    frames_dir, masks_dir = clip_files
    config = FineTuneConfig(iterations=7, compute_dtype="float32")
    osvos = OSVOS(checkpoint="base", config=config)
    prior = osvos.fit_one_shot(list_frames(frames_dir)[0], masks_dir / "00000.png", iterations=1, progress=False)
    settings = SpeedSettings(
        repeats=2,
        warmup=1,
        segment_frames=2,
        measure=("fast",),
        slope_iterations=4,
        snap_modes=("bilateral",),
        long_frames=30,
        compute_dtypes=("bfloat16",),
    )
    lines = []
    report = speed.run_speed_benchmark(
        list_frames(frames_dir), masks_dir / "00000.png", settings, osvos, log=lines.append
    )
    assert report["frame_size"] == [48, 64] and report["parent"] == "base:hed"
    assert report["segment_ratio"] == pytest.approx(report["segment_ms"] / report["vgg16_ms"], rel=0.02)
    assert len(report["vgg16_ms_runs"]) == len(report["segment_ms_runs"]) == 2
    assert sorted(report["segment_ms_runs"])[0] <= report["segment_ms"] <= sorted(report["segment_ms_runs"])[-1]
    # each dtype has its own network: float32 (the OSVOS's) and bfloat16, each also with freeze_blocks=2
    assert report["compute_dtype"] == "float32"
    assert set(report["segment_ms_by_dtype"]) == set(report["vgg16_ms_by_dtype"]) == {"float32", "bfloat16"}
    assert report["segment_ms_by_dtype"]["float32"] == report["segment_ms"]
    assert report["segment_ratio_by_dtype"]["bfloat16"] == pytest.approx(
        report["segment_ms_by_dtype"]["bfloat16"] / report["vgg16_ms_by_dtype"]["bfloat16"], rel=0.02
    )
    # and at the 'default' preset's coarse scale, for its coarse updates
    assert set(report["iteration_s"]) == {
        "float32",
        "float32, freeze_blocks=2",
        "float32, scales=(0.5,)",
        "bfloat16",
        "bfloat16, freeze_blocks=2",
        "bfloat16, scales=(0.5,)",
    }
    presets = report["presets"]
    assert presets["fast"] == {
        "iterations": 50,
        "config": "float32",
        "fit_s": presets["fast"]["fit_s"],
        "measured": True,
        "total_s": pytest.approx(presets["fast"]["fit_s"] + 70 * report["segment_png_ms"] / 1000, abs=0.11),
    }
    assert presets["accurate"]["measured"] is False and presets["accurate"]["iterations"] == 300
    # estimated = set-up + updates x the median update time at their scales: accurate (300 updates) - default
    # (100 coarse + 100 others) = 200 updates - 100 coarse updates
    default = finetune_config("default")[1]
    assert default.coarse_updates == 100 and default.coarse_scales == (0.5,)
    iteration_s = report["iteration_s"]
    assert presets["accurate"]["fit_s"] - presets["default"]["fit_s"] == pytest.approx(
        (300 - default.iterations + default.coarse_updates) * iteration_s["float32"]
        - default.coarse_updates * iteration_s["float32, scales=(0.5,)"],
        abs=0.11,
    )
    assert set(report["snap_ms"]) == {"bilateral"} and report["snap_ms"]["bilateral"]["snap"] > 0
    assert report["long_run"]["frames"] == 30 and report["peak_rss_mb"] > 0
    assert osvos.config == config and osvos.state is prior  # left as it was
    assert any(line.startswith("bare VGG16 forward") for line in lines)
    text = speed.format_speed_report(report)
    assert "x VGG16" in text and "(estimated)" in text and "peak resident memory" in text
    json.dumps(report)  # JSON-able


def test_fit_records_the_time_of_each_update(clip_files):
    from osvos_tf import OSVOS
    from osvos_tf.frames import list_frames

    frames_dir, masks_dir = clip_files
    state = OSVOS(checkpoint="base").fit_one_shot(
        list_frames(frames_dir)[0], masks_dir / "00000.png", iterations=3, progress=False
    )
    assert len(state.step_seconds) == 3 and all(t > 0 for t in state.step_seconds)
    assert sum(state.step_seconds) <= state.seconds


@pytest.mark.slow
def test_bench_tool_quick(clip_files, tmp_path):
    frames_dir, masks_dir = clip_files
    out = tmp_path / "bench.json"
    r = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "bench.py"),
            "--frames",
            str(frames_dir),
            "--mask",
            str(masks_dir / "00000.png"),
            "--quick",
            "--snap",
            "",
            "--checkpoint",
            "osvos_davis2016_cpu",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr
    assert "bare VGG16 forward" in r.stdout and "fine-tuning iteration, " in r.stdout
    report = json.loads(out.read_text())
    assert report["settings"]["repeats"] == 1 and report["snap_ms"] == {}
    assert report["parent"] == "osvos_davis2016_cpu"  # the parent's id, never a path
    r = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench.py"), "--frames", str(frames_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "--frames and --mask go together" in r.stderr


def test_quick_settings_and_the_default_video(tmp_path):
    quick = speed.quick_settings(SpeedSettings(long_frames=30, snap_modes=("bilateral",)))
    assert (quick.repeats, quick.segment_frames, quick.measure, quick.slope_iterations) == (1, 2, (), 3)
    assert quick.compute_dtypes == () and quick.long_frames == 30 and quick.snap_modes == ("bilateral",)
    lines = []
    with speed.benchmark_video(davis_root=tmp_path / "no-davis", log=lines.append) as (frames, mask):
        assert len(frames) == 8 and mask.is_file() and frames[0].parent.is_dir()
        folder = frames[0].parent
    assert not folder.exists() and "synthetic 854x480 clip" in lines[0]
    with pytest.raises(ValueError, match="together"):
        with speed.benchmark_video(frames_dir=tmp_path):
            pass
