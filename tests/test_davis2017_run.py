"""tools/run_davis.py --year 2017: the multi-object method over a (synthetic) DAVIS-2017 tree, resumable,
evaluated by the DAVIS-2017 protocol."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from osvos_tf.label_maps import read_label_map, write_label_map

TOOL = Path(__file__).resolve().parent.parent / "tools" / "run_davis.py"


def _tree(root, n=4):
    from osvos_tf.synthetic import two_object_clip

    frames, labels = two_object_clip(n_frames=n)
    for seq in ("alpha", "beta"):
        (root / "JPEGImages" / "480p" / seq).mkdir(parents=True)
        (root / "Annotations" / "480p" / seq).mkdir(parents=True)
        for i, (frame, label) in enumerate(zip(frames, labels)):
            Image.fromarray(frame).save(root / "JPEGImages" / "480p" / seq / f"{i:05d}.jpg", quality=95)
            write_label_map(root / "Annotations" / "480p" / seq / f"{i:05d}.png", label)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("alpha\nbeta\n")
    return root


@pytest.mark.slow
def test_run_writes_palette_results_times_evaluates_and_resumes(tmp_path, capsys):
    from osvos_tf.benchmarks.davis2017_run import run_davis2017
    from osvos_tf.evaluation.davis2017 import evaluate_results_2017

    root = _tree(tmp_path / "DAVIS2017")
    main = runpy.run_path(str(TOOL))["main"]
    assert main(["--davis", str(root), "--out", str(tmp_path / "run"), "--year", "2017", "--iterations", "3"]) == 0
    assert "alpha_1" in capsys.readouterr().out  # the per-object table
    run = tmp_path / "run"
    for seq in ("alpha", "beta"):
        pngs = sorted((run / seq).glob("*.png"))
        assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(4)]
        assert Image.open(pngs[1]).mode == "P" and set(np.unique(read_label_map(pngs[1]))) <= {0, 1, 2}
    timing = json.loads((run / "timing.json").read_text())
    assert timing["settings"]["iterations"] == 3 and timing["settings"]["parent"] == "osvos_davis2016_cpu"
    assert timing["sequences"]["alpha"]["objects"] == [1, 2] and timing["sequences"]["alpha"]["frames"] == 4
    results = json.loads((run / "results.json").read_text())
    assert sorted(results["objects"]) == ["alpha_1", "alpha_2", "beta_1", "beta_2"]
    assert results == json.loads(json.dumps(evaluate_results_2017(root, run, workers=1, progress=False)))

    before = (run / "alpha" / "00001.png").stat().st_mtime_ns
    (run / "beta" / "00003.png").unlink()  # a stopped run: beta is partial
    run_davis2017(root, run, iterations=3, progress=False)
    assert (run / "alpha" / "00001.png").stat().st_mtime_ns == before  # finished: kept
    assert (run / "beta" / "00003.png").is_file()  # partial: done again
    with pytest.raises(ValueError, match="other settings"):
        run_davis2017(root, run, iterations=4, progress=False)


def test_bad_requests_fail_before_any_work(tmp_path, capsys):
    root = _tree(tmp_path / "DAVIS2017", n=3)
    main = runpy.run_path(str(TOOL))["main"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--davis", str(root), "--out", str(tmp_path / "r"), "--year", "2017", "--snap", "bilateral"])
    assert exit_info.value.code == 2 and "no --snap" in capsys.readouterr().err
    (root / "Annotations" / "480p" / "beta" / "00000.png").unlink()
    with pytest.raises(SystemExit):
        main(["--davis", str(root), "--out", str(tmp_path / "r"), "--year", "2017", "--iterations", "1"])
    assert "No annotation of the first frame of beta" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
