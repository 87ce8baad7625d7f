"""Fine-tuning budgets of a DAVIS run: presets or iteration counts -> :class:`Budget` (a folder name and the
:class:`~osvos_tf.config.FineTuneConfig` of that budget).

    resolve_budgets("fast", None, FineTuneConfig())           # (Budget('fast', 'fast', <50 updates>),)
    resolve_budgets(None, [0, 50, 200], FineTuneConfig())     # iterations-0, iterations-50, iterations-200

Several budgets share one fine-tuning run per sequence (the largest; the others are the network after their
own number of updates, which does not depend on the total), so they must differ in ``iterations`` only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from osvos_tf.config import FineTuneConfig, finetune_config
from osvos_tf.cpu import resolve_compute_dtype

#: VGG blocks ``FineTuneConfig.freeze_blocks`` may keep fixed (0 = none).
MAX_FREEZE_BLOCKS = 4


@dataclasses.dataclass(frozen=True)
class Budget:
    """One fine-tuning budget.

    Attributes:
        name: its run folder's name when a run has several budgets: the preset name, or ``iterations-N``.
        preset: the preset name, or None for an explicit number of iterations.
        config: the recipe, with ``compute_dtype`` resolved to the dtype this machine runs (so a run folder
            records what was used, and a resume on a machine where 'auto' means another dtype is refused).
    """

    name: str
    preset: str | None
    config: FineTuneConfig

    @property
    def iterations(self) -> int:
        return self.config.iterations


def resolve_budgets(
    preset: str | Sequence[str] | None,
    iterations: int | Sequence[int] | None,
    base: FineTuneConfig,
) -> tuple[Budget, ...]:
    """The budgets of one or several presets, or of one or several iteration counts (not both).

    Args:
        preset: a preset name of :data:`osvos_tf.config.PRESETS`, a list of them, or None ('default' when
            ``iterations`` is None too).
        iterations: a number of updates (0 = the network as loaded), or a list of them.
        base: the recipe the presets / counts apply to.

    Returns:
        The budgets, in the order given.

    Raises:
        ValueError: both given, none in a list, an unknown preset, negative or repeated counts, ``freeze_blocks``
            outside 0..4, or budgets differing in more than ``iterations`` (they could not share one run).
    """
    if preset is not None and iterations is not None:
        raise ValueError(
            f"Give presets or numbers of iterations, not both (got preset={preset!r} and iterations={iterations!r})."
        )
    if iterations is not None:
        counts = [iterations] if isinstance(iterations, (int, np.integer)) else list(iterations)
        budgets = [_budget(f"iterations-{int(n)}", *finetune_config(None, n, base)) for n in counts]
    else:
        names = [preset] if preset is None or isinstance(preset, str) else list(preset)
        budgets = [_budget(p or "default", *finetune_config(p, None, base)) for p in names]
    if not budgets:
        raise ValueError("Give at least one preset or number of iterations (got an empty list).")
    counts = [b.iterations for b in budgets]
    if len(set(counts)) != len(counts):
        raise ValueError(
            f"Budgets {[b.name for b in budgets]} repeat a number of iterations ({counts}); give each once."
        )
    first = budgets[0]
    for b in budgets[1:]:
        if dataclasses.replace(b.config, iterations=first.iterations) != first.config:
            raise ValueError(
                f"Budget {b.name} differs from {first.name} in more than the number of iterations, so they "
                "cannot share one fine-tuning run; run them separately."
            )
    return tuple(budgets)


def _budget(name: str, preset: str | None, config: FineTuneConfig) -> Budget:
    if not 0 <= config.freeze_blocks <= MAX_FREEZE_BLOCKS:
        raise ValueError(
            f"freeze_blocks must be 0..{MAX_FREEZE_BLOCKS}, got {config.freeze_blocks} (the number of VGG blocks "
            "kept fixed while fine-tuning)."
        )
    config = dataclasses.replace(config, compute_dtype=resolve_compute_dtype(config.compute_dtype))
    return Budget(name, preset, config)


def shared_finetuning(budgets: Sequence[Budget]) -> FineTuneConfig:
    """The one fine-tuning run that serves every budget: the recipe of the largest."""
    return max((b.config for b in budgets), key=lambda c: c.iterations)
