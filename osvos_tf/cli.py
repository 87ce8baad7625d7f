"""The ``osvos`` command line: ``osvos segment``, ``osvos demo``, ``osvos train-parent``.

Thin: argparse, then one library call per sub-command.
"""

from __future__ import annotations

import argparse
import os
import sys

from osvos_tf.config import (
    COMPUTE_DTYPES,
    CUTOUT_FORMATS,
    MASK_THRESHOLD,
    PRESETS,
    SNAP_MODES,
    VIDEO_MASK_OUTPUTS,
    FineTuneConfig,
)

WORKING_SHORT_SIDE = FineTuneConfig().working_short_side


def _quiet_tensorflow() -> None:
    # The CLI (not the library) may set process-wide options: hide TensorFlow's C++ start-up chatter.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="osvos", description="One-Shot Video Object Segmentation (OSVOS).")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser("segment", help="fine-tune on one annotated frame, then segment every frame")
    source = seg.add_mutually_exclusive_group(required=True)
    source.add_argument("--frames", help="folder of frames (jpg/png, natural order)")
    source.add_argument(
        "--video",
        help="a video file (mp4, mov, webm, mkv, ...; needs the 'video' extra: pip install \"osvos_tf[video]\")",
    )
    seg.add_argument(
        "--mask",
        required=True,
        help="annotation of the annotated frame: a mask (PNG; nonzero/white = object), or a label map of several "
        "objects (a DAVIS-2017 palette PNG: one network per object, palette PNGs out)",
    )
    seg.add_argument(
        "--objects",
        default=None,
        help="comma-separated object ids of a label-map --mask to segment (default: every object it holds)",
    )
    seg.add_argument("--frame-index", type=int, default=0, help="index of the annotated frame (default 0)")
    seg.add_argument(
        "--out",
        required=True,
        help="output folder: <frame>.png masks (0/255) for --frames; for --video masks/<index>.png (or masks.mkv), "
        "overlay.mp4, cutout.* and run.json",
    )
    budget = seg.add_mutually_exclusive_group()
    budget.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="fine-tuning updates (default: the 'default' preset's; 0 = the network as loaded)",
    )
    budget.add_argument(
        "--preset", default=None, choices=tuple(PRESETS), help="fine-tuning preset (see README, 'Presets')"
    )
    seg.add_argument("--time-budget", type=float, default=None, help="stop fine-tuning after this many seconds")
    seg.add_argument(
        "--compute-dtype",
        default=None,
        choices=COMPUTE_DTYPES,
        help="network activations: auto (bfloat16 where the CPU has it natively), float32, bfloat16 "
        "(default: the preset's)",
    )
    seg.add_argument(
        "--checkpoint",
        default=None,
        help="parent network: a preset name (see `osvos parents`), a checkpoint path, or 'base' (bare VGG16 from "
        "HED, no parent); default: the shipped preset",
    )
    seg.add_argument(
        "--overlay",
        action="store_true",
        help="also write overlays: OUT/overlays/ (--frames), OUT/overlay.mp4 (--video: H.264, audio kept)",
    )
    size = seg.add_mutually_exclusive_group()
    size.add_argument(
        "--short-side",
        type=int,
        default=WORKING_SHORT_SIDE,
        help=f"working resolution: frames with a longer short side are fine-tuned and segmented at this one, the "
        f"masks brought back to the input size (default {WORKING_SHORT_SIDE}, as DAVIS)",
    )
    size.add_argument(
        "--native", action="store_true", help="fine-tune and segment at the input resolution (slow for 1080p and up)"
    )
    seg.add_argument(
        "--masks",
        default="png",
        choices=VIDEO_MASK_OUTPUTS,
        help="--video: masks as PNGs (OUT/masks/) or a lossless video (OUT/masks.mkv, FFV1) (default png)",
    )
    seg.add_argument(
        "--cutout",
        default=None,
        choices=CUTOUT_FORMATS,
        help="--video: also write a cut-out with alpha: webm (VP9), mov (ProRes 4444) or png (OUT/cutout/, RGBA)",
    )
    seg.add_argument(
        "--soft-alpha", action="store_true", help="--video: cut-out alpha from the probabilities (soft edges)"
    )
    seg.add_argument("--tensorboard", default=None, metavar="LOGDIR", help="TensorBoard log folder")
    seg.add_argument(
        "--threshold",
        type=float,
        default=MASK_THRESHOLD,
        help=f"foreground where probability > this (default {MASK_THRESHOLD}, calibrated on DAVIS train)",
    )
    seg.add_argument(
        "--snap",
        default="none",
        choices=SNAP_MODES,
        help="boundary snapping: contours (superpixels of a contour network, majority vote; "
        "about +1.3 s/frame on CPU) or bilateral (fast bilateral solver, about +0.1 s/frame)",
    )
    seg.add_argument("--overwrite", action="store_true", help="allow a non-empty output folder")

    demo = sub.add_parser("demo", help="run end to end on a built-in video")
    demo.add_argument("--out", default="osvos_demo", help="output folder (default ./osvos_demo)")
    demo.add_argument(
        "--davis", action="store_true", help="use DAVIS car-shadow from ../shared/DAVIS or $OSVOS_DAVIS_ROOT (slower)"
    )
    demo.add_argument("--iterations", type=int, default=None, help="fine-tuning updates")
    demo.add_argument("--overwrite", action="store_true", help="allow a non-empty output folder")

    sub.add_parser("parents", help="list the parent-network presets (shipped and known) with their measured quality")

    train = sub.add_parser("train-parent", help="train the parent network on DAVIS")
    train.add_argument("--davis", required=True, help="DAVIS root (uses ImageSets/480p/train.txt)")
    train.add_argument("--out", required=True, help="run folder (checkpoints, TensorBoard, final parent.h5)")
    train.add_argument("--config", default=None, help="ParentTrainConfig JSON (default: the original recipe)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--max-updates", type=int, default=None, help="stop after this many updates this call")
    return parser


def _object_ids(text: str | None) -> list[int] | None:
    """``--objects 1,3`` as [1, 3] (None: not given)."""
    if text is None:
        return None
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--objects takes comma-separated object ids, e.g. 1,3; got {text!r}.") from None
    if not ids:
        raise ValueError(f"--objects takes comma-separated object ids, e.g. 1,3; got {text!r}.")
    return ids


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    _quiet_tensorflow()
    try:
        if args.command == "segment":
            common = dict(
                mask=args.mask,
                out_dir=args.out,
                frame_index=args.frame_index,
                iterations=args.iterations,
                checkpoint=args.checkpoint,
                log_dir=args.tensorboard,
                overwrite=args.overwrite,
                threshold=args.threshold,
                time_budget_s=args.time_budget,
                snap=None if args.snap == "none" else args.snap,
                preset=args.preset,
                compute_dtype=args.compute_dtype,
                objects=_object_ids(args.objects),
                short_side=None if args.native else args.short_side,
            )
        if args.command == "segment" and args.video is not None:
            from osvos_tf.video_job import segment_video_file

            s = segment_video_file(
                args.video,
                **common,
                masks=args.masks,
                overlay=args.overlay,
                cutout=args.cutout,
                soft_alpha=args.soft_alpha,
            )
            print(
                f"{s['frames']} frames of {args.video} segmented into {args.out}: "
                + ", ".join(str(p.name) for p in s["paths"].values())
                + f" (network: {s['source']}; fine-tuning {s['iterations']} updates in {s['fit_seconds']:.1f} s, "
                f"segmentation {s['segment_seconds']:.1f} s; estimated {s['estimate'].seconds:.0f} s in all)"
            )
        elif args.command == "segment":
            from osvos_tf.video_job import segment_video

            if args.masks != "png" or args.cutout or args.soft_alpha:
                raise ValueError("--masks video, --cutout and --soft-alpha need --video (a video file).")
            s = segment_video(args.frames, **common, overlay=args.overlay)
            print(
                f"{len(s['masks'])} {'label maps' if s['objects'] else 'masks'} written to {args.out}"
                + (f" (objects {','.join(map(str, s['objects']))})" if s["objects"] else "")
                + (f", overlays to {s['overlays']}" if s["overlays"] else "")
                + f" (network: {s['source']}; fine-tuning {s['iterations']} updates in {s['fit_seconds']:.1f} s, "
                f"segmentation {s['segment_seconds']:.1f} s"
                + (
                    f", snapping '{s['snap']}' {sum(s['snap_ms_per_frame'].values()):.0f} ms/frame"
                    if s["snap"] != "none"
                    else ""
                )
                + ")"
            )
        elif args.command == "demo":
            from osvos_tf.demo import run_demo

            s = run_demo(args.out, args.davis, args.iterations, args.overwrite)
            print(
                f"Demo on {s['video']} (network: {s['source']}): fine-tuned {s['iterations']} updates in "
                f"{s['fit_seconds']:.1f} s, segmented {len(s['masks'])} frames in {s['segment_seconds']:.1f} s."
            )
            print(f"Masks:    {s['masks'][0].parent}")
            print(f"Overlays: {s['overlays']}")
            print(f"Mean IoU vs ground truth (frames 1..N-2): {s['iou']:.3f}; total {s['seconds']:.1f} s.")
        elif args.command == "parents":
            from osvos_tf.parents import DEFAULT_PARENT_PRESET, PARENT_PRESETS

            for preset in PARENT_PRESETS.values():
                tag = " (default)" if preset.name == DEFAULT_PARENT_PRESET else ""
                where = "shipped" if preset.shipped else f"not shipped: {preset.obtain}"
                print(f"{preset.name}{tag}  [{where}]  sha256 {preset.sha256[:12]}...")
                print(f"    {preset.description}")
                print("    " + ", ".join(f"{k} {v:.3f}" for k, v in preset.metrics))
        elif args.command == "train-parent":
            from osvos_tf.config import load_config
            from osvos_tf.parent import train_parent

            config = load_config(args.config) if args.config else None
            path = train_parent(args.davis, args.out, config, resume=args.resume, max_updates=args.max_updates)
            print(f"Parent weights: {path}")
    except (OSError, ValueError, ArithmeticError, ImportError) as err:  # missing files, bad input, no extra, ...
        print(f"osvos {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
