#!/usr/bin/env python
"""Calibrate the snapping parameters on the DAVIS training sequences (never on validation).

    python tools/calibrate_snapping.py --davis ROOT [--set train] [--frames-per-sequence 3]
                                       [--checkpoint PATH|PRESET] [--ucm-thresholds 0.2,0.29]
                                       [--bilateral 128:8,512:16] [--json OUT]

Snaps the parent network's own predictions (no fine-tuning) on a few frames of every sequence of the set with
each candidate UCM threshold (contour snapping) and each (lam, sigma_spatial) of the bilateral solver, and
prints the mean IoU of each against the ground truth. All the work is done by
osvos_tf.benchmarks.calibrate_snapping.
"""

import argparse
import sys
from pathlib import Path

from osvos_tf.atomic import write_json_atomic
from osvos_tf.benchmarks import (
    BILATERAL_CANDIDATES,
    UCM_CANDIDATES,
    calibrate_snapping,
    comma_floats,
    comma_names,
    comma_pairs,
    format_calibration,
)
from osvos_tf.davis import default_davis_root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)"
    )
    parser.add_argument("--set", default="train", dest="image_set", help="DAVIS set (default train)")
    parser.add_argument("--sequences", default=None, help="comma-separated names (default: the whole set)")
    parser.add_argument("--frames-per-sequence", type=int, default=3, help="evenly spaced frames per sequence")
    parser.add_argument("--checkpoint", default=None, help="parent checkpoint or preset (default: the shipped parent)")
    parser.add_argument(
        "--ucm-thresholds",
        default=",".join(f"{t:g}" for t in UCM_CANDIDATES),
        help="comma-separated UCM thresholds to try (default: %(default)s)",
    )
    parser.add_argument(
        "--bilateral",
        default=",".join(f"{lam:g}:{ss:g}" for lam, ss in BILATERAL_CANDIDATES),
        help="comma-separated lam:sigma_spatial pairs to try (default: %(default)s)",
    )
    parser.add_argument("--json", default=None, help="also write the scores to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        cal = calibrate_snapping(
            args.davis or default_davis_root(),
            args.image_set,
            args.frames_per_sequence,
            args.checkpoint,
            ucm_thresholds=comma_floats(args.ucm_thresholds, "--ucm-thresholds"),
            bilateral=comma_pairs(args.bilateral, "--bilateral"),
            sequences=comma_names(args.sequences) or None,
            progress=not args.quiet,
        )
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(format_calibration(cal))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.json, cal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
