"""J against the number of fine-tuning updates, from one fine-tuning run per sequence.

    python benchmarks/finetune_curve.py [--at 25,50,100,200,300] [--set compute_dtype=bfloat16]
                                        [--sequences all] [--checkpoint CKPT] [--out curve.jsonl]

For each val sequence of the DAVIS-2016 tree ($OSVOS_DAVIS_ROOT or ../shared/DAVIS): fine-tune the parent on
frame 0 for max(--at) updates and, after each update count in --at, score J on every 5th frame of 1..N-2
(osvos_tf.benchmark.sampled_frames). The fine-tuning is the same as stopping at each count, since the
augmentation draws and the updates do not depend on the evaluations. One JSON line per (sequence, count):
J, the seconds spent in updates so far, and the config; then the mean over sequences per count.
--set overrides FineTuneConfig fields (repeatable; values are parsed as JSON, else kept as strings).
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from osvos_tf import OSVOS
from osvos_tf.benchmark import list_davis_sequences, mean_jaccard, sampled_frames
from osvos_tf.config import FineTuneConfig, config_to_dict
from osvos_tf.evaluation import default_davis_root
from osvos_tf.frames import list_frames, read_frame


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set expects FIELD=VALUE, got {text!r}.")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", default="25,50,100,200,300", help="update counts to score J at")
    parser.add_argument("--set", type=_override, action="append", default=[], help="FineTuneConfig FIELD=VALUE")
    parser.add_argument("--sequences", default="all", help="comma-separated, or 'all' (the val set)")
    parser.add_argument("--checkpoint", default=None, help="parent checkpoint (default: the shipped parent)")
    parser.add_argument("--davis", default=None, help="DAVIS-2016 root")
    parser.add_argument("--out", default=None, help="also append the JSON lines there")
    args = parser.parse_args(argv)
    counts = sorted({int(c) for c in args.at.split(",") if c.strip()})
    if not counts or counts[0] < 1:
        parser.exit(2, f"error: --at needs positive update counts, got {args.at!r}\n")
    root = Path(args.davis) if args.davis else default_davis_root()
    try:
        config = dataclasses.replace(FineTuneConfig(), iterations=counts[-1], **dict(args.set))
        sequences = list_davis_sequences(root, "val") if args.sequences == "all" else args.sequences.split(",")
    except (TypeError, ValueError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    out = open(args.out, "a") if args.out else None

    def emit(record: dict) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    curve: dict[int, list[float]] = {c: [] for c in counts}
    for seq in sequences:
        paths, annotations = sampled_frames(root, seq)
        frames = [read_frame(f) for f in paths]  # decoded once, scored at every count
        first = list_frames(root / "JPEGImages" / "480p" / seq)[0]
        osvos = OSVOS(checkpoint=args.checkpoint, config=config)
        steps_start = time.perf_counter()
        eval_seconds = [0.0]

        def score(n, probs, seq=seq, frames=frames, annotations=annotations):
            if n in curve:
                t0 = time.perf_counter()
                j = mean_jaccard((probs(f) for f in frames), annotations)
                eval_seconds[0] += time.perf_counter() - t0
                curve[n].append(j)
                emit(
                    {
                        "seq": seq,
                        "updates": n,
                        "J": round(j, 4),
                        "frames": len(frames),
                        "train_s": round(time.perf_counter() - steps_start - eval_seconds[0], 1),
                    }
                )

        osvos.fit_one_shot(
            first, root / "Annotations" / "480p" / seq / f"{first.stem}.png", progress=False, callback=score
        )
    summary = {str(c): round(float(np.mean(v)), 4) for c, v in curve.items() if v}
    emit({"mean_J": summary, "sequences": len(sequences), "parent": osvos.source, "config": config_to_dict(config)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
