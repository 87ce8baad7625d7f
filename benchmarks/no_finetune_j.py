"""J of a network as loaded (no fine-tuning) on every 5th frame of 1..N-2 of the 10 val sequences.

    python benchmarks/no_finetune_j.py parent           # the default parent ($OSVOS_PARENT, else the shipped preset)
    python benchmarks/no_finetune_j.py base             # the base weights (HED VGG16, new layers random)
    python benchmarks/no_finetune_j.py PATH/ckpt.h5     # any osvos_tf checkpoint or parent preset

A quick subsampled estimate; tools/run_davis.py --iterations 0 gives the full-protocol number.
"""

import sys

import numpy as np

from osvos_tf import OSVOS
from osvos_tf.benchmarks import list_davis_sequences, mean_jaccard, sampled_frames
from osvos_tf.davis import default_davis_root


def main(which: str) -> None:
    root = default_davis_root()
    osvos = OSVOS() if which == "parent" else OSVOS(checkpoint=which)
    means = []
    for seq in list_davis_sequences(root, "val"):
        frames, annotations = sampled_frames(root, seq)
        means.append(mean_jaccard((probs for _, probs in osvos.segment(frames)), annotations))
        print(f"{seq:16s} {len(frames):3d} frames  J {means[-1]:.3f}", flush=True)
    print(f"mean over sequences: J {np.mean(means):.3f}  ({osvos.source})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
