#!/usr/bin/env python
"""Plot run folders of tools/run_davis.py: J and F per sequence, and quality (J mean) against time.

    python tools/plot_davis.py RUN_DIR [RUN_DIR ...] --out PLOT_PREFIX [--time fit|total|per_frame]
                               [--labels a,b,...] [--log-x]

Writes PLOT_PREFIX_jf.png and PLOT_PREFIX_quality_vs_time.png (one marker style per run: with runs of
several presets, the paper's Figure 8). Needs matplotlib (pip install -e .[plots]). All the work is done by
osvos_tf.benchmark.plot_runs.
"""

import argparse
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("osvos_tf") is None:  # plain checkout, package not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osvos_tf import benchmark  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (timing.json + results.json)")
    parser.add_argument("--out", required=True, metavar="PLOT_PREFIX", help="path prefix of the PNGs")
    parser.add_argument(
        "--time",
        default="fit",
        choices=list(benchmark.TIME_AXES),
        help="x axis: fine-tuning s per sequence (fit, default), fine-tuning + segmentation s "
        "per sequence (total), or that per frame (per_frame)",
    )
    parser.add_argument("--labels", default=None, help="comma-separated legend names, one per run")
    parser.add_argument("--log-x", action="store_true", help="logarithmic time axis")
    args = parser.parse_args(argv)
    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    try:
        paths = benchmark.plot_runs(args.runs, args.out, time_axis=args.time, labels=labels, log_x=args.log_x)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        parser.exit(2, f"error: {exc}\n")
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
