#!/usr/bin/env python
"""Speed benchmark: segmentation ms/frame against a bare VGG16 forward pass, fine-tuning s/iteration, time per
preset for a 70-frame sequence, peak memory, and memory over a long stream.

    python tools/bench.py [--davis ROOT] [--sequence car-shadow] [--frames DIR --mask PNG]
                          [--checkpoint PATH|PRESET] [--repeats 3] [--measure fast,default]
                          [--snap bilateral,contours] [--long-frames 10000] [--compute-dtype auto]
                          [--dtypes float32,bfloat16] [--json OUT] [--quick]

Default video: DAVIS car-shadow when ../shared/DAVIS (or $OSVOS_DAVIS_ROOT) exists, else a synthetic 854x480
clip. Prints a table and, with --json, writes the report. All the work is done by osvos_tf.benchmarks.speed.
"""

import argparse
import sys
from pathlib import Path

from osvos_tf.atomic import write_json_atomic
from osvos_tf.benchmarks import (
    benchmark_video,
    comma_names,
    format_speed_report,
    quick_settings,
    run_speed_benchmark,
)
from osvos_tf.config import COMPUTE_DTYPES, FineTuneConfig, SpeedSettings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or ../shared/DAVIS)")
    parser.add_argument("--sequence", default="car-shadow", help="DAVIS sequence (default car-shadow)")
    parser.add_argument("--frames", default=None, help="a folder of frames instead of DAVIS (with --mask)")
    parser.add_argument("--mask", default=None, help="the annotation of the first frame of --frames")
    parser.add_argument("--checkpoint", default=None, help="parent checkpoint or preset (default: the shipped parent)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (median reported)")
    parser.add_argument(
        "--measure", default="fast,default", help="presets whose fine-tuning is run end to end (others are estimated)"
    )
    parser.add_argument("--snap", default="bilateral,contours", help="snapping modes to time ('' = none)")
    parser.add_argument("--long-frames", type=int, default=10000, help="frames of the constant-memory run (0 = skip)")
    parser.add_argument("--json", default=None, help="write the report there")
    parser.add_argument(
        "--compute-dtype",
        default="auto",
        choices=COMPUTE_DTYPES,
        help="dtype of the OSVOS measured and its presets (default auto)",
    )
    parser.add_argument(
        "--dtypes",
        default="float32,bfloat16",
        help="further compute dtypes whose segmentation and fine-tuning are timed ('' = none)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 1 repetition, 2 frames, no preset run end to end, 50 long frames",
    )
    args = parser.parse_args(argv)
    if (args.frames is None) != (args.mask is None):
        parser.exit(2, "error: --frames and --mask go together\n")
    settings = SpeedSettings(
        repeats=args.repeats,
        warmup=1,
        measure=comma_names(args.measure),
        snap_modes=comma_names(args.snap),
        compute_dtypes=comma_names(args.dtypes),
        long_frames=args.long_frames,
    )
    settings = quick_settings(settings) if args.quick else settings

    def log(text):
        print(f"[bench] {text}", file=sys.stderr, flush=True)

    try:
        from osvos_tf.osvos import OSVOS

        with benchmark_video(args.frames, args.mask, args.davis, args.sequence, log) as (frames, mask):
            osvos = OSVOS(checkpoint=args.checkpoint, config=FineTuneConfig(compute_dtype=args.compute_dtype))
            report = run_speed_benchmark(frames, mask, settings, osvos, log=log)
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(format_speed_report(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
