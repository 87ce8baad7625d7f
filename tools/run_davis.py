#!/usr/bin/env python
"""Run OSVOS on DAVIS-2016 sequences: fine-tune on frame 0, segment every frame, time it, evaluate.

    python tools/run_davis.py --davis ROOT --out DIR [--sequences a,b,...] [--set val]
                              [--preset fast|default|accurate[,...] | --iterations N[,...]] [--freeze-blocks K]
                              [--compute-dtype auto|float32|bfloat16]
                              [--checkpoint PATH]
                              [--snap none|contours|bilateral|none,bilateral,contours]
                              [--ucm-threshold T] [--no-t] [--no-eval] [--workers N] [--quiet]

Writes DIR/<sequence>/<frame>.png (0/255), DIR/timing.json (after every sequence) and DIR/results.json, and
prints the J/F/T table. With several --snap modes, each sequence is fine-tuned and segmented once and
each mode's run folder is DIR/<mode>/. With several budgets (--preset fast,default,accurate or
--iterations 0,50,200), each sequence is fine-tuned once for the largest and segmented after each budget's
number of updates: DIR/<preset>/ or DIR/iterations-N/ (then DIR/<budget>/<mode>/ with several modes). Running the same command again resumes: finished sequences are skipped. All the
work is done by osvos_tf.benchmark.run_davis.
"""

import argparse
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("osvos_tf") is None:  # plain checkout, package not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osvos_tf import benchmark, evaluation  # noqa: E402
from osvos_tf.config import COMPUTE_DTYPES, PRESETS  # noqa: E402
from osvos_tf.snapping import SNAP_MODES, ContourSnapParams  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)"
    )
    parser.add_argument("--out", required=True, help="run folder (new, empty, or an earlier run to resume)")
    parser.add_argument(
        "--sequences", default=None, help="comma-separated sequence names (default: every sequence of --set present)"
    )
    parser.add_argument(
        "--set", default="val", dest="image_set", help="DAVIS set when --sequences is not given (default val)"
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--preset",
        default=None,
        help=f"fine-tuning preset: {', '.join(f'{k} ({v})' for k, v in PRESETS.items())}"
        ", or several separated by commas (default: default)",
    )
    budget.add_argument(
        "--iterations",
        default=None,
        help="fine-tuning updates (0 = no fine-tuning, the network as loaded), or several separated by commas",
    )
    parser.add_argument(
        "--freeze-blocks",
        type=int,
        default=None,
        help="VGG blocks 1..N kept fixed while fine-tuning (default: the preset's, 0)",
    )
    parser.add_argument(
        "--compute-dtype",
        default=None,
        choices=COMPUTE_DTYPES,
        help="network activations: auto (bfloat16 where the CPU has it natively), float32, "
        "bfloat16 (default: the preset's)",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="parent checkpoint (default: the shipped parent, else the base weights); 'base' = the "
        "bare VGG16 initialisation (no parent)",
    )
    parser.add_argument(
        "--snap",
        default="none",
        help=f"boundary snapping: {', '.join(SNAP_MODES)}, or several separated by commas "
        "(masks of each in DIR/<mode>/) (default none)",
    )
    parser.add_argument(
        "--ucm-threshold",
        type=float,
        default=None,
        help=f"superpixel threshold of --snap contours (default {ContourSnapParams().threshold})",
    )
    parser.add_argument("--no-t", action="store_true", help="skip the (slow) temporal stability T")
    parser.add_argument("--no-eval", action="store_true", help="do not evaluate (no results.json)")
    parser.add_argument("--workers", type=int, default=2, help="evaluation processes (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (the per-sequence lines stay)")
    args = parser.parse_args(argv)
    sequences = None
    if args.sequences is not None:
        sequences = [s.strip() for s in args.sequences.split(",") if s.strip()]
    preset, iterations = args.preset, args.iterations
    if preset is not None:
        preset = [p.strip() for p in preset.split(",") if p.strip()]
        preset = preset[0] if len(preset) == 1 else preset
    if iterations is not None:
        try:
            iterations = [int(n) for n in iterations.split(",") if n.strip()]
        except ValueError:
            parser.exit(2, f"error: --iterations takes integers separated by commas, got {args.iterations!r}\n")
        iterations = iterations[0] if len(iterations) == 1 else iterations
    snap = [m.strip() for m in args.snap.split(",") if m.strip()]
    snap = snap[0] if len(snap) == 1 else snap
    contour_params = None
    if args.ucm_threshold is not None:
        contour_params = ContourSnapParams(threshold=args.ucm_threshold)
    try:
        benchmark.run_davis(
            args.davis if args.davis else evaluation.default_davis_root(),
            args.out,
            sequences=sequences,
            image_set=args.image_set,
            preset=preset,
            iterations=iterations,
            checkpoint=args.checkpoint,
            snap=snap,
            contour_params=contour_params,
            freeze_blocks=args.freeze_blocks,
            compute_dtype=args.compute_dtype,
            evaluate=not args.no_eval,
            compute_t=not args.no_t,
            workers=args.workers,
            progress=not args.quiet,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
