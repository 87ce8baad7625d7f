"""The results of segmenting a video file, written as they stream: masks (PNGs or a lossless video), an overlay
video, and cut-outs with alpha (needs the 'video' extra, :mod:`osvos_tf.video`).

In ``out_dir``:

* ``masks/<index>.png`` (5-digit frame index; 0/255, or DAVIS palette label maps for several objects), or with
  ``masks='video'`` ``masks.mkv``: lossless FFV1, grey 0/255 (several objects: grey value = object id);
* ``overlay.mp4`` with ``overlay``: H.264, the mask (or each object in its DAVIS colour) tinted over the frame,
  the input's timestamps and audio kept, odd sizes padded by one row / column;
* ``cutout.webm`` (VP9 with alpha), ``cutout.mov`` (ProRes 4444) or ``cutout/<index>.png`` (RGBA) with
  ``cutout``; several objects: ``cutout_<id>.*`` each. Alpha is the mask (0/255) or, with ``soft_alpha``, the
  probabilities x 255 (soft edges). The colour channels are the frame's, not premultiplied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from osvos_tf.atomic import atomic_path
from osvos_tf.config import CUTOUT_FORMATS, VIDEO_MASK_OUTPUTS
from osvos_tf.label_maps import write_label_map
from osvos_tf.masks import write_mask
from osvos_tf.outputs import overlay, overlay_objects
from osvos_tf.video import Frame, VideoInfo, VideoWriter

#: The :data:`~osvos_tf.video.WRITE_FORMATS` kind of each :data:`~osvos_tf.config.CUTOUT_FORMATS` extension
#: (None: a folder of RGBA PNGs).
CUTOUT_KINDS = {"webm": "vp9_alpha", "mov": "prores4444", "png": None}


def check_output_kinds(masks: str, cutout: str | None) -> None:
    """Raise ValueError, naming the choices, for an unknown ``masks`` or ``cutout`` kind."""
    if masks not in VIDEO_MASK_OUTPUTS:
        raise ValueError(f"masks must be one of {VIDEO_MASK_OUTPUTS}, got {masks!r}.")
    if cutout is not None and cutout not in CUTOUT_FORMATS:
        raise ValueError(f"cutout must be one of {tuple(CUTOUT_FORMATS)} or None, got {cutout!r}.")


class VideoOutputs(contextlib.ExitStack):
    """Writers for one video's results (see the module docstring); use as a context manager, then
    :meth:`write` each frame in order. ``out_dir`` must exist and be claimed (:func:`osvos_tf.outputs.
    claim_output_dir`).

    Args:
        out_dir: the output folder; info: the input video's :class:`~osvos_tf.video.VideoInfo` (size,
            timestamps, audio); masks, overlay, cutout, soft_alpha: what to write (module docstring);
        objects: the object ids for label maps, or None for one object.
    """

    def __init__(
        self,
        out_dir: str | Path,
        info: VideoInfo,
        masks: str = "png",
        overlay: bool = False,
        cutout: str | None = None,
        soft_alpha: bool = False,
        objects: tuple[int, ...] | None = None,
    ):
        super().__init__()
        check_output_kinds(masks, cutout)
        self.out_dir = Path(out_dir)
        self.info = info
        self.soft_alpha = soft_alpha
        self.objects = objects
        self.cutout = cutout
        self.paths: dict[str, Path] = {}
        self._mask_dir = self._folder("masks") if masks == "png" else None
        self._mask_video = self._video("masks", "masks.mkv", "ffv1") if masks == "video" else None
        self._overlay = self._video("overlay", "overlay.mp4", "h264", audio=True) if overlay else None
        self._cutouts: dict[int, VideoWriter | Path] = {}
        if cutout is not None:
            for obj in objects or (1,):
                stem = "cutout" if objects is None else f"cutout_{obj}"
                kind = CUTOUT_KINDS[cutout]
                if kind is None:
                    self._cutouts[obj] = self._folder(stem)
                else:
                    self._cutouts[obj] = self._video(stem, f"{stem}.{cutout}", kind)

    def _folder(self, name: str) -> Path:
        path = self.out_dir / name
        path.mkdir(exist_ok=True)
        self.paths[name] = path
        return path

    def _video(self, name: str, file_name: str, kind: str, audio: bool = False) -> VideoWriter:
        path = self.out_dir / file_name
        info = self.info
        writer = VideoWriter(
            path, kind, info.height, info.width, info.time_base, info.fps, audio_from=info.path if audio else None
        )
        self.push(writer.__exit__)  # finished on success; on an error its temporary file is removed
        self.paths[name] = path
        return writer

    def write(self, frame: Frame, result: np.ndarray, probs: np.ndarray | Mapping[int, np.ndarray]) -> None:
        """Write one frame's results.

        Args:
            frame: the decoded input frame (its index names the PNGs, its pts times the videos).
            result: one object: the bool (H, W) mask; several: the uint8 (H, W) label map.
            probs: float32 (H, W) in [0, 1], or ``{object id: probs}`` for several objects (for soft alpha).
        """
        name = f"{frame.index:05d}"
        several = self.objects is not None
        if self._mask_dir is not None:
            path = self._mask_dir / f"{name}.png"
            write_label_map(path, result) if several else write_mask(path, result)
        if self._mask_video is not None:
            self._mask_video.write(np.asarray(result, np.uint8) * (1 if several else 255), frame.pts)
        if self._overlay is not None:
            self._overlay.write(
                overlay_objects(frame.image, result) if several else overlay(frame.image, result), frame.pts
            )
        for obj, target in self._cutouts.items():
            alpha = self._alpha(result == obj if several else result, probs[obj] if several else probs)
            rgba = np.dstack([frame.image, alpha])
            if isinstance(target, Path):
                with atomic_path(target / f"{name}.png") as tmp:
                    Image.fromarray(rgba).save(tmp, format="PNG")
            else:
                target.write(rgba, frame.pts)

    def _alpha(self, mask: np.ndarray, probs) -> np.ndarray:
        if self.soft_alpha:
            return np.clip(np.asarray(probs) * 255.0, 0, 255).round().astype(np.uint8)
        return np.where(mask, 255, 0).astype(np.uint8)
