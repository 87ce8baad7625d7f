"""``osvos demo``: the whole job end to end on a built-in default video.

By default a synthetic clip generated in code (:mod:`osvos_tf.synthetic`, a few seconds of work); with
``davis=True`` DAVIS-2016 car-shadow from ``../shared/DAVIS`` (or ``$OSVOS_DAVIS_ROOT``), 40 frames at
854x480 (several minutes on a 2-core CPU).
"""

from __future__ import annotations

import os
import time

import numpy as np

DEMO_SEQUENCE = "car-shadow"


def run_demo(
    out_dir: str | os.PathLike = "osvos_demo",
    davis: bool = False,
    iterations: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Fine-tune on frame 0 of the demo video, segment every frame, write masks and overlays.

    Args:
        out_dir: output folder; masks go to ``out_dir/masks``, overlays to ``out_dir/masks/overlays``.
        davis: use DAVIS car-shadow instead of the synthetic clip (raises if DAVIS is not found).
        iterations: fine-tuning updates (default 60 for the synthetic clip, 50 for car-shadow).

    Returns:
        The :func:`osvos_tf.video_job.segment_video` summary plus ``'video'``, ``'iou'`` (mean IoU against the
        ground truth over frames 1..N-2) and ``'seconds'`` (total wall time).
    """
    from osvos_tf.davis import default_davis_root
    from osvos_tf.frames import list_frames
    from osvos_tf.masks import read_user_mask as read_mask
    from osvos_tf.outputs import prepare_output_dir
    from osvos_tf.synthetic import write_clip
    from osvos_tf.video_job import segment_video

    start = time.perf_counter()
    out_dir = prepare_output_dir(out_dir, overwrite)
    if davis:
        root = default_davis_root()
        frames_dir = root / "JPEGImages" / "480p" / DEMO_SEQUENCE
        masks_dir = root / "Annotations" / "480p" / DEMO_SEQUENCE
        if not frames_dir.is_dir():
            raise FileNotFoundError(
                f"DAVIS {DEMO_SEQUENCE} not found at {frames_dir}; set OSVOS_DAVIS_ROOT to "
                "your DAVIS folder, or run the synthetic demo (without --davis)."
            )
        video = f"DAVIS-2016 {DEMO_SEQUENCE}"
        iterations = 50 if iterations is None else iterations
    else:
        frames_dir, masks_dir = write_clip(out_dir / "input", n_frames=12, height=96, width=128)
        video = "synthetic clip (12 frames, 128x96)"
        iterations = 60 if iterations is None else iterations
    first = list_frames(frames_dir)[0]
    summary = segment_video(
        frames_dir,
        masks_dir / f"{first.stem}.png",
        out_dir / "masks",
        iterations=iterations,
        overlay=True,
        overwrite=overwrite,
        progress=progress,
    )
    ious = []
    for path in summary["masks"][1:-1]:
        gt = read_mask(masks_dir / path.name)
        pred = read_mask(path)
        union = (gt | pred).sum()
        ious.append((gt & pred).sum() / union if union else 1.0)
    summary.update(
        video=video,
        iou=float(np.mean(ious)) if ious else float("nan"),
        seconds=time.perf_counter() - start,
        out_dir=out_dir,
    )
    return summary
