"""Several objects per video, the authors' way: one network fine-tuned per object from the same parent, then
each pixel given the id of the most probable object.

    osvos = OSVOS()
    state = osvos.fit_objects(["00000.jpg"], ["00000.png"])   # a DAVIS-2017 palette annotation: every object
    for index, labels, probs in osvos.segment_objects(frames, state):
        ...   # labels: uint8 (H, W) label map; probs: {object id: float32 (H, W)}

:func:`fit_objects` reads each annotation as a label map (:func:`osvos_tf.label_maps.read_label_map`: a
palette PNG, an array of ids, or a dict ``{id: mask}``), and fine-tunes one copy of the parent per object on
the annotated frames where that object appears (an object may first appear in a later annotated frame), with
void (255) left out of its loss. The single-object :meth:`OSVOS.fit` is unchanged.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import types
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from osvos_tf.config import MASK_THRESHOLD, FineTuneConfig
from osvos_tf.frames import check_pair, read_frame
from osvos_tf.label_maps import check_object_id, object_ids, read_label_map
from osvos_tf.label_maps import merge as merge_label_map
from osvos_tf.masks import VOID_ID, read_user_mask
from osvos_tf.video_state import VideoState

if TYPE_CHECKING:
    from osvos_tf.osvos import OSVOS

#: Merging modes of :func:`segment_objects`: 'argmax' (the authors'), or None (independent masks).
MERGE_MODES = ("argmax", None)


@dataclasses.dataclass(frozen=True)
class ObjectsState:
    """One video's fine-tuned networks, one per object (immutable).

    Attributes:
        states: ``{object id: VideoState}`` (read-only), each fine-tuned from the same parent and config.
        first_frames: ``{object id: position}`` of the first annotated frame that holds the object.
        seconds: wall time of all the fine-tunings.
        stopped_by_budget: the time budget ran out before every object had all its updates.
    """

    states: Mapping[int, VideoState]
    first_frames: Mapping[int, int]
    seconds: float
    stopped_by_budget: bool

    def __post_init__(self):
        object.__setattr__(self, "states", types.MappingProxyType(dict(self.states)))
        object.__setattr__(self, "first_frames", types.MappingProxyType(dict(self.first_frames)))

    @property
    def objects(self) -> tuple[int, ...]:
        """The object ids, sorted."""
        return tuple(sorted(self.states))


def chosen_objects(present: tuple[int, ...], objects: Collection[int] | None) -> tuple[int, ...]:
    """The ids to segment: ``objects`` (default: every id ``present``), each checked to be present."""
    if not present:
        raise ValueError(
            "The annotations hold no object (only background and void): annotate at least one object id (1..254)."
        )
    if objects is None:
        return present
    chosen = tuple(sorted({int(o) for o in objects}))
    missing = [o for o in chosen if o not in present]
    if missing or not chosen:
        raise ValueError(
            f"Object id(s) {missing or list(objects)} appear in no annotated frame; the annotations hold ids "
            f"{list(present)}. Pick some of those (--objects {','.join(map(str, present))})."
        )
    return chosen


def _object_masks(annotation: Any, what: str) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
    """``({object id: bool (H, W) mask}, void bool (H, W) or None)`` of one annotation: a dict of masks as
    given (they may overlap: each object is trained on its own mask), or a label map's ids and its void."""
    if isinstance(annotation, Mapping):
        return {
            check_object_id(obj, what): read_user_mask(m, f"{what}, object {obj}") for obj, m in annotation.items()
        }, None
    labels = read_label_map(annotation, what)
    void = labels == VOID_ID
    return {obj: labels == obj for obj in object_ids([labels])}, (void if void.any() else None)


def fit_objects(
    osvos: OSVOS,
    frames: Sequence[Any],
    annotations: Sequence[Any],
    config: FineTuneConfig | None = None,
    *,
    objects: Collection[int] | None = None,
    iterations: int | None = None,
    time_budget_s: float | None = None,
    progress: bool = True,
    seed: int | None = None,
) -> ObjectsState:
    """Fine-tune one copy of ``osvos``'s parent per object (the original multi-object method).

    Args:
        osvos: the :class:`~osvos_tf.osvos.OSVOS` holding the parent (its :attr:`state` is left as the last
            object's).
        frames: annotated frames (paths or uint8 RGB arrays), one per annotation.
        annotations: one per frame: a label map (palette PNG, array of ids:
            :func:`osvos_tf.label_maps.read_label_map`; 255 is void, left out of every object's loss), or a
            dict ``{id: mask}`` (each mask as :func:`osvos_tf.masks.read_user_mask` reads it; masks may
            overlap, as in SegTrack v2: each object is trained on its own mask).
        config, iterations, seed: the recipe, shared by every object, as :meth:`OSVOS.fit`.
        objects: the ids to segment (default: every id in the annotations).
        time_budget_s: for all the objects together: each object gets an equal share of what is left.
        progress: a progress bar per object on stderr.

    Returns:
        The :class:`ObjectsState`.

    Raises:
        ValueError: no frames, a count or size mismatch, an unreadable or colour label map, an id that
            appears in no annotated frame, more than 254 objects.
    """
    if len(frames) != len(annotations) or not frames:
        raise ValueError(
            f"fit_objects needs one annotation per frame (at least one); got {len(frames)} frames and "
            f"{len(annotations)} annotations."
        )
    config = osvos._fit_config(config, iterations, seed)
    frames_np = [read_frame(f) for f in frames]
    annotated = [_object_masks(a, f"Annotation {i}") for i, a in enumerate(annotations)]
    for i, (frame, (masks, _)) in enumerate(zip(frames_np, annotated)):
        for obj, mask in masks.items():
            check_pair(frame, mask, where=f" (annotated frame {i}, object {obj})")
    present = tuple(sorted({obj for masks, _ in annotated for obj, m in masks.items() if m.any()}))
    chosen = chosen_objects(present, objects)
    start = time.perf_counter()
    states: dict[int, VideoState] = {}
    first: dict[int, int] = {}
    stopped = False
    for k, obj in enumerate(chosen):
        where = [i for i, (masks, _) in enumerate(annotated) if obj in masks and masks[obj].any()]
        first[obj] = where[0]
        budget = None
        if time_budget_s is not None:
            budget = max(0.0, (time_budget_s - (time.perf_counter() - start)) / (len(chosen) - k))
        if progress:
            print(
                f"object {obj} ({k + 1}/{len(chosen)}): fine-tuning on {len(where)} annotated frame(s)",
                file=sys.stderr,
            )
        state = osvos._fit_arrays(
            [frames_np[i] for i in where],
            [annotated[i][0][obj] for i in where],
            config,
            voids=[annotated[i][1] for i in where],
            time_budget_s=budget,
            progress=progress,
            label=f"object {obj} ({k + 1}/{len(chosen)})",
        )
        stopped = stopped or state.stopped_by_budget
        states[obj] = state
    return ObjectsState(states, first, time.perf_counter() - start, stopped)


def segment_objects(
    osvos: OSVOS,
    frames: Iterable[Any],
    state: ObjectsState,
    merge: str | None = "argmax",
    threshold: float = MASK_THRESHOLD,
    indices: Collection[int] | None = None,
) -> Iterator[tuple[int, np.ndarray | None, dict[int, np.ndarray]]]:
    """Segment every object of ``state`` in each frame, lazily (one frame in memory at a time).

    Args:
        frames: paths or arrays, all one size.
        state: from :func:`fit_objects`; the generator keeps it whatever runs meanwhile.
        merge: 'argmax' (each pixel the id of the most probable object, background where that probability is
            not above ``threshold``: :func:`osvos_tf.label_maps.merge`), or None (no label map: the objects'
            probabilities only, which may overlap).
        threshold: see ``merge``.
        indices: segment only these positions of ``frames``.

    Yields:
        ``(index, labels, probs)``: the frame's position, uint8 (H, W) label map (None when ``merge`` is
        None), and ``{object id: float32 (H, W) in [0, 1]}``.
    """
    if not isinstance(state, ObjectsState):
        raise TypeError(f"state must be the ObjectsState of fit_objects, got {type(state).__name__}.")
    if merge not in MERGE_MODES:
        raise ValueError(f"merge must be one of {MERGE_MODES}, got {merge!r}.")
    from osvos_tf.osvos import _check_threshold

    _check_threshold(threshold)
    first, *rest = state.objects
    stream = osvos.segment_frames(frames, state.states[first], indices)  # checks the indices now
    weights = {obj: state.states[obj].weights for obj in rest}
    side = state.states[first].config.working_short_side
    return _merged(osvos, stream, first, weights, merge, threshold, side)


def _merged(osvos, stream, first: int, weights: Mapping, merge: str | None, threshold: float, side: int | None):
    """Run the first object through ``stream`` (it decodes the frames), the others on each decoded frame (at
    the working resolution of ``side``)."""
    for index, frame, probs_first in stream:
        probs = {first: probs_first}
        for obj, w in weights.items():
            osvos._use(w)
            probs[obj] = osvos._predict_probs(frame, side)
        labels = merge_label_map(probs, threshold) if merge == "argmax" else None
        yield index, labels, dict(sorted(probs.items()))
