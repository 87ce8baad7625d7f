#!/usr/bin/env python
"""Evaluate a results folder on DAVIS-2016 (J, F and T as the official benchmark).

    python tools/eval_davis.py --davis ROOT --results DIR [--sequences a,b,...] [--no-t] [--json OUT]
                               [--workers N] [--errors [--near-px 20]]

DIR holds DIR/<sequence>/<frame>.png (any nonzero pixel is foreground); without --sequences, sub-folders
of DIR that are not DAVIS sequences (overlays/, logs/, ...) are skipped and named on stderr and under
"skipped" in the JSON.  Prints the per-sequence table and the overall J/F Mean, Recall, Decay and T Mean;
--json writes the same numbers as JSON.  --errors also prints the error split of the OSVOS paper's
Figure 5 (false positives within --near-px pixels of the object, farther ones, false negatives, as
fractions of the union; they sum to 1 - J) and stores it under "error_split" in the JSON.  All the work is
done by osvos_tf.evaluation.evaluate_and_report; a bad input (missing, empty or truncated file, wrong
layout or size) exits with status 2 and one "error: ..." line.
"""

import argparse
import sys

from osvos_tf.evaluation import ERROR_NEAR_PX, default_davis_root, evaluate_and_report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis",
        default=None,
        help="DAVIS-2016 root holding Annotations/480p and db_info.yaml "
        "(default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)",
    )
    parser.add_argument("--results", required=True, help="results folder DIR/<sequence>/<frame>.png")
    parser.add_argument(
        "--sequences",
        default=None,
        help="comma-separated sequence names (default: every sub-folder of DIR that is a DAVIS sequence)",
    )
    parser.add_argument("--no-t", action="store_true", help="skip the (slow) temporal stability T")
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
        )
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
