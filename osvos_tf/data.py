"""Training data: augmentation shared by fine-tuning and parent training, and the DAVIS tf.data pipeline.

Augmentation (as the original's offline variants): random horizontal flip and a random scale from
``scales`` (0.5, 0.8, 1.0). The frame is resized bilinearly and the mask bilinearly then thresholded at 0.5,
both with half-pixel centres, so the pair stays pixel-aligned and the mask stays binary.

DAVIS layout (``davis_pairs``): ``ImageSets/480p/<split>.txt`` if present (lines
``/JPEGImages/480p/s/f.jpg /Annotations/480p/s/f.png``), otherwise the folder tree
``JPEGImages/480p/<seq>/*.jpg`` with ``Annotations/480p/<seq>/*.png``; a folder of your own sequences in the
same layout works the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from osvos_tf.davis import davis_pairs  # noqa: F401
from osvos_tf.model import preprocess


def resize_pair(image, mask, scale):
    """Rescale an image and its mask by ``scale``, keeping them aligned.

    Args:
        image: float32 (H, W, 3) (any scale of values).
        mask: float32 (H, W, 1) in {0, 1}.
        scale: python or tensor float > 0.

    Returns:
        ``(image, mask)`` of size ``round(H * scale), round(W * scale)``; the mask still in {0, 1}.
    """
    shape = tf.shape(image)
    size = tf.cast(tf.round(tf.cast(shape[:2], tf.float32) * tf.cast(scale, tf.float32)), tf.int32)
    size = tf.maximum(size, 1)
    image = tf.image.resize(image, size, method="bilinear")
    mask = tf.cast(tf.image.resize(mask, size, method="bilinear") >= 0.5, tf.float32)
    return image, mask


def flip_pair(image, mask):
    """Horizontal flip of an image (H, W, C) and its mask (H, W, 1)."""
    return tf.reverse(image, axis=[1]), tf.reverse(mask, axis=[1])


def augmented_variants(frame: np.ndarray, mask: np.ndarray, scales: Sequence[float], flip: bool):
    """Every augmented copy of one annotated frame, preprocessed for the network.

    Args:
        frame: uint8 RGB (H, W, 3).
        mask: bool (H, W).

    Returns:
        A list of ``(image, label)``: float32 (1, h, w, 3) network input and float32 (1, h, w, 1) in {0, 1},
        one per scale and (if ``flip``) per flip state.
    """
    image = preprocess(frame)
    label = tf.convert_to_tensor(mask[..., None].astype(np.float32))
    out = []
    for scale in scales:
        img_s, lab_s = (image, label) if scale == 1.0 else resize_pair(image, label, scale)
        out.append((img_s[None], lab_s[None]))
        if flip:
            img_f, lab_f = flip_pair(img_s, lab_s)
            out.append((img_f[None], lab_f[None]))
    return out


def decode_mask(png_bytes):
    """A PNG mask as float32 (H, W, 1) in {0, 1}, in TensorFlow ops (no Python in the input pipeline).

    Grayscale: as :func:`osvos_tf.masks.read_user_mask` (0/1 label maps: nonzero; otherwise >= half range).
    Colour (RGB, RGBA, and palette PNGs, which decode to their colours): any nonzero colour channel.
    """
    mask = tf.io.decode_png(png_bytes, channels=0, dtype=tf.uint8)
    channels = tf.shape(mask)[-1]
    colour = tf.reduce_max(mask[..., :3], axis=-1, keepdims=True)
    gray = mask[..., :1]

    def from_gray():
        threshold = tf.where(tf.reduce_max(gray) <= 1, tf.constant(1, tf.uint8), tf.constant(128, tf.uint8))
        return gray >= threshold

    fg = tf.cond(channels >= 3, lambda: colour > 0, from_gray)
    return tf.cast(fg, tf.float32)


def _object_aware_crop(image, mask, crop_hw, seed_pair):
    """Random crop of size ``crop_hw`` containing a random foreground pixel (if any); pads when too small."""
    ch, cw = crop_hw
    shape = tf.shape(image)
    pad_h = tf.maximum(ch - shape[0], 0)
    pad_w = tf.maximum(cw - shape[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    mask = tf.pad(mask, [[0, pad_h], [0, pad_w], [0, 0]])
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    fg = tf.where(mask[..., 0] > 0.5)
    u = tf.random.stateless_uniform([3], seed=seed_pair)
    n_fg = tf.shape(fg)[0]

    def around_fg():
        idx = tf.minimum(tf.cast(u[0] * tf.cast(n_fg, tf.float32), tf.int32), n_fg - 1)
        py, px = tf.cast(fg[idx, 0], tf.int32), tf.cast(fg[idx, 1], tf.int32)
        lo_y, hi_y = tf.maximum(py - ch + 1, 0), tf.minimum(py, h - ch)
        lo_x, hi_x = tf.maximum(px - cw + 1, 0), tf.minimum(px, w - cw)
        return (
            lo_y + tf.cast(u[1] * tf.cast(hi_y - lo_y + 1, tf.float32), tf.int32),
            lo_x + tf.cast(u[2] * tf.cast(hi_x - lo_x + 1, tf.float32), tf.int32),
        )

    def anywhere():
        return (
            tf.cast(u[1] * tf.cast(h - ch + 1, tf.float32), tf.int32),
            tf.cast(u[2] * tf.cast(w - cw + 1, tf.float32), tf.int32),
        )

    y0, x0 = tf.cond(n_fg > 0, around_fg, anywhere)
    y0 = tf.clip_by_value(y0, 0, h - ch)
    x0 = tf.clip_by_value(x0, 0, w - cw)
    return image[y0 : y0 + ch, x0 : x0 + cw], mask[y0 : y0 + ch, x0 : x0 + cw]


def parent_dataset(
    pairs: Sequence[tuple[str, str]],
    scales=(0.5, 0.8, 1.0),
    flip: bool = True,
    base_scale: float = 1.0,
    crop: tuple[int, int] | None = None,
    batch_size: int = 1,
    seed: int = 0,
    shuffle_buffer: int = 2048,
    repeat: bool = True,
) -> tf.data.Dataset:
    """Shuffled, augmented, prefetched (image, label) batches for parent training.

    Each element: image float32 (B, h, w, 3), preprocessed (:func:`osvos_tf.model.preprocess`); label
    float32 (B, h, w, 1) in {0, 1}. Frames and masks are decoded in parallel in TensorFlow ops; masks are
    binarised by :func:`decode_mask`. With ``crop``, every element is (batch_size, crop_h, crop_w, .) and
    the crop contains foreground when the frame has any; without it, batch_size must be 1.
    """
    if crop is None and batch_size != 1:
        raise ValueError("batch_size > 1 needs a fixed crop size: frames differ in size after rescaling.")
    images = [p[0] for p in pairs]
    masks = [p[1] for p in pairs]
    scales_t = tf.constant(list(scales), tf.float32)

    def load(index, image_path, mask_path):
        image = tf.cast(
            tf.io.decode_image(tf.io.read_file(image_path), channels=3, expand_animations=False), tf.float32
        )
        mask = decode_mask(tf.io.read_file(mask_path))
        tf.debugging.assert_equal(
            tf.shape(mask)[:2], tf.shape(image)[:2], message="a mask's size differs from its frame's"
        )
        image = preprocess(image)
        seed_pair = tf.stack([tf.cast(seed, tf.int64), index])
        u = tf.random.stateless_uniform([2], seed=seed_pair)
        scale = base_scale * tf.gather(scales_t, tf.minimum(tf.cast(u[0] * len(scales), tf.int32), len(scales) - 1))
        image, mask = resize_pair(image, mask, scale)
        if flip:
            image, mask = tf.cond(u[1] < 0.5, lambda: flip_pair(image, mask), lambda: (image, mask))
        if crop is not None:
            image, mask = _object_aware_crop(image, mask, crop, seed_pair + 1)
            image = tf.ensure_shape(image, [crop[0], crop[1], 3])
            mask = tf.ensure_shape(mask, [crop[0], crop[1], 1])
        return image, mask

    ds = tf.data.Dataset.from_tensor_slices((images, masks))
    if repeat:
        ds = ds.repeat()
    ds = ds.shuffle(min(shuffle_buffer, len(pairs)) if not repeat else shuffle_buffer, seed=seed)
    ds = ds.enumerate().map(
        lambda i, pm: load(i, pm[0], pm[1]), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)
