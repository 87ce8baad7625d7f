"""What a fine-tuning produces, kept apart from the parent: :class:`NetworkWeights` (an immutable snapshot of a
network's weights) and :class:`VideoState` (one video's fine-tuned network and how it was made).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from osvos_tf.config import FineTuneConfig


class NetworkWeights(Mapping[str, tuple[np.ndarray, ...]]):
    """The weights of a network, by layer name: ``{name: (kernel, bias, ...)}``, float32, read-only.

    An immutable snapshot: the arrays are copies with the write flag off, so a :class:`VideoState` keeps
    exactly the weights it was made with.
    """

    def __init__(self, layers: Mapping[str, Sequence[np.ndarray]]):
        frozen: dict[str, tuple[np.ndarray, ...]] = {}
        for name, arrays in layers.items():
            copies = []
            for a in arrays:
                c = np.array(a, dtype=np.float32, copy=True)
                c.setflags(write=False)
                copies.append(c)
            frozen[name] = tuple(copies)
        self._layers = frozen

    @classmethod
    def of(cls, model) -> NetworkWeights:
        """A snapshot of every layer of ``model`` that has weights."""
        return cls({layer.name: layer.get_weights() for layer in model.layers if layer.weights})

    def assign_to(self, model) -> None:
        """Set the weights of ``model``'s layers that this snapshot holds."""
        for layer in model.layers:
            if layer.name in self._layers:
                layer.set_weights(list(self._layers[layer.name]))

    def __getitem__(self, name: str) -> tuple[np.ndarray, ...]:
        return self._layers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __repr__(self) -> str:
        return f"NetworkWeights({len(self)} layers)"


@dataclasses.dataclass(frozen=True)
class VideoState:
    """One video's fine-tuned network, kept apart from the parent (immutable).

    Attributes:
        weights: the fine-tuned weights.
        annotated_shapes: (H, W) of each annotated frame used for fine-tuning.
        config: the fine-tuning recipe used.
        iterations: updates done; seconds: fine-tuning wall time; losses: loss per update.
        parent: the id of the parent it was fine-tuned from (:attr:`osvos_tf.parents.ParentSource.id`).
        stopped_by_budget: True if ``time_budget_s`` ended the fine-tuning early.
        step_seconds: wall time of each update (the first of each augmented image size includes tracing).
        earlier: ``{n: VideoState}``, the network after n updates for each n of ``fit(keep_at=...)`` below
            ``iterations``; each is what a fit with ``iterations=n`` would have given (same seed), with its
            own ``config.iterations == n`` and ``seconds`` (the wall time up to update n).
    """

    weights: NetworkWeights
    annotated_shapes: tuple[tuple[int, int], ...]
    config: FineTuneConfig
    iterations: int
    seconds: float
    losses: tuple[float, ...]
    parent: str
    stopped_by_budget: bool = False
    step_seconds: tuple[float, ...] = ()
    earlier: Mapping[int, VideoState] = dataclasses.field(default_factory=dict)
