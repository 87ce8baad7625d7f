"""Fine-tuning optimizer comparison: the original SGD recipe against Adam, same number of updates.

    python benchmarks/finetune_optimizer.py CHECKPOINT SEQ[,SEQ...] CONFIG[,CONFIG...] [UPDATES]
    python benchmarks/finetune_optimizer.py osvos_davis2016_cpu dance-twirl,soapbox sgd,adam2e-5,adam1e-4

For each sequence of the DAVIS-2016 tree (``$OSVOS_DAVIS_ROOT`` or ../shared/DAVIS) and each config: fine-tune the
checkpoint on frame 0 (``UPDATES`` updates, default 50), then J on every 5th frame of 1..N-2. One JSON line
per run: J, the first loss and the mean of the last five, and the wall time.

Configs: ``sgd`` (FineTuneConfig(), the original optimizer and multipliers), ``sgd10x`` (10x its learning
rate), ``adam2e-5`` / ``adam5e-5`` / ``adam1e-4`` (Adam at that rate, every learning-rate multiplier 1).
"""

import json
import sys
import time

import numpy as np

from osvos_tf import OSVOS
from osvos_tf.benchmarks import mean_jaccard, sampled_frames
from osvos_tf.config import FineTuneConfig, LrMultipliers
from osvos_tf.davis import default_davis_root, sequence_inputs

UNIFORM = LrMultipliers(1, 1, 1, 1, 1, 1)


def configs(updates: int) -> dict[str, FineTuneConfig]:
    sgd = FineTuneConfig(iterations=updates)
    out = {"sgd": sgd, "sgd10x": FineTuneConfig(iterations=updates, learning_rate=sgd.learning_rate * 10)}
    for name, lr in (("adam2e-5", 2e-5), ("adam5e-5", 5e-5), ("adam1e-4", 1e-4)):
        out[name] = FineTuneConfig(iterations=updates, optimizer="adam", learning_rate=lr, lr_multipliers=UNIFORM)
    return out


def main(checkpoint: str, sequences: list[str], names: list[str], updates: int) -> None:
    root = default_davis_root()
    known = configs(updates)
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"Unknown configs {unknown}; known: {', '.join(known)}.")
    for seq in sequences:
        frames, first_mask = sequence_inputs(root, seq)
        for name in names:
            osvos = OSVOS(checkpoint=checkpoint, config=known[name])
            start = time.time()
            state = osvos.fit_one_shot(frames[0], first_mask, progress=False)
            picks, truth = sampled_frames(root, seq)
            j = mean_jaccard((probs for _, probs in osvos.segment(picks)), truth)
            print(
                json.dumps(
                    {
                        "seq": seq,
                        "cfg": name,
                        "its": updates,
                        "J": round(j, 4),
                        "loss_first": round(state.losses[0], 4),
                        "loss_last5": round(float(np.mean(state.losses[-5:])), 4),
                        "s": round(time.time() - start),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","), int(sys.argv[4]) if len(sys.argv) == 5 else 50)
