#!/usr/bin/env python
"""Evaluate a results folder on DAVIS-2016 (J, F and T) or DAVIS-2017 (J and F per object), as the official benchmarks.

    python tools/eval_davis.py --davis ROOT --results DIR [--sequences a,b,...] [--no-t] [--json OUT]
                               [--workers N] [--errors [--near-px 20]]
    python tools/eval_davis.py --davis ROOT --year 2017 --results DIR [--set val] [--sequences a,b,...]
                               [--json OUT] [--workers N]

DIR holds DIR/<sequence>/<frame>.png (any nonzero pixel is foreground); without --sequences, sub-folders
of DIR that are not DAVIS sequences (overlays/, logs/, ...) are skipped and named on stderr and under
"skipped" in the JSON.  Prints the per-sequence table and the overall J/F Mean, Recall, Decay and T Mean;
--json writes the same numbers as JSON.  --errors also prints the error split of the OSVOS paper's
Figure 5 (false positives within --near-px pixels of the object, farther ones, false negatives, as
fractions of the union; they sum to 1 - J) and stores it under "error_split" in the JSON.  All the work is
done by osvos_tf.evaluation.evaluate_and_report; a bad input (missing, empty or truncated file, wrong
layout or size) exits with status 2 and one "error: ..." line.

--year 2017 runs the DAVIS-2017 semi-supervised protocol: DIR/<sequence>/<frame>.png are label maps (palette
or grayscale PNGs, value = object id); every sequence of ROOT/ImageSets/2017/<set>.txt (or --sequences) is
scored per object on frames 1..N-2 (objects from the first annotated frame, void as background, a missing
object is an empty prediction, an id above the number of objects is an error); it prints one row per object
and the overall J&F, J and F (means over objects), and --json writes {"objects", "sequences", "overall"}.
"""

import argparse
import sys

from osvos_tf.evaluation import ERROR_NEAR_PX, default_davis_root, evaluate_and_report
from osvos_tf.evaluation.report import YEARS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis",
        default=None,
        help="DAVIS root: for 2016 holding Annotations/480p and db_info.yaml, for 2017 Annotations/480p and "
        "ImageSets/2017 (default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)",
    )
    parser.add_argument(
        "--year",
        type=int,
        choices=YEARS,
        default=2016,
        help="the protocol: 2016 (one object, J/F/T per sequence; default) or 2017 (semi-supervised, J/F per object)",
    )
    parser.add_argument(
        "--set",
        default=None,
        metavar="NAME",
        help="with --year 2017: the image set ImageSets/2017/NAME.txt whose sequences are scored (default val)",
    )
    parser.add_argument("--results", required=True, help="results folder DIR/<sequence>/<frame>.png")
    parser.add_argument(
        "--sequences",
        default=None,
        help="comma-separated sequence names (default: 2016 every sub-folder of DIR that is a DAVIS sequence, 2017 "
        "every sequence of the --set list)",
    )
    parser.add_argument(
        "--no-t", action="store_true", help="skip the (slow) temporal stability T (2016; the 2017 protocol has no T)"
    )
    parser.add_argument("--json", default=None, metavar="OUT", help="write the results as JSON to OUT")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument(
        "--errors", action="store_true", help="also compute the OSVOS Fig. 5 error split (FP near / FP far / FN)"
    )
    parser.add_argument(
        "--near-px",
        type=float,
        default=None,
        metavar="PX",
        help=f"with --errors: distance in pixels up to which a false positive is 'near' "
        f"the object (default {ERROR_NEAR_PX:g})",
    )
    args = parser.parse_args(argv)
    if args.near_px is not None and not args.errors:
        parser.error("--near-px only applies to the error split: add --errors")
    if args.year == 2017 and args.errors:
        parser.error("--errors (the single-object error split) belongs to the 2016 protocol: drop it with --year 2017")
    if args.set is not None and args.year != 2017:
        parser.error("--set only applies to --year 2017 (DAVIS-2016 sequences come from the results folder)")
    sequences = None
    if args.sequences:
        sequences = [s.strip() for s in args.sequences.split(",") if s.strip()]
    try:
        evaluate_and_report(
            args.davis if args.davis else default_davis_root(),
            args.results,
            sequences=sequences,
            compute_t=not args.no_t,
            workers=args.workers,
            json_path=args.json,
            errors=args.errors,
            near_px=ERROR_NEAR_PX if args.near_px is None else args.near_px,
            year=args.year,
            image_set="val" if args.set is None else args.set,
        )
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
