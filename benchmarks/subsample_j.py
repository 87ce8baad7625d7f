"""J of a folder of result masks on the frames no_finetune_j.py and finetune_optimizer.py score.

    python benchmarks/subsample_j.py RUN_DIR     # RUN_DIR/<sequence>/<frame>.png, e.g. from tools/run_davis.py

Every 5th frame of 1..N-2 of each sequence of the DAVIS-2016 tree ($OSVOS_DAVIS_ROOT or ../shared/DAVIS) that has a
folder in RUN_DIR; mean over sequences. Puts a full run_davis result next to those subsampled estimates.
"""

import sys
from pathlib import Path

import numpy as np

from osvos_tf.benchmarks import mean_jaccard, sampled_frames
from osvos_tf.davis import default_davis_root
from osvos_tf.masks import read_davis_mask as read_mask


def main(run_dir: Path) -> None:
    root = default_davis_root()
    sequences = sorted(p.name for p in run_dir.iterdir() if (root / "Annotations" / "480p" / p.name).is_dir())
    if not sequences:
        sys.exit(f"No DAVIS sequence folder in {run_dir} (expected {run_dir}/<sequence>/<frame>.png).")
    means = []
    for seq in sequences:
        frames, annotations = sampled_frames(root, seq)
        results = (read_mask(run_dir / seq / f"{f.stem}.png").astype(np.float32) for f in frames)
        means.append(mean_jaccard(results, annotations))
        print(f"{seq:16s} {len(frames):3d} frames  J {means[-1]:.3f}")
    print(f"mean over {len(means)} sequences: J {np.mean(means):.3f}  ({run_dir})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
