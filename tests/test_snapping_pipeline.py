"""Snapping wired into the pipeline: Snapper, OSVOS(snap=...), the CLI's --snap, run_davis with several modes,
and the calibration on a tiny DAVIS-layout tree."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from test_benchmark import N_FRAMES, SEQS, make_davis, snapshot

from osvos_tf import benchmarks
from osvos_tf.config import FineTuneConfig
from osvos_tf.masks import read_davis_mask as eval_read_mask
from osvos_tf.snapping import (
    BilateralParams,
    ContourSnapParams,
    Snapper,
    check_snap_mode,
    snap_bilateral,
    snap_to_contours,
)
from osvos_tf.synthetic import synthetic_clip, write_clip


@pytest.fixture(scope="module")
def scene():
    frames, masks = synthetic_clip(n_frames=3, height=48, width=64, seed=5)
    rng = np.random.default_rng(0)
    probs = np.clip(masks[1].astype(np.float32) * 0.8 + 0.1 + 0.3 * rng.standard_normal(masks[1].shape), 0, 1)
    return frames[1], probs.astype(np.float32), masks[1]


def test_snap_modes_are_checked():
    assert check_snap_mode(None) == "none" and check_snap_mode("contours") == "contours"
    with pytest.raises(ValueError, match="Unknown snapping mode 'edges'; expected one of none, contours, bilateral"):
        Snapper("edges")
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        Snapper("contours", contours=ContourSnapParams(threshold=-1))
    with pytest.raises(ValueError, match="lam must be >= 0"):
        Snapper("bilateral", bilateral=BilateralParams(lam=-1))


def test_snapper_equals_the_snapping_functions(scene):
    frame, probs, _ = scene
    assert np.array_equal(Snapper(None, threshold=0.4)(frame, probs), probs > 0.4)
    params = BilateralParams(lam=64.0)
    bil = Snapper("bilateral", bilateral=params)
    assert np.array_equal(bil(frame, probs), snap_bilateral(frame, probs, params))
    assert bil.frames == 1 and bil.seconds["snap"] > 0 and bil.seconds["contour_model"] == 0
    contour = np.zeros(probs.shape, np.float32)
    contour[:, 30] = 0.9
    # snapping everywhere (margin 1, band 0): the operator's output itself (the confidence model: test_calibration)
    con = Snapper("contours", contours=ContourSnapParams(threshold=0.2, margin=1.0, band=0))
    assert np.array_equal(con(frame, probs, contour=contour), snap_to_contours(probs, contour, 0.2))
    # with no contour map given, the contour network computes it (HED weights): same as doing it by hand
    own = con(frame, probs)
    assert np.array_equal(own, snap_to_contours(probs, con.contour_map(frame), 0.2))
    assert con.seconds["contour_model"] > 0 and con.ms_per_frame()["contour_model"] > 0


def test_osvos_segment_masks_snap_and_segment_stays_raw(clip, tmp_path):
    from osvos_tf import OSVOS

    frames, masks = clip
    with pytest.raises(ValueError, match="Unknown snapping mode"):
        OSVOS(checkpoint="base", snap="ucm")
    params = BilateralParams()  # OpenCV's defaults (finer than the calibrated ones at this tiny size)
    osvos = OSVOS(checkpoint="base", snap="bilateral", bilateral_params=params, config=FineTuneConfig(iterations=20))
    assert osvos.source == "base:hed"
    osvos.fit_one_shot(frames[0], masks[0], progress=False)
    probs = [p for _, p in osvos.segment(frames[:3])]
    snapped = [m for _, m in osvos.segment_masks(frames[:3])]
    for f, p, m in zip(frames, probs, snapped):
        assert m.dtype == bool and np.array_equal(m, snap_bilateral(f, p, params))
    assert all(p.dtype == np.float32 for p in probs)  # segment() stays the raw probabilities
    written = osvos.segment_to_folder(frames[:3], tmp_path / "out", progress=False)
    for path, m in zip(written, snapped):
        assert np.array_equal(eval_read_mask(path), m)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "osvos_tf.cli", *map(str, args)], capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_cli_segment_with_snap_and_preset(tmp_path):
    frames_dir, masks_dir = write_clip(tmp_path / "clip", n_frames=3, height=48, width=64, seed=2)
    r = run_cli(
        "segment",
        "--frames",
        frames_dir,
        "--mask",
        masks_dir / "00000.png",
        "--out",
        tmp_path / "o",
        "--iterations",
        3,
        "--snap",
        "bilateral",
    )
    assert r.returncode == 0, r.stderr
    assert "snapping 'bilateral'" in r.stdout and len(list((tmp_path / "o").glob("*.png"))) == 3
    r = run_cli(
        "segment",
        "--frames",
        frames_dir,
        "--mask",
        masks_dir / "00000.png",
        "--out",
        tmp_path / "o2",
        "--snap",
        "watershed",
    )
    assert r.returncode == 2 and "invalid choice: 'watershed'" in r.stderr
    r = run_cli(
        "segment",
        "--frames",
        frames_dir,
        "--mask",
        masks_dir / "00000.png",
        "--out",
        tmp_path / "o3",
        "--preset",
        "fast",
        "--iterations",
        3,
    )
    assert r.returncode == 2 and "not allowed with argument" in r.stderr


@pytest.fixture(scope="module")
def tiny_davis(tmp_path_factory):
    return make_davis(tmp_path_factory.mktemp("davis"))


def test_run_davis_with_several_snap_modes(tmp_path, tiny_davis):
    from osvos_tf import OSVOS

    osvos = OSVOS(checkpoint="base", config=FineTuneConfig())
    out = tmp_path / "run"
    log = io.StringIO()
    # OpenCV's solver defaults, snapping everywhere: with the calibrated confidence margin nothing changes on
    # this barely fine-tuned network (its probabilities are far from the mask threshold)
    opencv = BilateralParams()
    both = {
        "iterations": 2,
        "snap": ["none", "bilateral"],
        "workers": 1,
        "progress": False,
        "osvos": osvos,
        "bilateral_params": opencv,
    }
    runs = benchmarks.run_davis(tiny_davis, out, log=log, stream=io.StringIO(), **both)
    assert runs.modes == ("none", "bilateral") and sorted(p.name for p in out.iterdir()) == ["bilateral", "none"]
    assert "segmentation ms/frame (incl. snapping and PNG): none" in log.getvalue()
    for mode in runs.modes:
        run = runs.run(snap=mode)
        assert run.snap == mode and run.ran == list(SEQS) and run.out_dir == out / mode
        timing = json.loads((out / mode / "timing.json").read_text())
        assert timing["settings"]["snap"] == mode
        assert ("snap_params" in timing["settings"]) == (mode != "none")
        for seq in SEQS:
            rec = timing["sequences"][seq]
            assert set(rec["snap_ms_per_frame"]) == {"contour_model", "snap"}
            assert (rec["snap_ms_per_frame"]["snap"] > 0) == (mode == "bilateral")
            assert len(list((out / mode / seq).glob("*.png"))) == N_FRAMES
        assert set(json.loads((out / mode / "results.json").read_text())["sequences"]) == set(SEQS)
    # the bilateral masks are the snapped network probabilities of the same fine-tuned model
    differ = [
        not np.array_equal(
            eval_read_mask(out / "none" / s / f"{i:05d}.png"), eval_read_mask(out / "bilateral" / s / f"{i:05d}.png")
        )
        for s in SEQS
        for i in range(N_FRAMES)
    ]
    assert any(differ)
    # every mode finished: a second call skips everything; one mode folder is a resumable single-mode run
    again = benchmarks.run_davis(tiny_davis, out, log=False, evaluate=False, **both)
    assert all(r.ran == [] and r.skipped == list(SEQS) for r in again)
    single = benchmarks.run_davis(
        tiny_davis,
        out / "bilateral",
        iterations=2,
        snap="bilateral",
        evaluate=False,
        progress=False,
        log=False,
        osvos=osvos,
        bilateral_params=opencv,
    ).run()
    assert single.ran == [] and single.skipped == list(SEQS)
    # another snapping parameter in the same folder: refused, nothing changed
    files = snapshot(out)
    with pytest.raises(ValueError, match="snap_params.lam: 128.0 there, 10.0 now"):
        benchmarks.run_davis(
            tiny_davis,
            out,
            iterations=2,
            snap=["none", "bilateral"],
            log=False,
            osvos=osvos,
            bilateral_params=BilateralParams(lam=10.0),
        )
    assert snapshot(out) == files
    (out / "notes.txt").write_text("x")
    with pytest.raises(FileExistsError, match="notes.txt"):
        benchmarks.run_davis(tiny_davis, out, iterations=2, snap=["none", "bilateral"], log=False, osvos=osvos)
    with pytest.raises(ValueError, match="each mode once"):
        benchmarks.run_davis(tiny_davis, tmp_path / "x", iterations=2, snap=["none", "none"], log=False)


def test_calibrate_snapping_scores_every_candidate(tiny_davis):
    # tiny_davis is a validation set: refused, unless asked for explicitly (with a warning)
    with pytest.raises(ValueError, match="Refusing to calibrate on validation sequences"):
        benchmarks.calibrate_snapping(tiny_davis, image_set="val", frames_per_sequence=1)
    with pytest.warns(UserWarning, match="Calibrating on validation sequences"):
        cal = benchmarks.calibrate_snapping(
            tiny_davis,
            image_set="val",
            frames_per_sequence=1,
            checkpoint=None,
            ucm_thresholds=(0.1, 0.3),
            bilateral=((64.0, 8.0), (128.0, 8.0)),
            margins=(0.2, 1.0),
            bands=(0, 8),
            progress=False,
            allow_validation=True,
        )
    assert cal["frames"] == 2 and cal["sequences"] == list(SEQS) and cal["validation_sequences"] == list(SEQS)
    assert cal["fine_tuning"]["iterations"] == 0 and cal["fine_tuning"]["seconds"] == {}
    # each snapping parameter with each (margin, band): 2 x 4, (1, 0) among them
    assert len(cal["contours"]) == 8 and len(cal["bilateral"]) == 8
    assert {"ucm=0.1,margin=1,band=0", "ucm=0.3,margin=0.2,band=8"} <= set(cal["contours"])
    for mode in ("contours", "bilateral"):
        best = cal["best"][mode]
        qualifying = [
            j
            for k, j in cal[mode].items()
            if all(rec["none"] - rec[mode][k] <= cal["max_loss"] + 1e-12 for rec in cal["per_sequence"].values())
        ]
        assert best["J"] == (max(qualifying) if qualifying else best["J"]) and best["J"] == cal[mode][best["key"]]
        assert cal["everywhere"][mode]["J"] == max(j for k, j in cal[mode].items() if k.endswith("margin=1,band=0"))
    assert all(0 <= v <= 1 for v in [cal["none"], *cal["contours"].values(), *cal["bilateral"].values()])
    text = benchmarks.format_calibration(cal)
    assert "<- best" in text and "parent predictions, no fine-tuning" in text and "contours chosen" in text
    with pytest.raises(ValueError, match="frames_per_sequence must be >= 1"):
        benchmarks.calibrate_snapping(tiny_davis, "val", 0, allow_validation=True)


def test_run_davis_freeze_blocks_is_recorded_and_checked(tmp_path, tiny_davis):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="freeze_blocks must be 0..4, got 5"):
        benchmarks.run_davis(tiny_davis, out, iterations=1, config=FineTuneConfig(freeze_blocks=5), log=False)
    run = benchmarks.run_davis(
        tiny_davis,
        out,
        sequences=["seq-a"],
        iterations=1,
        config=FineTuneConfig(freeze_blocks=2),
        checkpoint=None,
        evaluate=False,
        progress=False,
        log=False,
    ).run()
    assert run.timing["settings"]["fine_tune_config"]["freeze_blocks"] == 2
    with pytest.raises(ValueError, match="fine_tune_config.freeze_blocks: 2 there, 0 now"):
        benchmarks.run_davis(tiny_davis, out, sequences=["seq-a"], iterations=1, evaluate=False, log=False)


def test_run_davis_checkpoint_base_means_no_parent(tmp_path, tiny_davis):
    run = benchmarks.run_davis(
        tiny_davis,
        tmp_path / "run",
        sequences=["seq-b"],
        iterations=0,
        checkpoint="base",
        evaluate=False,
        progress=False,
        log=False,
    ).run()
    assert run.timing["settings"]["checkpoint"] == "base:hed" and run.ran == ["seq-b"]
