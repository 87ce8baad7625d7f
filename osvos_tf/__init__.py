"""osvos_tf: One-Shot Video Object Segmentation (Caelles et al., CVPR 2017) in TensorFlow 2 / Keras 3.

Importing the package is cheap and side-effect free: TensorFlow is imported only when a name that needs it
is used (``osvos_tf.OSVOS``, ``osvos_tf.build_osvos``, ...); ``osvos_tf.evaluation`` never needs it.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "OSVOS": "osvos_tf.osvos",
    "VideoState": "osvos_tf.video_state",
    "NetworkWeights": "osvos_tf.video_state",
    "PARENT_PRESETS": "osvos_tf.parents",
    "resolve_parent": "osvos_tf.parents",
    "build_osvos": "osvos_tf.model",
    "preprocess": "osvos_tf.model",
    "FineTuneConfig": "osvos_tf.config",
    "ParentTrainConfig": "osvos_tf.config",
    "train_parent": "osvos_tf.parent",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'osvos_tf' has no attribute {name!r}")
