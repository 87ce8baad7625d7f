"""Training data: augmentation shared by fine-tuning and parent training, the check of a training set, and the
tf.data pipeline of parent training.

Augmentation (as the original's offline variants): random horizontal flip and a random scale from
``scales`` (0.5, 0.8, 1.0). The frame is resized bilinearly and the mask bilinearly then thresholded at 0.5,
both with half-pixel centres, so the pair stays pixel-aligned and the mask stays binary.

Parent training (:func:`parent_dataset`) reads (frame, mask) file pairs (e.g. from
:func:`osvos_tf.davis.davis_pairs`) in TensorFlow ops. Every random choice is a stateless function of the
seed and the element's position in the stream (no global or op-level RNG state), so the stream is the same
in every run with the same seed, whatever ``tf.random.set_seed`` says, and starting at position ``start``
gives exactly the tail of the stream from 0 (a resumed run sees the data an uninterrupted run would have):

* order: each epoch is a full random permutation of the pairs, drawn from ``(seed, epoch)``;
* per image: the scale, the flip and the crop position, drawn from ``(seed, position)``.

:func:`check_training_pairs` decodes every pair once with PIL before training starts, so a corrupt,
empty, missing or mis-sized file is reported by name up front instead of as a TensorFlow error hours in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from osvos_tf.model import preprocess

#: Image formats the pipeline's TensorFlow decoders read (``tf.io.decode_image`` / ``decode_png``), as PIL
#: names them.
TF_IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "BMP")

#: PIL modes of masks that :func:`decode_mask` reads as documented (16-bit and float masks are refused by
#: :func:`check_training_pairs`: TensorFlow would scale them to 8 bits and lose 0/1 maps).
MASK_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA")

# Purposes of the stateless random streams (folded into the seed, so the streams are independent).
_ORDER_STREAM = 1
_AUGMENT_STREAM = 2


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


def augmented_variants(
    frame: np.ndarray, mask: np.ndarray, scales: Sequence[float], flip: bool, void: np.ndarray | None = None
):
    """Every augmented copy of one annotated frame, preprocessed for the network.

    Args:
        frame: uint8 RGB (H, W, 3).
        mask: bool (H, W).
        void: bool (H, W), pixels the loss ignores (None: none). Resized like the mask (bilinear, >= 0.5).

    Returns:
        A list of ``(image, label)``: float32 (1, h, w, 3) network input and float32 (1, h, w, 1) in {0, 1}
        (:data:`osvos_tf.losses.VOID_LABEL` at void pixels), one per scale and (if ``flip``) per flip state.
    """
    from osvos_tf.losses import VOID_LABEL

    image = preprocess(frame)
    label = tf.convert_to_tensor(mask[..., None].astype(np.float32))
    void_t = None if void is None else tf.convert_to_tensor(np.asarray(void, bool)[..., None].astype(np.float32))
    out = []
    for scale in scales:
        img_s, lab_s = (image, label) if scale == 1.0 else resize_pair(image, label, scale)
        if void_t is not None:
            void_s = void_t if scale == 1.0 else resize_pair(image, void_t, scale)[1]
            lab_s = tf.where(void_s > 0.5, tf.constant(VOID_LABEL, tf.float32), lab_s)
        out.append((img_s[None], lab_s[None]))
        if flip:
            img_f, lab_f = flip_pair(img_s, lab_s)
            out.append((img_f[None], lab_f[None]))
    return out


def decode_mask(png_bytes):
    """A training mask (the bytes of an 8-bit PNG) as float32 (H, W, 1) in {0, 1}, in TensorFlow ops.

    The rule is that of DAVIS ground truth, :func:`osvos_tf.masks.read_davis_mask` (foreground = nonzero),
    with one deliberate difference and two limits of TensorFlow's decoder:

    * 8-bit grayscale (L, LA; 1-bit PNGs decode to 0/255): a 0/1 map (maximum <= 1) counts its nonzero
      pixels, as the DAVIS rule; any other map counts values >= 128, as
      :func:`osvos_tf.masks.read_user_mask` does. So 0/255 and 0/1 masks read as under the DAVIS rule, but a
      soft (anti-aliased) mask loses its edge pixels below 50 % where the DAVIS rule keeps every nonzero one.
    * RGB and RGBA: any nonzero colour channel (alpha ignored), as the DAVIS rule.
    * Palette PNGs decode to their colours (TensorFlow gives no access to the indices): foreground is a
      non-black colour, which equals the DAVIS rule (index != 0) when index 0 is black and no object index
      is black, as in the DAVIS palette. :func:`check_training_pairs` refuses palettes where they differ.
    * 16-bit PNGs would be scaled to 8 bits (a 16-bit 0/1 map would become all background):
      :func:`check_training_pairs` refuses them.

    Args:
        png_bytes: scalar string tensor, the file's bytes (JPEG and GIF bytes decode too, as colour).

    Returns:
        float32 (H, W, 1), 1.0 = foreground.
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


def _palette_problem(image) -> str | None:
    """Why :func:`decode_mask` would read a palette image differently from its indices, or None."""
    array = np.asarray(image)
    indices = np.unique(array[..., 0] if array.ndim == 3 else array)  # PA: the index channel
    palette = np.asarray(image.getpalette() or [], np.uint8).reshape(-1, 3)
    if palette.shape[0] <= indices.max(initial=0):
        palette = np.concatenate([palette, np.zeros((int(indices.max()) + 1 - palette.shape[0], 3), np.uint8)])
    coloured = palette[indices].any(axis=1)
    if coloured[indices == 0].any():
        return "its palette gives index 0 (background) a non-black colour"
    black = indices[(indices != 0) & ~coloured]
    if black.size:
        return f"its palette makes object index {int(black[0])} black"
    return None


def _check_pair(frame_path: str, mask_path: str) -> list[str]:
    """The problems of one training pair (empty when it is usable), each naming its file."""
    from osvos_tf.frames import open_image

    problems, sizes = [], {}
    for path, what in ((frame_path, "frame"), (mask_path, "mask")):
        try:
            image = open_image(path, f"Training {what}")
        except (OSError, ValueError) as err:
            problems.append(
                str(err) if isinstance(err, ValueError) else f"{str(err).rstrip('.')}: restore it or remove the pair."
            )
            continue
        if image.format not in TF_IMAGE_FORMATS:
            problems.append(
                f"{path} is a {image.format} file; the training pipeline reads {', '.join(TF_IMAGE_FORMATS)}: "
                "convert it (frames to JPEG or PNG, masks to PNG)."
            )
        elif what == "mask" and image.mode not in MASK_MODES:
            problems.append(
                f"{path} is a mask of PIL mode {image.mode}; the training pipeline reads 8-bit masks only (modes "
                + ", ".join(MASK_MODES)
                + "; 16-bit and float masks would lose their values): save it as 8-bit grayscale 0/255."
            )
        elif what == "mask" and image.mode in ("P", "PA") and (reason := _palette_problem(image)):
            problems.append(
                f"{path}: {reason}, so the training pipeline (which sees colours, not indices) would read it "
                "differently from its indices: save it as 8-bit grayscale 0/255 or fix the palette."
            )
        sizes[what] = image.size
    if len(sizes) == 2 and sizes["frame"] != sizes["mask"]:
        (fw, fh), (mw, mh) = sizes["frame"], sizes["mask"]
        problems.append(
            f"{mask_path} is {mw}x{mh} (WxH) but its frame {frame_path} is {fw}x{fh}: resize the mask to the "
            "frame (nearest-neighbour) or remove the pair."
        )
    return problems


def check_training_pairs(pairs: Sequence[tuple[str, str]], progress: bool = False, max_listed: int = 20) -> None:
    """Decode every (frame, mask) pair once with PIL and check the pipeline can read it, before training.

    Checks, for every pair: both files exist, are non-empty and decode completely
    (:func:`osvos_tf.frames.open_image`); both are in :data:`TF_IMAGE_FORMATS`; the mask is 8-bit
    (:data:`MASK_MODES`) and, for a palette PNG, reads the same through its colours as through its indices
    (see :func:`decode_mask`); the mask and its frame have the same size.

    Args:
        pairs: (frame path, mask path) pairs.
        progress: show a progress bar on stderr (a few milliseconds per 480p pair).
        max_listed: list at most this many problems in the error (the count is always given).

    Raises:
        ValueError: no pairs, or one error listing every unusable pair's file and how to fix it.
    """
    from osvos_tf.progress import Progress

    if len(pairs) == 0:
        raise ValueError("No training pairs given: pass (frame path, mask path) pairs or a DAVIS root.")
    bar = Progress(len(pairs), "check training set", enabled=progress)
    problems: list[str] = []
    for frame_path, mask_path in pairs:
        problems += _check_pair(os.fspath(frame_path), os.fspath(mask_path))
        bar.update()
    bar.close()
    if problems:
        shown = "\n  - ".join(problems[:max_listed])
        more = f"\n  ... and {len(problems) - max_listed} more" if len(problems) > max_listed else ""
        raise ValueError(
            f"{len(problems)} problem(s) in the training set of {len(pairs)} (frame, mask) pairs:\n  - {shown}{more}\n"
            "Fix or remove these files (for DAVIS, or drop their lines from ImageSets/480p/<split>.txt), then "
            "start again; nothing was trained."
        )


def _stream_seed(seed: int, stream: int, counter):
    """A stateless seed (int64 (2,)) for ``counter`` (an int64 scalar) in one of the streams above."""
    return tf.random.experimental.stateless_fold_in(tf.constant([seed, stream], tf.int64), counter)


def _object_aware_crop(image, mask, crop_hw, u):
    """Random crop of size ``crop_hw`` containing a random foreground pixel (if any); pads when too small.

    ``u``: float32 (3,) uniforms in [0, 1): which foreground pixel, then the offsets around it.
    """
    ch, cw = crop_hw
    shape = tf.shape(image)
    pad_h = tf.maximum(ch - shape[0], 0)
    pad_w = tf.maximum(cw - shape[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    mask = tf.pad(mask, [[0, pad_h], [0, pad_w], [0, 0]])
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    fg = tf.where(mask[..., 0] > 0.5)
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


def _positions(n: int, seed: int, start: int, repeat: bool) -> tf.data.Dataset:
    """``(position, pair index)`` int64 scalars from stream position ``start`` on: epoch ``e`` (positions
    ``e*n .. e*n + n-1``) visits the pairs in a permutation drawn from ``(seed, e)``."""

    def epoch(e):
        order = tf.argsort(tf.random.stateless_uniform([n], seed=_stream_seed(seed, _ORDER_STREAM, e)))
        return tf.data.Dataset.from_tensor_slices((e * n + tf.range(n, dtype=tf.int64), tf.cast(order, tf.int64)))

    first = start // n
    epochs = tf.data.Dataset.range(first, np.iinfo(np.int64).max if repeat else first + 1)
    return epochs.flat_map(epoch).skip(start % n)


def parent_dataset(
    pairs: Sequence[tuple[str, str]],
    scales: Sequence[float] = (0.5, 0.8, 1.0),
    flip: bool = True,
    base_scale: float = 1.0,
    crop: tuple[int, int] | None = None,
    batch_size: int = 1,
    seed: int = 0,
    start: int = 0,
    repeat: bool = True,
) -> tf.data.Dataset:
    """Shuffled, augmented, prefetched (image, label) batches for parent training.

    Each element: image float32 (B, h, w, 3), preprocessed (:func:`osvos_tf.model.preprocess`); label
    float32 (B, h, w, 1) in {0, 1}. Frames and masks are decoded in parallel in TensorFlow ops; masks are
    binarised by :func:`decode_mask`. With ``crop``, every element is (batch_size, crop_h, crop_w, .) and
    the crop contains foreground when the frame has any; without it, batch_size must be 1. Frames whose
    size is not the mask's raise a TensorFlow error: run :func:`check_training_pairs` first.

    Args:
        pairs: (frame path, mask path) pairs, at least one.
        scales: each image is rescaled by ``base_scale`` times one of these, drawn uniformly.
        flip: flip half of the images horizontally.
        crop: (height, width) of the crop taken after rescaling (smaller images are zero-padded).
        seed: the seed of every random choice (module docstring).
        start: the stream position of the first image (``updates done * batch_size`` to resume).
        repeat: an endless stream of epochs; False: the epoch holding ``start``, to its end.
    """
    if len(pairs) == 0:
        raise ValueError("parent_dataset needs at least one (frame, mask) pair; got none.")
    if crop is None and batch_size != 1:
        raise ValueError("batch_size > 1 needs a fixed crop size: frames differ in size after rescaling.")
    if not scales:
        raise ValueError("scales must hold at least one scale factor, e.g. (1.0,); got none.")
    if start < 0:
        raise ValueError(f"start must be a stream position >= 0, got {start}.")
    frames = tf.constant([os.fspath(p[0]) for p in pairs])
    masks = tf.constant([os.fspath(p[1]) for p in pairs])
    scales_t = tf.constant(list(scales), tf.float32)

    def load(position, index):
        image = tf.io.decode_image(tf.io.read_file(frames[index]), channels=3, expand_animations=False)
        image = preprocess(tf.cast(image, tf.float32))
        mask = decode_mask(tf.io.read_file(masks[index]))
        tf.debugging.assert_equal(
            tf.shape(mask)[:2], tf.shape(image)[:2], message="a mask's size differs from its frame's"
        )
        u = tf.random.stateless_uniform([5], seed=_stream_seed(seed, _AUGMENT_STREAM, position))
        pick = tf.minimum(tf.cast(u[0] * len(scales), tf.int32), len(scales) - 1)
        image, mask = resize_pair(image, mask, base_scale * tf.gather(scales_t, pick))
        if flip:
            image, mask = tf.cond(u[1] < 0.5, lambda: flip_pair(image, mask), lambda: (image, mask))
        if crop is not None:
            image, mask = _object_aware_crop(image, mask, crop, u[2:])
            image = tf.ensure_shape(image, [crop[0], crop[1], 3])
            mask = tf.ensure_shape(mask, [crop[0], crop[1], 1])
        return image, mask

    ds = _positions(len(pairs), int(seed), int(start), repeat)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)
