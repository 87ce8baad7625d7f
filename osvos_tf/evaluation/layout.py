"""A results folder checked against a DAVIS root (2016, or 2017 with its image sets), before any evaluation.

A results folder is ``DIR/<sequence>/<frame>.png`` with the ground-truth frame names (``00000.png``,
``00001.png``, ...).  Only frames ``1 .. N-2`` of a sequence are evaluated (the first frame is the given
annotation, the last one is excluded by the benchmark), so results for frames 0 and N-1 may be absent.
Without an explicit sequence list, the sequences are the sub-folders of ``DIR`` that have ground truth
(``<davis_root>/Annotations/480p/<name>``); other sub-folders (``overlays/``, ``logs/``, ...) are skipped
and listed in :attr:`ResultsFolder.skipped`.  Hidden folders (``.name``) are ignored.

A DAVIS-2017 root has the same ``Annotations/480p/<sequence>/`` folders (palette PNGs) and lists the
sequences of each set in ``ImageSets/2017/<set>.txt``, one name a line (:func:`davis2017_sequences`); the
DAVIS-2017 benchmark scores every sequence of the set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from osvos_tf.davis import annotated_frame_names, annotation_dir
from osvos_tf.evaluation.validation import check_same_shape
from osvos_tf.masks import read_davis_mask

MASK_EXT = ".png"
"""The file extension of result and ground-truth masks."""


@dataclass(frozen=True)
class ResultsFolder:
    """A results folder whose evaluated frames all exist, with the DAVIS root it is scored against."""

    davis_root: Path
    results_dir: Path
    sequences: list[str]
    """The sequences to evaluate, in order (the requested order, or sorted when discovered)."""
    frames: dict[str, list[str]]
    """Each sequence's ground-truth frame names (file stems, sorted, frames 0..N-1, N >= 3)."""
    skipped: list[str]
    """Sub-folders of ``results_dir`` left out because DAVIS has no ground truth for them (sorted; always
    empty for an explicit sequence list)."""


def open_results_folder(
    davis_root: str | os.PathLike, results_dir: str | os.PathLike, sequences: Iterable[str] | None = None
) -> ResultsFolder:
    """Check a results folder against ``davis_root`` (which holds ``Annotations/480p/<sequence>/``).

    ``sequences`` defaults to every sub-folder of ``results_dir`` that is a DAVIS sequence.  Checks only
    what is cheap: the folders, the sequence list, and that every evaluated result frame (1..N-2) exists
    and is not empty; the pixels are read later.

    Raises:
        FileNotFoundError: a missing folder or frame, a requested sequence without ground truth, or no
            sub-folder that is a DAVIS sequence.
        ValueError: a wrong layout (PNGs directly in ``results_dir``), an empty sequence list, a sequence
            with fewer than 3 ground-truth frames, or 0-byte result files.
    """
    davis_root, results_dir = _check_folders(Path(davis_root), Path(results_dir))
    if sequences is None:
        seqs, skipped = _discover_sequences(davis_root, results_dir)
    else:
        seqs, skipped = list(sequences), []
        if not seqs:
            raise ValueError("empty list of sequences: give at least one sequence name or None for all")
    frames = {s: _result_frames(davis_root, results_dir, s) for s in seqs}
    return ResultsFolder(davis_root, results_dir, seqs, frames, skipped)


def check_davis2017_root(davis_root: str | os.PathLike, image_set: str | None = None) -> Path:
    """``davis_root`` as a Path, checked to hold ``Annotations/480p`` and, when ``image_set`` is given,
    ``ImageSets/2017/<image_set>.txt``; FileNotFoundError (with the DAVIS-2017 layout) otherwise."""
    root = Path(davis_root)
    wanted = [(annotation_dir(root), "ground truth")]
    if image_set is not None:
        wanted.append((root / "ImageSets" / "2017" / f"{image_set}.txt", f"list of the {image_set!r} sequences"))
    for path, what in wanted:
        if not path.exists():
            raise FileNotFoundError(
                f"DAVIS-2017 {what} not found: expected {path} under the DAVIS root {root}; pass the "
                f"DAVIS-2017 folder (holding Annotations/480p/ and ImageSets/2017/) as davis_root / --davis"
                + ("" if image_set is None else ", or name the sequences explicitly (--sequences)")
            )
    return root


def davis2017_sequences(davis_root: str | os.PathLike, image_set: str = "val") -> list[str]:
    """The sequences of a DAVIS-2017 image set, in file order: the non-blank lines (stripped, duplicates
    dropped) of ``<davis_root>/ImageSets/2017/<image_set>.txt``.

    Raises:
        FileNotFoundError: no ``Annotations/480p`` or no such set file under ``davis_root``.
        ValueError: the set file lists no sequence.
    """
    set_file = check_davis2017_root(davis_root, image_set) / "ImageSets" / "2017" / f"{image_set}.txt"
    names: list[str] = []
    for line in set_file.read_text().splitlines():
        name = line.strip()
        if name and name not in names:
            names.append(name)
    if not names:
        raise ValueError(f"{set_file} lists no sequence: expected one sequence name a line (e.g. 'bike-packing')")
    return names


def report_skipped(folder: ResultsFolder, tag: str, stream: TextIO | None = None) -> None:
    """Print one line naming the skipped sub-folders of ``folder`` (nothing when there are none) to
    ``stream`` (stderr)."""
    if not folder.skipped:
        return
    print(
        f"{tag} skipped {len(folder.skipped)} sub-folder(s) of {folder.results_dir} that are not DAVIS "
        f"sequences (no ground truth in {annotation_dir(folder.davis_root)}): {', '.join(folder.skipped)}",
        file=sys.stderr if stream is None else stream,
        flush=True,
    )


def evaluated_pairs(davis_root: str, results_dir: str, seq: str, frames: list[str]) -> list[tuple[Path, Path]]:
    """(result path, ground-truth path) of the evaluated frames 1..N-2 of ``seq`` (``frames`` = 0..N-1)."""
    rdir = Path(results_dir) / seq
    gdir = annotation_dir(davis_root) / seq
    return [(rdir / f"{fr}{MASK_EXT}", gdir / f"{fr}{MASK_EXT}") for fr in frames[1:-1]]


def read_frame_pair(result_path: Path, gt_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(result, ground truth) of one frame as bool (H, W) masks of the same shape (DAVIS rules: nonzero =
    foreground).

    Raises:
        FileNotFoundError: a missing file. ValueError: an empty, truncated or non-image file (named in the
            message), or a result whose size is not the ground truth's.
    """
    gt = read_davis_mask(gt_path, "Ground-truth mask")
    result = read_davis_mask(result_path, "Result mask")
    check_same_shape(result, gt, f"result {result_path} and ground truth {gt_path}")
    return result, gt


def _check_folders(davis_root: Path, results_dir: Path) -> tuple[Path, Path]:
    ann = annotation_dir(davis_root)
    if not ann.is_dir():
        raise FileNotFoundError(
            f"DAVIS ground truth not found: expected {ann} under the DAVIS root {davis_root}; pass the "
            f"DAVIS-2016 folder (the one holding Annotations/ and db_info.yaml) as davis_root / --davis "
            f"or set OSVOS_DAVIS_ROOT"
        )
    if not results_dir.is_dir():
        raise FileNotFoundError(
            f"results folder not found: {results_dir} (expected a folder {results_dir}/<sequence>/<frame>.png)"
        )
    return davis_root, results_dir


def _discover_sequences(davis_root: Path, results_dir: Path) -> tuple[list[str], list[str]]:
    """(sub-folders of ``results_dir`` with ground truth, the other sub-folders), both sorted."""
    subdirs = sorted(p.name for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    ann = annotation_dir(davis_root)
    seqs = [s for s in subdirs if (ann / s).is_dir()]
    skipped = [s for s in subdirs if s not in seqs]
    if seqs:
        return seqs, skipped
    _raise_if_flat(results_dir)
    if not subdirs:
        raise ValueError(
            f"no sequence folders in results folder {results_dir}: expected {results_dir}/<sequence>/"
            f"<frame>.png (e.g. {results_dir}/blackswan/00001.png)"
        )
    shown = ", ".join(subdirs[:10]) + (" ..." if len(subdirs) > 10 else "")
    raise FileNotFoundError(
        f"no DAVIS sequence in results folder {results_dir}: there is no ground truth for any of its "
        f"sub-folders ({shown}; expected e.g. {ann / subdirs[0]}); name each sub-folder after a DAVIS "
        f"sequence, or pass the DAVIS root they belong to"
    )


def _raise_if_flat(results_dir: Path) -> None:
    """Raise the layout advice when PNGs lie directly in ``results_dir``."""
    pngs = sorted(p.name for p in results_dir.iterdir() if p.suffix.lower() == MASK_EXT)
    if pngs:
        raise ValueError(
            f"wrong results layout: found {len(pngs)} PNG files directly in {results_dir} (e.g. {pngs[0]}) "
            f"but no sequence subfolders; expected {results_dir}/<sequence>/<frame>.png, e.g. "
            f"{results_dir}/blackswan/00001.png -- move each sequence's masks into a folder named after it"
        )


def _shown(names: list[str]) -> str:
    return ", ".join(f"{m}{MASK_EXT}" for m in names[:5]) + (" ..." if len(names) > 5 else "")


def _result_frames(davis_root: Path, results_dir: Path, seq: str) -> list[str]:
    """The ground-truth frame names of ``seq`` after checking that every evaluated result frame (1..N-2)
    exists and is not empty."""
    rdir = results_dir / seq
    if not rdir.is_dir():
        _raise_if_flat(results_dir)
        raise FileNotFoundError(
            f"missing sequence folder: expected {rdir} with the result masks of sequence {seq!r} "
            f"(one <frame>.png per ground-truth frame, e.g. {rdir}/00001.png); run the method on "
            f"{seq!r} or leave it out of the sequence list"
        )
    frames = annotated_frame_names(davis_root, seq)
    evaluated = frames[1:-1]
    missing = [fr for fr in evaluated if not (rdir / f"{fr}{MASK_EXT}").is_file()]
    if missing:
        raise FileNotFoundError(
            f"missing result frames in {rdir}: {len(missing)} of the {len(evaluated)} evaluated "
            f"frames ({frames[1]}..{frames[-2]}) are absent: {_shown(missing)}; write one mask per ground-truth "
            f"frame with the same file name"
        )
    empty = [fr for fr in evaluated if (rdir / f"{fr}{MASK_EXT}").stat().st_size == 0]
    if empty:
        raise ValueError(
            f"empty result files in {rdir}: {len(empty)} of the {len(evaluated)} evaluated frames are "
            f"0-byte files, expected PNG masks: {_shown(empty)}; re-write those masks"
        )
    return frames
