#!/usr/bin/env python
"""Calibrate the raw-mask threshold and the snapping parameters on the DAVIS training sequences (never on
validation).

    python tools/calibrate_snapping.py --davis ROOT [--set train] [--preset NAME | --iterations N]
                                       [--sequence-step K] [--frames-per-sequence 3] [--checkpoint PATH|PRESET]
                                       [--mask-thresholds 0.5,0.635] [--ucm-thresholds 0.2,0.29]
                                       [--bilateral 128:8,512:16] [--margins 0.2,1] [--bands 0,8]
                                       [--max-loss 0.005] [--allow-validation] [--predictions FILE.npz]
                                       [--json OUT]

With --preset / --iterations each sequence's network is first fine-tuned on its first annotated frame (as
tools/run_davis.py does); without, the parent's own predictions are snapped. On a few frames of every sequence
(every K-th sequence with --sequence-step K) it scores each raw-mask threshold, then each UCM threshold
(contour snapping) and each (lam, sigma_spatial) of the bilateral solver combined with each confidence margin
and band, prints the mean J of each, the chosen ones (the best that lose at most --max-loss J on every
sequence) and the per-sequence gains. All the work is done by osvos_tf.benchmarks.calibrate_snapping.
"""

import argparse
import sys
from pathlib import Path

from osvos_tf.atomic import write_json_atomic
from osvos_tf.benchmarks import (
    BAND_CANDIDATES,
    BILATERAL_CANDIDATES,
    MARGIN_CANDIDATES,
    MAX_SEQUENCE_LOSS,
    THRESHOLD_CANDIDATES,
    UCM_CANDIDATES,
    calibrate_snapping,
    comma_floats,
    comma_ints,
    comma_names,
    comma_pairs,
    format_calibration,
)
from osvos_tf.davis import default_davis_root


def _floats(values) -> str:
    return ",".join(str(float(v)) for v in values)  # exact (162/255 too)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)"
    )
    parser.add_argument("--set", default="train", dest="image_set", help="DAVIS set (default train)")
    parser.add_argument("--sequences", default=None, help="comma-separated names (default: the whole set)")
    parser.add_argument("--sequence-step", type=int, default=1, help="use every K-th sequence of the list (default 1)")
    parser.add_argument("--frames-per-sequence", type=int, default=3, help="evenly spaced frames per sequence")
    parser.add_argument("--checkpoint", default=None, help="parent checkpoint or preset (default: the shipped parent)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--preset", default=None, help="fine-tune each sequence with this preset first (e.g. default)")
    budget.add_argument("--iterations", type=int, default=None, help="fine-tune each sequence for N updates first")
    parser.add_argument(
        "--mask-thresholds",
        default=_floats(THRESHOLD_CANDIDATES),
        help="comma-separated raw-mask thresholds to try (default: %(default)s)",
    )
    parser.add_argument(
        "--mask-threshold", type=float, default=None, help="snap at this mask threshold (default: the best one)"
    )
    parser.add_argument(
        "--ucm-thresholds",
        default=_floats(UCM_CANDIDATES),
        help="comma-separated UCM thresholds to try (default: %(default)s)",
    )
    parser.add_argument(
        "--bilateral",
        default=",".join(f"{lam:g}:{ss:g}" for lam, ss in BILATERAL_CANDIDATES),
        help="comma-separated lam:sigma_spatial pairs to try (default: %(default)s)",
    )
    parser.add_argument(
        "--margins", default=_floats(MARGIN_CANDIDATES), help="confidence margins to try (default: %(default)s)"
    )
    parser.add_argument(
        "--bands", default=",".join(map(str, BAND_CANDIDATES)), help="confidence bands to try (default: %(default)s)"
    )
    parser.add_argument(
        "--max-loss",
        type=float,
        default=MAX_SEQUENCE_LOSS,
        help="largest J a chosen candidate may lose on a sequence (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-validation",
        action="store_true",
        help="calibrate on validation sequences anyway (refused otherwise; a diagnostic, not a fair measure)",
    )
    parser.add_argument(
        "--predictions",
        default=None,
        help="an .npz file of the predictions: read if it exists (same settings), else written (re-scoring is then "
        "quick)",
    )
    parser.add_argument("--json", default=None, help="also write the scores to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
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
            preset=args.preset,
            iterations=args.iterations,
            sequence_step=args.sequence_step,
            mask_thresholds=comma_floats(args.mask_thresholds, "--mask-thresholds"),
            mask_threshold=args.mask_threshold,
            margins=comma_floats(args.margins, "--margins"),
            bands=comma_ints(args.bands, "--bands"),
            max_loss=args.max_loss,
            allow_validation=args.allow_validation,
            predictions=args.predictions,
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
