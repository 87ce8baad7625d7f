"""The optimizer of every training in osvos_tf: Caffe-style per-layer learning-rate multipliers and L2 decay.

The original recipe (Caffe semantics): SGD with momentum 0.9; L2 weight decay on kernels only, added to the
gradient; per-layer learning-rate multipliers (VGG and prep convs: kernels x1, biases x2; side scores x0.1 /
x0.2; fuse x0.01 / x0.02, :class:`osvos_tf.config.LrMultipliers`). :class:`GroupedOptimizer` implements the
multipliers with one Keras optimizer per distinct multiplier, each at ``base lr * multiplier``, which is exact
for SGD and also correct for Adam (where scaling the gradient would not scale the step).

Backend-agnostic (Keras 3 optimizers and ``keras.ops``): :meth:`GroupedOptimizer.apply` updates the variables
in place (TensorFlow: fine-tuning, parent and contour training), :meth:`GroupedOptimizer.stateless_apply` is
the same update as a pure function of arrays (JAX: :mod:`osvos_tf.jax_parent`). Both add the decay with
:meth:`GroupedOptimizer.decayed`, so the two are one update rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from osvos_tf.config import OPTIMIZERS, LrMultipliers, decay_for_mean_loss
from osvos_tf.model import layer_kind


def variable_groups(model, multipliers: LrMultipliers):
    """``[(variable, lr multiplier, decays)]`` for every trainable variable of ``model``.

    Kernels decay (L2), biases do not. Multipliers follow :class:`osvos_tf.config.LrMultipliers`.
    """
    out = []
    for layer in model.layers:
        if not layer.trainable_weights:
            continue
        kind = layer_kind(layer.name)
        for var in layer.trainable_weights:
            is_kernel = "kernel" in var.path.split("/")[-1]
            mult = getattr(multipliers, f"{kind}_{'kernel' if is_kernel else 'bias'}")
            out.append((var, float(mult), is_kernel))
    return out


def _is_learning_rate(variable) -> bool:
    """Whether an optimizer variable is its learning rate (Keras names it so for a float learning rate)."""
    return str(variable.name) == "learning_rate"


def _replicas() -> int:
    """Replicas of the current ``tf.distribute`` strategy (TensorFlow backend), else 1."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return int(tf.distribute.get_strategy().num_replicas_in_sync)


class GroupedOptimizer:
    """SGD-momentum (or Adam) with Caffe-style per-variable learning-rate multipliers and L2 decay.

    Args:
        model: the network whose trainable variables are optimised.
        multipliers: learning-rate multipliers per kind of layer.
        kind: 'sgd' (the original) or 'adam'.
        momentum: SGD momentum.
        weight_decay: the original's L2 coefficient on kernels (for its pixel-summed loss); added to the
            gradient of the pixel-averaged loss as ``g + decay_for_mean_loss(weight_decay) * w``, which makes
            the update the original's on a 480p frame (:mod:`osvos_tf.config`).

    The base learning rate starts at 0: call :meth:`set_learning_rate` before the first update (stateful
    use), or pass it to :meth:`stateless_apply`. Under TensorFlow, create it inside the same
    ``tf.distribute`` strategy scope as the model.
    """

    def __init__(
        self, model, multipliers: LrMultipliers, kind: str = "sgd", momentum: float = 0.9, weight_decay: float = 2e-4
    ):
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer kind must be one of {OPTIMIZERS}, got {kind!r}.")
        self.weight_decay = float(weight_decay)
        self.decay = decay_for_mean_loss(weight_decay)  # what is added to the pixel-averaged gradient
        groups = variable_groups(model, multipliers)
        self.variables = [v for v, _, _ in groups]
        self._decays = [d for _, _, d in groups]
        self._multipliers = sorted({m for _, m, _ in groups}, reverse=True)
        self.optimizers: list[keras.optimizers.Optimizer] = []
        for _ in self._multipliers:
            # a float learning rate: each optimizer holds it as a variable, set by set_learning_rate
            if kind == "sgd":
                opt = keras.optimizers.SGD(learning_rate=0.0, momentum=momentum)
            else:
                opt = keras.optimizers.Adam(learning_rate=0.0)
            self.optimizers.append(opt)
        index = {m: i for i, m in enumerate(self._multipliers)}
        self._group_of = [index[m] for _, m, _ in groups]
        for i, opt in enumerate(self.optimizers):
            opt.build([v for v, g in zip(self.variables, self._group_of) if g == i])

    # ---- the update rule, shared by both forms --------------------------------------------------------
    def decayed(self, grads: Sequence, values: Sequence, replicas: int = 1) -> list:
        """``grads`` with the L2 term added to the kernels' gradients: ``g + decay / replicas * w``.

        Args:
            grads: gradients aligned with :attr:`variables` (None: no gradient, kept as None).
            values: the variables' current values (arrays or the variables themselves), same order.
            replicas: replicas whose gradients are summed afterwards (``tf.distribute``), so the decay is
                added once in all.
        """
        wd = self.decay / replicas
        out = []
        for grad, value, decays in zip(grads, values, self._decays):
            if grad is not None and decays and wd:
                grad = grad + wd * keras.ops.convert_to_tensor(value)
            out.append(grad)
        return out

    def _split(self, items: Sequence) -> list[list]:
        """``items`` (aligned with :attr:`variables`) split into one list per optimizer group."""
        per_group: list[list] = [[] for _ in self.optimizers]
        for item, group in zip(items, self._group_of):
            per_group[group].append(item)
        return per_group

    # ---- stateful (TensorFlow) ------------------------------------------------------------------------
    def set_learning_rate(self, base: float) -> None:
        """Set the base learning rate: group k runs at ``base * multiplier_k``."""
        for opt, mult in zip(self.optimizers, self._multipliers):
            opt.learning_rate = float(base) * mult  # Keras assigns the optimizer's learning-rate variable

    def apply(self, grads: Sequence) -> None:
        """One update from ``grads`` (aligned with :attr:`variables`; summed over replicas by Keras)."""
        grads = self.decayed(grads, [v.value for v in self.variables], _replicas())
        for opt, g, v in zip(self.optimizers, self._split(grads), self._split(self.variables)):
            pairs = [(gi, vi) for gi, vi in zip(g, v) if gi is not None]
            if pairs:
                opt.apply([gi for gi, _ in pairs], [vi for _, vi in pairs])

    # ---- stateless (JAX) ------------------------------------------------------------------------------
    def _state_variables(self) -> list:
        """Every optimizer variable but the learning rates (which :meth:`set_learning_rate` or the caller
        sets): iterations, momenta, Adam moments."""
        return [v for opt in self.optimizers for v in opt.variables if not _is_learning_rate(v)]

    def stateless_apply(self, state: Sequence, grads: Sequence, values: Sequence, learning_rate) -> tuple:
        """The update of :meth:`apply` as a pure function (for ``jax.jit``; every gradient given).

        Args:
            state: the optimizer's state arrays, as :meth:`state` returns them (or an earlier call's).
            grads: gradients aligned with :attr:`variables`.
            values: the variables' current values, same order.
            learning_rate: the base learning rate (a scalar; may be traced).

        Returns:
            ``(new_values, new_state)``: lists aligned with ``values`` and ``state``.
        """
        grads = self.decayed(grads, values)
        new_values: list = [None] * len(values)
        new_state: list = []
        grad_groups, value_groups = self._split(grads), self._split(values)
        positions = self._split(list(range(len(values))))
        offset = 0
        for opt, mult, g, v, pos in zip(self.optimizers, self._multipliers, grad_groups, value_groups, positions):
            n_state = len(opt.variables) - 1
            opt_state = list(state[offset : offset + n_state])
            offset += n_state
            lr_index = next(i for i, var in enumerate(opt.variables) if _is_learning_rate(var))
            full = opt_state[:lr_index] + [keras.ops.cast(learning_rate * mult, "float32")] + opt_state[lr_index:]
            out_values, out_state = opt.stateless_apply(full, g, v)
            for p, val in zip(pos, out_values):
                new_values[p] = val
            new_state.extend(out_state[:lr_index] + out_state[lr_index + 1 :])
        return new_values, new_state

    # ---- checkpoints ----------------------------------------------------------------------------------
    def state(self) -> list[np.ndarray]:
        """Every optimizer state variable (iterations, momenta, ...; not the learning rates) as numpy, for
        checkpoints and :meth:`stateless_apply`."""
        return [np.asarray(v) for v in self._state_variables()]

    def set_state(self, arrays: Sequence[np.ndarray]) -> None:
        variables = self._state_variables()
        if len(variables) != len(arrays):
            raise ValueError(
                f"Optimizer state has {len(arrays)} arrays, this optimizer {len(variables)}: "
                "the checkpoint was written with another optimizer or model."
            )
        for var, arr in zip(variables, arrays):
            var.assign(arr)
