"""A phone-style clip made from a DAVIS sequence, segmented with `osvos segment --video`'s job and scored.

    python benchmarks/phone_clip.py --davis ../shared/DAVIS --sequence car-shadow --out runs/phone

The sequence's 480p frames are upscaled to 1920x1080, stored as a phone stores portrait video (the frame turned
90 degrees counter-clockwise, 1080 wide and 1920 high, with a display matrix that turns it back), at 24 fps
with an AAC tone. The mask of frame 0 is drawn on the frame as displayed, at 1920x1080. The job (default preset,
overlay, VP9 cut-out) runs at the working resolution (853x480); its 1920x1080 masks are brought back to 854x480
and scored against DAVIS's ground truth (J and F, frames 1..N-2, as tools/run_davis.py). Writes
OUT/summary.json; the clip, its outputs and the peak memory are in OUT too.
"""

import argparse
import json
import resource
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from osvos_tf.davis import annotation_dir, sequence_inputs
from osvos_tf.evaluation import evaluate_sequence
from osvos_tf.masks import read_davis_mask
from osvos_tf.resolution import resize_mask
from osvos_tf.video import set_mp4_rotation
from osvos_tf.video_job import segment_video_file

SIZE = (1080, 1920)


def make_clip(frames: list[Path], path: Path) -> None:
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=24, options={"crf": "18"})
        video.width, video.height, video.pix_fmt = SIZE[0], SIZE[1], "yuv420p"  # stored portrait
        audio = container.add_stream("aac", rate=48000)
        for frame_path in frames:
            image = np.asarray(Image.open(frame_path).convert("RGB").resize(SIZE[::-1], Image.Resampling.BICUBIC))
            stored = np.ascontiguousarray(np.rot90(image, k=1))  # turned counter-clockwise, as the sensor sees it
            for packet in video.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        t = np.arange(int(48000 * len(frames) / 24)) / 48000
        tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for k in range(0, len(tone) - 1024, 1024):
            samples = av.AudioFrame.from_ndarray(tone[None, k : k + 1024], format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 48000, k
            for packet in audio.encode(samples):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    set_mp4_rotation(path, 90)  # displayed turned clockwise: landscape 1920x1080 again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--davis", required=True)
    parser.add_argument("--sequence", default="car-shadow")
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    frames, _ = sequence_inputs(Path(args.davis), args.sequence)
    clip = out / f"{args.sequence}_phone.mp4"
    make_clip(frames, clip)
    gt = [read_davis_mask(annotation_dir(args.davis) / args.sequence / f"{f.stem}.png") for f in frames]
    first = Image.fromarray(gt[0].astype(np.uint8) * 255).resize(SIZE[::-1], Image.Resampling.NEAREST)
    first.save(out / "mask0.png")
    start = time.perf_counter()
    summary = segment_video_file(
        clip, out / "mask0.png", out / "result", preset=args.preset, overlay=True, cutout="webm", progress=True
    )
    seconds = time.perf_counter() - start
    masks = sorted((out / "result" / "masks").iterdir())
    results = [resize_mask(np.asarray(Image.open(p)) > 127, gt[0].shape) for p in masks]
    scores = evaluate_sequence(gt, results, compute_t=False)
    record = {
        "sequence": args.sequence,
        "frames": len(masks),
        "displayed_size": [summary["info"].width, summary["info"].height],
        "rotation": summary["info"].rotation,
        "audio": summary["info"].audio,
        "working_shape": list(summary["estimate"].working_shape),
        "J": scores["J"]["mean"],
        "F": scores["F"]["mean"],
        "seconds": {
            "estimated": summary["estimate"].seconds,
            "fit": summary["fit_seconds"],
            "segment_and_write": summary["segment_seconds"],
            "job": seconds,
        },
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "outputs": {k: p.name for k, p in summary["paths"].items()},
    }
    (out / "summary.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
