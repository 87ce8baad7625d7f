"""The DAVIS-2016 statistics of per-frame values (the official ``db_statistics``): Mean, Recall, Decay.

Values are the per-frame J, F or T of frames 1..N-2 of one sequence, floats (NaN = no value).  Mean ignores
NaN; Recall = fraction of frames with value > 0.5; Decay = mean of the first of 4 bins minus mean of the
last, with the official bins: ``ids = round(linspace(1, n, 5) + 1e-10) - 1`` and bin ``i`` =
``values[ids[i] : ids[i+1] + 1]`` (neighbouring bins share their boundary frame).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def nanmean(values: ArrayLike) -> float:
    """Mean of ``values`` ignoring NaN; NaN (without a warning) when there is no non-NaN value."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or np.all(np.isnan(x)):
        return float("nan")
    return float(np.nanmean(x))


def recall(values: ArrayLike, threshold: float = 0.5) -> float:
    """Fraction in [0, 1] of the per-frame ``values`` strictly above ``threshold`` (NaN counts as not
    above); NaN for no values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    return float(np.mean(x > threshold))


def decay(values: ArrayLike, n_bins: int = 4) -> float:
    """Mean of the first of ``n_bins`` temporal bins minus the mean of the last (official bins).

    Bin edges ``ids = round(linspace(1, n, n_bins + 1) + 1e-10) - 1``; bin i is ``values[ids[i]:ids[i+1]+1]``
    (edges shared by neighbouring bins).  NaN values are ignored inside a bin; NaN for no values.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    ids = (np.round(np.linspace(1, len(x), n_bins + 1) + 1e-10) - 1).astype(np.int64)
    bins = [x[ids[i] : ids[i + 1] + 1] for i in range(n_bins)]
    return nanmean(bins[0]) - nanmean(bins[-1])


def sequence_statistics(values: ArrayLike) -> dict[str, float]:
    """{'mean', 'recall', 'decay'} (floats, NaN when undefined) of the per-frame values of frames 1..N-2 of
    one sequence."""
    return {"mean": nanmean(values), "recall": recall(values), "decay": decay(values)}
