#!/usr/bin/env python
"""Calibrate the snapping parameters on the DAVIS training sequences (never on validation).

    python tools/calibrate_snapping.py --davis ROOT [--set train] [--frames-per-sequence 3]
                                       [--checkpoint PATH] [--ucm-thresholds 0.2,0.29]
                                       [--bilateral 128:8,512:16] [--json OUT]

Snaps the parent network's own predictions (no fine-tuning) on a few frames of every sequence of the set with
each candidate UCM threshold (contour snapping) and each (lam, sigma_spatial) of the bilateral solver, and
prints the mean IoU of each against the ground truth. All the work is done by
osvos_tf.benchmark.calibrate_snapping.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

if importlib.util.find_spec("osvos_tf") is None:  # plain checkout, package not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osvos_tf import benchmark, evaluation  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)"
    )
    parser.add_argument("--set", default="train", dest="image_set", help="DAVIS set (default train)")
    parser.add_argument("--sequences", default=None, help="comma-separated names (default: the whole set)")
    parser.add_argument("--frames-per-sequence", type=int, default=3, help="evenly spaced frames per sequence")
    parser.add_argument("--checkpoint", default=None, help="parent checkpoint (default: the shipped parent)")
    parser.add_argument(
        "--ucm-thresholds",
        default=None,
        help="comma-separated UCM thresholds to try (default: benchmark.UCM_CANDIDATES)",
    )
    parser.add_argument(
        "--bilateral",
        default=None,
        help="comma-separated lam:sigma_spatial pairs to try (default: benchmark.BILATERAL_CANDIDATES)",
    )
    parser.add_argument("--json", default=None, help="also write the scores to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    sequences = [s for s in args.sequences.split(",") if s] if args.sequences else None
    candidates = {}
    try:
        if args.ucm_thresholds:
            candidates["ucm_thresholds"] = [float(t) for t in args.ucm_thresholds.split(",")]
        if args.bilateral:
            candidates["bilateral"] = [tuple(float(v) for v in pair.split(":")) for pair in args.bilateral.split(",")]
    except ValueError:
        parser.exit(2, "error: --ucm-thresholds takes numbers, --bilateral lam:sigma pairs, separated by commas\n")
    try:
        cal = benchmark.calibrate_snapping(
            args.davis or evaluation.default_davis_root(),
            args.image_set,
            args.frames_per_sequence,
            args.checkpoint,
            sequences=sequences,
            progress=not args.quiet,
            **candidates,
        )
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(benchmark.format_calibration(cal))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(cal, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
