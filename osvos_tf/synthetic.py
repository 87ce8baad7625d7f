"""A synthetic video for the demo and the tests: a textured object moving over a textured background.

Deterministic for a given seed, generated in code (nothing downloaded). The object is an ellipse with a
coloured stripe texture; the background is smooth coloured noise with a different palette, so appearance
(what one-shot fine-tuning learns) separates the two.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _smooth_noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return (noise - noise.min()) / (np.ptp(noise) + 1e-9)


def synthetic_clip(n_frames: int = 12, height: int = 96, width: int = 128, seed: int = 0):
    """Frames and masks of a short synthetic video.

    Returns:
        ``(frames, masks)``: lists of uint8 RGB (height, width, 3) and bool (height, width); the object
        (about 10 % of the frame) moves left to right along a gentle arc and slowly changes size.
    """
    if height < 16 or width < 16:
        raise ValueError(f"synthetic_clip needs height, width >= 16; got {height}x{width}.")
    rng = np.random.default_rng(seed)
    big_h, big_w = height, width + n_frames * 2
    bg = _smooth_noise(rng, (big_h, big_w), 3.0)
    bg2 = _smooth_noise(rng, (big_h, big_w), 1.0)
    background = np.stack([40 + 120 * bg, 90 + 110 * bg2, 60 + 80 * (1 - bg)], axis=-1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = 0.5 + 0.5 * np.sin((xx + yy) * 0.9)
    fg_texture = np.stack([200 + 50 * stripes, 60 + 60 * (1 - stripes), 30 + 40 * stripes], axis=-1)
    frames, masks = [], []
    for t in range(n_frames):
        phase = t / max(n_frames - 1, 1)
        cx = width * (0.3 + 0.4 * phase)
        cy = height * (0.5 + 0.1 * np.sin(np.pi * phase))
        ry = height * (0.2 + 0.03 * np.cos(2 * np.pi * phase))
        rx = width * 0.16
        mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        shift = 2 * t  # the camera pans: the background moves too
        frame = background[:, shift : shift + width].copy()
        frame[mask] = fg_texture[mask]
        frame += rng.normal(0, 4, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        masks.append(mask)
    return frames, masks


def write_clip(folder, n_frames: int = 12, height: int = 96, width: int = 128, seed: int = 0):
    """Write :func:`synthetic_clip` as ``folder/frames/%05d.jpg`` and ``folder/masks/%05d.png`` (0/255).

    Returns:
        ``(frames_dir, masks_dir)`` as pathlib.Path.
    """
    from pathlib import Path

    from PIL import Image

    from osvos_tf.masks import write_mask

    folder = Path(folder)
    frames_dir, masks_dir = folder / "frames", folder / "masks"
    frames_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    frames, masks = synthetic_clip(n_frames, height, width, seed)
    for i, (frame, mask) in enumerate(zip(frames, masks)):
        Image.fromarray(frame).save(frames_dir / f"{i:05d}.jpg", quality=95)
        write_mask(masks_dir / f"{i:05d}.png", mask)
    return frames_dir, masks_dir


def write_davis_tree(
    root,
    sequences=("seq-a", "seq-b"),
    n_frames: int = 5,
    height: int = 48,
    width: int = 64,
    image_set: str | None = "val",
    db_info: bool = True,
    seed: int = 10,
):
    """Write a tiny DAVIS-2016-layout tree of synthetic clips (for trying the tools, and for the tests).

    Writes ``root/JPEGImages/480p/<seq>/%05d.jpg`` and ``root/Annotations/480p/<seq>/%05d.png`` (0/255) for
    each sequence (clip ``k`` uses seed ``seed + k``); with ``image_set``, ``root/ImageSets/480p/<set>.txt``
    listing every frame; with ``db_info``, ``root/db_info.yaml`` (every sequence in ``image_set`` or 'val',
    ``eval_t: false``).

    Returns:
        ``root`` as a pathlib.Path.
    """
    from pathlib import Path

    from PIL import Image

    from osvos_tf.masks import write_mask

    root = Path(root)
    lines, entries = [], []
    for k, seq in enumerate(sequences):
        frames, masks = synthetic_clip(n_frames=n_frames, height=height, width=width, seed=seed + k)
        (root / "JPEGImages" / "480p" / seq).mkdir(parents=True)
        (root / "Annotations" / "480p" / seq).mkdir(parents=True)
        for i, (frame, mask) in enumerate(zip(frames, masks)):
            Image.fromarray(frame).save(root / "JPEGImages" / "480p" / seq / f"{i:05d}.jpg", quality=95)
            write_mask(root / "Annotations" / "480p" / seq / f"{i:05d}.png", mask)
            lines.append(f"/JPEGImages/480p/{seq}/{i:05d}.jpg /Annotations/480p/{seq}/{i:05d}.png")
        entries.append(
            f"- name: {seq}\n  attributes: []\n  num_frames: {n_frames}\n  set: {image_set or 'val'}\n"
            "  eval_t: false\n  year: 2016\n"
        )
    if image_set:
        (root / "ImageSets" / "480p").mkdir(parents=True)
        (root / "ImageSets" / "480p" / f"{image_set}.txt").write_text("\n".join(lines) + "\n")
    if db_info:
        (root / "db_info.yaml").write_text("sequences:\n" + "".join(entries))
    return root


def two_object_clip(n_frames: int = 6, height: int = 64, width: int = 96, seed: int = 3):
    """A synthetic clip with two objects: :func:`synthetic_clip`'s moving object (id 1) and a static striped
    square (id 2) in the lower right, painted over it where they meet.

    Returns:
        ``(frames, label_maps)``: lists of uint8 RGB (height, width, 3) and uint8 (height, width) label maps
        (0 background, 1, 2).
    """
    if height < 48 or width < 64:
        raise ValueError(f"two_object_clip needs height >= 48 and width >= 64; got {height}x{width}.")
    frames, masks = synthetic_clip(n_frames=n_frames, height=height, width=width, seed=seed)
    yy, xx = np.mgrid[0:height, 0:width]
    top, left = height - 24, width - 26
    square = (yy >= top) & (yy < top + 18) & (xx >= left) & (xx < left + 20)
    stripes = np.where(((xx[square] // 3) % 2)[:, None] == 0, [20, 220, 40], [240, 240, 0]).astype(np.uint8)
    out_frames, out_labels = [], []
    for frame, mask in zip(frames, masks):
        f = frame.copy()
        f[square] = stripes
        labels = np.zeros((height, width), np.uint8)
        labels[mask & ~square] = 1
        labels[square] = 2
        out_frames.append(f)
        out_labels.append(labels)
    return out_frames, out_labels
