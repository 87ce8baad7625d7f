"""Fine-tuning update time under TensorFlow's thread and oneDNN settings (issue #15, item 3).

    python benchmarks/thread_settings.py --davis ../shared/DAVIS --out benchmarks/results/DATE_thread_settings

Each setting runs in its own process (they are read when TensorFlow starts): 14 updates of the original
schedule on car-shadow's first frame (the same seed, so the same scales in every run), the sum and median of
updates 5..14 reported, in float32 and bfloat16. The defaults run first and last, to show the drift of the
machine. Writes OUT/results.jsonl.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

SETTINGS = [
    {},
    {"TF_NUM_INTEROP_THREADS": "1"},
    {"TF_NUM_INTRAOP_THREADS": "1"},
    {"TF_ENABLE_ONEDNN_OPTS": "0"},
    {"TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "2"},
    {},
]

ONE_RUN = """
import json, sys
import numpy as np
from osvos_tf import OSVOS
from osvos_tf.config import FineTuneConfig
frame, mask, dtype = sys.argv[1:4]
state = OSVOS(config=FineTuneConfig(iterations=14, compute_dtype=dtype)).fit_one_shot(frame, mask, progress=False)
steps = state.step_seconds[4:]
print(json.dumps({"sum_s": float(np.sum(steps)), "median_s": float(np.median(steps))}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--davis", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    frame = Path(args.davis) / "JPEGImages/480p/car-shadow/00000.jpg"
    mask = Path(args.davis) / "Annotations/480p/car-shadow/00000.png"
    with open(out / "results.jsonl", "w") as log:
        for dtype in ("float32", "bfloat16"):
            for setting in SETTINGS:
                env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **setting}
                run = subprocess.run(
                    [sys.executable, "-c", ONE_RUN, str(frame), str(mask), dtype],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                record = {"dtype": dtype, "setting": setting or "defaults", **json.loads(run.stdout.splitlines()[-1])}
                print(json.dumps(record), flush=True)
                log.write(json.dumps(record) + "\n")
                log.flush()


if __name__ == "__main__":
    main()
