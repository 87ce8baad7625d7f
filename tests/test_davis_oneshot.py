"""DAVIS tier: one-shot segmentation of car-shadow with the default network and reduced fine-tuning.

Skipped (with the reason) when ../shared/DAVIS (or $OSVOS_DAVIS_ROOT) is absent. Takes ~3-4 minutes on a
2-core CPU: the fast preset's fine-tuning (50 updates) and 40 frames at 854x480, with the default compute dtype
('auto': bfloat16 on CPUs with native bfloat16).
"""

import numpy as np
import pytest

pytestmark = [pytest.mark.davis, pytest.mark.slow]

ITERATIONS = 50  # the fast preset, as tools/run_davis.py --preset fast
J_FLOOR = 0.80  # measured 0.857 with the shipped parent and these settings (0.792 with the stage-1 parent)


def test_car_shadow_one_shot_j_floor(davis, tmp_path):
    from osvos_tf import OSVOS
    from osvos_tf.evaluation import jaccard
    from osvos_tf.frames import list_frames
    from osvos_tf.masks import read_davis_mask as read_mask

    frames = list_frames(davis / "JPEGImages" / "480p" / "car-shadow")
    masks = [davis / "Annotations" / "480p" / "car-shadow" / f"{f.stem}.png" for f in frames]
    osvos = OSVOS()
    state = osvos.fit_one_shot(frames[0], masks[0], iterations=ITERATIONS, progress=False)
    assert state.iterations == ITERATIONS
    written = osvos.segment_to_folder(frames, tmp_path / "car-shadow", progress=False)
    assert [p.stem for p in written] == [f.stem for f in frames]
    j = [jaccard(read_mask(p), read_mask(m)) for p, m in zip(written[1:-1], masks[1:-1])]
    assert np.mean(j) >= J_FLOOR, f"J mean {np.mean(j):.3f} < {J_FLOOR}"
