"""The run folder and recipe of parent training, shared by the TensorFlow trainer (:mod:`osvos_tf.parent`) and
the JAX one (:mod:`osvos_tf.jax_parent`); no TensorFlow here.

* which checkpoint is the newest (``latest.json``), a new or resumed run's config (:func:`run_config`);
* initial weights, loaded from files and recorded by identity (:func:`source_id`, :func:`recorded_config`):
  a run folder names its files by parent preset or ``sha256:<hex>``, never by a machine path;
* the record of a training set (:func:`describe_pairs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from osvos_tf.config import ParentTrainConfig, config_to_dict, load_config
from osvos_tf.parents import PARENT_PRESETS, resolve_parent
from osvos_tf.weights import VGG_SOURCES, load_checkpoint, load_vgg_weights

LATEST = "latest.json"


def latest_checkpoint(out_dir: str | os.PathLike) -> dict | None:
    """``{'step': int, 'weights': file name, 'optimizer': file name}`` of the newest checkpoint of a run
    folder (names relative to ``out_dir``), or None when it has none."""
    path = Path(out_dir) / LATEST
    if not path.is_file():
        return None
    data: dict = json.loads(path.read_text())
    return data


# --------------------------------------------------------------------------------------------------
# Initial weights: loaded from files, recorded by identity
# --------------------------------------------------------------------------------------------------
def _is_recorded_id(value: str) -> bool:
    return value.startswith("sha256:") or value in PARENT_PRESETS


def source_id(value: str) -> str:
    """How a run records an ``init_checkpoint`` or ``base_weights`` value: 'hed' and 'imagenet' as they are; a preset name or ``sha256:<hex>`` as they are (already records); a checkpoint path as its
    :attr:`~osvos_tf.parents.ParentSource.id` (the preset name if its sha256 is registered, else
    ``sha256:<hex>``).

    Raises:
        FileNotFoundError: a path that names no file (a record cannot be made without reading it).
    """
    if value in VGG_SOURCES or _is_recorded_id(value):
        return value
    return resolve_parent(value).id


def build_parent(config: ParentTrainConfig, initialise: bool = True):
    """The training model (side outputs, ``config.compute_dtype``, seeded by ``config.seed``) with its initial
    weights (unless ``initialise`` is False: they come from a checkpoint next), and its
    :class:`~osvos_tf.optimizer.GroupedOptimizer`; for both trainers (under TensorFlow, call it inside the
    strategy's scope)."""
    from osvos_tf.model import build_osvos
    from osvos_tf.optimizer import GroupedOptimizer

    model = build_osvos(side_outputs=True, name="osvos_parent", compute_dtype=config.compute_dtype, seed=config.seed)
    if initialise:
        load_initial_weights(model, config)
    optimizer = GroupedOptimizer(model, config.lr_multipliers, config.optimizer, config.momentum, config.weight_decay)
    return model, optimizer


def recorded_config(config: ParentTrainConfig) -> ParentTrainConfig:
    """``config`` as a run folder records it: ``init_checkpoint`` (unless None) and ``base_weights`` by
    :func:`source_id`."""
    init = None if config.init_checkpoint is None else source_id(config.init_checkpoint)
    return dataclasses.replace(config, init_checkpoint=init, base_weights=source_id(config.base_weights))


def _loadable(value: str, field: str) -> Path:
    """The checkpoint file a config's ``init_checkpoint`` / ``base_weights`` names (a path, or the name of a
    shipped preset)."""
    if value.startswith("sha256:"):
        raise ValueError(
            f"{field} is {value!r}: the record of a file (as a run folder stores it), not a file to load. Set "
            f"{field} to the checkpoint's path; when resuming a run that has no checkpoint yet, pass --config "
            "(config=) with the recipe that names the file (it must have that sha256)."
        )
    source = resolve_parent(value)
    if source.path is None:
        raise ValueError(
            f"{field}={value!r} names no checkpoint. For the bare VGG16 initialisation set init_checkpoint=None "
            "and base_weights='hed' or 'imagenet'."
        )
    return source.path


def load_initial_weights(model, config: ParentTrainConfig) -> None:
    """``config.init_checkpoint`` into every layer, else ``config.base_weights`` into the VGG layers."""
    if config.init_checkpoint:
        load_checkpoint(model, _loadable(config.init_checkpoint, "init_checkpoint"), strict=True)
    elif config.base_weights in VGG_SOURCES:
        load_vgg_weights(model, config.base_weights)
    else:
        load_vgg_weights(model, _loadable(config.base_weights, "base_weights"))


def check_max_updates(max_updates: int | None) -> None:
    if max_updates is None:
        return
    if isinstance(max_updates, bool) or not isinstance(max_updates, (int, np.integer)) or max_updates < 1:
        raise ValueError(
            f"max_updates must be a whole number of updates >= 1, got {max_updates!r}. Omit it (--max-updates) "
            "to train to the end of the schedule, or pass N >= 1 to stop after N updates and continue later "
            "with resume=True (--resume)."
        )


def run_config(out_dir: Path, config: ParentTrainConfig | None, resume: bool) -> ParentTrainConfig:
    """The config of a new run (``config`` or the original recipe) or of a resumed one (its saved config,
    checked against ``config`` when one is given); nothing is written."""
    config_path = out_dir / "config.json"
    if not resume:
        if config_path.exists() or latest_checkpoint(out_dir):
            raise FileExistsError(
                f"{out_dir} already holds a training run. Pass resume=True (--resume) to "
                "continue it, or choose another folder."
            )
        return config or ParentTrainConfig()
    if not config_path.is_file():
        raise FileNotFoundError(f"Cannot resume: {config_path} not found. Start a new run without --resume.")
    saved = load_config(config_path)
    if not isinstance(saved, ParentTrainConfig):
        raise ValueError(f"{config_path} holds a {type(saved).__name__}, not a ParentTrainConfig: not a parent run.")
    if config is None:
        return saved
    try:
        given = config_to_dict(recorded_config(config))
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"Cannot check the given config against {config_path}: {err} Drop --config (config=) to resume "
            "with the run's saved config."
        ) from err
    differences = [
        f"{k}: saved {v!r}, given {given.get(k)!r}" for k, v in config_to_dict(saved).items() if given.get(k) != v
    ]
    if differences:
        raise ValueError(
            f"Resuming {out_dir} with a config that differs from its saved config.json ({'; '.join(differences)}). "
            "Drop --config (config=) to resume with the saved one, or start a new run folder."
        )
    return config  # as given: its files can initialise a run that has no checkpoint yet


def describe_pairs(pairs: Sequence[tuple[str, str]], source: str) -> dict:
    """A JSON-ready record of a training set, without machine paths: ``{'source', 'pairs': count,
    'list_sha256'}``, the sha256 of the pair list with paths relative to their common folder (which files,
    not their contents)."""
    paths = [os.path.abspath(p) for pair in pairs for p in pair]
    root = os.path.commonpath(paths) if len(set(paths)) > 1 else os.path.dirname(paths[0])
    lines = [" ".join(Path(os.path.relpath(os.path.abspath(p), root)).as_posix() for p in pair) for pair in pairs]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return {"source": source, "pairs": len(pairs), "list_sha256": digest}
