#!/usr/bin/env python3
"""OSVOS on SegTrack v2, the paper's Table 7 protocol: one network per object fine-tuned on the first frame,
every object segmented independently (objects overlap), mean IoU per object and per sequence.

python tools/run_segtrack.py --segtrack ../shared/SegTrackv2 --out runs/segtrack [--preset default | --iterations N]
"""

import argparse
import json
import sys

from osvos_tf.config import PRESETS
from osvos_tf.segtrack import run_segtrack


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segtrack", required=True, help="SegTrack v2 root (ImageSets/, JPEGImages/, GroundTruth/)")
    parser.add_argument("--out", required=True, help="new (or empty) folder for masks and results.json")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--preset", choices=tuple(PRESETS), default=None, help="fine-tuning preset (default: default)")
    budget.add_argument("--iterations", type=int, default=None, help="fine-tuning updates per object")
    parser.add_argument("--checkpoint", default=None, help="parent: preset name or checkpoint (default: shipped)")
    parser.add_argument("--sequences", default=None, help="comma-separated names (default: ImageSets/all.txt)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        report = run_segtrack(
            args.segtrack,
            args.out,
            preset=args.preset,
            iterations=args.iterations,
            checkpoint=args.checkpoint,
            sequences=args.sequences.split(",") if args.sequences else None,
            progress=not args.quiet,
        )
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report["overall"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
