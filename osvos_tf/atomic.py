"""Atomic file writing: every file osvos_tf writes (masks, checkpoints, configs, JSON records) goes through
a temporary file in the same folder and a rename, so an interrupted or failed write (a full disk, a kill)
leaves either the old file or the complete new one, never a truncated file.

    with atomic_path("out/00000.png") as tmp:     # write to tmp however you like
        image.save(tmp, format="PNG")
    write_json_atomic("run/config.json", data)
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()
_UMASK: list[int] = []


def _umask() -> int:
    """The process's umask, read once (by setting it and restoring it at once, under a lock, so that two
    threads cannot leave it changed)."""
    with _UMASK_LOCK:
        if not _UMASK:
            mask = os.umask(0o022)
            os.umask(mask)
            _UMASK.append(mask)
        return _UMASK[0]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was. The parent folder must
    exist. The file gets the permissions of an ordinary new file (0666 minus the umask), not the private
    0600 of a temporary file.

    Raises:
        OSError: the folder is missing or not writable, or the disk is full (with the path in the message).
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data: Any, indent: int = 2, sort_keys: bool = False) -> None:
    """Write ``data`` as JSON (with a final newline) to ``path`` atomically (see :func:`atomic_path`).

    Non-JSON values (paths, numpy scalars) are written with ``str``.
    """
    write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=sort_keys, default=str) + "\n")
