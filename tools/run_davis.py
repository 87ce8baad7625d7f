#!/usr/bin/env python
"""Run OSVOS on DAVIS-2016 sequences: fine-tune on frame 0, segment every frame, time it, evaluate.

    python tools/run_davis.py --davis ROOT --out DIR [--year 2016|2017] [--sequences a,b,...] [--set val]
                              [--preset fast|default|accurate[,...] | --iterations N[,...]]
                              [--freeze-blocks K] [--coarse-updates N]
                              [--compute-dtype auto|float32|bfloat16]
                              [--checkpoint PATH|PRESET|base]
                              [--snap none|contours|bilateral|none,bilateral,contours]
                              [--ucm-threshold T] [--no-t] [--no-eval] [--workers N] [--quiet]

Writes DIR/<sequence>/<frame>.png (0/255), DIR/timing.json (after every sequence) and DIR/results.json, and
prints the J/F/T table. With several --snap modes, each sequence is fine-tuned and segmented once and each
mode's run folder is DIR/<mode>/. With several budgets (--preset fast,default,accurate or --iterations
0,50,200), each sequence is fine-tuned once for the largest and segmented after each budget's number of
updates: DIR/<preset>/ or DIR/iterations-N/ (then DIR/<budget>/<mode>/ with several modes). Running the same
command again resumes: finished sequences are skipped. All the work is done by
osvos_tf.benchmarks.run_davis.

--year 2017 runs the multi-object method over a DAVIS-2017 tree (every object of frame 0, one network each,
palette PNG results, the DAVIS-2017 evaluation; one budget, no snapping): osvos_tf.benchmarks.davis2017_run.
"""

import argparse
import sys

from osvos_tf.benchmarks import comma_ints, comma_names, run_davis
from osvos_tf.benchmarks.davis2017_run import run_davis2017
from osvos_tf.config import COMPUTE_DTYPES, PRESETS, ContourSnapParams, FineTuneConfig
from osvos_tf.davis import default_davis_root
from osvos_tf.evaluation import format_objects_table
from osvos_tf.snapping import SNAP_MODES


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)"
    )
    parser.add_argument("--out", required=True, help="run folder (new, empty, or an earlier run to resume)")
    parser.add_argument(
        "--year",
        type=int,
        choices=(2016, 2017),
        default=2016,
        help="2016 (one object, default) or 2017 (every object of frame 0, one network each, palette results, "
        "the DAVIS-2017 evaluation; one budget, no snapping)",
    )
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
        "--freeze-blocks", type=int, default=0, help="VGG blocks 1..N kept fixed while fine-tuning (default 0)"
    )
    parser.add_argument(
        "--coarse-updates",
        type=int,
        default=None,
        help="with --iterations: the first N updates at scale 0.5 (reduced-resolution early updates; default 0, "
        "the original recipe; the presets set their own)",
    )
    parser.add_argument(
        "--compute-dtype",
        default="auto",
        choices=COMPUTE_DTYPES,
        help="network activations: auto (bfloat16 where the CPU has it natively, default), float32, bfloat16",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="parent: a checkpoint file or a parent preset name (default: the shipped parent); 'base' = the "
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
        default=ContourSnapParams().threshold,
        help=f"superpixel threshold of --snap contours (default {ContourSnapParams().threshold})",
    )
    parser.add_argument("--no-t", action="store_true", help="skip the (slow) temporal stability T")
    parser.add_argument("--no-eval", action="store_true", help="do not evaluate (no results.json)")
    parser.add_argument("--workers", type=int, default=2, help="evaluation processes (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (the per-sequence lines stay)")
    args = parser.parse_args(argv)
    try:
        if args.coarse_updates is not None and args.iterations is None:
            raise ValueError(
                "--coarse-updates goes with --iterations (each preset sets its own: "
                f"{ {k: v.get('coarse_updates', 0) for k, v in PRESETS.items()} })."
            )
        if args.year == 2017:
            if (
                args.snap != "none"
                or args.freeze_blocks
                or args.coarse_updates is not None
                or (args.preset and "," in args.preset)
            ):
                raise ValueError(
                    "--year 2017 takes one --preset or --iterations, and no --snap / --freeze-blocks / --coarse-updates."
                )
            report = run_davis2017(
                args.davis or default_davis_root(),
                args.out,
                preset=args.preset,
                iterations=comma_ints(args.iterations, "--iterations")[0] if args.iterations is not None else None,
                checkpoint=args.checkpoint,
                sequences=comma_names(args.sequences) if args.sequences is not None else None,
                image_set=args.image_set,
                compute_dtype=args.compute_dtype,
                evaluate=not args.no_eval,
                workers=args.workers,
                progress=not args.quiet,
            )
            if report["results"] is not None:
                print(format_objects_table(report["results"]))
            return 0
        run_davis(
            args.davis or default_davis_root(),
            args.out,
            sequences=comma_names(args.sequences) if args.sequences is not None else None,
            image_set=args.image_set,
            preset=comma_names(args.preset) if args.preset is not None else None,
            iterations=comma_ints(args.iterations, "--iterations") if args.iterations is not None else None,
            checkpoint=args.checkpoint,
            snap=comma_names(args.snap),
            config=FineTuneConfig(
                freeze_blocks=args.freeze_blocks,
                compute_dtype=args.compute_dtype,
                **({} if args.coarse_updates is None else {"coarse_updates": args.coarse_updates}),
            ),
            contour_params=ContourSnapParams(threshold=args.ucm_threshold),
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
