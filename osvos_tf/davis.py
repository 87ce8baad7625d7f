"""The DAVIS-2016 folder layout, written once: where frames, annotations, image sets and ``db_info.yaml``
are, which sequences a set holds, and the (frame, mask) pairs of a split.

    ROOT/JPEGImages/480p/<seq>/00000.jpg ...      frames
    ROOT/Annotations/480p/<seq>/00000.png ...     ground-truth masks (0 background, nonzero object)
    ROOT/ImageSets/480p/{train,val}.txt           lines "/JPEGImages/480p/<seq>/<f>.jpg /Annotations/480p/<seq>/<f>.png"
    ROOT/db_info.yaml                             per-sequence attributes (set, eval_t, ...)

Nothing here reads pixels; masks are read by :mod:`osvos_tf.masks`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from osvos_tf.frames import list_frames

_MASK_EXT = ".png"


def default_davis_root() -> Path:
    """The DAVIS root: ``$OSVOS_DAVIS_ROOT`` if set, else ``<repo>/../shared/DAVIS``."""
    env = os.environ.get("OSVOS_DAVIS_ROOT")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "DAVIS"


def load_db_info(davis_root) -> dict:
    """Read ``<davis_root>/db_info.yaml`` and return ``{sequence name: {attributes...}}``.

    Raises FileNotFoundError when the file is missing.
    """
    import yaml

    path = Path(davis_root) / "db_info.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the DAVIS root must contain db_info.yaml (it says which sequences count "
            f"for T); pass the DAVIS-2016 folder as davis_root / --davis, or evaluate without T (--no-t)"
        )
    with open(path) as f:
        info = yaml.safe_load(f)
    seqs = info.get("sequences", []) if isinstance(info, dict) else []
    return {s["name"]: s for s in seqs if isinstance(s, dict) and "name" in s}


def jpeg_dir(davis_root: str | os.PathLike) -> Path:
    """``<root>/JPEGImages/480p``: one folder of JPEG frames per sequence."""
    return Path(davis_root) / "JPEGImages" / "480p"


def annotation_dir(davis_root: str | os.PathLike) -> Path:
    """``<root>/Annotations/480p``: one folder of ground-truth PNG masks per sequence."""
    return Path(davis_root) / "Annotations" / "480p"


def list_davis_sequences(davis_root: str | os.PathLike, image_set: str = "val") -> list[str]:
    """The sequences of ``image_set`` that are present under ``davis_root/JPEGImages/480p``.

    The set comes from ``ImageSets/480p/<image_set>.txt`` (lines ``/JPEGImages/480p/<seq>/<frame>.jpg ...``)
    when that file exists, else from the ``set`` field of ``db_info.yaml``. Order: as listed there.

    Raises:
        FileNotFoundError: no ``JPEGImages/480p`` folder, or neither set source exists.
        ValueError: the set lists no sequence that is present.
    """
    davis_root = Path(davis_root)
    jpeg = jpeg_dir(davis_root)
    if not jpeg.is_dir():
        raise FileNotFoundError(
            f"DAVIS frames not found: expected {jpeg} under the DAVIS root {davis_root}. "
            "Pass the DAVIS-2016 folder (holding JPEGImages/, Annotations/, ImageSets/ "
            "and db_info.yaml) as --davis, or set OSVOS_DAVIS_ROOT."
        )
    set_file = davis_root / "ImageSets" / "480p" / f"{image_set}.txt"
    if set_file.is_file():
        listed = []
        for line in set_file.read_text().splitlines():
            parts = line.split()
            if parts:
                seq = Path(parts[0]).parent.name
                if seq and seq not in listed:
                    listed.append(seq)
        source = str(set_file)
    elif (davis_root / "db_info.yaml").is_file():
        listed = [name for name, info in load_db_info(davis_root).items() if info.get("set") == image_set]
        source = str(davis_root / "db_info.yaml")
    else:
        raise FileNotFoundError(
            f"Cannot tell which sequences form the set {image_set!r}: neither {set_file} nor "
            f"{davis_root / 'db_info.yaml'} exists. Pass --sequences a,b,... explicitly."
        )
    present = [s for s in listed if (jpeg / s).is_dir()]
    if not present:
        raise ValueError(
            f"None of the {len(listed)} sequences of set {image_set!r} (from {source}) is present "
            f"under {jpeg}. Check --set (e.g. val or train) and the DAVIS root."
        )
    return present


def sequence_inputs(davis_root: Path, seq: str) -> tuple[list[Path], Path]:
    """The frames of ``seq`` and the annotation of its first frame, checked to exist."""
    jpeg = jpeg_dir(davis_root)
    folder = jpeg / seq
    if not folder.is_dir():
        available = sorted(p.name for p in jpeg.iterdir() if p.is_dir())
        shown = ", ".join(available[:12]) + (" ..." if len(available) > 12 else "")
        raise FileNotFoundError(
            f"Sequence {seq!r} not found: expected the folder {folder}. Sequences present: {shown or 'none'}."
        )
    frames = list_frames(folder)
    mask = annotation_dir(davis_root) / seq / f"{frames[0].stem}.png"
    if not mask.is_file():
        raise FileNotFoundError(
            f"No ground truth for the first frame of {seq!r}: expected {mask} (the "
            f"annotation of {frames[0].name}), which OSVOS fine-tunes on."
        )
    return frames, mask


def annotated_frame_names(davis_root: str | os.PathLike, seq: str) -> list[str]:
    """The frame names (file stems) of the ground-truth masks of ``seq``, sorted; at least 3 (the DAVIS
    protocol scores frames 1..N-2)."""
    gt_dir = Path(davis_root) / "Annotations" / "480p" / seq
    if not gt_dir.is_dir():
        raise FileNotFoundError(
            f"no ground truth for sequence {seq!r}: expected the folder {gt_dir}; check the sequence "
            f"name (the results folder names must be DAVIS sequence names) and the DAVIS root"
        )
    frames = sorted(p.stem for p in gt_dir.iterdir() if p.suffix.lower() == _MASK_EXT)
    if len(frames) < 3:
        raise ValueError(
            f"sequence {seq!r} has {len(frames)} ground-truth frames in {gt_dir}; at least 3 are needed "
            f"(the first and last frames are not evaluated)"
        )
    return frames


def davis_pairs(
    root: str | os.PathLike, split: str = "train", sequences: Sequence[str] | None = None, resolution: str = "480p"
) -> list[tuple[str, str]]:
    """(frame path, mask path) pairs of a DAVIS-layout folder.

    Args:
        root: the DAVIS folder (holding JPEGImages/, Annotations/ and optionally ImageSets/).
        split: the ImageSets list to read ('train' or 'val'); ignored if ``sequences`` is given or there
            is no ImageSets folder (then every sequence folder is used).
        sequences: restrict to these sequence names.

    Raises:
        FileNotFoundError: missing folders, listed files, or a frame without its mask.
    """
    root = Path(root)
    images_dir = root / "JPEGImages" / resolution
    masks_dir = root / "Annotations" / resolution
    for d in (images_dir, masks_dir):
        if not d.is_dir():
            raise FileNotFoundError(
                f"{d} not found: expected the DAVIS layout JPEGImages/{resolution}/<seq>/ and "
                f"Annotations/{resolution}/<seq>/ under {root}."
            )
    list_file = root / "ImageSets" / resolution / f"{split}.txt"
    pairs = []
    if sequences is None and list_file.is_file():
        for line in list_file.read_text().split("\n"):
            parts = line.split()
            if len(parts) != 2:
                continue
            pairs.append((str(root / parts[0].lstrip("/")), str(root / parts[1].lstrip("/"))))
    else:
        names = sequences if sequences is not None else sorted(p.name for p in images_dir.iterdir() if p.is_dir())
        for seq in names:
            seq_dir = images_dir / seq
            if not seq_dir.is_dir():
                raise FileNotFoundError(f"Sequence '{seq}' not found in {images_dir}.")
            for jpg in sorted(seq_dir.glob("*.jpg")):
                pairs.append((str(jpg), str(masks_dir / seq / (jpg.stem + ".png"))))
    if not pairs:
        raise FileNotFoundError(f"No frames found in {root} (split '{split}', sequences {sequences}).")
    missing = [p for pair in pairs for p in pair if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"{len(missing)} listed files are missing, e.g. {missing[:3]}.")
    return pairs
