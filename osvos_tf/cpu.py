"""What this CPU can do, and the compute dtype that follows from it.

Only reads ``/proc/cpuinfo``; nothing is changed (no thread or oneDNN settings).
"""

from __future__ import annotations

import os

from osvos_tf.config import COMPUTE_DTYPES


def cpu_has_bfloat16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (x86 flags ``avx512_bf16`` or ``amx_bf16``).

    Reads ``cpuinfo`` (Linux); False where it cannot be read (macOS, Windows) or lists neither flag, since
    emulated bfloat16 is slower than float32.
    """
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_compute_dtype(compute_dtype: str) -> str:
    """'auto' -> 'bfloat16' on CPUs with native bfloat16 (:func:`cpu_has_bfloat16`), else 'float32'; the
    other names of :data:`COMPUTE_DTYPES` are returned as they are.

    Raises:
        ValueError: a name not in :data:`COMPUTE_DTYPES`.
    """
    if compute_dtype not in COMPUTE_DTYPES:
        raise ValueError(f"compute_dtype must be one of {COMPUTE_DTYPES}, got {compute_dtype!r}.")
    if compute_dtype == "auto":
        return "bfloat16" if cpu_has_bfloat16() else "float32"
    return compute_dtype
