"""Per-sequence evaluation jobs, run in this process or in a pool of worker processes.

An exception raised in a worker (a missing, empty or truncated mask, a size mismatch) comes back to the
caller as the same exception type with the same message (naming the file); the jobs not started yet are
cancelled.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import sys
from collections.abc import Callable, Sequence
from multiprocessing.context import BaseContext
from typing import Any


def check_workers(workers: int) -> int:
    """``workers`` as an int >= 1, or ValueError."""
    try:
        n = int(workers)
    except (TypeError, ValueError):
        raise ValueError(f"workers: expected a number of processes >= 1, received {workers!r}") from None
    if n < 1:
        raise ValueError(
            f"workers: expected a number of processes >= 1, received {workers!r}; pass 1 to evaluate in this process"
        )
    return n


def _mp_context() -> BaseContext:
    # fork is cheap but unsafe once TensorFlow (threads) is loaded in this process.
    if sys.platform.startswith("linux") and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_jobs(
    fn: Callable[..., tuple[Any, Any]], jobs: Sequence[tuple], workers: int, report: Callable[[Any, Any], None]
) -> None:
    """Call ``report(*fn(*job))`` for every job, in this process (``workers == 1`` or a single job) or in
    a pool of ``workers`` processes (results reported in completion order).  ``fn`` must be a
    module-level function so that it pickles; its exceptions propagate to the caller."""
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            report(*fn(*job))
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=_mp_context()) as ex:
        futures = [ex.submit(fn, *job) for job in jobs]
        try:
            for fut in concurrent.futures.as_completed(futures):
                report(*fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
