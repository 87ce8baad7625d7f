#!/usr/bin/env python
"""Evaluate a results folder on DAVIS-2016 (J, F and T as the official benchmark).

    python tools/eval_davis.py --davis ROOT --results DIR [--sequences a,b,...] [--no-t] [--json OUT]
                               [--workers N]

DIR holds DIR/<sequence>/<frame>.png (any nonzero pixel is foreground).  Prints the per-sequence table and
the overall J/F Mean, Recall, Decay and T Mean; --json writes the same numbers as JSON.  All the work is
done by osvos_tf.evaluation.evaluate_and_report.
"""

import argparse
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("osvos_tf") is None:  # plain checkout, package not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osvos_tf import evaluation  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--davis", default=None,
                        help="DAVIS-2016 root holding Annotations/480p and db_info.yaml "
                             "(default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)")
    parser.add_argument("--results", required=True, help="results folder DIR/<sequence>/<frame>.png")
    parser.add_argument("--sequences", default=None,
                        help="comma-separated sequence names (default: every sequence folder in DIR)")
    parser.add_argument("--no-t", action="store_true", help="skip the (slow) temporal stability T")
    parser.add_argument("--json", default=None, metavar="OUT", help="write the results as JSON to OUT")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    args = parser.parse_args(argv)
    sequences = None
    if args.sequences:
        sequences = [s.strip() for s in args.sequences.split(",") if s.strip()]
    try:
        evaluation.evaluate_and_report(
            args.davis if args.davis else evaluation.default_davis_root(),
            args.results,
            sequences=sequences,
            compute_t=not args.no_t,
            workers=args.workers,
            json_path=args.json,
        )
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
