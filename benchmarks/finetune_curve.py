"""J against the number of fine-tuning updates, from one fine-tuning run per sequence.

    python benchmarks/finetune_curve.py [--at 25,50,100,200,300] [--set compute_dtype=bfloat16]
                                        [--sequences all] [--checkpoint CKPT] [--out curve.jsonl]

For each val sequence of the DAVIS-2016 tree ($OSVOS_DAVIS_ROOT or ../shared/DAVIS): fine-tune the parent on
frame 0 for max(--at) updates and, after each update count in --at, score J on every 5th frame of 1..N-2
(osvos_tf.benchmarks.sampled_frames). The fine-tuning is the same as stopping at each count, since the
augmentation draws and the updates do not depend on the evaluations. One JSON line per (sequence, count):
J, the seconds spent in updates so far, and the config; then the mean over sequences per count.
--set overrides FineTuneConfig fields (repeatable; values are parsed as JSON, else kept as strings).
"""

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from osvos_tf import OSVOS
from osvos_tf.benchmarks import list_davis_sequences, mean_jaccard, sampled_frames
from osvos_tf.config import FineTuneConfig, config_to_dict
from osvos_tf.davis import default_davis_root, sequence_inputs
from osvos_tf.frames import read_frame


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set expects FIELD=VALUE, got {text!r}.")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _curve_of(osvos, root: Path, seq: str, counts: list[int], emit: Callable[[dict], None]) -> None:
    """One fine-tuning of ``seq`` for max(counts) updates; ``emit`` gets a record (J, seconds spent in updates
    so far) as each count is reached."""
    paths, annotations = sampled_frames(root, seq)
    frames = [read_frame(f) for f in paths]  # decoded once, scored at every count
    video, first_mask = sequence_inputs(root, seq)
    start = time.perf_counter()
    eval_seconds = 0.0

    def score(n, probs):
        nonlocal eval_seconds
        if n in counts:
            t0 = time.perf_counter()
            j = mean_jaccard((probs(f) for f in frames), annotations)
            eval_seconds += time.perf_counter() - t0
            train_s = time.perf_counter() - start - eval_seconds
            emit({"seq": seq, "updates": n, "J": j, "frames": len(frames), "train_s": round(train_s, 1)})

    osvos.fit_one_shot(video[0], first_mask, progress=False, callback=score)


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

    curve: dict[int, list[float]] = {c: [] for c in counts}

    def emit(record: dict) -> None:
        if "updates" in record:
            curve[record["updates"]].append(record["J"])
            record = {**record, "J": round(record["J"], 4)}
        line = json.dumps(record)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    osvos = OSVOS(checkpoint=args.checkpoint, config=config)  # every fit starts from the parent
    for seq in sequences:
        _curve_of(osvos, root, seq, counts, emit)
    summary = {str(c): round(float(np.mean(v)), 4) for c, v in curve.items() if v}
    emit({"mean_J": summary, "sequences": len(sequences), "parent": osvos.source, "config": config_to_dict(config)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
