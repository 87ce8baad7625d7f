"""A large file as parts of bounded size and back, each part and the whole checked by sha256.

The GPU machine returns at most 8 files of 16 MiB each (64 MiB in all), and a float32 parent checkpoint is
59 MB: :func:`split_file` writes ``<name>.part00``, ``<name>.part01``, ... and ``<name>.parts.json`` (the
manifest: the file's name, size and sha256, and each part's), and :func:`join_parts` rebuilds the file
here, refusing a missing, truncated or altered part. Written atomically: an interrupted split or join
leaves no partial file under a final name.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from osvos_tf.atomic import write_bytes_atomic, write_json_atomic

#: Format tag of a manifest.
FORMAT = "osvos_tf.file_parts/1"

#: Default part size: under the GPU machine's 16 MiB per returned file.
PART_BYTES = 15 * 2**20


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_file(
    path: str | os.PathLike, out_dir: str | os.PathLike | None = None, part_bytes: int = PART_BYTES, tag: str = ""
) -> Path:
    """Split ``path`` into parts of at most ``part_bytes`` bytes in ``out_dir`` (default: beside it).

    Parts are named ``<name>.part00``, ... (``<name>.<tag>.part00`` with a ``tag``, so that a newer split of
    the same file can be written beside an older one and its manifest replace the older manifest at once).

    Returns:
        The manifest's path, ``out_dir/<name>.parts.json`` (written last, so a manifest means complete parts).

    Raises:
        FileNotFoundError: no such file. ValueError: ``part_bytes`` < 1.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Cannot split {path}: no such file.")
    if part_bytes < 1:
        raise ValueError(f"part_bytes must be >= 1, got {part_bytes!r}.")
    out = Path(out_dir) if out_dir is not None else path.parent
    out.mkdir(parents=True, exist_ok=True)
    data = path.read_bytes()
    parts = []
    for k, start in enumerate(range(0, max(len(data), 1), part_bytes)):
        chunk = data[start : start + part_bytes]
        name = f"{path.name}{'.' + tag if tag else ''}.part{k:02d}"
        write_bytes_atomic(out / name, chunk)
        parts.append({"name": name, "bytes": len(chunk), "sha256": _sha256(chunk)})
    manifest = out / f"{path.name}.parts.json"
    write_json_atomic(
        manifest, {"format": FORMAT, "file": path.name, "bytes": len(data), "sha256": _sha256(data), "parts": parts}
    )
    return manifest


def join_parts(manifest: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Rebuild the file that ``manifest`` (from :func:`split_file`) describes, from the parts beside it.

    Args:
        manifest: the ``<name>.parts.json`` file.
        out: the file to write (default: ``<name>`` beside the manifest). An existing file is kept if it is
            already this one (same sha256), else refused.

    Returns:
        The rebuilt file's path.

    Raises:
        FileNotFoundError: the manifest or a part is missing. ValueError: not a manifest, a part or the whole
            does not match its recorded size and sha256, or ``out`` holds another file.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"No manifest {manifest}: pass the <name>.parts.json written with the parts.")
    try:
        info = json.loads(manifest.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{manifest} is not valid JSON ({err}): copy it again from where the parts came.") from err
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{manifest} is not a parts manifest (expected format {FORMAT!r}).")
    target = Path(out) if out is not None else manifest.parent / info["file"]
    chunks = []
    for part in info["parts"]:
        part_path = manifest.parent / part["name"]
        if not part_path.is_file():
            raise FileNotFoundError(f"Part {part_path} is missing ({len(info['parts'])} parts expected).")
        chunk = part_path.read_bytes()
        if len(chunk) != part["bytes"] or _sha256(chunk) != part["sha256"]:
            raise ValueError(
                f"Part {part_path} is {len(chunk)} bytes with another content than recorded ({part['bytes']} bytes, "
                f"sha256 {part['sha256'][:12]}...): it was truncated or altered; copy it again."
            )
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) != info["bytes"] or _sha256(data) != info["sha256"]:
        raise ValueError(f"The joined parts do not give {info['file']} (sha256 {info['sha256'][:12]}...).")
    if target.exists():
        if target.is_file() and _sha256(target.read_bytes()) == info["sha256"]:
            return target
        raise ValueError(f"{target} exists and is another file: remove it or pass another output path.")
    write_bytes_atomic(target, data)
    return target
