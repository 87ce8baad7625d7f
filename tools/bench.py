#!/usr/bin/env python
"""Speed benchmark: segmentation ms/frame against a bare VGG16 forward pass, fine-tuning s/iteration, time per
preset for a 70-frame sequence, peak memory, and memory over a long stream.

    python tools/bench.py [--davis ROOT] [--sequence car-shadow] [--frames DIR --mask PNG]
                          [--repeats 3] [--measure fast,default] [--snap bilateral,contours]
                          [--long-frames 10000] [--compute-dtype auto] [--dtypes float32,bfloat16]
                          [--json OUT] [--quick]

Default video: DAVIS car-shadow when ../shared/DAVIS (or $OSVOS_DAVIS_ROOT) exists, else a synthetic 854x480
clip. Prints a table and, with --json, writes the report. All the work is done by osvos_tf.speed.
"""

import argparse
import dataclasses
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

if importlib.util.find_spec("osvos_tf") is None:  # plain checkout, package not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osvos_tf import evaluation, speed  # noqa: E402
from osvos_tf.config import COMPUTE_DTYPES, FineTuneConfig  # noqa: E402
from osvos_tf.frames import list_frames  # noqa: E402
from osvos_tf.synthetic import write_clip  # noqa: E402


def _split(text):
    return tuple(s.strip() for s in text.split(",") if s.strip()) if text else ()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or ../shared/DAVIS)")
    parser.add_argument("--sequence", default="car-shadow", help="DAVIS sequence (default car-shadow)")
    parser.add_argument("--frames", default=None, help="a folder of frames instead of DAVIS (with --mask)")
    parser.add_argument("--mask", default=None, help="the annotation of the first frame of --frames")
    parser.add_argument("--checkpoint", default=None, help="parent checkpoint (default: the shipped parent)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (median reported)")
    parser.add_argument(
        "--measure", default="fast,default", help="presets whose fine-tuning is run end to end (others are estimated)"
    )
    parser.add_argument("--snap", default="bilateral,contours", help="snapping modes to time ('' = none)")
    parser.add_argument("--long-frames", type=int, default=10000, help="frames of the constant-memory run (0 = skip)")
    parser.add_argument("--json", default=None, help="write the report there")
    parser.add_argument(
        "--compute-dtype",
        default=None,
        choices=COMPUTE_DTYPES,
        help="dtype of the OSVOS measured and its presets (default: FineTuneConfig's)",
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
    with tempfile.TemporaryDirectory() as tmp:
        if args.frames or args.mask:
            if not (args.frames and args.mask):
                parser.exit(2, "error: --frames and --mask go together\n")
            frames, mask = list_frames(args.frames), Path(args.mask)
        else:
            root = Path(args.davis) if args.davis else evaluation.default_davis_root()
            folder = root / "JPEGImages" / "480p" / args.sequence
            if folder.is_dir():
                frames = list_frames(folder)
                mask = root / "Annotations" / "480p" / args.sequence / f"{frames[0].stem}.png"
            else:
                print(f"{folder} not found: using a synthetic 854x480 clip", file=sys.stderr)
                frames_dir, masks_dir = write_clip(Path(tmp) / "clip", n_frames=8, height=480, width=854, seed=0)
                frames, mask = list_frames(frames_dir), masks_dir / "00000.png"
        settings = speed.SpeedSettings(
            repeats=1 if args.quick else args.repeats,
            warmup=1,
            segment_frames=2 if args.quick else 5,
            measure=() if args.quick else _split(args.measure),
            snap_modes=_split(args.snap),
            slope_iterations=3 if args.quick else 20,
            compute_dtypes=() if args.quick else _split(args.dtypes),
            long_frames=min(args.long_frames, 50) if args.quick else args.long_frames,
        )
        from osvos_tf.osvos import OSVOS

        try:
            config = FineTuneConfig()
            if args.compute_dtype:
                config = dataclasses.replace(config, compute_dtype=args.compute_dtype)
            osvos = OSVOS(checkpoint=args.checkpoint, config=config)
            report = speed.run_speed_benchmark(
                frames, mask, settings, osvos, log=lambda text: print(f"[bench] {text}", file=sys.stderr, flush=True)
            )
        except (FileNotFoundError, ValueError) as exc:
            parser.exit(2, f"error: {exc}\n")
    print(speed.format_speed_report(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
