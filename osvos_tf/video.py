"""Video files in and out, with PyAV (the optional extra ``video``; the PyAV wheel bundles FFmpeg).

Reading (:class:`VideoReader`): any container FFmpeg reads, frame by frame and lazily, with each frame's index
and timestamp; the rotation a phone records (the display matrix) is applied; one decoded frame is held at a
time, whatever the video's length. Writing (:class:`VideoWriter`): the formats of :data:`WRITE_FORMATS`, with
the input's timestamps (variable frame rates stay variable) and, for MP4, its audio copied.

Importing this module without PyAV raises an ImportError that names the install command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np

from osvos_tf.atomic import atomic_path

INSTALL_HINT = 'pip install "osvos_tf[video]" (from a checkout: pip install -e ".[video]")'

try:
    import av
except ImportError as err:  # pragma: no cover - exercised in a subprocess without PyAV
    raise ImportError(f"Video files need PyAV, osvos_tf's optional extra 'video': {INSTALL_HINT}.") from err


@dataclasses.dataclass(frozen=True)
class VideoFormat:
    """How one kind of output video is encoded.

    Attributes:
        container: FFmpeg muxer name; codec: encoder; pix_fmt: encoded pixel format; image_format: the layout of
        the arrays given to :meth:`VideoWriter.write` ('rgb24': uint8 (H, W, 3); 'rgba': uint8 (H, W, 4); 'gray':
        uint8 (H, W)); even: pad odd sizes to even (by repeating the last row / column), as 4:2:0 H.264 needs;
        options: encoder options; audio: whether the input's audio is copied in.
    """

    container: str
    codec: str
    pix_fmt: str
    image_format: str
    even: bool = False
    options: tuple[tuple[str, str], ...] = ()
    audio: bool = False


#: Output videos: 'h264' (overlays: MP4, 4:2:0, CRF 18, audio kept), 'ffv1' (masks: lossless grey MKV),
#: 'vp9_alpha' (cut-outs: WebM, ``yuva420p``; FFmpeg's built-in VP9 decoder drops the alpha, ``libvpx-vp9``
#: keeps it, see :func:`read_alpha`), 'prores4444' (cut-outs: MOV, ProRes 4444 with alpha).
WRITE_FORMATS: dict[str, VideoFormat] = {
    "h264": VideoFormat("mp4", "libx264", "yuv420p", "rgb24", even=True, options=(("crf", "18"),), audio=True),
    "ffv1": VideoFormat("matroska", "ffv1", "gray", "gray"),
    "vp9_alpha": VideoFormat(
        "webm",
        "libvpx-vp9",
        "yuva420p",
        "rgba",
        options=(("crf", "30"), ("b", "0"), ("cpu-used", "4"), ("row-mt", "1")),
    ),
    "prores4444": VideoFormat("mov", "prores_ks", "yuva444p10le", "rgba", options=(("profile", "4444"),)),
}

#: Audio codecs that can be copied into MP4 as they are; others are left out, with a warning.
MP4_AUDIO = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"})


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, found without decoding it (but its first frame).

    Attributes:
        path: the file.
        height, width: the displayed frame size (rotation applied).
        frames: the number of video frames (counted from the packets).
        rotation: degrees counter-clockwise applied to each decoded frame to display it (0, 90, 180, 270).
        time_base: the unit of ``pts``; pts: each frame's presentation timestamp, in display order.
        fps: the average frame rate (None when unknown); audio: the audio codec's name, or None.
    """

    path: Path
    height: int
    width: int
    frames: int
    rotation: int
    time_base: Fraction
    pts: tuple[int, ...]
    fps: float | None
    audio: str | None

    def time_of(self, index: int) -> float:
        """Frame ``index``'s presentation time in seconds, from the start of the video."""
        return float((self.pts[index] - self.pts[0]) * self.time_base)


@dataclasses.dataclass(frozen=True)
class Frame:
    """One decoded frame: ``index`` (0-based, display order), ``time`` in seconds from the first frame, ``pts``
    (in :attr:`VideoInfo.time_base`) and ``image``, uint8 RGB (H, W, 3), rotated for display."""

    index: int
    time: float
    pts: int
    image: np.ndarray


class VideoReader:
    """A video file, read lazily frame by frame (each iteration opens the file anew: iterations are independent).

    Raises (on construction):
        FileNotFoundError: no such file; ValueError: not a video FFmpeg can read, or no video stream / frames.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"Video not found: {self.path}.")
        self.info = self._scan()

    def __len__(self) -> int:
        return self.info.frames

    def _open(self):
        try:
            return av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as err:
            raise ValueError(f"{self.path} is not a video file FFmpeg can read ({err}).") from err

    def _scan(self) -> VideoInfo:
        with self._open() as container:
            if not container.streams.video:
                raise ValueError(f"{self.path} has no video stream (streams: {[s.type for s in container.streams]}).")
            stream = container.streams.video[0]
            audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
            pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size)
        with self._open() as container:
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None or not pts:
                raise ValueError(f"{self.path} holds no decodable video frames.")
            rotation = int(round(first.rotation or 0)) % 360
            if rotation % 90:
                raise ValueError(f"{self.path} is rotated by {rotation} degrees; only multiples of 90 are supported.")
            height, width = (first.height, first.width) if rotation in (0, 180) else (first.width, first.height)
            rate = stream.average_rate
            return VideoInfo(
                self.path,
                int(height),
                int(width),
                len(pts),
                rotation,
                Fraction(stream.time_base),
                tuple(int(p) for p in pts),
                float(rate) if rate else None,
                audio,
            )

    def _image(self, frame) -> np.ndarray:
        image = frame.to_ndarray(format="rgb24")
        if self.info.rotation:
            image = np.ascontiguousarray(np.rot90(image, k=self.info.rotation // 90))
        return image

    def __iter__(self) -> Iterator[Frame]:
        """Every frame in display order, decoded one at a time."""
        with self._open() as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index >= self.info.frames:
                    break
                pts = self.info.pts[index]
                yield Frame(index, self.info.time_of(index), pts, self._image(frame))

    def images(self) -> Iterator[np.ndarray]:
        """Every frame's uint8 RGB (H, W, 3) image, in order, lazily."""
        return (frame.image for frame in self)

    def read(self, index: int) -> Frame:
        """Frame ``index`` (negative counts from the end), found by an exact seek: the keyframe before it, then
        decoding up to its timestamp.

        Raises:
            IndexError: no such frame.
        """
        n = self.info.frames
        if not -n <= index < n:
            raise IndexError(f"Frame index {index} is out of range: {self.path} has {n} frames (0..{n - 1}).")
        index %= n
        target = self.info.pts[index]
        with self._open() as container:
            stream = container.streams.video[0]
            container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is not None and frame.pts >= target:
                    return Frame(index, self.info.time_of(index), target, self._image(frame))
        raise ValueError(f"Could not decode frame {index} of {self.path} (timestamp {target}).")


class VideoWriter:
    """Encodes frames into a video file of one of the :data:`WRITE_FORMATS`, with given timestamps.

    Use as a context manager. The video is written to a temporary file beside ``path`` and renamed onto it when
    the writer closes (:mod:`osvos_tf.atomic`), so ``path`` is never a truncated video; if the block raises, the
    temporary file is removed. With ``audio_from`` and a format that keeps audio, the first audio stream of that
    file is copied in, packet by packet, as the video advances.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        kind: str,
        height: int,
        width: int,
        time_base: Fraction,
        fps: float | None = None,
        audio_from: str | os.PathLike | None = None,
    ):
        if kind not in WRITE_FORMATS:
            raise ValueError(f"Unknown video format {kind!r}; expected one of {sorted(WRITE_FORMATS)}.")
        self.path = Path(path)
        self.format = WRITE_FORMATS[kind]
        self.size = (int(height), int(width))
        self._atomic = atomic_path(self.path)
        temporary = self._atomic.__enter__()
        self._container = av.open(str(temporary), mode="w", format=self.format.container)
        rate = Fraction(fps).limit_denominator(1001) if fps else Fraction(25)
        stream = self._container.add_stream(self.format.codec, rate=rate, options=dict(self.format.options))
        self._stream = cast(Any, stream)  # a VideoStream (PyAV types add_stream as any stream)
        self._stream.height = height + (height % 2 if self.format.even else 0)
        self._stream.width = width + (width % 2 if self.format.even else 0)
        self._stream.pix_fmt = self.format.pix_fmt
        self._stream.codec_context.time_base = time_base
        self.time_base = time_base
        self._audio = None
        if audio_from is not None and self.format.audio:
            self._audio = _AudioCopy(Path(audio_from), self._container)

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one frame: ``image`` in the format's layout (see :class:`VideoFormat`) at ``self.size``;
        ``pts`` in ``time_base``, increasing."""
        if image.shape[:2] != self.size:
            raise ValueError(f"Frame is {image.shape[1]}x{image.shape[0]}, the video {self.size[1]}x{self.size[0]}.")
        if self.format.even and (self.size[0] % 2 or self.size[1] % 2):
            pad = [(0, self.size[0] % 2), (0, self.size[1] % 2)] + [(0, 0)] * (image.ndim - 2)
            image = np.pad(image, pad, mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=self.format.image_format)
        frame.pts = int(pts)
        frame.time_base = self.time_base
        if self._audio is not None:
            self._audio.mux_until(float(pts * self.time_base))
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder, finish the file and rename it onto ``path``."""
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.mux_until(None)
        except BaseException as err:
            self._abort(err)
            raise
        self._release()
        self._atomic.__exit__(None, None, None)

    def _abort(self, err: BaseException) -> None:
        """Close without keeping the file (the temporary file is removed; ``path`` is left as it was)."""
        with contextlib.suppress(Exception):
            self._release()
        self._atomic.__exit__(type(err), err, err.__traceback__)

    def _release(self) -> None:
        if self._audio is not None:
            self._audio.close()
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self._abort(exc)


class _AudioCopy:
    """The first audio stream of ``source``, copied into ``container`` packet by packet (no re-encoding)."""

    def __init__(self, source: Path, container):
        self._input = av.open(str(source))
        self._packets = None
        if not self._input.streams.audio:
            return
        stream = self._input.streams.audio[0]
        if stream.codec_context.name not in MP4_AUDIO:
            warnings.warn(
                f"The audio of {source} ({stream.codec_context.name}) cannot be copied into MP4 and is left out.",
                stacklevel=4,
            )
            return
        self._container = container
        self._out = container.add_stream_from_template(stream)
        self._packets = (p for p in self._input.demux(stream) if p.pts is not None)
        self._next = next(self._packets, None)

    def mux_until(self, seconds: float | None) -> None:
        """Copy the packets that start before ``seconds`` (the source's clock; None: all that are left)."""
        if self._packets is None:
            return
        while self._next is not None:
            packet = self._next
            if seconds is not None and float(cast(int, packet.pts) * packet.time_base) > seconds:
                return
            packet.stream = self._out
            self._container.mux(packet)
            self._next = next(self._packets, None)

    def close(self) -> None:
        self._input.close()


def read_alpha(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """The alpha channel of each frame of a cut-out written by :class:`VideoWriter` ('vp9_alpha' with the
    ``libvpx-vp9`` decoder, which keeps it; 'prores4444'), uint8 (H, W), lazily."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = _libvpx_frames(container, stream) if stream.codec_context.name == "vp9" else container.decode(stream)
        for frame in frames:
            yield frame.to_ndarray(format="rgba")[..., 3]


def _libvpx_frames(container, stream) -> Iterator:
    """The frames of a VP9 stream decoded by libvpx-vp9 (which keeps the alpha channel)."""
    codec = av.CodecContext.create("libvpx-vp9", "r")
    for packet in container.demux(stream):
        if packet.size:
            yield from codec.decode(packet)
    yield from codec.decode(None)


#: QuickTime display matrices (a, b, u, c, d, v, x, y, w; 16.16 fixed point, w 2.30) that show the stored frame
#: turned clockwise by 0, 90, 180, 270 degrees (a phone's portrait 'rotate=90' is 90); the translation is left 0,
#: which players and FFmpeg ignore for these rotations.
_DISPLAY_MATRICES = {
    0: (1, 0, 0, 1),
    90: (0, 1, -1, 0),
    180: (-1, 0, 0, -1),
    270: (0, -1, 1, 0),
}


def set_mp4_rotation(path: str | os.PathLike, clockwise: int) -> None:
    """Record in an MP4 / MOV file (in place) that its first track is displayed turned ``clockwise`` degrees
    (0, 90, 180, 270), as phones do for portrait video: the track header's display matrix is rewritten. For
    making test and benchmark clips; FFmpeg's muxers no longer take a 'rotate' tag.

    Raises:
        ValueError: another angle, or no track header in the file.
    """
    if clockwise not in _DISPLAY_MATRICES:
        raise ValueError(f"clockwise must be one of {sorted(_DISPLAY_MATRICES)}, got {clockwise!r}.")
    import struct

    data = bytearray(Path(path).read_bytes())
    box = data.find(b"tkhd") - 4
    if box < 0:
        raise ValueError(f"{path} has no MP4 track header (tkhd); is it an MP4 or MOV file?")
    offset = box + (48 if data[box + 8] == 0 else 60)  # after the version 0 / 1 header fields
    a, b, c, d = _DISPLAY_MATRICES[clockwise]
    data[offset : offset + 36] = struct.pack(">9i", a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30)
    Path(path).write_bytes(bytes(data))
