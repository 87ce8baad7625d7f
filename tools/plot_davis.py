#!/usr/bin/env python
"""Plot run folders of tools/run_davis.py: J and F per sequence, and quality (J mean) against time.

    python tools/plot_davis.py RUN_DIR [RUN_DIR ...] --out PLOT_PREFIX [--time fit|total|per_frame]
                               [--labels a,b,...] [--log-x]

Writes PLOT_PREFIX_jf.png and PLOT_PREFIX_quality_vs_time.png (one marker style per run: with runs of
several presets, the paper's Figure 8). Needs matplotlib (pip install -e .[plots]). All the work is done by
osvos_tf.benchmarks.plot_runs.
"""

import argparse
import sys

from osvos_tf.benchmarks import TIME_AXES, comma_names, plot_runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (timing.json + results.json)")
    parser.add_argument("--out", required=True, metavar="PLOT_PREFIX", help="path prefix of the PNGs")
    parser.add_argument(
        "--time",
        default="fit",
        choices=list(TIME_AXES),
        help="x axis: fine-tuning s per sequence (fit, default), fine-tuning + segmentation s "
        "per sequence (total), or that per frame (per_frame)",
    )
    parser.add_argument("--labels", default=None, help="comma-separated legend names, one per run")
    parser.add_argument("--log-x", action="store_true", help="logarithmic time axis")
    args = parser.parse_args(argv)
    labels = comma_names(args.labels) if args.labels else None
    try:
        paths = plot_runs(args.runs, args.out, time_axis=args.time, labels=labels, log_x=args.log_x)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        parser.exit(2, f"error: {exc}\n")
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
