"""A DAVIS set packed small enough to ship to a training machine, and loaded into memory in one call.

The DAVIS-2016 train split (1,044 JPEGs of 854x480 here, 131 MB) is too big for a machine that receives a few
tens of MB besides the repo. :func:`pack_davis` writes, into a new folder:

    <sequence>.mp4    one H.264 video per sequence (libx264, yuv420p, BT.601 limited range, constant quality
                      CRF), frames in ImageSets order; odd sizes are padded to even by edge replication (yuv420p
                      needs even sizes), the true size is recorded and the loader crops
    masks.npz         per sequence ``<sequence>.bits`` (``np.packbits`` of the bool (N, H, W) masks, flattened)
                      and ``<sequence>.shape`` (N, H, W), deflate-compressed: lossless
    index.json        written last, atomically: the format tag, the settings, per sequence the frame names,
                      sizes, video file, its sha256 and the PSNR of its decoded frames against the source JPEGs
                      (measured at pack time with the loader's decoder), and totals

:func:`load_packed` checks the format tag and every file's sha256, decodes the videos with OpenCV (the video
decoder of the training machine) and returns everything stacked in memory as a :class:`PackedDavis`.

Dependencies: packing needs PyAV (``av``, its wheel bundles FFmpeg with libx264) and TensorFlow (the input check
:func:`osvos_tf.data.check_training_pairs`); loading needs only numpy and OpenCV (``opencv-python-headless``).
This module imports neither TensorFlow nor Keras, so the loader runs anywhere (e.g. under JAX):
``pip install -e ".[pack]"``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The format tag of ``index.json``; the loader refuses any other.
FORMAT = "osvos_tf.packed_davis/1"
INDEX_FILE = "index.json"
MASKS_FILE = "masks.npz"
#: The x264 speed/size trade-off (the CRF sets the quality).
X264_PRESET = "medium"
#: The nominal frame rate written into the videos (the frames are stills to the loader; DAVIS is 24 fps).
FRAME_RATE = 24
#: The PSNR recorded for a frame decoded without any error (MSE 0), instead of infinity (not JSON).
PSNR_CAP_DB = 100.0

_INSTALL = 'pip install -e ".[pack]"'
# FFmpeg's AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic SMPTE170M (BT.601), AVCOL_RANGE_MPEG
_BT601 = 6
_LIMITED_RANGE = 1


@dataclass(frozen=True)
class PackedDavis:
    """A packed DAVIS set in memory, as returned by :func:`load_packed` (arrays read-only; ``.copy()`` them to
    modify).

    Attributes:
        images: uint8 (N, H, W, 3), RGB, 0..255: every frame of the selected sequences, sequence by sequence,
            each in ImageSets order.
        masks: bool (N, H, W), True = foreground (the DAVIS rule, exactly the source PNGs).
        names: N (sequence, frame name) pairs, frame names as file stems ('00000'), aligned with the arrays.
        index: the pack's ``index.json`` (settings, per-sequence PSNR, sha256, totals).
    """

    images: np.ndarray
    masks: np.ndarray
    names: tuple[tuple[str, str], ...]
    index: dict

    def __len__(self) -> int:
        return len(self.names)


def _check_known(sequences: Sequence[str], available: list[str], where: str) -> None:
    """ValueError naming the ``sequences`` that are not ``available`` in ``where``."""
    unknown = [s for s in sequences if s not in available]
    if unknown:
        raise ValueError(
            f"Sequence(s) {', '.join(map(repr, unknown))} are not in {where} (it has: {', '.join(available)}); "
            "check the names."
        )


def pack_davis(
    davis_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    image_set: str = "train",
    crf: int = 22,
    progress: bool = True,
    *,
    sequences: Sequence[str] | None = None,
) -> dict:
    """Pack the (frame, mask) pairs of a DAVIS set into ``out_dir``: one H.264 video per sequence, the masks
    bit-packed, and ``index.json`` (see the module docstring).

    The pairs come from ``ImageSets/480p/<image_set>.txt`` (:func:`osvos_tf.davis.davis_pairs`), in its order;
    every pair is checked first (:func:`osvos_tf.data.check_training_pairs`), so a bad file is reported before
    anything is written. Each video is decoded back with the loader's decoder (OpenCV) to measure its PSNR.

    Args:
        davis_root: the DAVIS-2016 folder (JPEGImages/480p, Annotations/480p, ImageSets/480p).
        out_dir: the pack folder: must not exist or be empty (nothing is overwritten).
        image_set: the ImageSets list to pack ('train' or 'val').
        crf: x264 constant rate factor, 0 (near lossless) .. 51 (smallest); on the 1,044-frame train split here
            22 gives 34.6 dB mean PSNR and 19 MB (17 MB of video), 20 gives 35.7 dB and 25 MB.
        progress: show one progress step per sequence on stderr.
        sequences: pack only these sequences of the set (default: all), in the set's order.

    Returns:
        The index (as written to ``index.json``): ``totals`` holds frames, bytes and the mean / min PSNR (dB)
        over frames; each entry of ``sequences`` its frame names, size, video, sha256 and PSNR.

    Raises:
        ImportError: PyAV or OpenCV is missing. FileExistsError: ``out_dir`` is a non-empty folder or a file.
        FileNotFoundError: missing DAVIS folders or files. ValueError: a bad ``crf``, an unknown sequence, an
        unreadable or mis-sized frame or mask, frames of one sequence of different sizes.
    """
    try:
        import av
    except ImportError as err:
        raise ImportError(
            f"pack_davis needs PyAV (the `av` package; its wheel bundles FFmpeg with libx264): {_INSTALL}"
        ) from err
    from osvos_tf.atomic import atomic_path, write_json_atomic
    from osvos_tf.data import check_training_pairs
    from osvos_tf.davis import davis_pairs
    from osvos_tf.frames import read_frame
    from osvos_tf.masks import read_davis_mask
    from osvos_tf.progress import Progress

    if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
        raise ValueError(f"crf must be an integer from 0 (near lossless) to 51 (smallest files); got {crf!r}.")
    crf = int(crf)
    _import_cv2()  # fail before any work when the decoder that measures the PSNR is missing
    groups = _group_by_sequence(davis_pairs(davis_root, image_set), image_set)
    if sequences is not None:
        _check_known(sequences, list(groups), f"the set {image_set!r} of {davis_root}")
        groups = {s: groups[s] for s in groups if s in set(sequences)}
    out = _claim_empty_dir(out_dir)
    check_training_pairs([pair for pairs in groups.values() for pair in pairs], progress=progress)

    bar = Progress(len(groups), f"pack {image_set}", enabled=progress)
    entries: list[dict[str, Any]] = []
    mask_arrays: dict[str, Any] = {}  # savez keyword arguments: "<seq>.bits", "<seq>.shape"
    frame_psnrs: list[float] = []
    for seq, pairs in groups.items():
        images = _stack_frames(seq, [read_frame(f) for f, _ in pairs], [f for f, _ in pairs])
        masks = np.stack([read_davis_mask(m, f"Mask of {seq}") for _, m in pairs])
        n, height, width = masks.shape
        video = f"{seq}.mp4"
        with atomic_path(out / video) as tmp:
            _encode_video(av, tmp, images, crf)
        decoded = _decode_video(out / video, n, height, width)
        psnrs = [_psnr(a, b) for a, b in zip(images, decoded)]
        frame_psnrs += psnrs
        mask_arrays[f"{seq}.bits"] = np.packbits(masks.reshape(-1))
        mask_arrays[f"{seq}.shape"] = np.array(masks.shape, np.int64)
        entries.append(
            {
                "name": seq,
                "frames": [Path(f).stem for f, _ in pairs],
                "height": height,
                "width": width,
                "video": video,
                "video_height": height + height % 2,
                "video_width": width + width % 2,
                "sha256": _sha256(out / video),
                "bytes": (out / video).stat().st_size,
                "psnr_db": round(float(np.mean(psnrs)), 3),
                "psnr_min_db": round(float(np.min(psnrs)), 3),
            }
        )
        bar.update(status=f"{seq}: {n} frames, {entries[-1]['bytes'] / 1e6:.2f} MB, {entries[-1]['psnr_db']:.2f} dB")
    bar.close()

    with atomic_path(out / MASKS_FILE) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **mask_arrays)
    video_bytes = sum(e["bytes"] for e in entries)
    mask_bytes = (out / MASKS_FILE).stat().st_size
    index = {
        "format": FORMAT,
        "image_set": image_set,
        "crf": crf,
        "codec": f"H.264 (libx264, preset {X264_PRESET}), yuv420p, BT.601 limited range, {FRAME_RATE} fps",
        "source": str(Path(davis_root).resolve()),
        "masks": {"file": MASKS_FILE, "sha256": _sha256(out / MASKS_FILE), "bytes": mask_bytes},
        "sequences": entries,
        "totals": {
            "sequences": len(entries),
            "frames": len(frame_psnrs),
            "video_bytes": video_bytes,
            "mask_bytes": mask_bytes,
            "bytes": video_bytes + mask_bytes,
            "psnr_mean_db": round(float(np.mean(frame_psnrs)), 3),
            "psnr_min_db": round(float(np.min(frame_psnrs)), 3),
        },
    }
    write_json_atomic(out / INDEX_FILE, index)
    return index


def load_packed(pack_dir: str | os.PathLike, sequences: Sequence[str] | None = None) -> PackedDavis:
    """Load a pack written by :func:`pack_davis` into memory (decoding each video once, with OpenCV).

    Every file is checked against ``index.json`` before use: its sha256, then each video decodes to exactly the
    recorded number of frames and size, and the masks to the recorded shapes.

    Args:
        pack_dir: the folder holding ``index.json``, ``masks.npz`` and the videos.
        sequences: load only these sequences (default: all), in the pack's order.

    Returns:
        A :class:`PackedDavis`: images uint8 (N, H, W, 3) RGB 0..255, masks bool (N, H, W), names.

    Raises:
        ImportError: OpenCV is missing. FileNotFoundError: the pack or one of its files is missing.
        ValueError: a truncated or foreign index, an unknown sequence, a file whose sha256 or decoded content
        differs from the index, or sequences of different frame sizes (they cannot be stacked).
    """
    pack = Path(pack_dir)
    index = _read_index(pack)
    entries = {e["name"]: e for e in index["sequences"]}
    if sequences is not None:
        _check_known(sequences, list(entries), f"the pack {pack}")
        chosen = [e for e in index["sequences"] if e["name"] in set(sequences)]
    else:
        chosen = list(index["sequences"])
    sizes: dict[tuple[int, int], list[str]] = {}
    for e in chosen:
        sizes.setdefault((e["height"], e["width"]), []).append(e["name"])
    if len(sizes) > 1:
        listed = "; ".join(f"{w}x{h} (WxH): {', '.join(names)}" for (h, w), names in sizes.items())
        raise ValueError(
            f"The sequences of {pack} have different frame sizes, so their frames cannot be stacked into one "
            f"array: {listed}. Load one size at a time with load_packed(..., sequences=[...])."
        )
    (height, width) = next(iter(sizes)) if sizes else (0, 0)
    total = sum(len(e["frames"]) for e in chosen)
    images = np.empty((total, height, width, 3), np.uint8)
    masks = np.empty((total, height, width), bool)

    masks_path = pack / index["masks"]["file"]
    _check_sha256(masks_path, index["masks"]["sha256"])
    start = 0
    with np.load(masks_path, allow_pickle=False) as npz:
        for e in chosen:
            n = len(e["frames"])
            _check_sha256(pack / e["video"], e["sha256"])
            _decode_video(pack / e["video"], n, height, width, out=images[start : start + n])
            masks[start : start + n] = _unpack_masks(npz, e["name"], (n, height, width), masks_path)
            start += n
    images.setflags(write=False)
    masks.setflags(write=False)
    names = tuple((e["name"], frame) for e in chosen for frame in e["frames"])
    return PackedDavis(images=images, masks=masks, names=names, index=index)


# --- packing -------------------------------------------------------------------------------------------------


def _group_by_sequence(pairs: Sequence[tuple[str, str]], image_set: str) -> dict[str, list[tuple[str, str]]]:
    """The (frame, mask) pairs per sequence (the frame's folder name), in the order of first appearance."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for frame, mask in pairs:
        groups.setdefault(Path(frame).parent.name, []).append((frame, mask))
    for seq, seq_pairs in groups.items():
        stems = [Path(f).stem for f, _ in seq_pairs]
        if len(set(stems)) != len(stems):
            twice = sorted({s for s in stems if stems.count(s) > 1})
            raise ValueError(
                f"Sequence {seq!r} of the set {image_set!r} lists the frame(s) {', '.join(twice[:5])} more than "
                "once: remove the repeated lines from the ImageSets file."
            )
    return groups


def _claim_empty_dir(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file, not a folder: pass a new or empty folder as the pack folder.")
    if out.is_dir() and any(out.iterdir()):
        raise FileExistsError(
            f"{out} is not empty: a pack is written into a new or empty folder and nothing is overwritten. "
            "Choose another --out / out_dir, or remove the folder first."
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def _stack_frames(seq: str, frames: list[np.ndarray], paths: list[str]) -> np.ndarray:
    """uint8 (N, H, W, 3): the frames of one sequence (one video), which must share one size."""
    for frame, path in zip(frames, paths):
        if frame.shape != frames[0].shape:
            (h0, w0), (h, w) = frames[0].shape[:2], frame.shape[:2]
            raise ValueError(
                f"The frames of {seq!r} must all have one size (they become one video): {paths[0]} is "
                f"{w0}x{h0} (WxH) but {path} is {w}x{h}. Resize the odd frame (and its mask) or drop its line "
                "from the ImageSets file."
            )
    return np.stack(frames)


def _encode_video(av: Any, path: Path, images: np.ndarray, crf: int) -> None:
    """Write uint8 RGB (N, H, W, 3) frames as H.264 (yuv420p, BT.601 limited range) into ``path`` (MP4).

    Odd heights / widths are padded by one row / column, replicating the edge.
    """
    height, width = images.shape[1:3]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FRAME_RATE)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": X264_PRESET}
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = _BT601
        context.color_range = _LIMITED_RANGE
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.pad(image, pad, mode="edge"), format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace="itu601")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB of uint8 ``decoded`` against ``reference`` (peak 255), capped at :data:`PSNR_CAP_DB`."""
    mse = float(np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2))
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10 * math.log10(255.0**2 / mse))


# --- loading -------------------------------------------------------------------------------------------------


def _import_cv2() -> Any:
    try:
        import cv2
    except ImportError as err:
        raise ImportError(
            f"Decoding a packed DAVIS set needs OpenCV (the `cv2` module, with its bundled FFmpeg): {_INSTALL} "
            "(or pip install opencv-python-headless)"
        ) from err
    return cv2


def _decode_video(path: Path, n_frames: int, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """Decode the H.264 video ``path`` with OpenCV into uint8 RGB (n_frames, height, width, 3) (into ``out``
    when given), cropping the even-size padding; it must hold exactly ``n_frames`` frames of the padded size."""
    cv2 = _import_cv2()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the pack is incomplete; copy the whole pack folder again.")
    if out is None:
        out = np.empty((n_frames, height, width, 3), np.uint8)
    expected = (height + height % 2, width + width % 2, 3)
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise ValueError(
            f"OpenCV cannot open the video {path}: it needs an OpenCV built with FFmpeg "
            f"(the opencv-python-headless wheel is: {_INSTALL}), or the file is damaged (re-copy the pack)."
        )
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame.shape != expected:
                raise ValueError(
                    f"{path}: frame {count} decodes to {frame.shape[1]}x{frame.shape[0]} (WxH, {frame.shape}), but "
                    f"the index says {expected[1]}x{expected[0]}: the video does not belong to this index; "
                    "re-copy or re-pack the folder."
                )
            if count < n_frames:
                out[count] = frame[:height, :width, ::-1]  # BGR -> RGB, drop the padding
            count += 1
    finally:
        capture.release()
    if count != n_frames:
        raise ValueError(
            f"{path} decodes to {count} frames, but the index lists {n_frames}: the video is truncated or does "
            "not belong to this index; re-copy or re-pack the folder."
        )
    return out


def _unpack_masks(npz: Any, seq: str, shape: tuple[int, int, int], path: Path) -> np.ndarray:
    """The bool (N, H, W) masks of ``seq`` from the open ``masks.npz``, checked against the index's shape."""
    bits_key, shape_key = f"{seq}.bits", f"{seq}.shape"
    if bits_key not in npz.files or shape_key not in npz.files:
        raise ValueError(f"{path} holds no masks for {seq!r}: it does not belong to this index; re-pack.")
    stored = tuple(int(v) for v in npz[shape_key])
    bits = npz[bits_key]
    count = math.prod(shape)
    if stored != shape or bits.dtype != np.uint8 or bits.size != (count + 7) // 8:
        raise ValueError(
            f"{path}: the masks of {seq!r} are {stored} ({bits.size} bytes of bits) but the index says {shape}: "
            "the file does not belong to this index; re-pack."
        )
    return np.unpackbits(bits, count=count).view(bool).reshape(shape)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: Path, expected: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the pack is incomplete; copy the whole pack folder again.")
    found = _sha256(path)
    if found != expected:
        raise ValueError(
            f"{path} is not the file that was packed: sha256 {found}, the index expects {expected}. It was "
            "damaged or replaced (e.g. an interrupted copy): copy it again from the packing machine, or re-pack."
        )


def _read_index(pack: Path) -> dict:
    path = pack / INDEX_FILE
    if not pack.is_dir():
        raise FileNotFoundError(f"Pack folder {pack} not found: pass the folder written by pack_davis / --out.")
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {pack} is not a complete pack (index.json is written last, so packing was "
            "interrupted or the copy is incomplete). Copy the whole folder again, or re-pack into an empty folder."
        )
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}): it is truncated or damaged; copy it again or re-pack."
        ) from err
    found = index.get("format") if isinstance(index, dict) else None
    if found != FORMAT:
        raise ValueError(
            f"{path} has the format tag {found!r}, expected {FORMAT!r}: it was not written by this version of "
            "osvos_tf.packed_davis.pack_davis; re-pack with this version."
        )
    fields = (("name", str), ("frames", list), ("height", int), ("width", int), ("video", str), ("sha256", str))
    records = index.get("sequences")
    masks = index.get("masks")
    bad = [] if isinstance(records, list) and records else ["sequences"]
    for i, e in enumerate(records if not bad else []):
        bad += [
            f"sequences[{i}].{key}"
            for key, kind in fields
            if not isinstance(e, dict) or not isinstance(e.get(key), kind)
        ]
    bad += [
        f"masks.{key}"
        for key in ("file", "sha256")
        if not isinstance(masks, dict) or not isinstance(masks.get(key), str)
    ]
    if bad:
        raise ValueError(
            f"{path} lacks or has malformed fields ({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}): it is "
            "damaged; copy it again or re-pack."
        )
    return index
